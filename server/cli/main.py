"""The `codefusion` command: one subcommand per module, each registering its own parser."""

from __future__ import annotations

import argparse
import importlib
import sys

# (subcommand, module, help). Each module defines `add_arguments(parser)` and `run(args) -> int`.
SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("generate", "codefusion.server.cli.generate", "generate code for prompts in a JSONL file"),
    ("train", "codefusion.model.training.cli", "pretrain or fine-tune a model"),
    ("eval", "codefusion.server.cli.eval", "evaluate a model or baseline on the dev split"),
    ("bench", "codefusion.server.cli.bench", "print latency and memory figures"),
    ("cf", "codefusion.server.cli.cf", "Excel conditional formatting: suggest and apply rules"),
    ("doctor", "codefusion.server.cli.doctor", "check the installation"),
    ("serve", "codefusion.server.lsp.fast_start", "run the language server (stdio or --tcp)"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codefusion", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module, help_text in SUBCOMMANDS:
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(_module=module)
        try:
            importlib.import_module(module).add_arguments(p)
        except ModuleNotFoundError as exc:  # a part not installed yet must not break the others
            p.set_defaults(_missing=str(exc))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "_missing", None):
        print(f"codefusion {args.command}: unavailable ({args._missing})", file=sys.stderr)
        return 2
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
