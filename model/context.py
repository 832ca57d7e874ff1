"""Retrieval context for training: each pair with the nearest *other* training examples (TF-IDF over prompts).

A model with `example_context` reads `<lang> prompt <lang> example prompt <lang> example code` in its encoder.
At inference the examples are the k training examples nearest to the request (model/seeding.py's
examples.jsonl, one per candidate); in training they are a pair's nearest neighbours among the training
pairs with another ID, so the model never sees its own answer and learns when to copy and what to edit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .data import Pair
from .retrieval import TfidfRetriever


def nearest_others(pairs: Sequence[Pair], n: int) -> list[list[int]]:
    """For each pair, the indices of up to n nearest pairs with another ID and a distinct code, best first.

    Only pairs sharing a prompt word count (similarity > 0), as at inference.
    """
    retriever = TfidfRetriever.from_pairs(pairs)
    out = []
    for pair in pairs:
        sims = retriever.similarities(pair.prompt)
        order = np.lexsort((np.arange(len(sims)), -sims))
        picked: list[int] = []
        codes: set[str] = set()
        for j in order[: 4 * n + 8]:
            j = int(j)
            if sims[j] <= 0 or len(picked) == n:
                break
            other = pairs[j]
            if other.id == pair.id or other.code in codes:
                continue
            codes.add(other.code)
            picked.append(j)
        out.append(picked)
    return out
