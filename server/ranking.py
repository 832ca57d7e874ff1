"""Candidates: validate, deduplicate after normalisation and rank the samples of one request. No LSP here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codefusion.model.pipeline import Sample


@dataclass(frozen=True)
class Candidate:
    """One generated snippet; it parses (samples that do not are never served)."""

    text: str
    score: float  # its seed example's score (0..1] where it has one, else the model's mean log-probability
    rank: int
    seed: str | None = None  # the training example the sampler started from (example seeding), else None


# --- the ranking rules, in order: each maps a sample to a sort key (smaller ranks first) ---------------------
# Dev chose them (docs/experiments.md): the examples' nearness beat the model's own score as an order.


def edits_before_examples(sample: Sample, edits_first: bool) -> bool:
    """With seeding.json's `edits_first` (an edit model's languages): every model edit before every example as
    it is."""
    return edits_first and sample.unedited


def from_an_example_first(sample: Sample, examples_first: bool) -> bool:
    """A sample that started from a nearest training example (or is one) before one from pure noise."""
    return sample.example_score is None


def nearer_example_first(sample: Sample, examples_first: bool) -> float:
    """The nearer its example (its score: prompt similarity, × the model's fit where seeding.json says
    `rerank`), the earlier."""
    return -(sample.example_score or 0.0)


def example_beside_its_edit(sample: Sample, examples_first: bool) -> bool:
    """An example before the model's edit of it for seeding.json's `examples_first` languages, after it
    otherwise."""
    return sample.unedited != examples_first


def model_score_first(sample: Sample, examples_first: bool) -> float:
    """Among samples from pure noise, the model's score (mean log-probability), highest first; samples from
    one example keep their sampling order."""
    return 0.0 if sample.example_score is not None else -sample.score


RANKING_RULES = (from_an_example_first, nearer_example_first, example_beside_its_edit, model_score_first)


def rank_key(sample: Sample, examples_first: bool = False, edits_first: bool = False) -> tuple[float, ...]:
    """The sample's sort key under RANKING_RULES (after edits_before_examples); ties keep the samples' order
    (the sort is stable)."""
    return (edits_before_examples(sample, edits_first), *(rule(sample, examples_first) for rule in RANKING_RULES))


def needs_top_up(lang: str, samples: Sequence[Sample], k: int) -> bool:
    """True when the samples do not give k distinct candidates that parse."""
    return len(rank_candidates(lang, samples, k)) < k


def rank_candidates(lang: str, samples: Sequence[Sample], k: int, examples_first: bool = False,
                    edits_first: bool = False, edit_places: int = 0) -> list[Candidate]:
    """Validate, deduplicate (after normalisation) and rank samples by RANKING_RULES; at most k, and none
    when no sample parses (a served candidate always parses). Of duplicates the first ranked stays.
    examples_first: `lang` is one of seeding.json's `examples_first` languages.
    edit_places: the last places of the k that the model's edits take (seeding.json's `edit_places`): the
    examples as they are fill the first k − edit_places, each ranked among its own kind; whichever kind runs
    short leaves its places to the other.
    """
    if edit_places > 0 and any(s.unedited for s in samples) and any(not s.unedited for s in samples):
        examples = rank_candidates(lang, [s for s in samples if s.unedited], k)
        edits = rank_candidates(lang, [s for s in samples if not s.unedited], k)
        return _places(lang, examples, edits, k, edit_places)
    from codefusion.model.validate import normalize, validate

    texts = [(s, s.text.strip("\n").rstrip()) for s in samples]
    checked = [(s, text) for s, text in texts if text.strip() and validate(lang, text)]
    checked.sort(key=lambda c: rank_key(c[0], examples_first, edits_first))
    seen: set[str] = set()
    out: list[Candidate] = []
    for s, text in checked:
        key = normalize(lang, text)
        if key in seen:
            continue
        seen.add(key)
        score = s.example_score if s.example_score is not None else s.score
        out.append(Candidate(text=text, score=float(score), rank=len(out) + 1, seed=s.seed))
        if len(out) == k:
            break
    return out


def _places(lang: str, first: list[Candidate], last: list[Candidate], k: int, n_last: int) -> list[Candidate]:
    """`first`'s best k − n_last, then `last`'s best n_last not already served, then whatever is left of
    either (first's before last's) until k; ranks renumbered."""
    import dataclasses

    from codefusion.model.validate import normalize

    seen: set[str] = set()
    out: list[Candidate] = []

    def take(cands: Sequence[Candidate], limit: int) -> None:
        for c in cands:
            if len(out) >= limit:
                return
            key = normalize(lang, c.text)
            if key not in seen:
                seen.add(key)
                out.append(dataclasses.replace(c, rank=len(out) + 1))

    take(first, max(0, k - n_last))
    take(last, k)
    take(first, k)
    return out


DOCSTRING_POOL = 2  # a function body is chosen from this many times the candidates asked (function_bodies)


def function_bodies(candidates: Sequence[Candidate], request: str = "", names: Sequence[str] = (),
                    params: Sequence[str] = ()) -> list[Candidate]:
    """Candidates for the body of a function under its docstring: one-line values returned (prompts.py's
    as_function_body); an example's variables that nothing binds take the function's parameters the body does
    not read yet (`params`; `[item for sublist in l for item in sublist]` under `def flatten(xs)` reads `xs`,
    whether or not the docstring names it: a function's inputs are its parameters); duplicates that makes
    dropped. Then those that still read a name nothing defines (not a parameter, not one of `names`, the
    user's: NameError when called) go last, and those that read none of the names the docstring mentions
    after those that read one (a body that ignores the parameters its docstring names rarely does the task),
    then those that read none of the parameters at all (`return 'foo'[::-1]` under `def reverse_words(s)`);
    ranks renumbered."""
    import dataclasses

    from codefusion.model.examples.slots import bind_names, reads, scan_names

    from .prompts import as_function_body
    from .seeded import mentioned

    said = mentioned(names, request)
    known = set(names) | set(params)
    out: list[Candidate] = []
    undefined: set[str] = set()  # texts that read a name nothing defines
    seen: set[str] = set()
    for c in candidates:
        text = as_function_body(c.text, request)
        if params:
            text = bind_names(text, params)
        if text not in seen:
            seen.add(text)
            out.append(dataclasses.replace(c, text=text))
            if any(n not in known for n, _ in scan_names(text)[0]):
                undefined.add(text)
    out.sort(key=lambda c: (c.text in undefined, bool(said) and not any(reads(c.text, n) for n in said),
                            bool(params) and not any(reads(c.text, n) for n in params)))
    return [dataclasses.replace(c, rank=i + 1) for i, c in enumerate(out)]
