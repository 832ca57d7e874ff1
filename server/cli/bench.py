"""`codefusion bench` (`make bench`): latency and memory figures, printed and written as JSON + markdown.

In-process p50/p95 of the samplers for 1 and 5 candidates at 16/32/64 tokens — the Gaussian kernel's
(CF; also at steps 5/10/20/50) and the masked kernel's (Python and Bash; its default steps and syntax
repair, as served) — fp32 and int8 (dynamic quantisation of the linear layers, CPU only), the same-size
AR baseline (sampling and beam search) in the same run as ratios, the engine as the server calls it, and
the real language server (`lsp_bench`, default options, invoked completions): p50/p95, process start →
`initialize` answer, → first items, → everything loaded, RSS.
A benchmark, not a test: every figure that cannot be taken is recorded as an error and the run goes on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

from .bench_measure import (
    AR_METHODS,
    agreement,
    engine_row,
    load,
    lsp_row,
    machine,
    optimisation_rows,
    ratios,
    recorded,
    rss_mb,
    sampler_row,
    throughput,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "docs" / "bench.json"
# Shipped models first; while they train, the run folders' periodic exports (same architecture).
DIFFUSION_DIRS = ("models/codefusion", "runs/diffusion/finetune/model", "runs/diffusion/pretrain/model")
MASKED_DIRS = ("models/codefusion-masked",)
BASELINE_DIRS = ("models/ar-baseline", "runs/ar/finetune/model", "runs/ar/pretrain/model")


class Plan:
    """What to measure: the full grid, or a short one (`--quick`)."""

    def __init__(self, quick: bool, repeats: int | None, requests: int | None):
        self.quick = quick
        self.repeats = repeats or (2 if quick else 10)
        self.requests = requests or (2 if quick else 20)
        self.ks = (1, 5)
        self.tokens = (16,) if quick else (16, 32, 64)
        self.steps = (5, 10) if quick else (5, 10, 20, 50)
        self.headline_tokens = self.tokens[-1]
        self.lsp_runs = (("fp32", 5),) if quick else (("fp32", 5), ("fp32", 1), ("int8", 5))


# --- helpers ----------------------------------------------------------------------------------------


def first_model_dir(candidates: tuple[str, ...]) -> Path | None:
    for rel in candidates:
        path = REPO / rel
        if (path / "model.safetensors").is_file():
            return path
    return None


def _engine_candidates(row: dict[str, Any]) -> str:
    if not row.get("seeded"):
        return "model alone"
    return "seeded from examples" + (", examples rescored by the model" if row.get("rescored") else "")


# --- the run ------------------------------------------------------------------------------------------


def bench(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from codefusion.model.pipeline import DEFAULT_STEPS

    plan = Plan(args.quick, args.repeats, args.requests)
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    precisions = ("fp32", "int8") if device == "cpu" else ("fp16",)
    model_dir = Path(args.model) if args.model else first_model_dir(DIFFUSION_DIRS)
    baseline_dir = Path(args.baseline_model) if args.baseline_model else first_model_dir(BASELINE_DIRS)
    masked_dir = Path(args.masked_model) if args.masked_model else first_model_dir(MASKED_DIRS)
    errors: list[str] = []
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(device),
        "models": {"diffusion": str(model_dir) if model_dir else None,
                   "masked": str(masked_dir) if masked_dir else None,
                   "baseline": str(baseline_dir) if baseline_dir else None},
        "plan": {"quick": plan.quick, "repeats": plan.repeats, "lsp_requests": plan.requests,
                 "default_steps": DEFAULT_STEPS},
        "load": [], "in_process": [], "engine": [], "lsp": [], "errors": errors,
    }
    say = print
    say(f"codefusion bench {result['date']} · {result['machine']['cpu']} · nproc {result['machine']['nproc']} · "
        f"torch {result['machine']['torch']} · {device}")
    if model_dir is None:
        errors.append("no diffusion model found (looked in " + ", ".join(DIFFUSION_DIRS) + ")")
        say(errors[-1])
        return result
    pipes: dict[tuple[str, str], Any] = {}
    for label, path in (("diffusion", model_dir), ("masked", masked_dir), ("baseline", baseline_dir)):
        for precision in precisions:
            if path is None:
                continue
            with recorded(errors, f"load {label} {precision}"):
                pipes[label, precision], seconds = load(path, device, precision)
                result["load"].append({"model": label, "precision": precision, "seconds": seconds})
                say(f"load {label} {precision}: {seconds:.2f} s")
    result["rss_mb_after_loading_all"] = rss_mb()
    rows = result["in_process"]

    def add(label: str, precision: str, **kw: Any) -> None:
        pipe = pipes.get((label, precision))
        if pipe is None:
            return
        with recorded(errors, f"{kw['method']} {precision} k={kw['k']} tokens={kw['tokens']} steps={kw['steps']}"):
            row = sampler_row(pipe, precision=precision, repeats=plan.repeats, **kw)
            rows.append(row)
            steps = f"{row['steps']:>2} steps" if row["steps"] else "        "
            say(f"{row['method']:>9} {precision} k={row['k']} {row['tokens']:>2} tok (L={row['length']}) {steps}: "
                f"p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  cpu {row['cpu_ms']:7.1f} ms")

    kernel_steps = {"diffusion": DEFAULT_STEPS}
    masked_pipe = next((pipes[key] for key in pipes if key[0] == "masked"), None)
    if masked_pipe is not None:
        kernel_steps["masked"] = masked_pipe.masked_sampling.steps
        result["plan"]["masked_steps"] = kernel_steps["masked"]
        result["plan"]["masked_repair_rounds"] = masked_pipe.masked_sampling.repair_rounds
        result["plan"]["masked_sampler"] = masked_pipe.sampler_settings()
    for precision in precisions:
        for k in plan.ks:
            for tokens in plan.tokens:
                for kernel, steps in kernel_steps.items():
                    add(kernel, precision, method=kernel, k=k, tokens=tokens, steps=steps)
                for method in AR_METHODS:
                    add("baseline", precision, method=method, k=k, tokens=tokens, steps=None)
        for steps in plan.steps:
            if steps != DEFAULT_STEPS:
                add("diffusion", precision, method="diffusion", k=5, tokens=plan.headline_tokens, steps=steps)
    result["ratios"] = ratios(rows, kernel_steps)
    for r in result["ratios"]:
        if r["ar_sample_over_diffusion"]:
            say(f"AR/{r['kernel']} {r['precision']} k={r['k']} {r['tokens']} tok: sampling "
                f"{r['ar_sample_over_diffusion']:.2f}×, with KV cache {_ratio(r['ar_sample_kv_over_diffusion'])}, "
                f"beam {_ratio(r['ar_beam_over_diffusion'])}")
    if ("diffusion", precisions[0]) in pipes:
        with recorded(errors, "optimisations"):
            result["optimisations"] = optimisation_rows(
                pipes["diffusion", precisions[0]], k=5, tokens=plan.headline_tokens,
                steps_list=tuple(sorted({DEFAULT_STEPS, 10})), repeats=plan.repeats, precision=precisions[0])
            for r in result["optimisations"]:
                say(f"{r['method']:>9} sampler {r['precision']} k=5 L={r['length']} {r['steps']:>2} steps: "
                    f"p50 {r['p50_ms']:7.1f} ms")
    if ("diffusion", "fp32") in pipes and ("diffusion", "int8") in pipes:
        with recorded(errors, "int8 agreement"):
            result["int8_token_agreement"] = agreement(pipes["diffusion", "fp32"], pipes["diffusion", "int8"], 5,
                                                       plan.headline_tokens, DEFAULT_STEPS)
            say(f"int8 reproduces {100 * result['int8_token_agreement']:.1f}% of fp32's sampled tokens")
    if device.startswith("cuda") and ("diffusion", precisions[0]) in pipes:
        with recorded(errors, "batched throughput"):
            result["throughput"] = throughput(pipes["diffusion", precisions[0]], (1, 4, 16, 64), 5, plan.repeats)
            for r in result["throughput"]:
                say(f"batch of {r['prompts']} prompts × 5: p50 {r['p50_ms']:.1f} ms, {r['tokens_per_s']:.0f} tokens/s")
    pipes.clear()
    from ..engine import Engine

    default_oversample = Engine().oversample
    engine_plan = [(p, default_oversample, True, "python") for p in precisions] + [
        (precisions[0], 1, True, "python"), (precisions[0], default_oversample, False, "python"),
        (precisions[0], default_oversample, True, "cf")]
    for precision, oversample, seeding, lang in engine_plan:
        with recorded(errors, f"engine {lang} {precision} oversample {oversample} seeding {seeding}"):
            row = engine_row(model_dir, device, precision, 5, plan.repeats, oversample, seeding, lang)
            result["engine"].append(row)
            say(f"engine {lang} {precision} k=5 (top-up to ×{row['oversample']}, validated, ranked, "
                f"{_engine_candidates(row)}): "
                f"p50 {row['p50_ms']:.1f} ms  p95 {row['p95_ms']:.1f} ms  topped up {row['top_up_share']:.0%}")
    if not args.no_lsp:
        runs = [("diffusion", model_dir, precision, k) for precision, k in plan.lsp_runs if precision in precisions]
        if baseline_dir is not None and not plan.quick:
            runs.append(("baseline", baseline_dir, precisions[0], 5))
        for label, path, precision, k in runs:
            with recorded(errors, f"lsp {label} {precision} k={k}"):
                row = lsp_row(path, device, precision, k, plan.requests, label)
                result["lsp"].append(row)
                say(f"LSP {label} {precision} k={k}: p50 {row['p50_ms'] or float('nan'):.1f} ms  "
                    f"model wrote {_counted(row)}  ordered {_counted(row, 'model_ranks')}  "
                    f"p95 {row['p95_ms'] or float('nan'):.1f} ms  initialize {row['initialize_ms']:.0f} ms  "
                    f"first items {row.get('first_items_ms') or float('nan'):.0f} ms  "
                    f"ready {row['ready_ms']:.0f} ms  RSS {row['rss_mb'] or float('nan'):.0f} MB")
    result["machine"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    result["headline"] = headline(result, plan.headline_tokens, kernel_steps)
    say("headline: " + json.dumps(result["headline"]))
    return result


def headline(result: dict[str, Any], tokens: int, steps: dict[str, int]) -> dict[str, Any]:
    """The issue's goal figures: 5 candidates of `tokens` tokens, each kernel at its default steps (p50, ms;
    ratios AR ÷ kernel). The Gaussian kernel's keys as before; the masked kernel's prefixed `masked_`."""
    out: dict[str, Any] = {"k": 5, "tokens": tokens, "steps": steps.get("diffusion")}
    if "masked" in steps:
        out["masked_steps"] = steps["masked"]
    for r in result["in_process"]:
        if r["method"] in steps and (r["k"], r["tokens"], r["steps"]) == (5, tokens, steps[r["method"]]):
            prefix = "" if r["method"] == "diffusion" else f"{r['method']}_"
            out[f"{prefix}in_process_{r['precision']}_p50_ms"] = r["p50_ms"]
            out["length"] = r["length"]
    for r in result.get("ratios", []):
        if (r["k"], r["tokens"]) == (5, tokens):
            for method in AR_METHODS:
                key = method.replace("-", "_")
                out[f"ar_{key}_over_{r['kernel']}_{r['precision']}"] = r[f"ar_{key}_over_diffusion"]
    for r in result["lsp"]:
        if r["model"] == "diffusion" and r["k"] == 5:
            out[f"lsp_{r['precision']}_p50_ms"] = r["p50_ms"]
            out.setdefault("initialize_ms", r["initialize_ms"])
            out.setdefault("first_items_ms", r.get("first_items_ms"))
            out.setdefault("ready_ms", r["ready_ms"])
            out.setdefault("rss_mb", r["rss_mb"])
            out.setdefault("lsp_completions", r.get("completions"))
            out.setdefault("lsp_model_runs", r.get("model_runs"))
    return out


# --- markdown -----------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"# Benchmark ({result['date']})",
        "",
        f"Machine: {m['nproc']} CPU cores ({m['cpu']}), torch {m['torch']} ({m['torch_threads']} threads), "
        f"Python {m['python']}, device {m['device']}; load average at start "
        f"{', '.join(f'{x:.1f}' for x in m['load_average'] or [])}.",
        f"Models: diffusion, Gaussian kernel `{result['models']['diffusion']}`, masked kernel "
        f"`{result['models']['masked']}`, AR baseline `{result['models']['baseline']}`. "
        f"{result['plan']['repeats']} timed calls per row after a warm-up; times in ms, one prompt per call.",
        "",
    ]
    rows = result["in_process"]
    if rows:
        lines += ["## In-process sampler", "",
                  "| method | precision | k | tokens (L) | steps | p50 | p95 | CPU |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['method']} | {r['precision']} | {r['k']} | {r['tokens']} ({r['length']}) | "
                  f"{r['steps'] or '–'} | {_ms(r['p50_ms'])} | {_ms(r['p95_ms'])} | {_ms(r['cpu_ms'])} |"
                  for r in rows]
        lines.append("")
    if result.get("ratios"):
        lines += ["## AR baseline time ÷ diffusion time (same run; > 1 means diffusion is faster)", "",
                  "| kernel (steps) | precision | k | tokens | diffusion p50 | AR sampling | AR sampling, KV cache "
                  "| AR beam |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['kernel']} ({r['steps']}) | {r['precision']} | {r['k']} | {r['tokens']} "
                  f"| {_ms(r['diffusion_p50_ms'])} | "
                  f"{_ratio(r['ar_sample_over_diffusion'])} | {_ratio(r['ar_sample_kv_over_diffusion'])} | "
                  f"{_ratio(r['ar_beam_over_diffusion'])} |" for r in result["ratios"]]
        lines.append("")
    if result.get("optimisations"):
        lines += ["## Naive sampler vs ours (prompt encoded once, its cross-attention K/V cached, D+H once)", "",
                  "| sampler | precision | k | L | steps | p50 | p95 |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['method']} | {r['precision']} | {r['k']} | {r['length']} | {r['steps']} | {_ms(r['p50_ms'])} "
                  f"| {_ms(r['p95_ms'])} |" for r in result["optimisations"]]
        lines.append("")
    if "int8_token_agreement" in result:
        lines += [f"int8 reproduces {100 * result['int8_token_agreement']:.1f}% of the fp32 sampled tokens.", ""]
    if result["engine"]:
        lines += ["## Engine (as the server calls it: k samples, topped up to k × oversample when fewer than k "
                  "distinct valid ones; validated, ranked)", "",
                  "| language | precision | k (max ×) | candidates | p50 | p95 | calls topped up |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r.get('lang', 'python')} | {r['precision']} | {r['k']} (×{r['oversample']}) "
                  f"| {_engine_candidates(r)} | {_ms(r['p50_ms'])} "
                  f"| {_ms(r['p95_ms'])} | {r.get('top_up_share', 0) * 100:.0f} % |" for r in result["engine"]]
        lines.append("")
    if result["lsp"]:
        lines += ["## Through the language server (`textDocument/completion`, request → response)", "",
                  "| model | precision | k | p50 | p95 | model wrote | model ordered | initialize | first items "
                  "| all loaded | RSS MB |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['precision']} | {r['k']} | {_ms(r['p50_ms'])} | {_ms(r['p95_ms'])} | "
                  f"{_counted(r)} | {_counted(r, 'model_ranks')} | {_ms(r['initialize_ms'])} | "
                  f"{_ms(r.get('first_items_ms'))} | "
                  f"{_ms(r['ready_ms'])} | {_ms(r['rss_mb'])} |" for r in result["lsp"]]
        lines.append("")
    if result.get("headline"):
        lines += ["Headline (5 candidates, p50 ms; ratios are AR time ÷ diffusion time): `"
                  + json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result["headline"].items()})
                  + "`", ""]
    if result.get("throughput"):
        lines += ["## Batched throughput", "", "| prompts | k | p50 | tokens/s |", "|---|---|---|---|"]
        lines += [f"| {r['prompts']} | {r['k']} | {_ms(r['p50_ms'])} | {r['tokens_per_s']:.0f} |"
                  for r in result["throughput"]]
        lines.append("")
    if result["load"]:
        lines += ["Model load (in-process): " + ", ".join(f"{r['model']} {r['precision']} {r['seconds']:.2f} s"
                                                         for r in result["load"]) + ".", ""]
    if result["errors"]:
        lines += ["## Not measured", ""] + [f"- {e}" for e in result["errors"]] + [""]
    return "\n".join(lines)


def _counted(row: dict[str, Any], key: str = "model_runs") -> str:
    """How many of the completions asked the model wrote (modelRuns; key "model_ranks": in how many it ordered the
    nearest examples, modelRanks), or – where the server does not count."""
    runs = row.get(key)
    return "–" if runs is None else f"{runs} of {row.get('completions')}"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


# --- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="DIR", help="diffusion model folder (default: shipped, else latest run)")
    parser.add_argument("--masked-model", metavar="DIR", help="masked-kernel model folder (default: shipped)")
    parser.add_argument("--baseline-model", metavar="DIR", help="AR baseline folder (default: shipped, else run)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    parser.add_argument("--quick", action="store_true", help="a short version: fewer sizes, calls and requests")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per in-process row")
    parser.add_argument("--requests", type=int, default=None, help="completion requests per server run")
    parser.add_argument("--no-lsp", action="store_true", help="skip the runs through the language server")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output (default docs/bench.json)")
    parser.add_argument("--markdown", type=Path, default=None, help="markdown summary (default: beside --out)")


def run(args: argparse.Namespace) -> int:
    result = bench(args)
    out: Path = args.out
    md = args.markdown or out.with_suffix(".md")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        md.parent.mkdir(parents=True, exist_ok=True)
        md.write_text(markdown(result))
        print(f"wrote {out} and {md}")
    except OSError as exc:
        print(f"codefusion bench: could not write results: {exc}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codefusion bench", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
