"""Dev sweep of example-seeding start steps: how seeding.json's values are chosen.

For each language, the first N dev prompts: the k = 5 nearest training examples (TF-IDF, training split
only) as they are (retrieval), the model from pure noise (2 steps, ranked by its score), and the model
started from those examples noised to each start step (1 step, ranked by the examples' nearness, as the
engine serves them). Raw samples: no validation or top-up. Prints one JSON line per setting:
top-1 / top-5 of the language's main metric, share that parses, distinct per prompt.

Usage: .venv/bin/python scripts/pick_seeding.py MODEL_DIR [N_PROMPTS] [START ...]
  e.g. scripts/pick_seeding.py models/codefusion 60 0 30 60 100 200 300
"""

from __future__ import annotations

import json
import sys

from codefusion.model import metrics
from codefusion.model.data import load_pairs
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.retrieval import TfidfRetriever
from codefusion.server.cli_eval import language_metrics
from codefusion.server.eval_report import PRIMARY

K = 5


def report(lang: str, setting: str, per_prompt: list[list[str]], pairs: list, texts: list[str]) -> None:
    scorer = language_metrics(lang)[PRIMARY[lang]]
    scores = [[scorer(c, x) for c in cands] for cands, x in zip(per_prompt, pairs, strict=True)]
    print(json.dumps({
        "lang": lang, "setting": setting, "top1": round(metrics.top_k(scores, 1), 1),
        "top5": round(metrics.top_k(scores, K), 1), "valid": round(metrics.validity(lang, texts), 1),
        "distinct": round(sum(len(set(c)) for c in per_prompt) / len(per_prompt), 2),
        "example": per_prompt[0][:2]}), flush=True)


def main(argv: list[str]) -> None:
    pipe = CodeFusionPipeline.from_dir(argv[0], device="cpu")
    n = int(argv[1]) if len(argv) > 1 else 40
    starts = [int(s) for s in argv[2:]] or [0, 30, 60, 100, 200, 300]
    for lang in ["cf", "bash", "python"]:
        retriever = TfidfRetriever.from_pairs(load_pairs(lang, "train")[0])
        pairs = load_pairs(lang, "dev")[0][:n]
        found = [[r.code for r in retriever.retrieve(p.prompt, K)] for p in pairs]
        report(lang, "retrieval", found, pairs, [c for f in found for c in f])
        prompts = [p.prompt for p in pairs]
        noise = pipe.sample(prompts, lang, k=K, steps=2)
        ranked = [[s.text for s in sorted(row, key=lambda s: -s.score)] for row in noise]
        report(lang, "noise, 2 steps", ranked, pairs, [s.text for row in noise for s in row])
        for start in starts:
            rows = pipe.sample(prompts, lang, k=K, steps=1, init_codes=found, start=start)
            texts = [[s.text for s in row] for row in rows]  # in the examples' order, as the engine ranks
            report(lang, f"seeded from step {start}", texts, pairs, [t for row in texts for t in row])


if __name__ == "__main__":
    main(sys.argv[1:])
