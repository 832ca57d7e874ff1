"""The per-setting summary the dev sweeps (pick_sampler.py, pick_seeding.py) print for each language."""

from __future__ import annotations

from collections.abc import Sequence

from codefusion.model.evaluation import metrics
from codefusion.server.cli.eval_runs import language_metrics
from codefusion.server.cli.report import PRIMARY

K = 5


def summary(lang: str, per_prompt: Sequence[Sequence[str]], pairs: Sequence, texts: Sequence[str]) -> dict:
    """top-1 / top-K of the language's main metric over ranked candidates, the share of raw samples that
    parse, distinct candidates per prompt, and the first prompt's first two candidates."""
    scorer = language_metrics(lang)[PRIMARY[lang]]
    scores = [[scorer(c, x) for c in cands] for cands, x in zip(per_prompt, pairs, strict=True)]
    return {"top1": round(metrics.top_k(scores, 1), 1), "top5": round(metrics.top_k(scores, K), 1),
            "valid": round(metrics.validity(lang, list(texts)), 1),
            "distinct": round(sum(len(set(c)) for c in per_prompt) / len(per_prompt), 2),
            "example": list(per_prompt[0][:2])}
