"""Score model folders alone (no examples, no retrieval) on a fixed dev subsample: the kernels' bake-off and
the learning curve. For each folder and language: k candidates per prompt, ranked by the model's score,
those that do not parse dropped and duplicates removed (as the engine serves them), then top-1/3/5 of
Python BLEU-4 (best in k), Bash template match, CF execution match; the share of raw samples that parse;
and `distinct`, the candidates served per prompt (of k; the rest did not parse or were duplicates).

    python scripts/bakeoff.py runs/bakeoff-masked/snapshots/step-1000 runs/bakeoff-gaussian/snapshots/step-1000
    (appends one JSON line per folder and language to docs/experiments/learning_curve.jsonl, or --out)

Or turn `codefusion eval` results of the model alone (larger samples: the whole Python split, 400 Bash
prompts) into rows of the same file, naming the run and step they measure (an AR baseline's result is its
`ar` row):

    python scripts/bakeoff.py --from-eval alone-py.json alone-bash.json --run masked-from-arship-anneal --step 11000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from pathlib import Path

import torch
from codefusion.model.evaluation.metrics import cf_execution_match, sentence_bleu, template_match, top_k
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.training.data import load_pairs
from codefusion.model.validate import normalize, validate
from codefusion.server.cli.report import PRIMARY

LIMITS = {"python": 100, "bash": 100, "cf": 66}


def score(lang: str, candidate: str, pair) -> float:
    if lang == "python":
        return sentence_bleu(candidate, pair.code)  # already 0-100
    if lang == "bash":
        return 100.0 * template_match(candidate, pair.code)
    return 100.0 * cf_execution_match(candidate, pair.code, pair.data)


def served(lang: str, samples) -> list[str]:
    """The engine's filtering: by score, parsing only, no duplicates."""
    out, seen = [], set()
    for s in sorted(samples, key=lambda s: -s.score):
        key = normalize(lang, s.text)
        if s.text.strip() and key not in seen and validate(lang, s.text):
            seen.add(key)
            out.append(s.text)
    return out


def evaluate(model_dir: Path, lang: str, k: int, seed: int, steps: int | None, sampler: dict,
             limit: int | None = None) -> dict:
    pipe = CodeFusionPipeline.from_dir(model_dir, device="cpu")
    if sampler:
        pipe.masked_sampling = dataclasses.replace(pipe.masked_sampling, **sampler)
    pairs = load_pairs(lang, "dev")[0]
    pairs = random.Random(seed).sample(pairs, min(LIMITS[lang], len(pairs)))[:limit]
    t0 = time.time()
    scores, raw_ok, raw_n = [], 0, 0
    for i in range(0, len(pairs), 8):
        chunk = pairs[i: i + 8]
        batches = pipe.sample([p.prompt for p in chunk], lang, k=k, seed=seed, steps=steps)
        for pair, samples in zip(chunk, batches, strict=True):
            raw_n += len(samples)
            raw_ok += sum(validate(lang, s.text) for s in samples)
            scores.append([score(lang, c, pair) for c in served(lang, samples)])
    meta_path = model_dir / "training.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    row = {"model": str(model_dir), "kind": pipe.kind, "step": meta.get("step"), "lang": lang, "n": len(pairs),
           **{f"top{j}": round(top_k(scores, j), 1) for j in (1, 3, 5)},
           "raw_parse": round(100 * raw_ok / max(raw_n, 1), 1),
           "distinct": round(sum(map(len, scores)) / max(len(scores), 1), 2),  # served candidates per prompt
           "s_per_prompt": round((time.time() - t0) / len(pairs), 3)}
    if pipe.kind == "masked":
        row["sampler"] = dataclasses.asdict(pipe.masked_sampling)
        st = pipe.repair_stats
        row["parse_before_repair"] = round(100 * st["parsed_raw"] / max(st["sampled"], 1), 1)
        row["parse_after_repair"] = round(100 * st["parsed_repaired"] / max(st["sampled"], 1), 1)
    return row


def row_from_eval(result: dict, run: str | None, step: int | None, kind: str = "masked") -> dict:
    """A learning-curve row from a `codefusion eval` result (`--system diffusion` or an AR system)."""
    lang, system = result["lang"], result["system"]
    if system != "diffusion" and not system.startswith("ar"):
        raise SystemExit(f"{system!r} is not the model alone (diffusion or an AR system)")
    if system == "diffusion" and (run is None or step is None):
        raise SystemExit("a diffusion result needs --run and --step (its folder does not say which snapshot it was)")
    metric = result["metrics"][PRIMARY[lang]]
    model = f"runs/{run}/snapshots/step-{step}" if system == "diffusion" else result["model"]
    if Path(model).is_absolute() and Path(model).is_relative_to(Path.cwd()):
        model = str(Path(model).relative_to(Path.cwd()))
    return {"model": model, "kind": kind if system == "diffusion" else "ar", "step": step, "lang": lang,
            "n": result["prompts"], **{f"top{j}": metric[f"top{j}"] for j in (1, 3, 5)},
            "raw_parse": result["validity_raw"], "distinct": result["served_per_prompt"],
            "s_per_prompt": round(result["ms_per_prompt"] / 1000, 3), "subsample_seed": result["subsample_seed"],
            "source": "codefusion eval", **({"sampler": result["sampler"]} if "sampler" in result else {})}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="*", type=Path)
    p.add_argument("--from-eval", nargs="+", type=Path, default=[],
                   help="`codefusion eval` result files to turn into rows instead of scoring folders")
    p.add_argument("--run", help="with --from-eval: the training run the results measure")
    p.add_argument("--step", type=int, help="with --from-eval: the run's step they measure")
    p.add_argument("--kind", default="masked", choices=["masked", "diffusion"],
                   help="with --from-eval: the run's kernel (diffusion: the Gaussian one)")
    p.add_argument("--langs", default="python,bash,cf")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: each model's own)")
    p.add_argument("--sampler", type=json.loads, default={},
                   help='masked kernel: JSON of sampler settings to override, e.g. \'{"steps": 24}\'')
    p.add_argument("--limit", type=int, default=None, help="only the first N prompts of each subsample (quick sweeps)")
    p.add_argument("--out", type=Path, default=Path("docs/experiments/learning_curve.jsonl"))
    args = p.parse_args()
    if bool(args.models) == bool(args.from_eval):
        p.error("give model folders to score, or --from-eval result files, not both")
    for path in args.from_eval:
        emit(row_from_eval(json.loads(path.read_text()), args.run, args.step, args.kind), args.out)
    torch.set_num_threads(1)
    for model_dir in args.models:
        for lang in args.langs.split(","):
            emit(evaluate(model_dir, lang, args.k, args.seed, args.steps, args.sampler, args.limit), args.out)


def emit(row: dict, out: Path) -> None:
    """Print a row and append it to the learning curve file."""
    print(json.dumps(row), flush=True)
    with out.open("a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
