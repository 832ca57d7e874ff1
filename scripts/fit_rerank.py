"""Does the model's fit reorder the served examples well? (issue 38.) For each dev prompt the 10 (or --pools) nearest
examples as served (slot rewrite, today's order) are reordered by nearness × exp(−w × the model's mean −log p
of a code under the prompt), the code being the example as served (`served`: what seeding.json's `rerank`
does) or as it is in the training data (`raw`: a fit the model's weak copying of the prompt's literals does
not bias). Scored with the language's main metric at top-1 / 3 / 5, 95 % paired-bootstrap intervals against
today's order; with keep_first today's first stays first and the fit orders the rest.

Usage: .venv/bin/python scripts/fit_rerank.py --lang python [--weights 0.05,0.1,0.2,0.4] [--limit N --seed S]
         [--other-dir DIR --base ROW]   a second model folder's judge on the same examples, against a chosen row
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import sys
import time
from pathlib import Path

import torch
from codefusion.model.examples.seeding import ExampleSeeds
from codefusion.model.pipeline import DEFAULT_MODEL_DIR, Sample
from codefusion.model.training.data import load_pairs
from codefusion.server.cli.eval_runs import language_metrics, subsample
from codefusion.server.cli.report import PRIMARY
from codefusion.server.engine import Engine
from codefusion.server.ranking import rank_candidates

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired_bootstrap import report_rows  # noqa: E402

TOPS = (1, 3, 5)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lang", required=True, choices=["python", "bash"])
    p.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    p.add_argument("--weights", default="0.05,0.1,0.2")
    p.add_argument("--pools", default="10,20", help="how many nearest examples the model's fit reorders")
    p.add_argument("--keep-near", default="", help="nearness thresholds: the nearest stays first only when its "
                                                   "score reaches t (comma-separated; default: none tried)")
    p.add_argument("--pmi", default="", help="λ values: also judge by the fit minus λ × the code's fit under an empty "
                                              "prompt (how much the request explains the code; comma-separated)")
    p.add_argument("--served-fit", action="store_true", help="also the fit of each example as served")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--note", default=None, help="a note written into each row (what differs from earlier rows)")
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--other-dir", type=Path, default=None,
                   help="a second model folder whose model also judges the same examples (rows `other:…`)")
    p.add_argument("--base", default="today", help="the row the others are compared with (default: today's order)")
    args = p.parse_args()
    torch.set_num_threads(1)
    lang, k = args.lang, 5
    pairs = subsample(load_pairs(lang, "dev")[0], args.limit, args.seed)
    scorer = language_metrics(lang)[PRIMARY[lang]]
    seeds = ExampleSeeds.from_dir(args.model_dir)
    assert seeds is not None
    judges = {"": Engine(args.model_dir, device="cpu")._pipeline(lang)}
    if args.other_dir:
        judges["other:"] = Engine(args.other_dir, device="cpu")._pipeline(lang)
    weights = [float(v) for v in args.weights.split(",")]
    pools = [int(v) for v in args.pools.split(",")]
    near = [float(v) for v in args.keep_near.split(",") if v]
    pmi = [float(v) for v in args.pmi.split(",") if v]
    rows: dict[str, list[list[str]]] = {}
    t0 = time.perf_counter()
    for pair in pairs:
        found = seeds.nearest(pair.prompt, lang, max(pools))
        raw = [seeds.retrievers[lang].codes[r.index] for r in found]
        fits: dict[str, list[float]] = {}
        for tag, pipe in judges.items():
            fits[f"{tag}raw"] = pipe.code_ce(pair.prompt, raw, lang, 0) if found else []
            if pmi and found:  # the code's likelihood with no prompt: how much this prompt explains it (λ ·)
                alone = pipe.code_ce("", raw, lang, 0)
                for lam in pmi:
                    fits[f"{tag}pmi{lam:g}"] = [c - lam * a for c, a in zip(fits[f"{tag}raw"], alone, strict=True)]
            if args.served_fit:
                fits[f"{tag}served"] = pipe.code_ce(pair.prompt, [r.code for r in found], lang, 0) if found else []
        rows.setdefault("today", []).append(
            [c.text for c in rank_candidates(lang, [Sample(r.code, r.score, []) for r in found], k)])
        keeps: list[float | None] = [None, 0.0, *near]  # None: all reordered; t: the nearest stays first if >= t
        for (kind, fit), pool, w, keep in itertools.product(fits.items(), pools, weights, keeps):
            moved = [Sample(r.code, r.score * math.exp(-w * f), []) for r, f in zip(found[:pool], fit, strict=False)]
            if keep is not None and moved and found[0].score >= keep:  # today's first stays first
                moved[0] = dataclasses.replace(moved[0], score=math.inf)
            tag = "" if keep is None else ",keep_first" if not keep else f",keep_first_if_near({keep:g})"
            other, _, kind = kind.rpartition(":")
            name = f"{other + ':' if other else ''}fit_{kind}(w={w:g},pool={pool}{tag})"
            rows.setdefault(name, []).append([c.text for c in rank_candidates(lang, moved, k)])
    ms = round(1000 * (time.perf_counter() - t0) / len(pairs), 1)
    date = time.strftime("%Y-%m-%d")
    scores = {name: [[scorer(c, pair) for c in row] for row, pair in zip(r, pairs, strict=True)]
              for name, r in rows.items()}
    meta = {"date": date, "lang": lang, "metric": PRIMARY[lang], "prompts": len(pairs), "limit": args.limit,
            "seed": args.seed, "ms_per_prompt_all_rows": ms, **({"note": args.note} if args.note else {})}
    if args.other_dir:
        meta["other_dir"] = str(args.other_dir)
    report_rows(scores, args.base, meta, TOPS, args.resamples, args.out)

if __name__ == "__main__":
    main()
