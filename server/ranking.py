"""Candidates: validate, deduplicate after normalisation and rank the samples of one request. No LSP here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codefusion.model.pipeline import Sample


@dataclass(frozen=True)
class Candidate:
    """One generated snippet. `valid` is False only when no sample parsed and this is a best effort."""

    text: str
    score: float
    valid: bool
    rank: int
    seed: str | None = None  # the training example the sampler started from (example seeding), else None



def needs_top_up(lang: str, samples: Sequence[Sample], k: int) -> bool:
    """True when the samples do not give k distinct candidates that parse."""
    ranked = rank_candidates(lang, samples, k)
    return len(ranked) < k or not all(c.valid for c in ranked)


def rank_candidates(lang: str, samples: Sequence[Sample], k: int) -> list[Candidate]:
    """Validate, deduplicate (after normalisation) and rank samples by score; at most k.

    Invalid samples are kept (marked) only when none of the samples parses.
    """
    from codefusion.model.validate import normalize, validate

    scored = [(s.text.strip("\n").rstrip(), s.score, s.seed) for s in samples]
    scored = [row for row in scored if row[0].strip()]
    checked = [(text, score, seed, validate(lang, text)) for text, score, seed in scored]
    if any(c[3] for c in checked):
        checked = [c for c in checked if c[3]]
    checked.sort(key=lambda c: -c[1])
    seen: set[str] = set()
    out: list[Candidate] = []
    for text, score, seed, ok in checked:
        key = normalize(lang, text)
        if key in seen:
            continue
        seen.add(key)
        out.append(Candidate(text=text, score=float(score), valid=ok, rank=len(out) + 1, seed=seed))
        if len(out) == k:
            break
    return out
