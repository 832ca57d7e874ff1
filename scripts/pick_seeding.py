"""Dev sweep of example-seeding start steps: how seeding.json's values are chosen.

For each language, the first N dev prompts: the k = 5 nearest training examples (training split only, by
the model folder's retriever: TF-IDF or TF-IDF + MiniLM, with the request's literals put in where its
seeding.json says `slots`) as they are
(retrieval), the model from pure noise (2 steps, ranked by its score), and the model started from those
examples noised to each start step (1 step, ranked by the examples' nearness, as the engine serves them).
Raw samples: no validation or top-up. Prints one JSON line per setting: top-1 / top-5 of the language's
main metric, share that parses, distinct per prompt.

Usage: .venv/bin/python scripts/pick_seeding.py MODEL_DIR [N_PROMPTS] [SETTING ...]
  e.g. scripts/pick_seeding.py models/codefusion 60 0 30 60 100 200 300
A SETTING is a start step (seeded, 1 step), or START:STEPS. For a masked-kernel folder START is the per cent
of each example's tokens remasked (the least sure under the prompt), e.g. scripts/pick_seeding.py DIR 60 15:2 30:2 50:4.
"""

from __future__ import annotations

import json
import sys

from codefusion.model.examples.retrieval import TfidfRetriever
from codefusion.model.examples.seeding import ExampleSeeds
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.training.data import load_pairs
from sweep_summary import K, summary  # scripts/sweep_summary.py


def report(lang: str, setting: str, per_prompt: list[list[str]], pairs: list, texts: list[str]) -> None:
    print(json.dumps({"lang": lang, "setting": setting, **summary(lang, per_prompt, pairs, texts)}), flush=True)


def main(argv: list[str]) -> None:
    pipe = CodeFusionPipeline.from_dir(argv[0], device="cpu")
    n = int(argv[1]) if len(argv) > 1 else 40
    settings = argv[2:] or ["0", "30", "60", "100", "200", "300"]
    seeds = ExampleSeeds.from_dir(argv[0])
    for lang in ["cf", "bash", "python"]:
        train = load_pairs(lang, "train")[0]
        served = seeds is not None and lang in seeds.retrievers
        retriever = seeds.retrievers[lang] if seeds is not None and served else TfidfRetriever.from_pairs(train)
        pairs = load_pairs(lang, "dev")[0][:n]
        # as served (with seeding.json's slot transfer), or, with no shared word, the nearest regardless
        near = [(seeds.nearest(p.prompt, lang, K) if seeds is not None and served else []) or
                [r for r in retriever.retrieve(p.prompt, K) if r.score > 0] or retriever.retrieve(p.prompt, K)
                for p in pairs]
        found = [[r.code for r in rows] for rows in near]
        report(lang, "retrieval", found, pairs, [c for f in found for c in f])
        prompts = [p.prompt for p in pairs]
        steps = None if pipe.kind == "masked" else 2  # masked: its sampler.json's steps
        noise = pipe.sample(prompts, lang, k=K, steps=steps)
        report(lang, f"noise, {steps or pipe.masked_sampling.steps} steps", by_score(noise), pairs,
               [s.text for row in noise for s in row])
        for setting in settings:
            start, _, steps = setting.partition(":")
            if not start.isdigit() or not (steps or "1").isdigit():
                raise SystemExit(f"bad setting {setting!r}: expected START or START:STEPS")
            rows = pipe.sample(prompts, lang, k=K, steps=int(steps or 1), init_codes=found, start=int(start))
            texts = [[s.text for s in row] for row in rows]  # in the examples' order, as the engine ranks
            report(lang, f"seeded from step {setting}", texts, pairs, [t for row in texts for t in row])


def by_score(rows: list) -> list[list[str]]:
    return [[s.text for s in sorted(row, key=lambda s: -s.score)] for row in rows]


if __name__ == "__main__":
    main(sys.argv[1:])
