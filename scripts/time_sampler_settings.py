"""Time masked-sampler settings against the AR baseline with a KV cache in one process, interleaved (each
round runs every setting once on the same prompt, so load on a shared machine hits them alike): k = 5 Python
candidates, one prompt per call, one torch thread; median and p95 ms, and each setting's median ÷ the AR's.
An edit model (copy head) edits the nearest examples of --examples' seeding, as served. Issue 37.

Usage: .venv/bin/python scripts/time_sampler_settings.py MODEL_DIR [--ar DIR] [--rounds 12] [--setting JSON ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from codefusion.model.pipeline import BASELINE_MODEL_DIR, CodeFusionPipeline, MaskedSampling

REPO = Path(__file__).resolve().parents[1]
PROMPTS = ["sort the list `names` alphabetically", "read the file `path` into a string", "reverse string `s`",
           "get the maximum value in dictionary `d`", "remove duplicates from list `xs`", "convert `n` to hex",
           "split the string `line` on commas", "count the words in `text`", "join the list `parts` with spaces",
           "check if the file `path` exists", "download a url to a file", "get the current working directory"]
DEFAULT_SETTINGS = ['{"steps": 16}', '{"threshold": 0.9, "end_confidence": 1.0}',
                    '{"threshold": 0.7, "end_confidence": 1.0}',
                    '{"threshold": 0.7, "end_confidence": 1.0, "int8": true}']


def writer(model_dir: Path, examples_dir: Path, setting: dict, base: MaskedSampling) -> Callable[[str], object]:
    setting = dict(setting)
    pipe = CodeFusionPipeline.from_dir(model_dir, device="cpu", quantize=bool(setting.pop("int8", False)))
    pipe.masked_sampling = dataclasses.replace(base, **setting)
    if not pipe.edits:
        return lambda prompt: pipe.sample([prompt], "python", k=5)
    from codefusion.model.examples.edit import EditSource
    from codefusion.model.examples.seeding import ExampleSeeds

    seeds = ExampleSeeds.from_dir(examples_dir)
    assert seeds is not None

    def edit(prompt: str) -> object:
        found = seeds.nearest(prompt, "python", 5)
        sources = [EditSource(seeds.prompts["python"][r.index], r.code) for r in found] or [None]
        return pipe.sample_edits([prompt], "python", [sources], k=5)

    return edit


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", type=Path)
    p.add_argument("--ar", type=Path, default=BASELINE_MODEL_DIR)
    p.add_argument("--examples", type=Path, default=REPO / "models" / "codefusion")
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--setting", action="append", help="MaskedSampling overrides as JSON; \"int8\": true quantises")
    args = p.parse_args()
    base = MaskedSampling.load(args.model)
    calls: dict[str, Callable[[str], object]] = {}
    for text in args.setting or DEFAULT_SETTINGS:
        calls[text] = writer(args.model, args.examples, json.loads(text), base)
    ar = CodeFusionPipeline.from_dir(args.ar, device="cpu")
    calls["AR sample-kv"] = lambda prompt: ar.sample([prompt], "python", k=5, method="sample-kv")
    torch.set_num_threads(1)  # from_dir sets the serving default; one thread here (a training run has the other)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        call(PROMPTS[0])  # warm-up
    for i in range(args.rounds):
        prompt = PROMPTS[i % len(PROMPTS)] + f" ({i})"
        for name, call in calls.items():
            start = time.perf_counter()
            call(prompt)
            times[name].append(1000 * (time.perf_counter() - start))
    ar_ms = statistics.median(times["AR sample-kv"])
    for name, ts in times.items():
        ms = statistics.median(ts)
        print(json.dumps({"model": str(args.model), "setting": name, "rounds": args.rounds,
                          "median_ms": round(ms, 1), "p95_ms": round(sorted(ts)[int(0.95 * (len(ts) - 1))], 1),
                          "ar_kv_over_this": round(ar_ms / ms, 2)}), flush=True)


if __name__ == "__main__":
    main()
