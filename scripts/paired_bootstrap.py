"""Is the served system clearly above another on dev? Paired bootstrap over whole dev splits.

For each language, every dev prompt is answered by the served system (`seeded`: `codefusion generate`'s
engine) and by the systems it is compared with (TF-IDF `retrieval`, the unedited seeding `examples`),
scored with `codefusion eval`'s main metric (top-1 / 3 / 5); the per-prompt top-n differences are resampled with
replacement (seeded) and the 2.5 / 97.5 % quantiles of their mean give a 95 % interval. How the
"clearly above retrieval" figures in docs/experiments.md were measured.

With --runs A.json B.json it compares two saved `codefusion eval` outputs instead (any two systems or models
answering the same prompts, e.g. the masked model alone against the AR baseline on one `--limit 400 --seed 1`
subsample): A − B at top-1 / 3 / 5 with the interval.

Usage: .venv/bin/python scripts/paired_bootstrap.py [LANG ...] [--model DIR] [--resamples 2000]
       .venv/bin/python scripts/paired_bootstrap.py --runs A.json B.json
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from pathlib import Path

from codefusion.model.config import LANGUAGES
from codefusion.model.training.data import load_pairs
from codefusion.server.cli.eval_runs import RunSpec, evaluate, language_metrics
from codefusion.server.cli.report import PRIMARY

SYSTEMS = ("seeded", "retrieval", "examples")


def interval(diffs: Sequence[float], resamples: int, seed: int = 0) -> tuple[float, float, float]:
    """Mean of the paired differences and its 95 % bootstrap interval."""
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return sum(diffs) / n, means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def best_of_first(scores: list[list[float]], n: int) -> list[float]:
    """Each prompt's best score among its first n served candidates (0 when none was served)."""
    return [max(row[:n], default=0.0) for row in scores]


def paired(x: list[float], y: list[float], resamples: int) -> list[float]:
    """x − y prompt by prompt: [mean difference, low, high] of its 95 % interval, rounded."""
    return [round(v, 2) for v in interval([a - b for a, b in zip(x, y, strict=True)], resamples)]


def report_rows(scores: dict[str, list[list[float]]], base: str, meta: dict, tops: Sequence[int], resamples: int,
                out: Path | None = None) -> None:
    """One JSON row per system of `scores` (per prompt, each served candidate's score): `meta`, the system's
    top-n, and for every other system its paired difference against `base` at each n; printed and, with
    `out`, appended to that JSONL."""
    from codefusion.model.evaluation.metrics import top_k

    for name, s in scores.items():
        row = {**meta, "system": name, **{f"top{n}": round(top_k(s, n), 2) for n in tops}}
        if name != base:
            for n in tops:
                row[f"vs_{base}_top{n}"] = paired(best_of_first(s, n), best_of_first(scores[base], n), resamples)
        print(json.dumps(row), flush=True)
        if out:
            with out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")


def compare_runs(a: dict, b: dict, resamples: int = 2000) -> dict:
    """A − B over two `codefusion eval` outputs (their `predictions`) for the same prompts, in the metric's
    units: {"topN": [mean A, mean B, [difference, low, high]]}."""
    lang = a["lang"]
    key = [(r["prompt"], r["reference"]) for r in a["predictions"]]
    if b["lang"] != lang or [(r["prompt"], r["reference"]) for r in b["predictions"]] != key:
        raise SystemExit("the two runs did not answer the same prompts (same language, --limit and --seed)")
    pairs = {(pair.prompt, pair.code): pair for pair in load_pairs(lang, a.get("split", "dev"))[0]}
    if missing := [k for k in key if k not in pairs]:
        raise SystemExit(f"{len(missing)} of the runs' prompts are not in the {lang} {a.get('split', 'dev')} split "
                         f"(first: {missing[0][0]!r}): runs from another data version cannot be scored")
    scorer = language_metrics(lang)[PRIMARY[lang]]
    scores = [[[scorer(c, pairs[k]) for c in r["served"][:5]] for k, r in zip(key, run["predictions"], strict=True)]
              for run in (a, b)]
    row: dict[str, object] = {"lang": lang, "prompts": len(key), "metric": PRIMARY[lang],
                              "A": a.get("model") or a["system"], "B": b.get("model") or b["system"]}
    for n in (1, 3, 5):
        x, y = (best_of_first(run, n) for run in scores)
        row[f"top{n}"] = [round(sum(x) / len(x), 2), round(sum(y) / len(y), 2), paired(x, y, resamples)]
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("langs", nargs="*", metavar="LANG", help=f"languages (default: all of {', '.join(LANGUAGES)})")
    p.add_argument("--model", help="model folder of the served system (default: the shipped one)")
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--runs", nargs=2, type=Path, metavar=("A", "B"),
                   help="compare two saved `codefusion eval` outputs (A − B) instead of running systems")
    args = p.parse_args()
    if args.runs:
        if args.langs or args.model:
            p.error("--runs compares two saved runs; LANG and --model are for running the systems")
        runs = []
        for path in args.runs:
            try:
                run = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                p.error(f"{path}: not a `codefusion eval --out` file ({exc!r})")
            if not isinstance(run, dict) or not {"lang", "predictions"} <= run.keys():
                p.error(f"{path}: not a `codefusion eval --out` file (no lang and predictions)")
            runs.append(run)
        print(json.dumps(compare_runs(*runs, resamples=args.resamples)))
        return
    if bad := [lang for lang in args.langs if lang not in LANGUAGES]:
        p.error(f"unknown language(s) {', '.join(bad)}; expected {', '.join(LANGUAGES)}")
    for lang in args.langs or LANGUAGES:
        pairs = load_pairs(lang, "dev")[0]
        scorer = language_metrics(lang)[PRIMARY[lang]]
        scores = {}
        for system in SYSTEMS:
            spec = RunSpec(lang=lang, system=system, limit=None, device="cpu",
                           model=args.model if system != "retrieval" else None)
            _, preds = evaluate(spec, {})
            scores[system] = [[scorer(c, pair) for c in pred.served[:5]] for pair, pred in zip(pairs, preds,
                                                                                              strict=True)]
        row: dict[str, object] = {"lang": lang, "prompts": len(pairs), "metric": PRIMARY[lang]}
        for n in (1, 3, 5):
            best = {s: best_of_first(scores[s], n) for s in SYSTEMS}
            row.update({f"{s} top{n}": round(sum(v) / len(v), 2) for s, v in best.items()})
            for other in SYSTEMS[1:]:
                row[f"seeded - {other} top{n} [95%]"] = paired(best["seeded"], best[other], args.resamples)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
