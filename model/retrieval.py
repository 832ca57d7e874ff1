"""The retrieval floor: TF-IDF nearest training examples for a prompt (numpy only)."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")


def prompt_terms(text: str) -> list[str]:
    """Lower-cased alphanumeric words."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class Retrieved:
    code: str
    score: float  # cosine similarity of the prompts' TF-IDF vectors, 0..1
    index: int  # position of the training example


class TfidfRetriever:
    """Cosine similarity of sublinear-TF × smoothed-IDF vectors, over an inverted index."""

    def __init__(self, prompts: Sequence[str], codes: Sequence[str]):
        if len(prompts) != len(codes):
            raise ValueError("prompts and codes differ in length")
        self.codes = list(codes)
        docs = [Counter(prompt_terms(p)) for p in prompts]
        df = Counter(term for doc in docs for term in doc)
        n = len(docs)
        self.idf = {t: math.log((1 + n) / (1 + d)) + 1 for t, d in df.items()}
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, doc in enumerate(docs):
            weights = {t: (1 + math.log(c)) * self.idf[t] for t, c in doc.items()}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            for t, w in weights.items():
                postings[t].append((i, w / norm))
        self.postings = {
            t: (np.array([i for i, _ in p], dtype=np.int64), np.array([w for _, w in p])) for t, p in postings.items()
        }

    @classmethod
    def from_pairs(cls, pairs: Sequence[object]) -> TfidfRetriever:
        """From `Pair`s (anything with `.prompt` and `.code`)."""
        return cls([p.prompt for p in pairs], [p.code for p in pairs])  # type: ignore[attr-defined]

    def similarities(self, prompt: str) -> np.ndarray:
        """Cosine similarity of the prompt to every training prompt."""
        scores = np.zeros(len(self.codes))
        counts = Counter(t for t in prompt_terms(prompt) if t in self.idf)
        weights = {t: (1 + math.log(c)) * self.idf[t] for t, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        for t, w in weights.items():
            idx, vals = self.postings[t]
            np.add.at(scores, idx, vals * (w / norm))
        return scores

    def retrieve(self, prompt: str, k: int, skip: Callable[[int], bool] | None = None) -> list[Retrieved]:
        """The codes of the k most similar training prompts, best first, distinct codes only; `skip(index)`
        leaves out examples (e.g. a training pair's own group when it is its own query)."""
        scores = self.similarities(prompt)
        order = np.lexsort((np.arange(len(scores)), -scores))  # ties: earlier training example first
        out: list[Retrieved] = []
        seen: set[str] = set()
        for i in order:
            code = self.codes[int(i)]
            if code in seen or (skip is not None and skip(int(i))):
                continue
            seen.add(code)
            out.append(Retrieved(code, float(scores[i]), int(i)))
            if len(out) == k:
                break
        return out
