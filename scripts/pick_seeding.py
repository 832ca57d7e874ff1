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
A SETTING is a start step (seeded, 1 step), or `cS` (each candidate reads its example in the encoder:
example_context models; S steps from pure noise), `gS` (its example is N's first guess: example_guess
models) or with a start, `cSsT` / `gSsT` (also starts from the example noised to T); such settings are
reported in the examples' order and, as `by score`, by the model's score.
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
        example_prompts = seeds.prompts[lang] if seeds is not None and served else [p.prompt for p in train]
        pairs = load_pairs(lang, "dev")[0][:n]
        # as served (with seeding.json's slot transfer), or, with no shared word, the nearest regardless
        near = [(seeds.nearest(p.prompt, lang, K) if seeds is not None and served else []) or
                [r for r in retriever.retrieve(p.prompt, K) if r.score > 0] or retriever.retrieve(p.prompt, K)
                for p in pairs]
        found = [[r.code for r in rows] for rows in near]
        contexts = [[(example_prompts[r.index], r.code) for r in rows] for rows in near]
        report(lang, "retrieval", found, pairs, [c for f in found for c in f])
        prompts = [p.prompt for p in pairs]
        noise = pipe.sample(prompts, lang, k=K, steps=2)
        report(lang, "noise, 2 steps", by_score(noise), pairs, [s.text for row in noise for s in row])
        for setting in settings:
            steps, start, reads = parse_setting(setting)
            rows = pipe.sample(prompts, lang, k=K, steps=steps, init_codes=None if start is None else found,
                               start=start, contexts=contexts if reads == "c" else None,
                               guess_codes=found if reads == "g" else None)
            texts = [[s.text for s in row] for row in rows]  # in the examples' order, as the engine ranks
            how = {"c": "context", "g": "guess"}.get(reads, "seeded")
            name = (f"{how}, {steps} steps" if reads else how) + ("" if start is None else f" from step {start}")
            report(lang, name, texts, pairs, [t for row in texts for t in row])
            if reads:
                report(lang, name + ", by score", by_score(rows), pairs, [t for row in texts for t in row])


def by_score(rows: list) -> list[list[str]]:
    return [[s.text for s in sorted(row, key=lambda s: -s.score)] for row in rows]


def parse_setting(setting: str) -> tuple[int, int | None, str]:
    """(steps, start step or None for pure noise, "c"/"g"/"" how it reads examples) of `30`, `g2` or `c1s100`."""
    if setting.isdigit():
        return 1, int(setting), ""
    head, _, start = setting[1:].partition("s")
    if setting[:1] not in ("c", "g") or not head.isdigit() or (start and not start.isdigit()):
        raise SystemExit(f"bad setting {setting!r}: expected START, cSTEPS, gSTEPS, cSTEPSsSTART or gSTEPSsSTART")
    return int(head), int(start) if start else None, setting[0]


if __name__ == "__main__":
    main(sys.argv[1:])
