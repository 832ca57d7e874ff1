"""scripts/bakeoff.py --from-eval: `codefusion eval` results of the model alone become learning-curve rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bakeoff.py"


def eval_result(lang: str, system: str, metric: str, tops: tuple[float, float, float]) -> dict:
    """What `codefusion eval --out` writes, reduced to what the import reads."""
    return {"lang": lang, "system": system, "model": "/somewhere/codefusion", "prompts": 400, "subsample_seed": 1,
            "metrics": {metric: dict(zip(("top1", "top3", "top5"), tops, strict=True)), "other": {"top1": 1.0}},
            "validity_raw": 93.0, "served_per_prompt": 4.6, "ms_per_prompt": 805.0}


def run(tmp_path: Path, result: dict, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(result))
    return subprocess.run([sys.executable, str(SCRIPT), "--from-eval", str(path), "--out", str(tmp_path / "lc.jsonl"),
                           *args], capture_output=True, text=True, timeout=300)


def test_a_model_alone_result_becomes_a_row_of_its_run_and_step(tmp_path):
    proc = run(tmp_path, eval_result("bash", "diffusion", "template_match", (6.5, 8.5, 9.25)),
               "--run", "masked-long", "--step", "11000")
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads((tmp_path / "lc.jsonl").read_text())
    assert row["model"] == "runs/masked-long/snapshots/step-11000" and row["step"] == 11000
    assert (row["kind"], row["lang"], row["n"]) == ("masked", "bash", 400)
    assert (row["top1"], row["top3"], row["top5"]) == (6.5, 8.5, 9.25)
    assert row["raw_parse"] == 93.0 and row["s_per_prompt"] == 0.805 and row["source"] == "codefusion eval"
    assert "sampler" not in row  # results from before eval recorded it


def test_the_sampler_a_result_ran_with_is_kept_in_its_row(tmp_path):
    result = eval_result("python", "diffusion", "bleu", (5.5, 8.1, 9.0))
    result["sampler"] = {"kernel": "masked", "steps": 16, "repair_rounds": 8}
    proc = run(tmp_path, result, "--run", "masked-continue", "--step", "20500")
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads((tmp_path / "lc.jsonl").read_text())
    assert row["sampler"] == {"kernel": "masked", "steps": 16, "repair_rounds": 8} and row["top5"] == 9.0


def test_an_ar_result_is_the_baseline_row(tmp_path):
    proc = run(tmp_path, eval_result("cf", "ar-beam", "execution_match", (23.6, 32.0, 35.4)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads((tmp_path / "lc.jsonl").read_text())
    assert row["kind"] == "ar" and row["step"] is None and row["top5"] == 35.4


def test_a_diffusion_result_without_its_step_is_refused_and_nothing_is_written(tmp_path):
    proc = run(tmp_path, eval_result("python", "diffusion", "bleu", (5.2, 6.2, 6.9)), "--run", "masked-long")
    assert proc.returncode != 0 and "--step" in proc.stderr
    assert not (tmp_path / "lc.jsonl").exists()


def test_a_served_result_is_not_the_model_alone(tmp_path):
    proc = run(tmp_path, eval_result("python", "seeded", "bleu", (21.9, 30.6, 34.5)), "--run", "x", "--step", "1")
    assert proc.returncode != 0 and "not the model alone" in proc.stderr
