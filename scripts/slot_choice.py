"""Can the model choose each example's adaptation? (issue 38.) For each dev prompt the nearest examples are
served with the slot rewrite (slots.py), in today's order, and as they are; per example, the model's likelihood
under the prompt (the masked kernel's mean or summed −log p of each token while masked, CodeFusionPipeline.code_ce)
picks one of the two. Rows: examples as they are, examples + slots (today), the oracle (the better of the
two per example, by the metric: the room a chooser has) and the model's choice; scored with the language's
main metric at top-1 / 3 / 5, 95 % paired-bootstrap intervals against examples + slots.

Usage: .venv/bin/python scripts/slot_choice.py --lang python [--limit N --seed S] [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import torch
from codefusion.model.pipeline import DEFAULT_MODEL_DIR, Sample
from codefusion.model.training.data import load_pairs
from codefusion.server.cli.eval_runs import example_finder, language_metrics, subsample
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
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--margins", default="0,0.1,0.3", help="the model's choice of the rewrite needs its mean -log p "
                                                          "no more than this above the example's")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--resamples", type=int, default=2000)
    args = p.parse_args()
    torch.set_num_threads(1)
    lang, k = args.lang, args.k
    pairs = subsample(load_pairs(lang, "dev")[0], args.limit, args.seed)
    scorer = language_metrics(lang)[PRIMARY[lang]]
    slot_find = example_finder(args.model_dir, lang, 2 * k, True)
    from codefusion.model.examples.seeding import ExampleSeeds

    seeds = ExampleSeeds.from_dir(args.model_dir)
    assert seeds is not None

    pipe = Engine(args.model_dir, device="cpu")._pipeline(lang)
    date = time.strftime("%Y-%m-%d")
    rows: dict[str, list[list[str]]] = {}
    margins = [float(v) for v in args.margins.split(",")]
    t0 = time.perf_counter()
    for pair in pairs:
        slotted = slot_find(pair.prompt)  # the served order; each example as it is beside it
        raw = [dataclasses.replace(r, code=seeds.retrievers[lang].codes[r.index]) for r in slotted]
        differ = [i for i, (a, b) in enumerate(zip(raw, slotted, strict=True)) if a.code != b.code]
        codes = [raw[i].code for i in differ] + [slotted[i].code for i in differ]
        ce = pipe.code_ce(pair.prompt, codes, lang, 0) if codes else []
        doubt = {i: ce[len(differ) + j] - ce[j] for j, i in enumerate(differ)}  # the rewrite's fit minus the raw's
        picks = {"examples": [a.code for a in raw], "slots": [b.code for b in slotted],
                 "oracle": [a.code if scorer(a.code, pair) > scorer(b.code, pair) else b.code
                            for a, b in zip(raw, slotted, strict=True)]}
        for mg in margins:
            picks[f"model_choice({mg:g})"] = [a.code if doubt.get(i, -math.inf) > mg else b.code
                                              for i, (a, b) in enumerate(zip(raw, slotted, strict=True))]
        for name, chosen in picks.items():
            found = [Sample(code, r.score, []) for code, r in zip(chosen, slotted, strict=True)]
            rows.setdefault(name, []).append([c.text for c in rank_candidates(lang, found, k)])
    ms = round(1000 * (time.perf_counter() - t0) / len(pairs), 1)
    scores = {name: [[scorer(c, pair) for c in row] for row, pair in zip(r, pairs, strict=True)]
              for name, r in rows.items()}
    meta = {"date": date, "lang": lang, "metric": PRIMARY[lang], "prompts": len(pairs), "limit": args.limit,
            "seed": args.seed, "ms_per_prompt_all_rows": ms}
    report_rows(scores, "slots", meta, TOPS, args.resamples, args.out)

if __name__ == "__main__":
    main()
