"""Time the masked kernel's sampler against the AR baseline (KV cache) and the Gaussian kernel: k = 5 Python
candidates of 48 tokens, one prompt per call, the median of 6 calls (after one warm-up), fp32, 2 threads.
Item 9 of the model issue (serving speed); pause other work on the machine while it runs.

Usage: .venv/bin/python scripts/time_masked_sampler.py MASKED_DIR [AR_DIR] [GAUSSIAN_DIR] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

import torch
from codefusion.model.pipeline import BASELINE_MODEL_DIR, DEFAULT_MODEL_DIR, CodeFusionPipeline

PROMPTS = ["sort the list names in reverse order", "read a json file and return its contents",
           "count the words in a string", "remove duplicates from a list keeping order",
           "get the current working directory", "download a url to a file"]


def median_ms(pipe: CodeFusionPipeline, **kwargs) -> float:
    pipe.sample([PROMPTS[0]], "python", k=5, **kwargs)  # warm-up
    times = []
    for i in range(6):
        start = time.perf_counter()
        pipe.sample([f"{PROMPTS[i % len(PROMPTS)]} {i}"], "python", k=5, **kwargs)
        times.append(1000 * (time.perf_counter() - start))
    return round(statistics.median(times), 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("masked", type=Path)
    p.add_argument("ar", type=Path, nargs="?", default=BASELINE_MODEL_DIR)
    p.add_argument("gaussian", type=Path, nargs="?", default=DEFAULT_MODEL_DIR)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(2)
    masked = CodeFusionPipeline.from_dir(args.masked, device="cpu")
    rows = {}
    for steps in (4, 8, 16):
        for rounds in (0, 2):
            masked.masked_sampling = dataclasses.replace(masked.masked_sampling, repair_rounds=rounds)
            rows[f"masked k=5 L=48 {steps} steps, repair rounds {rounds}"] = median_ms(masked, steps=steps)
    ar = CodeFusionPipeline.from_dir(args.ar, device="cpu")
    rows["AR baseline sample-kv k=5 L=48"] = median_ms(ar, method="sample-kv")
    gaussian = CodeFusionPipeline.from_dir(args.gaussian, device="cpu")
    for steps in (2, 16):
        rows[f"Gaussian k=5 L=48 {steps} steps"] = median_ms(gaussian, steps=steps)
    text = json.dumps({"masked_model": str(args.masked), "ms_median": rows}, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
