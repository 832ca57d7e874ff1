"""`codefusion eval`: the paper's metrics on the dev split, for the model and its baselines.

One run scores one system on one language: the engine samples k per prompt and tops up to
k · oversample where those fall short (see engine.py), and from the same run we measure the raw samples (validity before
filtering) and the served candidates (validated, deduplicated, ranked: what users see). `--all`
runs every language × system and writes docs/results.json and docs/results.md; `--steps-curve`
measures quality and latency of the diffusion model against the number of denoising steps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..engine import BATCH_PROMPTS, LANGS, Engine, EngineNotReady
from . import eval_runs
from .eval_runs import SYSTEMS, RunSpec, curve_latency, curve_quality, evaluate, log, torch_threads
from .report import SYSTEM_LABELS, markdown_report, plot_steps_curve, text_table

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
# `--all` subsamples bash dev (1,009 prompts) so that `make eval` fits ~30 minutes on 2 cores.
ALL_LIMITS = {"bash": 200}
CURVE_STEPS = (1, 2, 5, 10, 20, 50, 200)
# Prompts per language for the steps curve (all seven step counts: ~29× a 10-step run per prompt).
CURVE_LIMITS = {"python": 12, "bash": 12, "cf": 24}


# --- command line ----------------------------------------------------------------------------------------


def _steps_list(text: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated step counts, got {text!r}") from None
    if not steps or min(steps) < 1:
        raise argparse.ArgumentTypeError(f"step counts must be positive, got {text!r}")
    return steps


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=LANGS, help="language to evaluate (not needed with --all/--steps-curve)")
    parser.add_argument("--split", default="dev", choices=["dev", "train"])
    parser.add_argument("--k", type=int, default=5, help="served candidates per prompt (default 5)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the pipeline's)")
    parser.add_argument("--model", metavar="DIR", type=Path, default=None,
                        help="diffusion model folder (default: the shipped model)")
    parser.add_argument("--ar-model", metavar="DIR", type=Path, default=None,
                        help="AR baseline folder for --baseline ar/ar-beam (default: the shipped baseline)")
    parser.add_argument("--system", "--baseline", dest="baseline", choices=list(SYSTEMS), default=None,
                        help="what to evaluate: diffusion (the model alone, default), seeded (as served: "
                             "candidates start from the nearest training examples where the model folder's "
                             "seeding.json says so), examples (the nearest examples as they are), slots (the "
                             "same with the slot rewrite), or a baseline: ar, ar-beam, retrieval")
    parser.add_argument("--limit", type=int, default=None, help="evaluate a random subset of N prompts")
    parser.add_argument("--seed", type=int, default=0, help="sampling and subsampling seed")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--quantize", action="store_true",
                        help="int8 dynamic quantisation of the linear layers (CPU), as `codefusion-lsp --quantize`")
    parser.add_argument("--batch-size", type=int, default=BATCH_PROMPTS, help="prompts per sampler batch")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON to write (default runs/eval/LANG-SYSTEM-SPLIT.json; --all: docs/results.json)")
    parser.add_argument("--all", action="store_true", help="every language × system → docs/results.{json,md}")
    parser.add_argument("--steps-curve", action="store_true",
                        help=f"quality and latency at {', '.join(map(str, CURVE_STEPS))} steps → docs/*.png")
    parser.add_argument("--curve-steps", type=_steps_list, default=CURVE_STEPS, metavar="N,N,...",
                        help=f"steps for the curve (default {','.join(map(str, CURVE_STEPS))})")
    parser.add_argument("--curve-limit", type=int, default=None,
                        help=f"prompts per language for the curve (default {CURVE_LIMITS})")
    parser.add_argument("--docs", type=Path, default=DOCS, help="folder for --all/--steps-curve outputs")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes for --all/--steps-curve (default: one per CPU core)")


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {path}")


# --- jobs: one (language, system) evaluation or one language's steps curve, run in a process pool ------

_ENGINES: dict[tuple[Path, bool], Engine] = {}  # per process: (model, seeding) loaded once for all its jobs


@dataclass(frozen=True)
class CurveJob:
    lang: str
    model: Path
    k: int
    seed: int
    limit: int
    split: str
    batch_size: int
    device: str
    steps_list: tuple[int, ...] = CURVE_STEPS


def _engine(model_dir: Path, device: str) -> Engine:
    """The model alone (no example seeding): what the steps curve measures."""
    if (model_dir, False) not in _ENGINES:
        _ENGINES[model_dir, False] = Engine(model_dir, device=device, seeding=False)
    return _ENGINES[model_dir, False]


def _job_cost(job: RunSpec | CurveJob) -> float:
    """Rough relative cost, to start the longest jobs first."""
    lang = {"python": 1.0, "bash": 1.0, "cf": 0.3}[job.lang]
    if isinstance(job, CurveJob):
        return sum(job.steps_list) / 10 * job.limit * lang
    per_prompt = {"diffusion": 1.0, "seeded": 1.0, "ar": 3.0, "ar-beam": 1.0, "retrieval": 0.001,
                 "examples": 0.01, "slots": 0.01}[job.system]
    return per_prompt * (job.limit or 1000) * lang


def run_job(job: RunSpec | CurveJob) -> dict[str, Any] | list[dict[str, Any]]:
    """One evaluation record, or one language's curve points (without latency)."""
    if isinstance(job, CurveJob):
        engine = _engine(job.model, job.device)
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            points = curve_quality(engine, job.lang, k=job.k, seed=job.seed, limit=job.limit,
                                   steps_list=job.steps_list, split=job.split, batch_size=job.batch_size)
        except EngineNotReady as exc:
            log(f"steps curve {job.lang}: cannot load the diffusion model: {exc}")
            return []
        log(f"steps curve {job.lang}: quality measured in {time.perf_counter() - start:.0f}s "
            f"({time.process_time() - cpu_start:.0f} CPU s)")
        return points
    try:
        result, _ = evaluate(job, _ENGINES)
    except EngineNotReady as exc:
        log(f"{job.lang}/{job.system}: cannot load the model: {exc}")
        result = {"lang": job.lang, "system": job.system, "label": SYSTEM_LABELS[job.system],
                  "error": f"model not loaded ({exc})", "command": job.command()}
    log(text_table([result]))
    return result


def _init_worker() -> None:
    # One thread per worker: the workers share the cores, and small AR steps gain little from threads.
    os.environ["OMP_NUM_THREADS"] = "1"
    eval_runs.QUIET_PROGRESS = True
    import torch

    torch.set_num_threads(1)


def run_jobs(jobs: Sequence[RunSpec | CurveJob], workers: int) -> list[Any]:
    """Results in the order of `jobs`; with several workers, longest jobs start first."""
    if workers <= 1 or len(jobs) <= 1:
        return [run_job(job) for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    order = sorted(range(len(jobs)), key=lambda i: -_job_cost(jobs[i]))
    results: list[Any] = [None] * len(jobs)
    ctx = multiprocessing.get_context("spawn")
    log(f"{len(jobs)} jobs on {workers} worker processes (one thread each)")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker) as pool:
        futures = {i: pool.submit(run_job, jobs[i]) for i in order}
        for i, future in futures.items():
            results[i] = future.result()
    return results


def steps_curve(args: argparse.Namespace, curve_jobs: Sequence[CurveJob],
                qualities: Sequence[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Curve points with latency measured now, alone on the machine; writes the JSON and the plot."""
    points = [p for q in qualities for p in q]
    for job in curve_jobs:
        if not any(p["lang"] == job.lang for p in points):
            continue
        latency = curve_latency(_engine(job.model, job.device), job.lang, k=job.k, seed=job.seed,
                                steps_list=job.steps_list, split=job.split, requests=min(3, job.limit))
        for p in points:
            if p["lang"] == job.lang:
                p["latency_ms_median"] = latency[p["steps"]]
                p["threads"] = torch_threads()
    if points:
        _write_json(args.docs / "steps_vs_quality.json", points)
        png = args.docs / "steps_vs_quality.png"
        plot_steps_curve(points, png, args.k)
        log(f"wrote {png}")
    return points


def run(args: argparse.Namespace) -> int:
    if args.k < 1 or (args.steps is not None and args.steps < 1) or (args.limit is not None and args.limit < 1):
        print("codefusion eval: --k, --steps and --limit must be positive", file=sys.stderr)
        return 2
    if not (args.all or args.steps_curve or args.lang):
        print("codefusion eval: give --lang, --all or --steps-curve", file=sys.stderr)
        return 2
    from codefusion.model.pipeline import DEFAULT_MODEL_DIR

    started = time.perf_counter()
    base = dict(split=args.split, k=args.k, steps=args.steps, seed=args.seed, model=args.model,
                ar_model=args.ar_model, batch_size=args.batch_size, device=args.device, quantize=args.quantize)
    if args.all or args.steps_curve:
        specs = [RunSpec(lang=lang, system=system, limit=args.limit if args.limit is not None else ALL_LIMITS.get(lang),
                         **base)  # type: ignore[arg-type]
                 for lang in LANGS for system in SYSTEMS] if args.all else []
        for lang in LANGS:
            spec = next((s for s in specs if s.lang == lang and s.limit is not None), None)
            if spec is not None:
                log(f"{lang} {args.split}: evaluating a subsample of {spec.limit} prompts (seed {args.seed})")
        curve_jobs = [CurveJob(lang, Path(args.model or DEFAULT_MODEL_DIR), args.k, args.seed,
                               args.curve_limit or CURVE_LIMITS[lang], args.split, args.batch_size, args.device,
                               tuple(args.curve_steps))
                      for lang in LANGS] if args.steps_curve else []
        if curve_jobs:
            sizes = ", ".join(f"{j.lang} {j.limit}" for j in curve_jobs)
            log(f"steps curve: dev subsamples of {sizes} prompts (seed {args.seed}), "
                f"steps {', '.join(map(str, args.curve_steps))}")
        done = run_jobs([*specs, *curve_jobs], args.jobs or os.cpu_count() or 1)
        results, qualities = done[: len(specs)], done[len(specs):]
        curve = steps_curve(args, curve_jobs, qualities) if curve_jobs else None
        if args.all:
            report = {"date": dt.date.today().isoformat(), "split": args.split, "k": args.k, "results": results,
                      "steps_curve": curve, "seconds": round(time.perf_counter() - started, 1)}
            _write_json(args.out or args.docs / "results.json", report)
            md = args.docs / "results.md"
            md.write_text(markdown_report(results, curve, time.perf_counter() - started) + "\n", encoding="utf-8")
            log(f"wrote {md}")
            print(text_table(results))
    if args.lang and not args.all:
        system = args.baseline or "diffusion"
        spec = RunSpec(lang=args.lang, system=system, limit=args.limit, **base)  # type: ignore[arg-type]
        try:
            result, preds = evaluate(spec, _ENGINES)
        except EngineNotReady as exc:
            print(f"codefusion eval: cannot load the model: {exc}\n  run `codefusion doctor`", file=sys.stderr)
            return 1
        print(text_table([result]))
        out = args.out or REPO / "runs" / "eval" / f"{args.lang}-{system}-{args.split}.json"
        _write_json(out, {**result, "predictions": [asdict(p) for p in preds]})
    log(f"eval took {time.perf_counter() - started:.0f}s")
    return 0
