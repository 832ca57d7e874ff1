"""Dev comparison of nearest-example retrievers: TF-IDF vs TF-IDF blended with MiniLM sentence similarity.

For each language, every dev prompt's 10 nearest training examples (training split only; distinct codes)
by weight · MiniLM cosine + (1 − weight) · TF-IDF cosine, served through the engine's ranking (valid first,
k = 5), scored with `codefusion eval`'s metrics. Weight 0 is TF-IDF alone. How seeding.json's
semantic_weight was chosen (docs/experiments.md).

Usage: .venv/bin/python scripts/compare_retrievers.py [LANG ...] [--weights 0,0.5,0.7,1]
"""

from __future__ import annotations

import argparse
import json

from codefusion.model.config import LANGUAGES
from codefusion.model.examples.minilm import SentenceEncoder
from codefusion.model.examples.retrieval import HybridRetriever
from codefusion.model.pipeline import Sample
from codefusion.model.training.data import load_pairs
from codefusion.server.cli.eval_runs import Prediction, score_predictions
from codefusion.server.ranking import rank_candidates

K, POOL = 5, 10


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("langs", nargs="*", default=list(LANGUAGES))
    p.add_argument("--weights", default="0,0.5,0.7,1")
    args = p.parse_args()
    encoder = SentenceEncoder()
    for lang in args.langs:
        train, dev = load_pairs(lang, "train")[0], load_pairs(lang, "dev")[0]
        examples = encoder.embed([t.prompt for t in train])
        queries = dict(zip([d.prompt for d in dev], encoder.embed([d.prompt for d in dev]), strict=True))
        for weight in (float(w) for w in args.weights.split(",")):
            retriever = HybridRetriever([t.prompt for t in train], [t.code for t in train], examples,
                                        queries.__getitem__, weight)
            preds = []
            for pair in dev:
                rows = [Sample(r.code, r.score, []) for r in retriever.retrieve(pair.prompt, POOL)]
                served = [c.text for c in rank_candidates(lang, rows, K)]
                preds.append(Prediction(pair.id, pair.prompt, pair.code, [r.text for r in rows], served))
            metrics = score_predictions(lang, dev, preds, K)["metrics"]
            print(json.dumps({"lang": lang, "weight": weight, "prompts": len(dev), **metrics}), flush=True)


if __name__ == "__main__":
    main()
