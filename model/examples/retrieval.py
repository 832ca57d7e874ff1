"""Nearest training examples for a prompt: the TF-IDF floor (numpy), and TF-IDF blended with sentence
embeddings (HybridRetriever; the embeddings come from model/examples/minilm.py). numpy only: the index answers
before torch has loaded."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Sequence
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
        # Built with numpy over all (document, term) pairs at once: ~5x faster than per-document dicts, which
        # the server's first answer waits for.
        terms = [prompt_terms(p) for p in prompts]
        n = len(terms)
        vocab: dict[str, int] = {}
        ids = np.fromiter((vocab.setdefault(t, len(vocab)) for doc in terms for t in doc), dtype=np.int64)
        docs = np.repeat(np.arange(n, dtype=np.int64), [len(doc) for doc in terms])
        size = max(len(vocab), 1)
        keys, counts = np.unique(docs * size + ids, return_counts=True)  # sorted by document, then term
        doc_of, term_of = keys // size, keys % size
        df = np.bincount(term_of, minlength=len(vocab))
        idf = np.log((1 + n) / (1 + df)) + 1
        weights = (1 + np.log(counts)) * idf[term_of]
        norms = np.sqrt(np.bincount(doc_of, weights=weights * weights, minlength=n))
        weights /= np.where(norms > 0, norms, 1.0)[doc_of]
        order = np.argsort(term_of, kind="stable")  # each term's postings in document order
        bounds = np.searchsorted(term_of[order], np.arange(len(vocab) + 1))
        self.idf = dict(zip(vocab, idf.tolist(), strict=True))
        self.postings = {t: (doc_of[order[bounds[i]:bounds[i + 1]]], weights[order[bounds[i]:bounds[i + 1]]])
                         for t, i in vocab.items()}

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

    def retrieve(self, prompt: str, k: int) -> list[Retrieved]:
        """The codes of the k most similar training prompts, best first, distinct codes only."""
        scores = self.similarities(prompt)
        order = np.lexsort((np.arange(len(scores)), -scores))  # ties: earlier training example first
        out: list[Retrieved] = []
        seen: set[str] = set()
        for i in order:
            code = self.codes[int(i)]
            if code in seen:
                continue
            seen.add(code)
            out.append(Retrieved(code, float(scores[i]), int(i)))
            if len(out) == k:
                break
        return out


class HybridRetriever(TfidfRetriever):
    """weight · cosine of sentence embeddings + (1 − weight) · TF-IDF cosine, over the examples that share a
    word with the prompt (the others score 0, as in TF-IDF: a prompt sharing no word finds nothing)."""

    def __init__(self, prompts: Sequence[str], codes: Sequence[str], embeddings: np.ndarray,
                 embed: Callable[[str], np.ndarray], weight: float):
        super().__init__(prompts, codes)
        if embeddings.ndim != 2 or embeddings.shape[0] != len(self.codes):
            raise ValueError(f"expected {len(self.codes)} embeddings, got shape {embeddings.shape}")
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must be in [0, 1], got {weight}")
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)  # (n, D), unit rows
        self.embed, self.weight = embed, weight

    def similarities(self, prompt: str) -> np.ndarray:
        words = super().similarities(prompt)
        if not words.any():  # nothing shares a word: no need to embed the prompt
            return words
        # einsum's own loop, not BLAS: numpy's BLAS threads spin after a call and then compete with the model's
        # sampling for the cores (a served request took 3× longer with np.dot here)
        meaning = np.einsum("nd,d->n", self.embeddings, np.asarray(self.embed(prompt), dtype=np.float32))  # (n,)
        return np.where(words > 0, self.weight * meaning + (1 - self.weight) * words, 0.0)


class PooledRetriever:
    """One language's examples from several sources, each source its own retriever (its own IDF: adding a
    source leaves the nearness of the others' examples as it was), each source's nearness times its weight,
    merged best first. Indices and `codes` are the examples' positions in the whole list."""

    def __init__(self, codes: Sequence[str], parts: Sequence[tuple[str, TfidfRetriever, Sequence[int], float]]):
        """parts: (a source's name, a retriever over its examples, their positions in `codes`, the weight on
        its nearness)."""
        self.codes = list(codes)
        self.parts = [(name, retriever, list(where), weight) for name, retriever, where, weight in parts]
        if any(len(r.codes) != len(where) for _, r, where, _ in self.parts):
            raise ValueError("each part needs one position per example it holds")

    def retrieve(self, prompt: str, k: int, leave_out: Collection[str] = ()) -> list[Retrieved]:
        """The k nearest over every source but those left out, best first (ties: the earlier source), distinct
        codes only."""
        found = [Retrieved(r.code, r.score * weight, where[r.index])
                 for name, retriever, where, weight in self.parts if name not in leave_out
                 for r in retriever.retrieve(prompt, k)]
        out: list[Retrieved] = []
        seen: set[str] = set()
        for r in sorted(found, key=lambda r: -r.score):
            if r.code not in seen:
                seen.add(r.code)
                out.append(r)
        return out[:k]
