"""The engine: prompt + language → ranked, validated, distinct candidates. No LSP here.

Shared by the language server and `codefusion generate`. It samples k candidates (for the languages
the model folder's seeding.json lists, each starts from a nearest training example, see
codefusion.model.examples.seeding), and only when
fewer than k of them parse and differ after normalisation does it draw `(oversample - 1) * k` more
(other noise seeds); then it drops candidates that do not parse, deduplicates after normalisation
and ranks them by the rules of server/ranking.py. One sampler runs at a time (a lock), so the
server may call it from any thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .ranking import Candidate, needs_top_up, rank_candidates
from .seeded import Pools, as_they_are, edit_kwargs, seeded_samples

if TYPE_CHECKING:
    from codefusion.model.examples.seeding import ExampleSeeds
    from codefusion.model.pipeline import CodeFusionPipeline, Sample

log = logging.getLogger(__name__)

LANGS = ("python", "bash", "cf")
# The pipeline sampling method behind each system name ("ar"/"ar-beam" are the AR baseline).
PIPELINE_METHOD = {"diffusion": "diffusion", "seeded": "diffusion", "ar": "sample", "ar-beam": "beam"}
MAX_PROMPT_CHARS = 2000
BATCH_PROMPTS = 8  # prompts per sampler batch in generate_batch (k, or k * oversample rows each)
TOP_UP_SEED = 1_000_003  # offset of the noise seed of the top-up batch
# load(examples_later=True): how long the example index waits for a first answer (loaded beside the first
# request, on 2 busy cores, it made that request end only once the index had loaded)
EXAMPLES_GRACE_S = 1.0
# A request for a language whose examples are served as they are (a masked model at start 0: no model run)
# waits this long for a loading example index before the model alone answers it (the index loads in ~1 s
# on a quiet machine; its first load ever computes the MiniLM embeddings, minutes)
EXAMPLES_WAIT_S = 5.0
# load(examples_later=True) where another folder serves some languages (languages.json) and their examples are
# served as they are: the main folder's own model loads after the example index, off the first answer's path; a
# request for a language it serves waits this long for it
MAIN_WAIT_S = 60.0


class EngineState(Enum):
    NOT_LOADED = "not loaded"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


class EngineNotReady(RuntimeError):
    """The model is not loaded (still loading, or failed to load: the message says which)."""


def clean_prompt(prompt: str) -> str:
    """Stripped, bounded, and valid Unicode (a client may send lone surrogates)."""
    return prompt.strip()[:MAX_PROMPT_CHARS].encode("utf-8", "replace").decode("utf-8")


def _give_back_freed_memory() -> None:
    """Return the heap that loading freed (the weights' and embeddings' transient copies) to the system: glibc
    keeps it otherwise, and it counts in the server's resident memory (518–528 → 473–483 MB through the
    language server, 2026-12-07). Elsewhere, nothing."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def default_model_dir() -> Path:
    """The shipped model folder (pipeline.DEFAULT_MODEL_DIR, named without importing torch)."""
    from codefusion.model.shipped import models_dir

    return models_dir() / "codefusion"


class Engine:
    """Loads a CodeFusion model (lazily or via `load()`) and turns prompts into candidates."""

    def __init__(
        self,
        model_dir: str | Path | None = None,
        device: str = "auto",
        quantize: bool = False,
        *,
        oversample: int = 2,
        cache_size: int = 32,
        seeding: bool = True,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        self.seeding = seeding  # start from nearest training examples where the model folder says so (mutable)
        self._seeds: ExampleSeeds | None = None
        self.device = device
        self.quantize = quantize
        self.oversample = max(1, oversample)
        self._pipe: CodeFusionPipeline | None = None
        self._main: tuple[str, Any] | None = None  # the main folder's (kind, config), read before its weights load
        self._main_loaded = threading.Event()  # set when the main folder's model has loaded, or failed to
        self._lang_pipes: dict[str, CodeFusionPipeline] = {}  # languages the folder hands to another (languages.json)
        self._lang_configs: dict[str, tuple[str, Any]] = {}  # their folders' (kind, config), read before the weights
        self._state = EngineState.NOT_LOADED
        self._error: str | None = None
        self._load_seconds: float | None = None
        self._weights_seconds: float | None = None
        self._examples = "not loaded"  # the example index: not loaded, waiting, loading, loaded, none, failed: why
        self._examples_done = threading.Event()  # set when the example index has loaded, or will not
        self._direct: frozenset[str] = frozenset()  # languages whose examples are served as they are (no model run)
        self._sampler_ran = threading.Event()  # set when a sampler run ends (answered, cancelled or failed)
        self._load_lock = threading.Lock()
        self._sample_lock = threading.Lock()  # one sampler at a time
        self._cache: OrderedDict[tuple[Any, ...], list[Candidate]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self.last_latency_ms: float | None = None
        self.generations = 0
        self.model_runs = 0  # sampler runs that wrote candidates (not those answered by examples as they are)
        self.model_ranks = 0  # sampler runs in which the model judged the nearest examples (seeding.json `rerank`)
        self.example_answers = 0  # requests answered by the example index alone while the model's weights loaded
        self.top_ups = 0  # sampler runs that needed the second, top-up batch
        self.cache_hits = 0

    # --- loading ------------------------------------------------------------------------------------

    @property
    def state(self) -> EngineState:
        return self._state

    @property
    def error(self) -> str | None:
        return self._error

    def load(self, *, examples_later: bool = False) -> None:
        """Load the model now (idempotent, thread-safe). Raises EngineNotReady with the reason on failure.

        examples_later: the weights first, then the example index (and MiniLM); requests are served in
        between, from the model alone (`serving` is True, the state still "loading"), so that the first
        items come sooner. The index waits ("waiting") until the sampler has answered once, or
        EXAMPLES_GRACE_S passed without a request, and for a request in flight, so that it does not slow the
        first answer. Where seeding.json serves a language's examples as they are (a masked model at start 0),
        the index answers faster than the model: it loads at once, and requests for those languages wait for
        it (EXAMPLES_WAIT_S at most). A broken example index then only logs and leaves the model alone serving.
        """
        with self._load_lock:
            if self._state is EngineState.READY:
                return
            self._state = EngineState.LOADING
            start = time.perf_counter()
            try:
                from codefusion.model.examples.seeding import quick_to_load
                from codefusion.model.modelfile import read_config, read_language_models

                self._main_loaded.clear()
                model_dir = self.model_dir or default_model_dir()
                self.model_dir = model_dir
                self._main = read_config(model_dir)
                handed = read_language_models(model_dir)
                self._lang_configs = {lang: read_config(folder) for lang, folder in handed.items()}
                self._direct = self._direct_languages(model_dir)
                # the index first where it serves examples as they are and loads in a second (numpy only): it
                # answers those languages (nearness order, Engine._from_examples) while torch and the weights load.
                # A first load that embeds every example prompt (minutes) comes after the weights instead.
                index_first = examples_later and bool(self._direct) and quick_to_load(model_dir)
                if index_first:
                    self._load_examples_now(model_dir)
                self._load_lang_pipes(handed)
                # the languages another folder serves answer from their examples first; the main model follows
                main_later = examples_later and bool(self._direct & set(self._lang_pipes))
                if not main_later:
                    self._load_main(model_dir)
                self._weights_seconds = time.perf_counter() - start
                if examples_later:
                    if not index_first:
                        self._examples = "waiting"  # set before the model serves: status never says "not loaded"
                        self._load_examples_later(model_dir)
                    if main_later:
                        self._load_main(model_dir)
                else:
                    self._load_examples(model_dir)
                    self._examples_done.set()
            except Exception as exc:  # ModelLoadError, or anything else a broken install raises
                self._lang_pipes = {}
                self._pipe = None
                self._main_loaded.set()  # a request waiting for the main model sees the failure
                self._state = EngineState.FAILED
                self._error = f"{type(exc).__name__}: {exc}"
                log.error("model load failed: %s", self._error)
                raise EngineNotReady(self._error) from exc
            self._load_seconds = time.perf_counter() - start
            self._error = None
            self._state = EngineState.READY
            _give_back_freed_memory()
            log.info("model loaded from %s in %.2fs on %s", model_dir, self._load_seconds, self._lang_pipe(None).device)

    def _load_lang_pipes(self, handed: dict[str, Path]) -> None:
        """The models of the folders languages.json hands languages to (each folder once)."""
        from codefusion.model.pipeline import CodeFusionPipeline

        folders: dict[Path, CodeFusionPipeline] = {}
        for lang, folder in handed.items():
            if folder not in folders:
                folders[folder] = CodeFusionPipeline.from_dir(folder, device=self.device, quantize=self.quantize)
            self._lang_pipes[lang] = folders[folder]

    def _load_examples_now(self, model_dir: Path) -> None:
        """The example index before any weights; a broken index only logs and leaves the model alone serving."""
        self._examples = "loading"
        try:
            self._load_examples(model_dir)
        except Exception as exc:  # the model alone will serve
            self._examples = f"failed: {type(exc).__name__}: {exc}"
            log.error("example index not loaded (%s): candidates from the model alone", exc)
        finally:
            self._examples_done.set()

    def _load_main(self, model_dir: Path) -> None:
        """The main folder's own model (the languages languages.json does not hand to another folder)."""
        from codefusion.model.pipeline import CodeFusionPipeline

        began = time.perf_counter()
        self._pipe = CodeFusionPipeline.from_dir(model_dir, device=self.device, quantize=self.quantize)
        self._main_loaded.set()
        log.info("main model loaded from %s in %.2fs", model_dir, time.perf_counter() - began)

    def _load_examples_later(self, model_dir: Path) -> None:
        """The example index, once the sampler has answered a first request from the model alone (or
        EXAMPLES_GRACE_S passed without one); a broken index only logs and leaves the model alone serving."""
        from codefusion.model.examples.seeding import SEEDING_FILE

        if self._main_kind() != "ar" and (model_dir / SEEDING_FILE).is_file() and not self._direct:  # else no wait
            log.info("model weights loaded in %.2fs; the example index loads after the first answer (or %g s)",
                     self._weights_seconds, EXAMPLES_GRACE_S)
            self._sampler_ran.wait(EXAMPLES_GRACE_S)
            with self._sample_lock:  # a request in flight ends first
                pass
        self._load_examples_now(model_dir)

    def _direct_languages(self, model_dir: Path) -> frozenset[str]:
        """The languages whose examples seeding.json serves as they are: a masked model at start 0 (a broken
        file: none here; loading the index reports it)."""
        from codefusion.model.examples.seeding import SeedingConfig
        from codefusion.model.modelfile import ModelLoadError
        from codefusion.model.sample import is_edit_model

        try:
            config = SeedingConfig.read(model_dir)
        except ModelLoadError:
            return frozenset()
        if config is None or self._main_kind() == "ar":
            return frozenset()
        return frozenset(lang for lang, start in config.start.items()
                         if as_they_are(self._lang_config(lang)[0], start)
                         and not (lang in config.edit and is_edit_model(*self._lang_config(lang))))

    def _main_kind(self) -> str:
        assert self._main is not None
        return self._main[0]

    def _lang_config(self, lang: str) -> tuple[str, Any]:
        """(kind, ModelConfig) of the model that serves `lang`, whether or not its weights have loaded."""
        pipe = self._lang_pipes.get(lang)
        if pipe is not None:
            return pipe.kind, pipe.config
        if lang in self._lang_configs:
            return self._lang_configs[lang]
        assert self._main is not None
        return self._main

    def _await_examples(self, lang: str, should_stop: Callable[[], bool] | None) -> None:
        """For a language whose examples are served as they are, wait (EXAMPLES_WAIT_S at most, cancellable) for
        an example index that is still loading: it answers faster than the model alone."""
        if not self.seeding or lang not in self._direct or self._examples_done.is_set():
            return
        from codefusion.model.pipeline import SamplingCancelled

        deadline = time.monotonic() + EXAMPLES_WAIT_S
        while not self._examples_done.wait(0.05) and time.monotonic() < deadline:
            if should_stop is not None and should_stop():
                raise SamplingCancelled("cancelled while the example index loaded")

    def _load_examples(self, model_dir: Path) -> None:
        if self._main_kind() not in ("diffusion", "masked"):
            self._examples = "none"
            return
        # loaded even when seeding is off: it may be turned on later
        from codefusion.model.examples.seeding import SEEDING_FILE, ExampleSeeds
        from codefusion.model.modelfile import ModelLoadError

        seeds = ExampleSeeds.from_dir(model_dir)
        where = Path(model_dir) / SEEDING_FILE
        if seeds is not None:  # each language's settings are read by the kernel that serves it
            for lang, start in seeds.config.start.items():
                if self._lang_config(lang)[0] == "masked" and start > 100:
                    raise ModelLoadError(f"{where}: {lang}: for a masked model 'start' is the per cent of an "
                                         "example's tokens remasked (0-100)")
            for lang in seeds.config.rerank:
                kind, config = self._lang_config(lang)
                if kind == "diffusion" and seeds.config.rerank_step >= (steps := config.diffusion_steps):
                    raise ModelLoadError(f"{where}: 'rerank_step' must be below the model's {steps} diffusion steps")
        self._seeds = seeds
        self._examples = "loaded" if seeds is not None else "none"
        with self._cache_lock:  # what the model alone answered meanwhile is not what it answers now
            self._cache.clear()

    @property
    def serving(self) -> bool:
        """The model answers requests: loaded, or its weights loaded while the example index waits or loads (the
        main folder's own model may load after the index: requests for its languages wait for it)."""
        return self._state is EngineState.READY or (
            self._state is EngineState.LOADING and (self._pipe is not None or bool(self._lang_pipes)))

    def answers(self, lang: str) -> bool:
        """Requests for `lang` are answered: the model serves, or (while its weights load) the example index
        serves `lang`'s examples as they are (`_from_examples`)."""
        return self.serving or self._from_examples_now(lang)

    def _from_examples_now(self, lang: str) -> bool:
        """Whether a request for `lang` is answered by the example index alone: the model that serves `lang` is
        still loading, and seeding.json serves `lang`'s examples as they are (the model would only order them)."""
        if self._state is not EngineState.LOADING or not self.seeding or self._seeds is None:
            return False
        pipe = self._lang_pipes.get(lang) if lang in self._lang_configs else self._pipe
        return pipe is None and lang in self._direct and self._seeds.start_for(lang) is not None

    def _from_examples(self, prompts: list[str], lang: str, k: int, names: Sequence[Sequence[str]],
                       docstring: bool, worded: bool = True) -> list[list[Candidate]]:
        """While the model's weights load: each prompt's nearest examples as served (the request's literals, and
        for Python its names), in nearness order through the same ranking rules; the model's order comes with
        the model (nothing here is cached)."""
        from codefusion.model.sample import Sample

        from .seeded import named

        seeds = self._seeds
        assert seeds is not None
        out = []
        for prompt, own in zip(prompts, names, strict=True):
            found = named(seeds, lang, seeds.nearest(prompt, lang, k * self.oversample, docstring=docstring), own,
                          prompt, docstring)
            samples = [Sample(r.code, 0.0, [], r.code, example_score=r.score) for r in found]
            out.append(self.rank(lang, samples, k, prompt=prompt if worded else None))
        self.example_answers += 1
        return out

    def _pipeline(self, lang: str | None = None) -> CodeFusionPipeline:
        """The loaded model that serves `lang` (the folder's own, or the one languages.json names for it)."""
        if self._state is EngineState.NOT_LOADED:
            self.load()
        main = lang is None or lang not in self._lang_pipes  # served by the main folder's own model
        if self.serving and main and self._pipe is None:
            self._main_loaded.wait(MAIN_WAIT_S)  # it loads after the example index (load(examples_later))
        if not self.serving or (main and self._pipe is None):
            reason = self._error if self._state is EngineState.FAILED else "model is loading"
            raise EngineNotReady(reason or "model not loaded")
        return self._lang_pipe(lang)

    def _lang_pipe(self, lang: str | None) -> CodeFusionPipeline:
        pipe = self._lang_pipes.get(lang) if lang is not None else None
        pipe = pipe or self._pipe
        assert pipe is not None
        return pipe

    def sampler(self, lang: str) -> dict[str, Any]:
        """The settings a request for `lang` that names no steps samples with: the kernel, its steps, and for the
        masked kernel the rest of its folder's sampler.json (`CodeFusionPipeline.sampler_settings`)."""
        return self._pipeline(lang).sampler_settings()

    def status(self) -> dict[str, Any]:
        """Everything a user asks when something is slow or broken."""
        pipes = {p for p in (self._pipe, *self._lang_pipes.values()) if p is not None}  # each loaded model once
        pipe = self._pipe or next(iter(pipes), None)
        return {
            "state": self._state.value,
            "modelPath": str(self.model_dir or ""),
            "device": str(pipe.device) if pipe is not None else self.device,
            "parameters": sum(p.num_parameters() for p in pipes) if pipe is not None else None,
            "mainModel": "loaded" if self._pipe is not None else "waiting" if self.serving else "not loaded",
            # languages served by a model folder beside this one (languages.json): its path and kernel
            "languageModels": {lang: {"path": str(p.model_dir or ""), "kind": p.kind}
                               for lang, p in sorted(self._lang_pipes.items())},
            "loadSeconds": round(self._load_seconds, 3) if self._load_seconds is not None else None,
            "weightsSeconds": round(self._weights_seconds, 3) if self._weights_seconds is not None else None,
            "serving": self.serving,  # True while the example index waits or loads: candidates from the model alone
            "examples": self._examples,
            "lastLatencyMs": round(self.last_latency_ms, 1) if self.last_latency_ms is not None else None,
            "generations": self.generations,
            "modelRuns": self.model_runs,
            "modelRanks": self.model_ranks,
            "exampleAnswers": self.example_answers,  # answered by the example index while the weights loaded
            "topUps": self.top_ups,
            "seededLanguages": sorted(self._seeded_languages()),
            "exampleRetrieval": self._seeds.retrieval if self._seeds is not None else None,
            # the examples get the request's literals (slots) / are served beside the model's edits
            "exampleSlots": self._seeds is not None and self._seeds.config.slots,
            "keepExamples": self._seeds is not None and self._seeds.config.keep_examples,
            "examplesFirst": sorted(self._seeds.config.examples_first) if self._seeds is not None else [],
            # languages whose nearest examples the model rescores (its fit to each under the prompt): weight
            "exampleRerank": dict(self._seeds.config.rerank) if self._seeds is not None else {},
            "cacheHits": self.cache_hits,
            "error": self._error,
        }

    # --- generation ---------------------------------------------------------------------------------

    def generate(
        self,
        prompt: str,
        lang: str,
        *,
        k: int = 5,
        steps: int | None = None,
        seed: int = 0,
        max_tokens: int | None = None,
        should_stop: Callable[[], bool] | None = None,
        method: str = "diffusion",
        names: Sequence[str] = (),
        docstring: bool = False,
        worded: bool = True,
    ) -> list[Candidate]:
        """Up to k ranked candidates for one prompt. Raises SamplingCancelled if should_stop() turns True.
        names: what the user's code around the prompt already names (Prompt.engine_names: under a docstring, the
        function's parameters first; a Python example's variables take them, server/seeded.py).
        docstring: the prompt is a function's docstring (seeding.json's `docstring_sources` answer it too).
        worded: for CF, the rules the prompt states in words first (`_worded`); `cf suggest` ranks them itself,
        with the range's cells."""
        return self.generate_batch(
            [prompt], lang, k=k, steps=steps, seed=seed, max_tokens=max_tokens, should_stop=should_stop,
            method=method, names=[tuple(names)], docstring=docstring, worded=worded,
        )[0]

    def generate_batch(
        self,
        prompts: Sequence[str],
        lang: str,
        *,
        k: int = 5,
        steps: int | None = None,
        seed: int = 0,
        max_tokens: int | None = None,
        should_stop: Callable[[], bool] | None = None,
        method: str = "diffusion",
        names: Sequence[Sequence[str]] | None = None,
        docstring: bool = False,
        worded: bool = True,
    ) -> list[list[Candidate]]:
        """Candidates for each prompt, in order; cached prompts are not sampled again.

        `method` is the pipeline's: "diffusion", or for the AR baseline "sample" / "beam".
        names: per prompt, the names the user's code has (an edit model reads them).
        docstring: the prompts are functions' docstrings (seeding.json's `docstring_sources` answer them too).
        """
        if lang not in LANGS:
            raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
        if k < 1:
            raise ValueError("k must be at least 1")
        prompts = [clean_prompt(p) for p in prompts]
        name_rows = [tuple(n) for n in names] if names is not None else [()] * len(prompts)
        if len(name_rows) != len(prompts):
            raise ValueError("names needs one entry per prompt")
        keys = [self._key(p, lang, k, steps, seed, max_tokens, method, n, docstring, worded)
                for p, n in zip(prompts, name_rows, strict=True)]
        results: list[list[Candidate] | None] = [self._cache_get(key) for key in keys]
        if all(r is not None for r in results):
            return [r or [] for r in results]
        if self._from_examples_now(lang):
            return self._from_examples(prompts, lang, k, name_rows, docstring, worded)
        pipe = self._pipeline(lang)
        self._await_examples(lang, should_stop)
        kwargs = self._sample_kwargs(k, steps, seed, max_tokens, should_stop, method)
        if docstring:
            kwargs["docstring"] = True
        with self._sampler():
            # Look again: a concurrent request for the same prompt may have filled the cache meanwhile.
            results = [
                r if r is not None else self._cache_get(key) for r, key in zip(results, keys, strict=True)
            ]
            todo = list(
                dict.fromkeys((prompts[i], name_rows[i]) for i, r in enumerate(results) if r is None)
            )  # unique, in order
            if todo:
                samples = self._sample(pipe, [p for p, _ in todo], lang, {**kwargs, "names": [n for _, n in todo]})
                ranked = {key: self.rank(lang, per_prompt, k, prompt=key[0] if worded else None, method=method)
                          for key, per_prompt in zip(todo, samples, strict=True)}
                for i, p in enumerate(prompts):
                    if results[i] is None:
                        results[i] = ranked[(p, name_rows[i])]
                for (p, n), candidates in ranked.items():
                    self._cache_put(self._key(p, lang, k, steps, seed, max_tokens, method, n, docstring, worded),
                                    candidates)
        return [r or [] for r in results]

    def sample_batch(
        self,
        prompts: Sequence[str],
        lang: str,
        *,
        k: int = 5,
        steps: int | None = None,
        seed: int = 0,
        max_tokens: int | None = None,
        method: str = "diffusion",
    ) -> list[list[Sample]]:
        """The raw samples behind `generate_batch` (k or k · oversample per prompt, unvalidated, uncached).

        `rank(lang, samples, k)` of each row is what `generate_batch` serves; evaluation
        uses both to measure validity before and after filtering from one sampler run.
        """
        if lang not in LANGS:
            raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
        if k < 1:
            raise ValueError("k must be at least 1")
        prompts = [clean_prompt(p) for p in prompts]
        pipe = self._pipeline(lang)
        self._await_examples(lang, None)
        kwargs = self._sample_kwargs(k, steps, seed, max_tokens, None, method)
        with self._sampler():
            return self._sample(pipe, prompts, lang, kwargs)

    def rank(self, lang: str, samples: Sequence[Sample], k: int, *, prompt: str | None = None,
             method: str = "diffusion") -> list[Candidate]:
        """The candidates `generate_batch` serves from one prompt's samples (server/ranking.py's rules; for CF,
        given the prompt, the rules it states in words first: `_worded`)."""
        examples_first = self._seeds is not None and lang in self._seeds.config.examples_first
        edits_first = self._seeds is not None and lang in self._seeds.config.edit and self._seeds.config.edits_first
        places = self._seeds.config.edit_places.get(lang, 0) if self._seeds is not None else 0
        ranked = rank_candidates(lang, samples, k, examples_first=examples_first, edits_first=edits_first,
                                 edit_places=places)
        return ranked if prompt is None else self._worded(lang, prompt, ranked, method)[:k]

    def _worded(self, lang: str, prompt: str, candidates: list[Candidate], method: str) -> list[Candidate]:
        """As served, a CF rule the prompt states in words comes first (server/cf_ranking.py's prompt_order, what
        `cf suggest` does before it knows the cells): the model's order otherwise. Not for the model alone
        (seeding off) or the AR baseline."""
        if lang != "cf" or not self.seeding or method != "diffusion":
            return candidates
        from .cf_ranking import prompt_order

        return prompt_order(candidates, prompt)

    @contextlib.contextmanager
    def _sampler(self) -> Iterator[None]:
        """The sampler, one run at a time; its end lets a waiting example index load (load(examples_later))."""
        with self._sample_lock:
            try:
                yield
            finally:
                self._sampler_ran.set()

    def _sample_kwargs(
        self,
        k: int,
        steps: int | None,
        seed: int,
        max_tokens: int | None,
        should_stop: Callable[[], bool] | None,
        method: str,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"k": k, "seed": seed, "should_stop": should_stop}
        if steps is not None:
            kwargs["steps"] = steps
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        if method != "diffusion":
            kwargs["method"] = method
        return kwargs

    def _sample(
        self, pipe: CodeFusionPipeline, prompts: list[str], lang: str, kwargs: dict[str, Any]
    ) -> list[list[Sample]]:
        """Run the sampler (caller holds the sample lock): k per prompt, topped up to k · oversample for the
        prompts whose first k do not give k distinct valid candidates. Records the latency."""
        start = time.perf_counter()
        runs_before, judged_before = pipe.runs, pipe.judged
        k = kwargs["k"]
        pools: Pools = {}  # rescored examples, for the top-up
        samples = self._first_samples(pipe, prompts, lang, kwargs, pools=pools)
        short = [i for i, rows in enumerate(samples) if needs_top_up(lang, rows, k)]
        if short and self.oversample > 1:
            more = {**kwargs, "k": k * (self.oversample - 1), "seed": kwargs["seed"] + TOP_UP_SEED}
            if kwargs.get("names") is not None:
                more["names"] = [kwargs["names"][i] for i in short]
            extra = self._first_samples(pipe, [prompts[i] for i in short], lang, more, skip=k, pools=pools)
            self.top_ups += 1
            for i, rows in zip(short, extra, strict=True):
                samples[i] = samples[i] + rows
        self.last_latency_ms = (time.perf_counter() - start) * 1000 / max(1, len(prompts))
        self.generations += 1
        self.model_runs += pipe.runs > runs_before
        self.model_ranks += pipe.judged > judged_before
        return samples

    def _seed_start(self, lang: str) -> int | None:
        """The step seeded candidates of `lang` start from, or None when they start from pure noise."""
        if not self.seeding or self._seeds is None:
            return None
        return self._seeds.start_for(lang)

    def _seeded_languages(self) -> set[str]:
        return {lang for lang in LANGS if self._seed_start(lang) is not None}

    def _first_samples(
        self, pipe: CodeFusionPipeline, prompts: list[str], lang: str, kwargs: dict[str, Any], skip: int = 0,
        pools: Pools | None = None,
    ) -> list[list[Sample]]:
        """k samples per prompt: from nearest training examples where seeding.json seeds `lang`
        (server/seeded.py; a top-up batch, skip = the first batch's k, uses the next nearest), else from pure
        noise under the prompt alone. An edit model serves a seeded language that seeding.json does not list
        under `edit` as any masked model does (its examples, judged); it writes alone where nothing is seeded."""
        seeds, start = self._seeds, self._seed_start(lang)
        docstring = kwargs.get("docstring", False)
        kwargs = {key: v for key, v in kwargs.items() if key != "docstring"}  # the sampler does not read it
        if pipe.edits and seeds is not None and self.seeding and lang in seeds.config.edit:
            return seeded_samples(pipe, seeds, prompts, lang, kwargs, start=start or 0, skip=skip, docstring=docstring)
        seeded = start is not None  # _seed_start: None where seeding is off or does not seed `lang`
        if pipe.edits and not seeded and kwargs.get("method", "diffusion") == "diffusion":  # writing alone
            names = kwargs.get("names") or [()] * len(prompts)
            return pipe.sample_edits(prompts, lang, [[None]] * len(prompts), names=names, **edit_kwargs(kwargs))
        names = kwargs.get("names")
        kwargs = {key: v for key, v in kwargs.items() if key != "names"}  # the sampler does not read them
        if pipe.kind == "ar" or seeds is None or start is None:  # the AR baseline is never seeded
            return pipe.sample(prompts, lang, **kwargs)
        return seeded_samples(pipe, seeds, prompts, lang, kwargs, start=start, skip=skip, pools=pools, names=names,
                              docstring=docstring)

    def cached(
        self,
        prompt: str,
        lang: str,
        *,
        k: int = 5,
        steps: int | None = None,
        seed: int = 0,
        max_tokens: int | None = None,
        method: str = "diffusion",
        names: Sequence[str] = (),
        docstring: bool = False,
    ) -> list[Candidate] | None:
        """The candidates of an earlier identical request, or None (never samples)."""
        return self._cache_get(
            self._key(prompt.strip()[:MAX_PROMPT_CHARS], lang, k, steps, seed, max_tokens, method, tuple(names),
                      docstring, True), count=False
        )

    def _key(self, prompt: str, lang: str, k: int, steps: int | None, seed: int, max_tokens: int | None,
             method: str, names: tuple[str, ...], docstring: bool, worded: bool) -> tuple[Any, ...]:
        """What a cached answer is keyed by: the request's every setting, and whether seeding is on."""
        return (prompt, lang, k, steps, seed, max_tokens, method, self.seeding, names, docstring, worded)

    def _cache_get(self, key: tuple[Any, ...], count: bool = True) -> list[Candidate] | None:
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                self.cache_hits += count
            return hit

    def _cache_put(self, key: tuple[Any, ...], value: list[Candidate]) -> None:
        with self._cache_lock:
            self._cache[key] = value
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
