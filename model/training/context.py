"""Retrieval context for training: each pair with the nearest *other* training examples (TF-IDF over prompts).

A model with `example_context` reads `<lang> prompt <lang> example prompt <lang> example code` in its encoder.
At inference the examples are the k training examples nearest to the request (model/examples/seeding.py's
examples.jsonl, one per candidate); in training they are a pair's nearest neighbours among the training
pairs with another ID, so the model never sees its own answer and learns when to copy and what to edit.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..examples.retrieval import TfidfRetriever
from .data import Pair


def nearest_others(pairs: Sequence[Pair], n: int) -> list[list[int]]:
    """For each pair, the indices of up to n nearest pairs with another ID and a distinct code, best first.

    Only pairs sharing a prompt word count (similarity > 0), as at inference.
    """
    retriever = TfidfRetriever.from_pairs(pairs)
    out = []
    for pair in pairs:
        def same_group(j: int, own: str = pair.id) -> bool:
            return pairs[j].id == own

        out.append([r.index for r in retriever.retrieve(pair.prompt, n, skip=same_group) if r.score > 0])
    return out
