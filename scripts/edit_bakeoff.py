"""Bake-off of the edit model on the dev split (issue 38): each serving variant of an edit model gives the model's
edits and the examples beside them in one sampling run; each ranking of them, today's served system, the
examples as they are, the examples + slot rewrite, the edit model alone and the AR baseline answer the same
prompts and are scored with the language's main metric (Python BLEU-4, Bash template match), top-1 / 3 / 5,
with 95 % paired-bootstrap intervals against today's served and against examples + slots. Each system's row is
printed (and appended to --out) as soon as it is scored.

Usage: .venv/bin/python scripts/edit_bakeoff.py --lang python --edit-model DIR [--variant NAME=JSON ...]
         [--limit N --seed S] [--out docs/experiments/edit_bakeoff.jsonl] [--no-alone] [--no-ar]
DIR: an edit model folder (a masked model with a copy head). A variant serves it as today's folder does
(today's seeding.json + its examples, the language listed under `edit`) with the JSON's `seeding` keys and
`sampler` keys (the edit model's sampler.json) on top, in a folder made for the run; default: one variant
`free` ({}): every edit written from all-masked.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from codefusion.model.evaluation import metrics as m
from codefusion.model.pipeline import BASELINE_MODEL_DIR, DEFAULT_MODEL_DIR, Sample
from codefusion.model.training.data import load_pairs
from codefusion.server.cli.eval_runs import example_finder, language_metrics, subsample
from codefusion.server.cli.report import PRIMARY
from codefusion.server.engine import Engine
from codefusion.server.ranking import rank_candidates

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired_bootstrap import best_of_first, paired  # noqa: E402

TOPS = (1, 3, 5)


def confident_edit_first(lang: str, samples: list[Sample], k: int, threshold: float) -> list[str]:
    """The nearest example's edit first when the model is sure of it (mean log-probability above threshold),
    else that example first; the rest interleaved as served."""
    edit_led = [c.text for c in rank_candidates(lang, samples, k, examples_first=False)]
    example_led = [c.text for c in rank_candidates(lang, samples, k, examples_first=True)]
    first_edit = next((s for s in samples if not s.unedited and s.example_score is not None), None)
    return edit_led if first_edit is not None and first_edit.score >= threshold else example_led


def far_edit_first(lang: str, samples: list[Sample], k: int, nearness: float) -> list[str]:
    """The model's edits first when the nearest example is far (its nearness below `nearness`: the model
    writes alone where no example is close), else the examples + slots as served today."""
    near = max((s.example_score for s in samples if s.example_score is not None), default=0.0)
    if near < nearness:
        return [c.text for c in rank_candidates(lang, samples, k, edits_first=True)]
    return [c.text for c in rank_candidates(lang, [s for s in samples if s.unedited] or samples, k)]


def variant_folder(root: Path, today: Path, edit_model: Path, lang: str, name: str, spec: dict) -> Path:
    """A served folder under root: today's files, the language handed to a copy of the edit model whose
    sampler.json has spec["sampler"], today's seeding.json with the language under `edit` and spec["seeding"]."""
    model = root / f"{name}-model"
    model.mkdir(parents=True)
    for f in edit_model.iterdir():
        if f.is_file() and f.name != "sampler.json":
            (model / f.name).symlink_to(f.resolve())
    sampler = json.loads((edit_model / "sampler.json").read_text()) if (edit_model / "sampler.json").is_file() else {}
    (model / "sampler.json").write_text(json.dumps({**sampler, **spec.get("sampler", {})}))
    served = root / name
    served.mkdir()
    for f in today.iterdir():
        if f.is_file() and f.name not in ("seeding.json", "languages.json"):
            (served / f.name).symlink_to(f.resolve())
    seeding = json.loads((today / "seeding.json").read_text())
    seeding = {**seeding, "edit": [lang], **spec.get("seeding", {})}
    (served / "seeding.json").write_text(json.dumps(seeding))
    (served / "languages.json").write_text(json.dumps({lang: model.name}))
    return served


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lang", required=True, choices=["python", "bash"])
    p.add_argument("--edit-model", type=Path, required=True)
    p.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                   help='e.g. anchor30=\'{"seeding": {"edit_start": {"python": 30}}, "sampler": {"threshold": 0.9}}\'')
    p.add_argument("--today-dir", type=Path, default=DEFAULT_MODEL_DIR)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--no-alone", action="store_true")
    p.add_argument("--no-ar", action="store_true")
    p.add_argument("--no-rankings", action="store_true", help="only each variant's served order and its edits only")
    p.add_argument("--novel-templates", action="store_true",
                   help="Bash: only the dev rows whose template is in no training row (484 of 1,009)")
    p.add_argument("--thresholds", default="-0.3,-0.6,-1.0")
    p.add_argument("--nearness", default="0.45,0.5,0.55,0.6",
                   help="far_edit_first: the nearest example's score under which the edits come first")
    p.add_argument("--out", type=Path, default=None, help="JSONL to append the rows to")
    p.add_argument("--resamples", type=int, default=2000)
    args = p.parse_args()
    torch.set_num_threads(1)
    lang, k = args.lang, args.k
    dev = load_pairs(lang, "dev")[0]
    if args.novel_templates:  # Bash dev rows whose command template no training row has (as unseen prompts)
        seen = {tuple(m.bash_template(x.code)) for x in load_pairs("bash", "train")[0]}
        dev = [x for x in dev if tuple(m.bash_template(x.code)) not in seen]
    pairs = subsample(dev, args.limit, args.seed)
    prompts = [x.prompt for x in pairs]
    scorer = language_metrics(lang)[PRIMARY[lang]]
    scores: dict[str, list[list[float]]] = {}
    date = time.strftime("%Y-%m-%d")

    def report(name: str, answers: list[list[str]], ms: float | None) -> None:
        scores[name] = [[scorer(c, pair) for c in row[:k]] for row, pair in zip(answers, pairs, strict=True)]
        row = {"date": date, "lang": lang, "metric": PRIMARY[lang], "system": name, "prompts": len(pairs),
               "dev": "novel templates" if args.novel_templates else "all",
               "limit": args.limit, "seed": args.seed, "ms_per_prompt": ms,
               **{f"top{n}": round(m.top_k(scores[name], n), 2) for n in TOPS}}
        for base in ("today_served", "slots"):
            if name != base and base in scores:
                for n in TOPS:
                    row[f"vs_{base}_top{n}"] = paired(best_of_first(scores[name], n), best_of_first(scores[base], n),
                                                      args.resamples)
        print(json.dumps(row), flush=True)
        if args.out:
            with args.out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")

    def timed(name: str, fn) -> None:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        answers = fn()
        report(name, answers, round(1000 * (time.perf_counter() - start) / len(pairs), 1))

    timed("today_served", lambda: [[c.text for c in row] for row in
                                   Engine(args.today_dir, device="cpu").generate_batch(prompts, lang, k=k)])
    for name, slots in (("examples", False), ("slots", True)):
        find = example_finder(args.today_dir, lang, k * 2, slots)
        timed(name, lambda find=find: [[c.text for c in rank_candidates(lang, [Sample(r.code, r.score, [])
                                                                          for r in find(q)], k)] for q in prompts])
    variants = [v.split("=", 1) for v in args.variant] or [["free", "{}"]]
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in variants:
            folder = variant_folder(Path(tmp), args.today_dir, args.edit_model, lang, name, json.loads(spec))
            edit = Engine(folder, device="cpu")
            edit.load()
            start = time.perf_counter()
            samples = [row for i in range(0, len(prompts), 8) for row in edit.sample_batch(prompts[i:i + 8], lang, k=k)]
            ms = round(1000 * (time.perf_counter() - start) / len(pairs), 1)
            report(f"{name}:served", [[c.text for c in edit.rank(lang, s, k)] for s in samples], ms)
            report(f"{name}:edits_only", [[c.text for c in rank_candidates(lang, [x for x in s if not x.unedited], k)]
                                          for s in samples], ms)
            for t in (float(x) for x in args.nearness.split(",") if x):
                report(f"{name}:far_edit_first({t:g})", [far_edit_first(lang, s, k, t) for s in samples], ms)
            for places in (1, 2):
                report(f"{name}:edits_last({places})",
                       [[c.text for c in rank_candidates(lang, s, k, edit_places=places)] for s in samples], ms)
            if args.no_rankings:
                continue
            report(f"{name}:edits_first", [[c.text for c in rank_candidates(lang, s, k, edits_first=True)]
                                           for s in samples], ms)
            report(f"{name}:examples_first", [[c.text for c in rank_candidates(lang, s, k, examples_first=True)]
                                              for s in samples], ms)
            for t in (float(x) for x in args.thresholds.split(",")):
                report(f"{name}:confident_edit_first({t:g})", [confident_edit_first(lang, s, k, t) for s in samples],
                       ms)
    if not args.no_alone:
        alone = Engine(args.edit_model, device="cpu", seeding=False)
        timed("alone", lambda: [[c.text for c in row] for i in range(0, len(prompts), 8)
                                for row in alone.generate_batch(prompts[i:i + 8], lang, k=k)])
    if not args.no_ar:
        ar = Engine(BASELINE_MODEL_DIR, device="cpu")
        timed("ar_beam", lambda: [[c.text for c in row] for row in ar.generate_batch(prompts, lang, k=k,
                                                                                      method="beam")])


if __name__ == "__main__":
    main()
