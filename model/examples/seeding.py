"""Example seeding: start the sampler from the training examples nearest to a prompt (SDEdit-style).

A model folder may carry `seeding.json` and `examples.jsonl`. For the languages listed in seeding.json,
each of the k candidates starts from one of the k training examples whose prompts are nearest to the
request's prompt, noised to step `start`, and is denoised under the request's prompt for `steps` steps.
The start step is tuned on the development split per model: the better the model, the more noise it can
take and the more it rewrites the example. For a masked-kernel model `start` is the per cent (0–100) of each
example's tokens remasked — those the model is least sure of under the request — and refilled in `steps` steps.

Nearness is TF-IDF cosine, or, when seeding.json names a `semantic` file of the example prompts'
all-MiniLM-L6-v2 sentence embeddings, `semantic_weight` · their cosine + the rest · TF-IDF (dev-tuned in
docs/experiments.md). Without MiniLM installed, or with embeddings from another MiniLM, the server logs
why and uses TF-IDF alone. The file is optional (the shipped folder has none, to leave room for weights):
when the folder lacks it, the first load computes the embeddings from examples.jsonl with the installed
MiniLM (139 s for the shipped 17,865 prompts on one busy core, 2026-12-07) and caches them in cache_dir() —
$CODEFUSION_CACHE, else $XDG_CACHE_HOME/codefusion, else ~/.cache/codefusion — as
minilm-<sha256 of examples.jsonl and MiniLM's fingerprint, 16 hex>.safetensors, so later loads read them.

With `slots`, an example's code first gets the request's literal values in place of its own prompt's
(quoted strings, `names`, unquoted paths, numbers: slots.py), so the sampler starts from code that already names
what the request names. With `keep_examples`, each example also joins the candidates as it is, ranked
right after the model's edit of it (the edit leads, the example stays as the fallback), or right before
it for the languages in `examples_first`. With `rerank` (language -> weight), the model judges the
nearest examples before editing them: they are reordered by nearness × exp(−weight × the cross-entropy
of the model restoring each from step `rerank_step` under the request (`rescored`; the engine computes
the cross-entropy with CodeFusionPipeline.code_ce, this module never runs the model); for the languages in
`rerank_as_is` it judges each example's code as it is in the training data (not with the request's literals,
which a model that cannot copy them finds unlikely), and for those in `rerank_keep_first` the nearest stays
first and the model orders the rest. Rows of examples.jsonl may name their `source` (absent: the CodeFusion
split); each source has its own retriever, its nearness times `source_weight`'s factor, and the sources in
`docstring_sources` (the Python library reference's rows, model/examples/library.py) answer only docstrings.

seeding.json: {"start": {"python": 30, "bash": 30, "cf": 100}, "steps": 1, "examples": "examples.jsonl",
               "semantic": "examples.minilm.safetensors", "semantic_weight": 0.7, "slots": true,
               "keep_examples": true, "rerank": {"cf": 0.2}, "rerank_step": 600,
               "examples_first": ["python", "bash"]}
examples.jsonl: one {"lang": ..., "prompt": ..., "code": ...} object per line (training split only; since
0.8.0 also the library reference's rows, each with "source": "pydocs").
examples.minilm.safetensors (or its cache file): one (n_lang, 384) fp16 tensor per language, rows in
examples.jsonl order.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import math
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from ..config import LANGUAGES
from ..modelfile import ModelLoadError
from ..training.external import CODEFUSION
from ..validate import validate
from .edit import EditSource
from .retrieval import HybridRetriever, PooledRetriever, Retrieved, TfidfRetriever
from .slots import coverage, plain_shell, transfer

if TYPE_CHECKING:
    import argparse

    from .minilm import SentenceEncoder

SEEDING_FILE = "seeding.json"
CACHE_ENV = "CODEFUSION_CACHE"
SLOT_POOL = 20  # with slots: nearest examples reordered by how many of the prompt's literals they hold
COVERAGE_WEIGHT = 0.2  # dev-tuned (docs/experiments.md)
RERANK_POOL = 10  # with `rerank`: the model rescores this many nearest examples (dev: as good as 20, half the cost)
log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class SeedingConfig:
    start: dict[str, int] = field(default_factory=dict)  # language -> start step (masked: % remasked); others: noise
    steps: int = 1
    examples: str = "examples.jsonl"
    semantic: str | None = None  # sentence embeddings of the example prompts (file in the folder, else cached)
    semantic_weight: float = 0.7
    slots: bool = False  # rewrite each example's prompt literals in its code with the request's (slots.py)
    keep_examples: bool = False  # each example is also a candidate itself, ranked right after the model's edit
    rerank: dict[str, float] = field(default_factory=dict)  # language -> weight of the model's fit (rescored())
    rerank_step: int = 100  # the noise step the model restores each example from when it rescores them
    # rerank languages whose examples the model judges as they are in the training data, not as served (the slot
    # rewrite puts the request's literals in, which a model that cannot copy them finds unlikely)
    rerank_as_is: tuple[str, ...] = ()
    rerank_keep_first: tuple[str, ...] = ()  # rerank languages whose nearest example stays first (not rescored)
    examples_first: tuple[str, ...] = ()  # with keep_examples: languages whose examples rank before their edits
    # languages an edit model writes: candidate j is its edit of the j-th nearest example, read as it is (prompt
    # and code) with the user's context names (model/examples/edit.py); `start` is not used for them
    edit: tuple[str, ...] = ()
    edits_first: bool = False  # with keep_examples: every edit ranks before every example as it is
    # edit languages -> per cent of the served example's least-sure tokens remasked: edit j starts from served
    # example j (slots applied) and rewrites what the model doubts (an anchored edit); absent: from all-masked
    edit_start: dict[str, int] = field(default_factory=dict)
    # edit languages -> how many of the k places go to the model's edits, after the examples as they are
    # (ranking.rank_candidates' edit_places); absent: the examples and edits interleave as the rules say
    edit_places: dict[str, int] = field(default_factory=dict)
    # example source -> factor on its rows' nearness (examples.jsonl's "source"; absent: 1, the CodeFusion split's
    # own rows have none): a source that answers other kinds of request (the library reference's one-call
    # rows, model/examples/library.py) comes after an example of the split that is as near
    source_weight: dict[str, float] = field(default_factory=dict)
    # sources whose examples answer only a function's docstring (nearest(docstring=True)): the library reference
    # reads like one ("Return `x` factorial as an integer"), not like a how-to question
    docstring_sources: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: object, where: Path) -> SeedingConfig:
        if not isinstance(raw, dict):
            raise ModelLoadError(f"{where}: expected a JSON object")
        start, steps, examples = raw.get("start", {}), raw.get("steps", 1), raw.get("examples", "examples.jsonl")
        semantic, weight = raw.get("semantic"), raw.get("semantic_weight", 0.7)
        slots, keep = raw.get("slots", False), raw.get("keep_examples", False)
        rerank, rerank_step = raw.get("rerank", {}), raw.get("rerank_step", 100)
        first = raw.get("examples_first", [])
        as_is, keep_first = raw.get("rerank_as_is", []), raw.get("rerank_keep_first", [])
        edit, edits_first = raw.get("edit", []), raw.get("edits_first", False)
        edit_start, edit_places = raw.get("edit_start", {}), raw.get("edit_places", {})
        source_weight, docstring_sources = raw.get("source_weight", {}), raw.get("docstring_sources", [])
        if not isinstance(docstring_sources, list) or not all(isinstance(x, str) and x for x in docstring_sources):
            raise ModelLoadError(f"{where}: 'docstring_sources' must be a list of source names")
        if not isinstance(source_weight, dict) or any(
            not isinstance(name, str) or not name or not _weight(w) or w > 1 for name, w in source_weight.items()
        ):
            raise ModelLoadError(f"{where}: 'source_weight' must map source names to numbers in [0, 1]")
        if not isinstance(edit, list) or any(lang not in LANGUAGES for lang in edit):
            raise ModelLoadError(f"{where}: 'edit' must be a list of languages from {LANGUAGES}")
        if not isinstance(edit_start, dict) or any(
            lang not in edit or isinstance(t, bool) or not isinstance(t, int) or not 0 < t <= 100
            for lang, t in edit_start.items()
        ):
            raise ModelLoadError(f"{where}: 'edit_start' must map languages listed in 'edit' to per cents in 1..100")
        if not isinstance(edit_places, dict) or any(
            lang not in edit or isinstance(n, bool) or not isinstance(n, int) or n < 0
            for lang, n in edit_places.items()
        ):
            raise ModelLoadError(f"{where}: 'edit_places' must map languages listed in 'edit' to non-negative counts")
        if not isinstance(edits_first, bool):
            raise ModelLoadError(f"{where}: 'edits_first' must be true or false")
        if not isinstance(start, dict) or any(
            lang not in LANGUAGES or isinstance(t, bool) or not isinstance(t, int) or t < 0 for lang, t in start.items()
        ):
            raise ModelLoadError(f"{where}: 'start' must map languages {LANGUAGES} to non-negative steps")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ModelLoadError(f"{where}: 'steps' must be a positive integer")
        for key, name in (("examples", examples), ("semantic", semantic)):
            if (key == "examples" or name is not None) and not _plain_file_name(name):
                raise ModelLoadError(f"{where}: '{key}' must be a file name inside the model folder")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
            raise ModelLoadError(f"{where}: 'semantic_weight' must be a number in [0, 1]")
        for key, flag in (("slots", slots), ("keep_examples", keep)):
            if not isinstance(flag, bool):
                raise ModelLoadError(f"{where}: '{key}' must be true or false")
        if not isinstance(rerank, dict) or any(lang not in LANGUAGES or not _weight(w) for lang, w in rerank.items()):
            raise ModelLoadError(f"{where}: 'rerank' must map languages {LANGUAGES} to non-negative weights")
        if isinstance(rerank_step, bool) or not isinstance(rerank_step, int) or rerank_step < 0:
            raise ModelLoadError(f"{where}: 'rerank_step' must be a non-negative integer")
        for key, langs in (("examples_first", first), ("rerank_as_is", as_is), ("rerank_keep_first", keep_first)):
            if not isinstance(langs, list) or any(lang not in LANGUAGES for lang in langs):
                raise ModelLoadError(f"{where}: '{key}' must be a list of languages from {LANGUAGES}")
        return cls(dict(start), steps, examples, semantic, float(weight), slots, keep,
                   {lang: float(w) for lang, w in rerank.items()}, rerank_step, tuple(as_is), tuple(keep_first),
                   tuple(first), tuple(edit), edits_first, dict(edit_start), dict(edit_places),
                   {name: float(w) for name, w in source_weight.items()}, tuple(docstring_sources))


    @classmethod
    def read(cls, model_dir: str | Path) -> SeedingConfig | None:
        """The folder's seeding.json, or None when it has none (the examples are not read). Broken: ModelLoadError."""
        path = Path(model_dir) / SEEDING_FILE
        if not path.is_file():
            return None
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), path)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"cannot read {path}: {exc}") from exc


def _weight(value: object) -> bool:
    """A finite non-negative number (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _plain_file_name(name: object) -> bool:
    return isinstance(name, str) and bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


class ExampleSeeds:
    """The examples a model folder ships for seeding, with a retriever per language."""

    def __init__(self, config: SeedingConfig, pairs: dict[str, list[tuple[str, str]]],
                 semantic: tuple[dict[str, np.ndarray], Callable[[str], np.ndarray]] | None = None,
                 sources: dict[str, list[str]] | None = None):
        """semantic: per-language example embeddings and the function embedding a prompt (HybridRetriever).
        sources: per language, each example's source (examples.jsonl's "source"; absent: the CodeFusion split)."""
        self.config = config
        self.prompts = {lang: [p for p, _ in rows] for lang, rows in pairs.items()}
        self.sources = {lang: list(rows) for lang, rows in (sources or {}).items()}
        if any(len(self.sources[lang]) != len(pairs.get(lang, [])) for lang in self.sources):
            raise ValueError("sources needs one entry per example")
        self.retrievers: dict[str, TfidfRetriever | PooledRetriever] = {}
        for lang, rows in pairs.items():
            if not rows:
                continue
            prompts, codes = [p for p, _ in rows], [c for _, c in rows]
            of = self.sources.get(lang) or [CODEFUSION] * len(rows)
            parts = []
            for source in dict.fromkeys(of):  # each source its own retriever, in order of first appearance
                where = [i for i, s in enumerate(of) if s == source]
                some = [prompts[i] for i in where], [codes[i] for i in where]
                part = TfidfRetriever(*some) if semantic is None else HybridRetriever(
                    *some, semantic[0][lang][where], semantic[1], config.semantic_weight)
                parts.append((source, part, where, config.source_weight.get(source, 1.0)))
            source, only, _, weight = parts[0]
            plain = len(parts) == 1 and weight == 1.0 and source not in config.docstring_sources
            self.retrievers[lang] = only if plain else PooledRetriever(codes, parts)
        self.retrieval = "tfidf" if semantic is None else f"tfidf+minilm ({config.semantic_weight:g})"

    @classmethod
    def from_dir(cls, model_dir: str | Path) -> ExampleSeeds | None:
        """The folder's seeds, or None when it has no seeding.json. Broken files raise ModelLoadError."""
        config = SeedingConfig.read(model_dir)
        if config is None:
            return None
        path = Path(model_dir) / SEEDING_FILE
        examples = Path(model_dir) / config.examples
        pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
        sources: dict[str, list[str]] = defaultdict(list)
        try:
            with examples.open(encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    row = json.loads(line)
                    if not isinstance(row, dict) or row.get("lang") not in LANGUAGES or not all(
                        isinstance(row.get(key), str) for key in ("prompt", "code")
                    ) or not isinstance(row.get("source", CODEFUSION), str):
                        raise ModelLoadError(f"{examples}:{n}: expected {{lang, prompt, code}} with a known lang "
                                             "(and a text \"source\" if any)")
                    pairs[row["lang"]].append((row["prompt"], row["code"]))
                    sources[row["lang"]].append(row.get("source", CODEFUSION))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"cannot read {examples} (named in {path}): {exc}") from exc
        semantic = _load_semantic(Path(model_dir), config, pairs) if config.semantic else None
        return cls(config, dict(pairs), semantic, dict(sources))

    def start_for(self, lang: str) -> int | None:
        """The start step for a language, or None when its candidates start from pure noise."""
        return self.config.start.get(lang) if lang in self.retrievers else None

    def _retrieve(self, prompt: str, lang: str, k: int, docstring: bool) -> list[Retrieved]:
        """The k nearest of the sources a request of this kind reads (docstring_sources only for docstrings)."""
        retriever = self.retrievers[lang]
        if isinstance(retriever, PooledRetriever):
            return retriever.retrieve(prompt, k, leave_out=() if docstring else self.config.docstring_sources)
        return retriever.retrieve(prompt, k)

    def nearest(self, prompt: str, lang: str, k: int, *, docstring: bool = False) -> list[Retrieved]:
        """The codes of the k training examples nearest to the prompt (best first); [] when none shares a word.
        docstring: the prompt is a function's docstring (seeding.json's `docstring_sources` join the pool).
        With `slots`, each code carries the prompt's literals in place of its own example's (slots.transfer),
        and the nearest SLOT_POOL are reordered by nearness + COVERAGE_WEIGHT × the share of the prompt's
        literals the code then holds (the same order for every k ≤ SLOT_POOL, so top-ups continue it)."""
        if not self.config.slots:
            return [r for r in self._retrieve(prompt, lang, k, docstring) if r.score > 0]
        moved = []
        for r in self._retrieve(prompt, lang, max(k, SLOT_POOL), docstring):
            if r.score > 0:
                code = self._moved(r, lang, prompt)
                # examples whose code then holds more of the prompt's literals move up (score stays in (0, 1])
                score = (r.score + COVERAGE_WEIGHT * coverage(code, prompt)) / (1 + COVERAGE_WEIGHT)
                moved.append(dataclasses.replace(r, code=code, score=score))
        return sorted(moved, key=lambda r: -r.score)[:k]

    def edit_sources(self, prompt: str, lang: str, k: int, *, docstring: bool = False,
                     ) -> list[tuple[Retrieved, EditSource]]:
        """The k nearest examples in the order they are served (nearest()), each as served (slots applied) and
        as it is with its own prompt: what an edit model reads."""
        codes = self.retrievers[lang].codes
        return [(r, EditSource(self.prompts[lang][r.index], codes[r.index]))
                for r in self.nearest(prompt, lang, k, docstring=docstring)]

    def _moved(self, found: Retrieved, lang: str, prompt: str) -> str:
        """The example's code with the prompt's literals (a shell command with plain quotes and dashes,
        slots.plain_shell), or as it was when that would not parse."""
        own = plain_shell(found.code) if lang == "bash" else found.code
        for code in (transfer(own, self.prompts[lang][found.index], prompt, lang), own):
            if code == found.code or validate(lang, code):  # an unchanged example needs no parse
                return code
        return found.code

    def rerank_weight(self, lang: str) -> float:
        """How much the model's fit reorders `lang`'s examples (0: not at all; seeding.json's `rerank`)."""
        return self.config.rerank.get(lang, 0.0)

    def pool(self, k: int) -> int:
        """How many nearest examples to fetch so that rescoring can choose the best k."""
        return max(k, RERANK_POOL)

    def rescored(self, found: list[Retrieved], ce: list[float], lang: str) -> list[Retrieved]:
        """The examples reordered by nearness × exp(−weight × the model's cross-entropy restoring each one
        from `rerank_step` under the request, CodeFusionPipeline.code_ce): the product of the retriever's
        and the model's judgement (scores stay in (0, 1]). Dev-tuned per language (docs/experiments.md).
        ce: one value per code judged_codes(found, lang) gives; an example it leaves out (the nearest, for
        seeding.json's `rerank_keep_first` languages) keeps its score, so it stays first."""
        weight = self.rerank_weight(lang)
        kept = self._kept(found, lang)
        moved = found[:kept] + [dataclasses.replace(r, score=r.score * math.exp(-weight * c))
                                for r, c in zip(found[kept:], ce, strict=True)]
        return sorted(moved, key=lambda r: -r.score)

    def judged_codes(self, found: list[Retrieved], lang: str) -> list[str]:
        """The codes the model's fit is measured on when it rescores `found` (all but the nearest for
        seeding.json's `rerank_keep_first` languages): as served, or for its `rerank_as_is` languages each
        example's code as it is in the training data."""
        judged = found[self._kept(found, lang):]
        if lang not in self.config.rerank_as_is:
            return [r.code for r in judged]
        codes = self.retrievers[lang].codes
        return [codes[r.index] for r in judged]

    def _kept(self, found: list[Retrieved], lang: str) -> int:
        """How many of `found` keep their place unjudged: the nearest for `rerank_keep_first` languages."""
        return min(len(found), int(lang in self.config.rerank_keep_first))

    @staticmethod
    def write(model_dir: str | Path, config: SeedingConfig,
              pairs: Iterable[tuple[str, str, str] | tuple[str, str, str, str]], *, embeddings: bool = True) -> int:
        """Write seeding.json and the examples file (and, when the config names one and `embeddings` is set, the
        example prompts' sentence embeddings; unset, the first load computes and caches them); pairs are
        (lang, prompt, code), or (lang, prompt, code, source) for a row from elsewhere than the CodeFusion
        split. Returns the count."""
        model_dir = Path(model_dir)
        n = 0
        by_lang: dict[str, list[str]] = defaultdict(list)
        with (model_dir / config.examples).open("w", encoding="utf-8") as f:
            for lang, prompt, code, *source in pairs:
                row = {"lang": lang, "prompt": prompt, "code": code}
                if source and source[0] != CODEFUSION:
                    row["source"] = source[0]
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                by_lang[lang].append(prompt)
                n += 1
        body: dict[str, object] = {"start": config.start, "steps": config.steps, "examples": config.examples,
                                   "slots": config.slots, "keep_examples": config.keep_examples}
        if config.rerank:
            body.update(rerank=config.rerank, rerank_step=config.rerank_step)
            if config.rerank_as_is:
                body.update(rerank_as_is=list(config.rerank_as_is))
            if config.rerank_keep_first:
                body.update(rerank_keep_first=list(config.rerank_keep_first))
        if config.examples_first:
            body.update(examples_first=list(config.examples_first))
        if config.source_weight:
            body.update(source_weight=config.source_weight)
        if config.docstring_sources:
            body.update(docstring_sources=list(config.docstring_sources))
        if config.edit:
            body.update(edit=list(config.edit), edits_first=config.edits_first)
        if config.semantic:
            if embeddings:
                from .minilm import SentenceEncoder

                _save(_embed_examples(SentenceEncoder(), by_lang), model_dir / config.semantic)
            body.update(semantic=config.semantic, semantic_weight=config.semantic_weight)
        (model_dir / SEEDING_FILE).write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        return n


def _load_semantic(model_dir: Path, config: SeedingConfig, pairs: dict[str, list[tuple[str, str]]],
                   ) -> tuple[dict[str, np.ndarray], Callable[[str], np.ndarray]] | None:
    """The example embeddings and a prompt embedder, or None (logged) when MiniLM is not installed or is not
    the one the folder's embeddings came from. A malformed embeddings file raises ModelLoadError; without
    one, they are computed with the installed MiniLM, or read from the cache of an earlier load
    (_cached_embeddings)."""
    from .minilm import MiniLMUnavailable, SentenceEncoder

    assert config.semantic is not None
    path = model_dir / config.semantic
    prompts = {lang: [p for p, _ in rows] for lang, rows in pairs.items()}
    stored = None
    if path.is_file():  # folders written with the file (older ones, tests)
        try:
            stored = _read_embeddings(path, prompts)
        except ValueError as exc:
            raise ModelLoadError(f"{exc} (named in {model_dir / SEEDING_FILE})") from exc
    try:
        encoder = SentenceEncoder()
    except MiniLMUnavailable as exc:
        log.warning("nearest examples by TF-IDF alone: %s", exc)
        return None
    if stored is None:
        table = _cached_embeddings(model_dir / config.examples, prompts, encoder)
    elif _made_by(encoder, stored, prompts):
        table = stored
    else:
        log.warning("nearest examples by TF-IDF alone: %s was not made by the installed MiniLM", path)
        return None

    @functools.lru_cache(maxsize=64)  # a top-up batch asks again for the same prompt's next examples
    def embed(prompt: str) -> np.ndarray:
        return encoder.embed([prompt])[0]

    return table, embed


def cache_dir() -> Path:
    """Where computed example embeddings are kept: $CODEFUSION_CACHE, else $XDG_CACHE_HOME/codefusion, else
    ~/.cache/codefusion."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "codefusion"


def _cache_file(examples: Path, fingerprint: str) -> Path:
    key = hashlib.sha256(examples.read_bytes() + fingerprint.encode()).hexdigest()[:16]
    return cache_dir() / f"minilm-{key}.safetensors"


def quick_to_load(model_dir: str | Path) -> bool:
    """Whether the folder's example index loads in about a second: no embeddings to compute first (the folder
    or the cache holds them, or it uses none, or MiniLM is missing and TF-IDF answers alone). A first load that
    embeds every example prompt takes minutes (server/engine.py then loads the weights first)."""
    from .minilm import MiniLMUnavailable, fingerprint, minilm_dir

    try:
        config = SeedingConfig.read(model_dir)
    except ModelLoadError:
        return True  # loading the index reports it at once
    if config is None or config.semantic is None or (Path(model_dir) / config.semantic).is_file():
        return True
    try:
        return _cache_file(Path(model_dir) / config.examples, fingerprint(minilm_dir())).is_file()
    except (MiniLMUnavailable, OSError):
        return True


def _cached_embeddings(examples: Path, prompts: dict[str, list[str]], encoder: SentenceEncoder,
                       ) -> dict[str, np.ndarray]:
    """The example prompts' embeddings from the cache file keyed by the examples file and the MiniLM, or computed
    and written there (atomically: concurrent loads never read half a file). A corrupt cache file is logged
    and overwritten; a cache folder that cannot be written is logged and the embeddings stay in memory."""
    cache = _cache_file(examples, encoder.fingerprint())
    if cache.is_file():
        try:
            table = _read_embeddings(cache, prompts)
            if _made_by(encoder, table, prompts):
                return table
            raise ValueError(f"{cache} was not made by the installed MiniLM")
        except ValueError as exc:
            log.warning("recomputing the example embeddings: %s", exc)
    n, start = sum(map(len, prompts.values())), time.perf_counter()
    log.info("computing the sentence embeddings of %d example prompts (once: cached in %s)", n, cache)
    half = _embed_examples(encoder, prompts)
    log.info("embedded %d example prompts in %.0f s", n, time.perf_counter() - start)
    try:
        _save(half, cache)
    except OSError as exc:
        log.warning("example embeddings kept in memory only (computed again by the next load): %s", exc)
    return {lang: v.astype(np.float32) for lang, v in half.items()}


def _embed_examples(encoder: SentenceEncoder, prompts: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Each language's (n, 384) prompt embeddings in fp16: what the file holds and every load uses."""
    return {lang: encoder.embed(rows).astype(np.float16) for lang, rows in prompts.items()}


def _save(tensors: dict[str, np.ndarray], path: Path) -> None:
    """Write the embeddings file through a temporary file beside it, so a reader sees all of it or none."""
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"model": "all-MiniLM-L6-v2"})
        os.chmod(tmp, 0o644)  # readable as any other file (save_file leaves it private), e.g. in a model folder
        os.replace(tmp, path)
    except SafetensorError as exc:
        raise OSError(f"cannot write {path}: {exc}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)


def _read_embeddings(path: Path, prompts: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """The per-language embeddings in `path` as float32; ValueError naming the file when it is unreadable or
    does not hold one row per example prompt."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        stored = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    table = {}
    for lang, rows in prompts.items():
        got = stored.get(lang)
        if got is None or got.ndim != 2 or got.shape[0] != len(rows):
            raise ValueError(f"{path}: expected {len(rows)} {lang} embeddings, got "
                             f"{'none' if got is None else got.shape}")
        table[lang] = got.astype(np.float32)
    return table


def _made_by(encoder: SentenceEncoder, table: dict[str, np.ndarray], prompts: dict[str, list[str]]) -> bool:
    """Whether the installed MiniLM gives each language's first embedding: another MiniLM's would rank nonsense."""
    langs = [lang for lang, rows in prompts.items() if rows]
    if not langs:
        return True
    got = encoder.embed([prompts[lang][0] for lang in langs])  # one batch: the first answer waits for it
    return all(float(row @ table[lang][0]) >= 0.99 for row, lang in zip(got, langs, strict=True))


def _weight_value(text: str) -> float | None:
    """The weight a command line names (a finite number >= 0), or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if _weight(value) else None


def _per_language(p: argparse.ArgumentParser, option: str, form: str, items: list[str],
                  parse: Callable[[str], T | None]) -> dict[str, T]:
    """LANG=VALUE options: each language's parsed value; a bad item ends the program naming the option."""
    out = {}
    for item in items:
        lang, _, text = item.partition("=")
        value = parse(text)
        if lang not in LANGUAGES or value is None:
            p.error(f"{option} expects {form} with LANG in {LANGUAGES}, got {item!r}")
        out[lang] = value
    return out


def main(argv: list[str] | None = None) -> int:
    """Write a model folder's seeding files from the training split (never dev): how the shipped ones are made."""
    import argparse

    from ..training.data import load_pairs
    from .library import SOURCE as LIBRARY
    from .library import library_pairs

    p = argparse.ArgumentParser(prog="python -m codefusion.model.examples.seeding", description=main.__doc__)
    p.add_argument("model_dir", type=Path)
    p.add_argument("--start", action="append", default=[], metavar="LANG=STEP",
                   help="seed LANG's candidates, noised to STEP (repeatable); languages not named start from noise")
    p.add_argument("--steps", type=int, default=1, help="denoising steps from the start step")
    p.add_argument("--semantic-weight", type=float, default=0.7,
                   help="weight of MiniLM sentence similarity against TF-IDF in [0, 1]; 0: TF-IDF alone")
    p.add_argument("--write-embeddings", action="store_true",
                   help="also write the example prompts' MiniLM embeddings into the folder (default: not shipped; "
                        "the first load computes and caches them)")
    p.add_argument("--no-slots", dest="slots", action="store_false",
                   help="seed with the examples' codes as they are, not with the request's literals put in")
    p.add_argument("--no-keep-examples", dest="keep_examples", action="store_false",
                   help="serve only the model's edits of the examples, not the examples themselves beside them")
    p.add_argument("--rerank", action="append", default=[], metavar="LANG=WEIGHT",
                   help="reorder LANG's nearest examples by nearness x exp(-WEIGHT x the model's fit) (repeatable)")
    p.add_argument("--rerank-step", type=int, default=600,
                   help="noise step the model restores examples from (default: the shipped 600)")
    p.add_argument("--rerank-as-is", action="append", default=[], metavar="LANG", choices=LANGUAGES,
                   help="judge LANG's examples as they are in the training data, not as served (repeatable)")
    p.add_argument("--rerank-keep-first", action="append", default=[], metavar="LANG", choices=LANGUAGES,
                   help="LANG's nearest example stays first; the model's fit orders the rest (repeatable)")
    p.add_argument("--examples-first", action="append", default=[], metavar="LANG", choices=LANGUAGES,
                   help="rank LANG's examples right before the model's edits of them, not after (repeatable)")
    p.add_argument("--library", type=float, default=None, metavar="WEIGHT",
                   help="add the Python library reference's one-call rows (model/examples/library.py) to the "
                        "examples that answer docstrings, their nearness times WEIGHT in (0, 1]")
    args = p.parse_args(argv)
    if args.library is not None and not 0 < args.library <= 1:
        p.error("--library must be in (0, 1]")
    if not 0 <= args.semantic_weight <= 1:
        p.error("--semantic-weight must be in [0, 1]")
    start = _per_language(p, "--start", "LANG=STEP", args.start, lambda v: int(v) if v.isdigit() else None)
    rerank = _per_language(p, "--rerank", "LANG=WEIGHT (WEIGHT >= 0)", args.rerank, _weight_value)
    if args.rerank_step < 0:
        p.error("--rerank-step must be >= 0")
    semantic = "examples.minilm.safetensors" if args.semantic_weight > 0 else None
    config = SeedingConfig(start, args.steps, semantic=semantic, semantic_weight=args.semantic_weight,
                           slots=args.slots, keep_examples=args.keep_examples, rerank=rerank,
                           rerank_step=args.rerank_step, rerank_as_is=tuple(args.rerank_as_is),
                           rerank_keep_first=tuple(args.rerank_keep_first), examples_first=tuple(args.examples_first),
                           source_weight={} if args.library is None else {LIBRARY: args.library},
                           docstring_sources=() if args.library is None else (LIBRARY,))
    rows: list[tuple[str, str, str] | tuple[str, str, str, str]] = [
        (lang, pair.prompt, pair.code) for lang in LANGUAGES for pair in load_pairs(lang, "train")[0]]
    if args.library is not None:
        rows += [(pair.lang, pair.prompt, pair.code, LIBRARY) for pair in library_pairs()]
    n = ExampleSeeds.write(args.model_dir, config, rows, embeddings=args.write_embeddings)
    print(f"wrote {n} training examples and {SEEDING_FILE} to {args.model_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
