"""One evaluation run: a system's predictions on a split (raw samples and served candidates), scored.

Also the steps curve's measurements (quality and latency against the number of denoising steps).
`codefusion eval` (eval.py) runs these, alone or in a process pool, and writes the reports.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine import BATCH_PROMPTS, PIPELINE_METHOD, Engine, EngineNotReady
from ..ranking import rank_candidates
from .report import PRIMARY, SYSTEM_LABELS, TOP_KS

SYSTEMS = ("diffusion", "seeded", "examples", "slots", "ar", "ar-beam", "retrieval")
MODEL_FREE = ("retrieval", "examples", "slots")  # systems that run no network: no quantisation


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- metrics per language ---------------------------------------------------------------------------

Scorer = Callable[[str, Any], float]  # (candidate, pair) → 0..100


def language_metrics(lang: str) -> dict[str, Scorer]:
    """The per-candidate scores reported for a language, in table order."""
    from codefusion.model.evaluation import metrics as m

    def match(ok: bool) -> float:
        return 100.0 if ok else 0.0

    if lang == "python":
        return {
            "exact_match": lambda c, p: match(m.exact_match("python", c, p.code)),
            "bleu": lambda c, p: m.sentence_bleu(c, p.code),
            "token_f1": lambda c, p: m.token_f1(c, p.code),
        }
    if lang == "bash":
        return {
            "template_match": lambda c, p: match(m.template_match(c, p.code)),
            "token_match": lambda c, p: m.token_match(c, p.code),
        }
    return {
        "execution_match": lambda c, p: match(m.cf_execution_match(c, p.code, p.data)),
        "rule_match": lambda c, p: match(m.cf_rule_match(c, p.code)),
    }


@dataclass
class Prediction:
    id: str
    prompt: str
    reference: str
    raw: list[str]  # every sample drawn, before validation (k, or k · oversample when topped up)
    served: list[str]  # what the engine serves: valid, distinct, ranked, at most k


def score_predictions(lang: str, pairs: Sequence[Any], preds: Sequence[Prediction], k: int) -> dict[str, Any]:
    """Top-k figures, validity and diversity of a run (all on a 0–100 scale except counts)."""
    from codefusion.model.evaluation import metrics as m

    scorers = language_metrics(lang)
    out: dict[str, Any] = {"metrics": {}}
    for name, scorer in scorers.items():
        per_prompt = [[scorer(c, pair) for c in pred.served[:k]] for pair, pred in zip(pairs, preds, strict=True)]
        out["metrics"][name] = {f"top{n}": round(m.top_k(per_prompt, n), 2) for n in TOP_KS if n <= k}
    if lang == "python":
        top1 = [pred.served[0] if pred.served else "" for pred in preds]
        out["corpus_bleu_top1"] = round(m.corpus_bleu(top1, [p.code for p in pairs]), 2)
    if lang == "cf":  # prompts whose execution match fell back to rule match (no cells, or bad reference)
        out["execution_fallbacks"] = sum(not m.cf_executable(p.code, p.data) for p in pairs)
    raw = [c for pred in preds for c in pred.raw]
    served = [c for pred in preds for c in pred.served]
    div = [m.diversity(lang, pred.served[:k]) for pred in preds]
    n = max(1, len(preds))
    out.update(
        validity_raw=round(m.validity(lang, raw), 2),
        validity_served=round(m.validity(lang, served), 2),
        raw_samples=len(raw),
        served_per_prompt=round(len(served) / n, 2),
        distinct_raw=round(sum(m.diversity(lang, pred.raw).distinct for pred in preds) / n, 2),
        distinct_served=round(sum(d.distinct for d in div) / n, 2),
        edit_distance=round(sum(d.edit_distance for d in div) / n, 2),
    )
    return out


# --- producing predictions ----------------------------------------------------------------------------


class Progress:
    """tqdm on a terminal run; in pool workers (`lines=True`) a plain line every 30 s instead."""

    def __init__(self, total: int, desc: str, lines: bool = False):
        self.total, self.desc, self.lines, self.done = total, desc, lines, 0
        self.start = self.last = time.perf_counter()
        self.bar = None
        if not lines:
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=sys.stderr, unit="prompt", desc=desc, leave=False)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif time.perf_counter() - self.last > 30 or self.done == self.total:
            self.last = time.perf_counter()
            log(f"  {self.desc}: {self.done}/{self.total} ({self.last - self.start:.0f}s)")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


QUIET_PROGRESS = False  # set in pool workers: two processes' bars would garble each other


def predict_engine(engine: Engine, pairs: Sequence[Any], lang: str, *, k: int, steps: int | None, seed: int,
                   method: str, batch_size: int, desc: str) -> tuple[list[Prediction], float]:
    """Raw samples and served candidates for each pair from one sampler run; also the sampling time."""
    preds: list[Prediction] = []
    took = 0.0
    bar = Progress(len(pairs), desc, QUIET_PROGRESS)
    for i in range(0, len(pairs), batch_size):
        batch = pairs[i : i + batch_size]
        start = time.perf_counter()
        samples = engine.sample_batch([p.prompt for p in batch], lang, k=k, steps=steps, seed=seed,
                                      method=method)
        took += time.perf_counter() - start
        for pair, rows in zip(batch, samples, strict=True):
            served = [c.text for c in engine.rank(lang, rows, k, prompt=pair.prompt, method=method)]
            raw = [s.text for s in rows if not s.unedited]  # the model's samples, not the examples beside them
            preds.append(Prediction(pair.id, pair.prompt, pair.code, raw, served))
        bar.update(len(batch))
    bar.close()
    return preds, took


def predict_retrieval(train_pairs: Sequence[Any], pairs: Sequence[Any], lang: str, *, k: int,
                      oversample: int) -> tuple[list[Prediction], float]:
    """The nearest training examples' code (TF-IDF), served through the same ranking as the models."""
    from codefusion.model.examples.retrieval import TfidfRetriever

    retriever = TfidfRetriever.from_pairs(train_pairs)
    return _serve_found(pairs, lang, k, lambda prompt: retriever.retrieve(prompt, k * oversample))


def predict_examples(model_dir: Path, pairs: Sequence[Any], lang: str, *, k: int,
                     oversample: int, slots: bool = False) -> tuple[list[Prediction], float]:
    """The examples the served engine retrieves (the model folder's retriever), unedited by the model: as they
    are, or with the request's literals moved in by the slot rewrite (`slots`, model/examples/slots.py)."""
    return _serve_found(pairs, lang, k, example_finder(model_dir, lang, k * oversample, slots))


def example_finder(model_dir: Path, lang: str, n: int, slots: bool,
                   docstring: bool = False) -> Callable[..., Sequence[Any]]:
    """prompt -> its n nearest examples from the folder's index (with or without the slot rewrite); docstring:
    the prompts are docstrings (the folder's docstring_sources join), also per call (`find(p, docstring=True)`)."""
    import dataclasses

    from codefusion.model.examples.seeding import ExampleSeeds

    seeds = ExampleSeeds.from_dir(model_dir)
    if seeds is None or lang not in seeds.retrievers:
        raise EngineNotReady(f"{model_dir} has no seeding examples for {lang}")
    seeds.config = dataclasses.replace(seeds.config, slots=slots)
    def find(prompt: str, docstring: bool = docstring) -> Sequence[Any]:
        return seeds.nearest(prompt, lang, n, docstring=docstring)

    return find


def _serve_found(pairs: Sequence[Any], lang: str, k: int,
                 find: Callable[[str], Sequence[Any]]) -> tuple[list[Prediction], float]:
    from codefusion.model.pipeline import Sample

    preds = []
    start = time.perf_counter()
    for pair in pairs:
        found = find(pair.prompt)
        rows = [Sample(r.code, r.score, []) for r in found]
        served = [c.text for c in rank_candidates(lang, rows, k)]
        preds.append(Prediction(pair.id, pair.prompt, pair.code, [r.code for r in found], served))
    return preds, time.perf_counter() - start


def subsample(pairs: list[Any], limit: int | None, seed: int) -> list[Any]:
    """A fixed-seed random subset of `limit` pairs, kept in data order (all when limit is None).

    The first `limit` of one seeded permutation: a smaller subset is inside a larger one.
    """
    if limit is None or limit >= len(pairs):
        return pairs
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    keep = set(order[:limit])
    return [p for i, p in enumerate(pairs) if i in keep]


@dataclass(frozen=True)
class RunSpec:
    lang: str
    system: str  # one of SYSTEMS
    split: str = "dev"
    k: int = 5
    steps: int | None = None
    seed: int = 0
    limit: int | None = None
    model: Path | None = None  # diffusion model folder (default: the shipped one)
    ar_model: Path | None = None  # AR baseline folder (default: the shipped one)
    batch_size: int = BATCH_PROMPTS
    device: str = "auto"
    quantize: bool = False  # int8 dynamic quantisation of the linear layers (CPU)

    def command(self) -> str:
        parts = ["codefusion eval", f"--lang {self.lang}"]
        if self.system != "diffusion":
            parts.append(f"--system {self.system}")
        if self.split != "dev":
            parts.append(f"--split {self.split}")
        if self.steps is not None and self.system in ("diffusion", "seeded"):
            parts.append(f"--steps {self.steps}")
        if self.limit is not None:
            parts.append(f"--limit {self.limit} --seed {self.seed}")
        if self.quantize and self.system not in MODEL_FREE:
            parts.append("--quantize")
        return " ".join(parts)


def model_dir_for(spec: RunSpec) -> Path:
    from codefusion.model.pipeline import BASELINE_MODEL_DIR, DEFAULT_MODEL_DIR

    if spec.system in ("diffusion", "seeded", "examples", "slots"):
        return Path(spec.model or DEFAULT_MODEL_DIR)
    return Path(spec.ar_model or BASELINE_MODEL_DIR)


def evaluate(spec: RunSpec, engines: dict[tuple[Path, bool], Engine] | None = None,
             ) -> tuple[dict[str, Any], list[Prediction]]:
    """Score one system on one language; returns the result record and the predictions."""
    from codefusion.model.training.data import load_pairs

    started, cpu_started = time.perf_counter(), time.process_time()
    all_pairs, skipped = load_pairs(spec.lang, spec.split)
    pairs = subsample(all_pairs, spec.limit, spec.seed)
    if len(pairs) < len(all_pairs):
        log(f"{spec.lang} {spec.split}: {len(pairs)} of {len(all_pairs)} prompts, subsampled with seed {spec.seed}")
    desc = f"{spec.lang}/{spec.system}"
    oversample = 2
    model_path: str | None = None
    sampler: dict[str, Any] | None = None  # diffusion and seeded: the engine's sampler settings for this language
    if spec.system == "retrieval":
        train_pairs, _ = load_pairs(spec.lang, "train")
        preds, took = predict_retrieval(train_pairs, pairs, spec.lang, k=spec.k, oversample=oversample)
    elif spec.system in ("examples", "slots"):
        examples_dir = model_dir_for(spec)
        model_path = str(examples_dir)
        preds, took = predict_examples(examples_dir, pairs, spec.lang, k=spec.k, oversample=oversample,
                                       slots=spec.system == "slots")
    else:
        model_dir = model_dir_for(spec)
        engines = engines if engines is not None else {}
        key = (model_dir, spec.system == "seeded")  # "diffusion" measures the model alone: no seeding
        if key not in engines:
            engines[key] = Engine(model_dir, device=spec.device, quantize=spec.quantize, seeding=key[1])
        engine = engines[key]
        engine.load()
        oversample, model_path = engine.oversample, str(model_dir)
        if spec.system in ("diffusion", "seeded"):
            sampler = engine.sampler(spec.lang)
        preds, took = predict_engine(engine, pairs, spec.lang, k=spec.k, steps=spec.steps, seed=spec.seed,
                                     method=PIPELINE_METHOD[spec.system], batch_size=spec.batch_size, desc=desc)
    result: dict[str, Any] = {
        "lang": spec.lang,
        "system": spec.system,
        "label": SYSTEM_LABELS[spec.system],
        "split": spec.split,
        "prompts": len(pairs),
        "prompts_in_split": len(all_pairs),
        "rows_skipped": skipped,
        "subsample_seed": spec.seed if len(pairs) < len(all_pairs) else None,
        "k": spec.k,
        "oversample": oversample,
        "steps": spec.steps if spec.system in ("diffusion", "seeded") else None,
        "seed": spec.seed,
        "model": model_path,
        **score_predictions(spec.lang, pairs, preds, spec.k),
        "ms_per_prompt": round(1000 * took / max(1, len(pairs)), 1),
        "quantize": spec.quantize and spec.system not in MODEL_FREE,
        "threads": torch_threads(),
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu_started, 1),  # this process, all its threads
        "command": spec.command(),
        "date": dt.date.today().isoformat(),
    }
    if sampler is not None:
        result["sampler"] = sampler  # the masked kernel's steps and repair rounds come from its folder
        if spec.steps is None:
            result["steps"] = sampler.get("steps")  # None for an AR folder given as the model
    return result, preds


# --- steps curve ---------------------------------------------------------------------------------------


def torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def curve_quality(engine: Engine, lang: str, *, k: int, seed: int, limit: int, steps_list: Sequence[int],
                  split: str = "dev", batch_size: int = BATCH_PROMPTS) -> list[dict[str, Any]]:
    """Primary top-1/top-k of the diffusion model's served candidates at each number of steps."""
    from codefusion.model.evaluation import metrics as m
    from codefusion.model.training.data import load_pairs

    engine.load()
    all_pairs, _ = load_pairs(lang, split)
    pairs = subsample(all_pairs, limit, seed)
    scorer = language_metrics(lang)[PRIMARY[lang]]
    points = []
    for steps in steps_list:
        preds, _ = predict_engine(engine, pairs, lang, k=k, steps=steps, seed=seed, method="diffusion",
                                  batch_size=batch_size, desc=f"curve {lang} {steps} steps")
        scores = [[scorer(c, pair) for c in pred.served] for pair, pred in zip(pairs, preds, strict=True)]
        points.append({"lang": lang, "metric": PRIMARY[lang], "steps": steps, "prompts": len(pairs),
                       "top1": round(m.top_k(scores, 1), 2), f"top{k}": round(m.top_k(scores, k), 2)})
    return points


def curve_latency(engine: Engine, lang: str, *, k: int, seed: int, steps_list: Sequence[int],
                  split: str = "dev", requests: int = 3) -> dict[int, float]:
    """Median wall time (ms) of one request (one prompt, k · oversample samples) at each number of steps.

    Run with nothing else on the machine: this is what a user of the language server waits.
    """
    from codefusion.model.training.data import load_pairs

    engine.load()
    pairs = subsample(load_pairs(lang, split)[0], requests, seed)
    engine.sample_batch([pairs[0].prompt], lang, k=k, steps=1, seed=seed)  # warm-up
    out = {}
    for steps in steps_list:
        times = []
        for pair in pairs:
            start = time.perf_counter()
            engine.sample_batch([pair.prompt], lang, k=k, steps=steps, seed=seed)
            times.append(time.perf_counter() - start)
        out[steps] = round(1000 * sorted(times)[len(times) // 2], 1)
        log(f"  latency {lang} {steps} steps: {out[steps]:.0f} ms")
    return out
