"""Quality against speed of the masked sampler's settings on dev (issue 37): fixed-count steps, confidence
thresholds, syntax-repair rounds, int8 — what sampler.json's default is chosen from.

For each language (Python BLEU-4, Bash template match) a fixed random subset of dev prompts (the subset
`codefusion eval --limit N --seed 0` takes), one prompt per call as the server asks, k = 5 served candidates
(validated, deduplicated, ranked; topped up as the engine does). A plain masked model writes alone (`--no-seeding`);
an edit model (copy head) edits the k nearest training examples of --examples' seeding (candidate j reads
example j), as it will be served. Each setting is timed in the same process with one torch thread; the first
setting is the reference: each line carries its paired-bootstrap 95 % interval of (setting − reference) on
top-1 and top-5, and the reference's own interval. One JSON line per (setting, language) on stdout.

Usage: .venv/bin/python scripts/sweep_masked_sampler.py MODEL_DIR [--limit 100] [--setting JSON ...]
  a setting is MaskedSampling overrides, e.g. '{"steps": 16}' '{"threshold": 0.7, "end_confidence": 1.0}';
  add "int8": true to quantise the linear layers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SETTINGS = [
    {"steps": 16},  # the shipped sampler: the reference
    {"steps": 8}, {"steps": 4},
    {"threshold": 0.9, "end_confidence": 1.0}, {"threshold": 0.7, "end_confidence": 1.0},
    {"threshold": 0.5, "end_confidence": 1.0},
    {"threshold": 0.7, "end_confidence": 1.0, "repair_rounds": 2},
    {"threshold": 0.7, "end_confidence": 1.0, "repair_rounds": 0},
    {"threshold": 0.7, "end_confidence": 1.0, "int8": True},
]
METRIC = {"python": "bleu", "bash": "template_match"}
BOOTSTRAP = 2000


def interval(values: list[float]) -> tuple[float, float]:
    """95 % bootstrap interval of the mean."""
    rng = random.Random(0)
    means = sorted(statistics.fmean(rng.choices(values, k=len(values))) for _ in range(BOOTSTRAP))
    return round(means[int(0.025 * BOOTSTRAP)], 2), round(means[int(0.975 * BOOTSTRAP) - 1], 2)


def top(scores: list[float], n: int) -> float:
    return max(scores[:n], default=0.0)


class Writer:
    """One sampler call per prompt: the engine's path for a plain model, edits of the nearest examples for an
    edit model. Returns each prompt's served texts, the ms it took and the steps the sampler ran."""

    def __init__(self, model_dir: Path, examples_dir: Path, int8: bool):
        from codefusion.server.engine import Engine

        self.engine = Engine(model_dir, device="cpu", quantize=int8, cache_size=0, seeding=False)
        self.engine.load()
        self.pipe = self.engine._pipeline("python")
        self.seeds = None
        if self.pipe.edits:
            from codefusion.model.examples.seeding import ExampleSeeds

            self.seeds = ExampleSeeds.from_dir(examples_dir)

    def write(self, prompt: str, lang: str, k: int) -> tuple[list[str], float]:
        start = time.perf_counter()
        if self.seeds is None:
            served = [c.text for c in self.engine.generate(prompt, lang, k=k)]
        else:
            from codefusion.model.examples.edit import EditSource
            from codefusion.server.ranking import rank_candidates

            found = self.seeds.nearest(prompt, lang, k)
            sources = [EditSource(self.seeds.prompts[lang][r.index], r.code) for r in found] or [None]
            rows = self.pipe.sample_edits([prompt], lang, [sources], k=k)[0]
            served = [c.text for c in rank_candidates(lang, rows, k)]
        return served, (time.perf_counter() - start) * 1000


def run(args: argparse.Namespace) -> None:
    from codefusion.model.evaluation import metrics as m
    from codefusion.model.noise import masked
    from codefusion.model.training.data import load_pairs
    from codefusion.server.cli.eval_runs import language_metrics, subsample

    torch.set_num_threads(1)
    settings = [json.loads(s) for s in args.setting] if args.setting else DEFAULT_SETTINGS
    steps_ran: list[int] = []
    real = masked.sample_masked

    def counted(*a: Any, **kw: Any) -> Any:
        out = real(*a, **kw)
        steps_ran.append(out.steps)
        return out

    masked.sample_masked = counted  # type: ignore[assignment]  # the pipeline's calls, to count their steps
    import codefusion.model.pipeline as pipeline

    pipeline.sample_masked = counted  # type: ignore[assignment]
    writers: dict[bool, Writer] = {}
    reference: dict[str, list[list[float]]] = {}
    for setting in settings:
        setting = dict(setting)
        int8 = bool(setting.pop("int8", False))
        if int8 not in writers:
            writers[int8] = Writer(args.model, args.examples, int8)
        writer = writers[int8]
        base = pipeline.MaskedSampling.load(args.model)
        writer.pipe.masked_sampling = dataclasses.replace(base, **setting)
        for lang in args.langs:
            pairs = subsample(load_pairs(lang, "dev")[0], args.limit, 0)
            scorer = language_metrics(lang)[METRIC[lang]]
            writer.write(pairs[0].prompt, lang, args.k)  # warm-up
            steps_ran.clear()
            per_prompt, times = [], []
            for pair in pairs:
                served, ms = writer.write(pair.prompt, lang, args.k)
                per_prompt.append([scorer(c, pair) for c in served])
                times.append(ms)
            record: dict[str, Any] = {
                "model": str(args.model), "edits": writer.seeds is not None, "lang": lang, "metric": METRIC[lang],
                "prompts": len(pairs), "k": args.k, "int8": int8,
                "sampler": dataclasses.asdict(writer.pipe.masked_sampling),
                "top1": round(m.top_k(per_prompt, 1), 2), f"top{args.k}": round(m.top_k(per_prompt, args.k), 2),
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(sorted(times)[int(0.95 * (len(times) - 1))], 1),
                "mean_steps_per_call": round(statistics.fmean(steps_ran), 2) if steps_ran else None,
                "sampler_calls_per_prompt": round(len(steps_ran) / len(pairs), 2),
            }
            if lang not in reference:
                reference[lang] = per_prompt
                record["reference_top1_interval"] = interval([top(s, 1) for s in per_prompt])
                record[f"reference_top{args.k}_interval"] = interval([top(s, args.k) for s in per_prompt])
            else:
                ref = reference[lang]
                for n in (1, args.k):
                    diffs = [top(a, n) - top(b, n) for a, b in zip(per_prompt, ref, strict=True)]
                    record[f"top{n}_minus_reference_interval"] = interval(diffs)
            print(json.dumps(record), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--limit", type=int, default=100, help="dev prompts per language")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--langs", nargs="+", default=["python", "bash"])
    parser.add_argument("--examples", type=Path, default=REPO / "models" / "codefusion",
                        help="a folder with seeding.json: the examples an edit model edits")
    parser.add_argument("--setting", action="append", help="MaskedSampling overrides as JSON (repeatable)")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
