"""`codefusion generate`: prompts in a JSONL file → ranked, validated candidates in a JSONL file.

Input lines are `{"id": ..., "prompt": "..."}` (optionally `"names": [...]`, what the user's code around the
prompt names, as the language server passes them); a Python prompt that is a function stub (a `def` line and its
docstring) gets the function's body as the editor serves it at the body line. Output has one line per input,
same order:
`{"id": ..., "candidates": ["...", ...]}` (up to k distinct, best first). It uses the same engine
as the language server, in batches of prompts; progress goes to stderr.

--system picks what answers: served (the default: what the language server serves), examples (the nearest
training examples exactly as they are: no slots, no model), slots (the same with the slot rewrite), alone
(the model with no examples), ar (the AR baseline, beam search).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..engine import BATCH_PROMPTS, LANGS, PIPELINE_METHOD, Engine, EngineNotReady
from .probe import docstring_stub, served_bodies

GENERATE_SYSTEMS = ("served", "examples", "slots", "alone", "ar")


class InputError(ValueError):
    """A malformed input line; the message names the file and line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", required=True, choices=LANGS)
    parser.add_argument("--k", type=int, default=5, help="candidates per prompt (default 5)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=None, help="code length (default: per language)")
    parser.add_argument(
        "--model", metavar="DIR", default=None, help="model folder (default: the shipped model)"
    )
    parser.add_argument("--kernel", choices=["gaussian", "masked"], default=None,
                        help="the shipped model of this noise process (default: the served one, models/codefusion)")
    parser.add_argument("--baseline", choices=["ar", "ar-beam"], default=None,
                        help="use the shipped AR baseline (temperature/top-p samples, or beam search) instead")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--no-seeding", action="store_true",
                        help="sample from pure noise only (default: start from the nearest training examples "
                             "for the languages the model folder's seeding.json lists)")
    parser.add_argument("--system", choices=GENERATE_SYSTEMS, default="served",
                        help="what answers: served (default), examples (nearest examples as they are), slots "
                             "(examples + slot rewrite), alone (the model, no examples), ar (AR baseline, beam)")
    parser.add_argument("--batch-size", type=int, default=BATCH_PROMPTS, help="prompts per sampler batch")
    parser.add_argument("--input", required=True, type=Path, help="JSONL with {id, prompt} per line")
    parser.add_argument("--output", required=True, type=Path, help="JSONL to write {id, candidates} to")


def read_prompts(path: Path) -> list[tuple[Any, str]]:
    """(id, prompt) per non-blank line; raises InputError naming the first bad line."""
    return [(row_id, prompt) for row_id, prompt, _ in read_rows(path)]


def read_rows(path: Path) -> list[tuple[Any, str, tuple[str, ...]]]:
    """(id, prompt, names) per non-blank line; raises InputError naming the first bad line."""
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{n}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("prompt"), str):
                raise InputError(
                    f'{path}:{n}: expected {{"id": ..., "prompt": "..."}}, got {line.strip()[:80]}'
                )
            names = row.get("names", [])
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise InputError(f'{path}:{n}: "names" must be a list of strings')
            rows.append((row["id"], row["prompt"], tuple(names)))
    return rows


def run(args: argparse.Namespace) -> int:
    if args.k < 1 or args.batch_size < 1 or (args.steps is not None and args.steps < 1):
        print("codefusion generate: --k, --steps and --batch-size must be positive", file=sys.stderr)
        return 2
    try:
        rows = read_rows(args.input)
    except (OSError, UnicodeDecodeError, InputError) as exc:
        print(f"codefusion generate: {exc}", file=sys.stderr)
        return 2
    if args.system == "ar" and args.baseline is None:
        args.baseline = "ar-beam"
    if args.system == "alone":
        args.no_seeding = True
    if args.system in ("examples", "slots"):
        return write_examples(args, rows)
    method = PIPELINE_METHOD[args.baseline or "diffusion"]
    model_dir = args.model
    if model_dir is None and (args.baseline or args.kernel):
        from codefusion.model.pipeline import shipped_model_dir

        try:
            model_dir = shipped_model_dir("ar" if args.baseline else args.kernel)
        except FileNotFoundError as exc:
            print(f"codefusion generate: {exc}", file=sys.stderr)
            return 2
    engine = Engine(model_dir, device=args.device, seeding=not args.no_seeding)
    try:
        engine.load()
    except EngineNotReady as exc:
        print(
            f"codefusion generate: cannot load the model: {exc}\n  run `codefusion doctor`", file=sys.stderr
        )
        return 1
    from tqdm import tqdm

    start = time.perf_counter()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with (
        args.output.open("w", encoding="utf-8") as out,
        tqdm(total=len(rows), file=sys.stderr, unit="prompt") as bar,
    ):
        for i in range(0, len(rows), args.batch_size):
            batch = rows[i : i + args.batch_size]
            stubs = [docstring_stub(p) if args.lang == "python" else None for _, p, _ in batch]
            plain = [row for row, stub in zip(batch, stubs, strict=True) if stub is None]
            answers = iter(engine.generate_batch(
                [p for _, p, _ in plain],
                args.lang,
                k=args.k,
                steps=args.steps,
                seed=args.seed,
                max_tokens=args.max_tokens,
                method=method,
                names=[names for _, _, names in plain],
            ) if plain else [])
            settings = {"steps": args.steps, "seed": args.seed, "max_tokens": args.max_tokens, "method": method}
            results = [next(answers) if stub is None else served_bodies(engine, stub, args.k, **settings)
                       for stub in stubs]
            for (row_id, _, _), candidates in zip(batch, results, strict=True):
                out.write(json.dumps({"id": row_id, "candidates": [c.text for c in candidates]}) + "\n")
            out.flush()
            bar.update(len(batch))
    took = time.perf_counter() - start
    print(
        f"{len(rows)} prompts → {args.output} in {took:.1f}s on {engine.status()['device']}", file=sys.stderr
    )
    return 0


def write_examples(args: argparse.Namespace, rows: list[tuple[Any, str, tuple[str, ...]]]) -> int:
    """--system examples / slots: the served model folder's nearest examples, ranked as served, no model. A
    Python function stub is looked up by its docstring, as served; with slots its examples become bodies as
    the editor's are (ranking.function_bodies), as they are without."""
    from codefusion.model.sample import Sample

    from ..engine import default_model_dir
    from ..ranking import function_bodies, rank_candidates
    from .eval_runs import example_finder

    try:
        find = example_finder(Path(args.model) if args.model else default_model_dir(), args.lang, args.k * 2,
                              args.system == "slots")
    except EngineNotReady as exc:
        print(f"codefusion generate: {exc}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8") as out:
        for row_id, prompt, _ in rows:
            stub = docstring_stub(prompt) if args.lang == "python" else None
            found = [Sample(r.code, r.score, []) for r in find(stub.text if stub else prompt, docstring=bool(stub))]
            ranked = rank_candidates(args.lang, found, len(found))
            if stub is not None and args.system == "slots":
                ranked = function_bodies(ranked, stub.text, stub.names, stub.params)
            candidates = [c.text for c in ranked[:args.k]]
            out.write(json.dumps({"id": row_id, "candidates": candidates}) + "\n")
    print(f"{len(rows)} prompts → {args.output} ({args.system})", file=sys.stderr)
    return 0
