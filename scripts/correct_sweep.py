"""The model as a corrector of the served examples (issue 38): each dev prompt's served candidates (its nearest
examples with the slot rewrite, ranked as served) corrected by a masked model (CodeFusionPipeline.correct: the
tokens it doubts, p < doubt, replaced where it is sure of another, p >= sure), scored with the language's main
metric top-1 / 3 / 5 against the uncorrected candidates, 95 % paired-bootstrap intervals. One forward run per
doubt value; the sure values only filter it. Also: the candidates reordered by the model's mean log p of their
tokens (score rank), for a ranking by the model's likelihood. Rows print as scored (and append to --out).

Usage: .venv/bin/python scripts/correct_sweep.py --lang python --model DIR [--doubt 0.02,0.05,0.1]
         [--sure 0.5,0.7,0.9] [--limit N --seed S --out FILE]
DIR: a masked model folder; an edit model (copy head) reads each candidate's example (its prompt, the code as
served) and corrects the code in view of it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from codefusion.model.evaluation import metrics as m
from codefusion.model.examples.edit import EditSource
from codefusion.model.examples.seeding import ExampleSeeds
from codefusion.model.pipeline import DEFAULT_MODEL_DIR, CodeFusionPipeline, Sample
from codefusion.model.training.data import load_pairs
from codefusion.server.cli.eval_runs import language_metrics, subsample
from codefusion.server.cli.report import PRIMARY
from codefusion.server.ranking import rank_candidates

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired_bootstrap import best_of_first, paired  # noqa: E402

TOPS = (1, 3, 5)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lang", required=True, choices=["python", "bash"])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--today-dir", type=Path, default=DEFAULT_MODEL_DIR)
    p.add_argument("--doubt", default="0.02,0.05,0.1,0.2")
    p.add_argument("--sure", default="0.3,0.5,0.7,0.9")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--batch", type=int, default=8, help="prompts per forward run")
    p.add_argument("--nearness", default="0.5,1,2", help="weights of log nearness beside the model's log p")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--resamples", type=int, default=2000)
    args = p.parse_args()
    torch.set_num_threads(1)
    lang, k = args.lang, args.k
    pairs = subsample(load_pairs(lang, "dev")[0], args.limit, args.seed)
    prompts = [x.prompt for x in pairs]
    scorer = language_metrics(lang)[PRIMARY[lang]]
    seeds = ExampleSeeds.from_dir(args.today_dir)
    assert seeds is not None
    pipe = CodeFusionPipeline.from_dir(args.model, device="cpu")
    served: list[list[tuple[str, EditSource]]] = []
    near: list[dict[str, float]] = []  # per prompt: each served code's nearness (retrieval score, 0..1]
    for q in prompts:
        found = seeds.edit_sources(q, lang, 2 * k)
        order = [c.text for c in rank_candidates(lang, [Sample(r.code, r.score, []) for r, _ in found], k)]
        by_code = {r.code: src for r, src in found}
        served.append([(code, EditSource(by_code[code].prompt, code)) for code in order])
        near.append({r.code: r.score for r, _ in found})
    scores: dict[str, list[list[float]]] = {}
    date = time.strftime("%Y-%m-%d")

    def report(name: str, answers: list[list[str]], extra: dict) -> None:
        scores[name] = [[scorer(c, pair) for c in row[:k]] for row, pair in zip(answers, pairs, strict=True)]
        row = {"date": date, "lang": lang, "metric": PRIMARY[lang], "system": name, "model": str(args.model),
               "prompts": len(pairs), "limit": args.limit, "seed": args.seed, **extra,
               **{f"top{n}": round(m.top_k(scores[name], n), 2) for n in TOPS}}
        if name != "slots":
            for n in TOPS:
                row[f"vs_slots_top{n}"] = paired(best_of_first(scores[name], n), best_of_first(scores["slots"], n),
                                                 args.resamples)
        print(json.dumps(row), flush=True)
        if args.out:
            with args.out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")

    report("slots", [[c for c, _ in row] for row in served], {})
    for doubt in (float(x) for x in args.doubt.split(",")):
        for sure in (float(x) for x in args.sure.split(",")):
            corrected: list[list[Sample]] = []
            began = time.perf_counter()
            for i in range(0, len(prompts), args.batch):
                part = served[i:i + args.batch]
                corrected += pipe.correct(prompts[i:i + args.batch], lang, [[c for c, _ in row] for row in part],
                                          doubt=doubt, sure=sure, sources=[[s for _, s in row] for row in part])
            ms = round(1000 * (time.perf_counter() - began) / len(prompts), 1)
            answers = [[s.text for s in row] for row in corrected]
            changed = sum(a != c for row, ans in zip(served, answers, strict=True)
                          for (c, _), a in zip(row, ans, strict=True))
            report(f"corrected(doubt={doubt:g},sure={sure:g})", answers,
                   {"doubt": doubt, "sure": sure, "changed": changed, "ms_per_prompt": ms})
    # the model's likelihood as the ranking: the served candidates by their mean log p (the last run's), alone
    # and beside their nearness: log p + w · log nearness
    plain = [[c for c, _ in row] for row in served]
    for w in [0.0, *(float(x) for x in args.nearness.split(",") if x)]:
        report("slots by score" + (f" + {w:g} log nearness" if w else ""),
               [[c for _, c in sorted(((-(s.score + w * math.log(max(near[i][c], 1e-6))), c)
                                       for s, c in zip(row, codes, strict=True)), key=lambda t: t[0])]
                for i, (row, codes) in enumerate(zip(corrected, plain, strict=True))], {"nearness_weight": w})

if __name__ == "__main__":
    main()
