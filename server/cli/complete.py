"""`codefusion complete`: one prompt in, the ranked candidates out (plain and numbered, or --json).

    codefusion complete --lang python "read a csv file into a list of dicts"
    echo "list files by size" | codefusion complete --lang bash -

The same engine as the language server: nearest training examples adapted to the prompt plus the model's
own candidates (Python, Bash), the model's rules (CF), validated and ranked.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..engine import LANGS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", help="what the code should do, in words; `-` reads it from stdin")
    parser.add_argument("--lang", required=True, choices=LANGS)
    parser.add_argument("--k", type=int, default=5, help="candidates (default 5)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", metavar="DIR", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--json", action="store_true",
                        help='print {"prompt", "lang", "candidates": [{"rank", "text", "score"}]}')


def render(candidates: list[Any]) -> str:
    """Numbered candidates, a blank line between them; a multi-line one is indented under its number."""
    blocks = []
    for n, cand in enumerate(candidates, 1):
        lines = cand.text.splitlines() or [""]
        head = f"{n}. {lines[0]}"
        blocks.append("\n".join([head, *("   " + line for line in lines[1:])]))
    return "\n\n".join(blocks)


def run(args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        print("codefusion complete: the prompt is empty", file=sys.stderr)
        return 2
    if args.k < 1 or (args.steps is not None and args.steps < 1):
        print("codefusion complete: --k and --steps must be positive", file=sys.stderr)
        return 2
    from ..engine import Engine, EngineNotReady, clean_prompt

    engine = Engine(args.model, device=args.device)
    try:
        engine.load()
    except EngineNotReady as exc:
        print(f"codefusion complete: cannot load the model: {exc}\n  run `codefusion doctor`", file=sys.stderr)
        return 1
    from .probe import docstring_stub, served_bodies

    stub = docstring_stub(prompt) if args.lang == "python" else None
    if stub is not None:  # a `def` and its docstring: the body, as the editor serves it at the body line
        candidates = served_bodies(engine, stub, args.k, steps=args.steps, seed=args.seed)
    else:
        candidates = engine.generate(clean_prompt(prompt), args.lang, k=args.k, steps=args.steps, seed=args.seed)
    if args.json:
        rows = [{"rank": n, "text": c.text, "score": round(float(c.score), 4)}
                for n, c in enumerate(candidates, 1)]
        print(json.dumps({"prompt": prompt.strip(), "lang": args.lang, "candidates": rows}, indent=1))
    elif candidates:
        print(render(candidates))
    else:
        print("(no candidate: none of the samples parsed)", file=sys.stderr)
    return 0 if candidates else 1
