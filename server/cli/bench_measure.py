"""`codefusion bench`'s measurements: each takes a model (or its folder) and returns rows of figures.

Times are p50/p95 wall and median CPU milliseconds over repeated calls after one warm-up (`timed`);
`recorded` turns any failure into a noted error so that the benchmark goes on.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .lsp_bench import percentile

# The AR baseline as trained and evaluated (whole prefix each step), the same with a key/value cache, beam.
AR_METHODS = ("sample", "sample-kv", "beam")
# The diffusion models' kernels as in-process methods: the Gaussian one (CF), the masked one (Python, Bash).
KERNELS = ("diffusion", "masked")
PROMPTS = [
    "sort the list `names` alphabetically", "read the file `path` into a string", "reverse string `s`",
    "get the maximum value in dictionary `d`", "remove duplicates from list `xs`", "convert `n` to hex",
    "split the string `line` on commas", "count the words in `text`", "join the list `parts` with spaces",
    "check if the file `path` exists",
]  # fmt: skip
CF_PROMPTS = [
    "highlight cells greater than 100", "color cells that contain \"overdue\"", "mark duplicate values",
    "cells between 10 and 20 in red", "highlight blank cells", "values less than the column average",
]  # fmt: skip
ENGINE_PROMPTS = {"python": PROMPTS, "cf": CF_PROMPTS}


# --- helpers ------------------------------------------------------------------------------------------


def timed(fn: Callable[[int], Any], repeats: int) -> dict[str, Any]:
    """p50/p95 wall time and median process CPU time (ms) of fn(i) over `repeats` calls after one warm-up."""
    fn(-1)
    wall, cpu = [], []
    for i in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn(i)
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return {"p50_ms": percentile(wall, 50), "p95_ms": percentile(wall, 95), "cpu_ms": statistics.median(cpu),
            "n": repeats}


@contextmanager
def recorded(errors: list[str], what: str) -> Iterator[None]:
    """Run a measurement; on any failure note it and carry on (a bench never fails on a number)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 — anything a model or server raises is a result here
        errors.append(f"{what}: {type(exc).__name__}: {exc}")
        print(f"  ! {what}: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.environ.get("CODEFUSION_BENCH_TRACEBACK"):
            traceback.print_exc()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu_model(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "device": device,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def rss_mb() -> float | None:
    from .lsp_bench import rss_mb as proc_rss

    return proc_rss(os.getpid())["rss_mb"]


# --- measurements -------------------------------------------------------------------------------------


def load(model_dir: Path, device: str, precision: str) -> tuple[Any, float]:
    from codefusion.model.pipeline import CodeFusionPipeline

    start = time.perf_counter()
    pipe = CodeFusionPipeline.from_dir(model_dir, device=device, quantize=precision == "int8")
    return pipe, time.perf_counter() - start


def sampler_row(pipe: Any, *, method: str, precision: str, k: int, tokens: int, steps: int | None,
                repeats: int) -> dict[str, Any]:
    """One in-process figure: k candidates for one prompt, `tokens` long (clamped to the model's maximum)."""
    kwargs: dict[str, Any] = {"k": k, "max_tokens": tokens}
    if method in KERNELS:
        kwargs["steps"] = steps
    else:
        kwargs["method"] = method

    def call(i: int) -> None:
        pipe.sample([PROMPTS[i % len(PROMPTS)]], "python", **kwargs)

    row = {"method": method, "precision": precision, "k": k, "tokens": tokens,
           "length": min(tokens, pipe.config.max_code_len), "steps": steps if method in KERNELS else None}
    return {**row, **timed(call, repeats)}


def naive_sample(pipe: Any, prompt_text: str, *, k: int, length: int, steps: int) -> Any:
    """The sampler as a first implementation would write it, for the optimisation figures: the prompt is
    encoded at every step, the modules' training forward recomputes the prompt's cross-attention keys and
    values, and D+H decode tokens after every step (to watch them form). Same DDIM steps and result shape."""
    import torch
    from codefusion.model.noise.gaussian import DDIMScheduler

    net, cfg = pipe.net, pipe.config
    prompt, pad = pipe._prompts([prompt_text] * k, "python")
    sched = DDIMScheduler(schedule=pipe.schedule)
    sched.set_timesteps(steps)
    with torch.inference_mode():
        x = torch.randn((k, length, cfg.d_embed), generator=torch.Generator().manual_seed(0))
        x0 = None
        tokens = None
        for i, t in enumerate(sched.timesteps):
            memory = net.encode(prompt, pad)
            x0, _ = net.denoise(x, torch.full((k,), t), memory, pad, x0)
            tokens = net.head(net.decode(x0, memory, pad)).argmax(-1)
            x = sched.step(x0, i, x)
    return tokens


def optimisation_rows(pipe: Any, *, k: int, tokens: int, steps_list: tuple[int, ...], repeats: int,
                      precision: str) -> list[dict[str, Any]]:
    """The naive sampler against the shipped one (prompt encoded once, prompt K/V cached, D+H once)."""
    length = min(tokens, pipe.config.code_len["python"])
    rows = []
    for steps in steps_list:
        for method in ("naive", "optimised"):
            def call(i: int, steps: int = steps, method: str = method) -> None:
                prompt = PROMPTS[i % len(PROMPTS)]
                if method == "naive":
                    naive_sample(pipe, prompt, k=k, length=length, steps=steps)
                else:
                    pipe.sample([prompt], "python", k=k, max_tokens=length, steps=steps)

            rows.append({"method": method, "precision": precision, "k": k, "length": length, "steps": steps,
                         **timed(call, repeats)})
    return rows


def engine_row(model_dir: Path, device: str, precision: str, k: int, repeats: int,
               oversample: int, seeding: bool = True, lang: str = "python") -> dict[str, Any]:
    """As the server calls it: oversampling, validation, dedup and ranking, default steps and length.
    seeding=False: the model alone (no example seeding), as `seedFromExamples: false`. lang: "python" or
    "cf" (CF as served also has the model rescore the nearest examples where seeding.json says `rerank`)."""
    from ..engine import Engine

    engine = Engine(model_dir, device=device, quantize=precision == "int8", cache_size=0, oversample=oversample,
                    seeding=seeding)
    engine.load()

    prompts = ENGINE_PROMPTS[lang]

    def call(i: int) -> None:
        engine.generate(f"{prompts[i % len(prompts)]} ({i})", lang, k=k)  # a new prompt: no cache

    status = engine.status()
    row = {"method": "engine", "precision": precision, "k": k, "oversample": engine.oversample, "lang": lang,
           "seeded": lang in status["seededLanguages"], "rescored": lang in status["exampleRerank"],
           **timed(call, repeats)}
    row["top_up_share"] = round(engine.top_ups / max(1, engine.generations), 2)  # calls that drew a second batch
    return row


def agreement(fp32: Any, int8: Any, k: int, tokens: int, steps: int) -> float:
    """Fraction of sampled tokens int8 reproduces exactly (same prompts, same seeds)."""
    same = total = 0
    for prompt in PROMPTS[:4]:
        a = fp32.sample([prompt], "python", k=k, max_tokens=tokens, steps=steps)[0]
        b = int8.sample([prompt], "python", k=k, max_tokens=tokens, steps=steps)[0]
        for x, y in zip(a, b, strict=True):
            same += sum(int(p == q) for p, q in zip(x.tokens, y.tokens, strict=True))
            total += len(x.tokens)
    return same / max(total, 1)


def ratios(rows: list[dict[str, Any]], steps: dict[str, int]) -> list[dict[str, Any]]:
    """AR time / a kernel's time at the same k, length and precision (> 1: the diffusion model is faster);
    steps: each kernel's default steps (its rows at other steps are not compared)."""
    def p50(method: str, precision: str, k: int, tokens: int) -> float | None:
        for r in rows:
            if (r["method"], r["precision"], r["k"], r["tokens"]) == (method, precision, k, tokens):
                return r["p50_ms"]
        return None

    out = []
    for r in rows:
        if r["method"] not in steps or r["steps"] != steps[r["method"]]:
            continue
        entry: dict[str, Any] = {"kernel": r["method"], "precision": r["precision"], "k": r["k"],
                                 "tokens": r["tokens"], "steps": r["steps"], "diffusion_p50_ms": r["p50_ms"]}
        for method in AR_METHODS:
            ar = p50(method, r["precision"], r["k"], r["tokens"])
            key = method.replace("-", "_")
            entry[f"ar_{key}_p50_ms"] = ar
            entry[f"ar_{key}_over_diffusion"] = ar / r["p50_ms"] if ar and r["p50_ms"] else None
        out.append(entry)
    return out


def throughput(pipe: Any, batches: tuple[int, ...], k: int, repeats: int) -> list[dict[str, Any]]:
    """Generated tokens per second for batches of prompts (the GPU's batched path; k candidates each)."""
    rows = []
    for batch in batches:
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(batch)]

        def call(i: int, prompts: list[str] = prompts) -> None:
            pipe.sample(prompts, "python", k=k)

        figures = timed(call, repeats)
        length = pipe.config.code_len["python"]
        rows.append({"prompts": batch, "k": k, "length": length, **figures,
                     "tokens_per_s": batch * k * length / (figures["p50_ms"] / 1000)})
    return rows


def lsp_row(model_dir: Path, device: str, precision: str, k: int, requests: int, label: str) -> dict[str, Any]:
    from .lsp_bench import measure

    args = ("--quantize",) if precision == "int8" else ()
    figures = measure(str(model_dir), device=device, requests=requests, k=k, server_args=args)
    status = figures.pop("status")
    return {"model": label, "precision": precision, **figures, "state": status.get("state"),
            "error": status.get("error")}
