"""scripts/paired_bootstrap.py --runs: two saved `codefusion eval` outputs compared prompt by prompt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from codefusion.model.training.data import load_pairs

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "paired_bootstrap.py"


def eval_output(pairs, served) -> dict:
    """What `codefusion eval --out` writes, reduced to what the comparison reads."""
    return {"lang": "cf", "system": "diffusion", "split": "dev", "model": "m",
            "predictions": [{"prompt": p.prompt, "reference": p.code, "served": s}
                            for p, s in zip(pairs, served, strict=True)]}


def run(tmp_path: Path, a: dict | str, b: dict | str) -> subprocess.CompletedProcess:
    paths = []
    for name, data in (("a.json", a), ("b.json", b)):
        (tmp_path / name).write_text(data if isinstance(data, str) else json.dumps(data))
        paths.append(str(tmp_path / name))
    return subprocess.run([sys.executable, str(SCRIPT), "--runs", *paths, "--resamples", "200"],
                          capture_output=True, text=True, timeout=300)


def test_two_saved_runs_are_compared_prompt_by_prompt_with_an_interval(tmp_path):
    pairs = load_pairs("cf", "dev")[0][:20]
    right = [[p.code] for p in pairs]
    # B: the right rule on the first 10 prompts only, and second for the rest (top-1 misses, top-3 finds it)
    half = [[p.code] if i < 10 else ["Blanks()", p.code] for i, p in enumerate(pairs)]
    proc = run(tmp_path, eval_output(pairs, right), eval_output(pairs, half))
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads(proc.stdout)
    assert row["lang"] == "cf" and row["prompts"] == 20 and row["metric"] == "execution_match"
    top1_a, top1_b, (diff, low, high) = row["top1"]
    assert top1_a > top1_b and diff == round(top1_a - top1_b, 2) and low <= diff <= high and low > 0
    assert row["top3"][2][0] == 0  # both find the rule within three
    shorter = run(tmp_path, eval_output(pairs, right), eval_output(pairs[:19], half[:19]))
    assert shorter.returncode != 0 and "did not answer the same prompts" in shorter.stderr


def test_runs_that_are_not_eval_outputs_or_not_in_the_split_are_clear_errors(tmp_path):
    pairs = load_pairs("cf", "dev")[0][:3]
    good = eval_output(pairs, [[p.code] for p in pairs])
    for bad, says in (("{half a file", "not a `codefusion eval --out` file"),
                      (json.dumps({"lang": "cf"}), "not a `codefusion eval --out` file")):
        proc = run(tmp_path, good, bad)
        assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr
    other = json.loads(json.dumps(good))
    for data in (good, other):
        data["predictions"][0]["prompt"] = "a prompt no split has"
    proc = run(tmp_path, good, other)
    assert proc.returncode != 0 and "not in the cf dev split" in proc.stderr and "Traceback" not in proc.stderr
