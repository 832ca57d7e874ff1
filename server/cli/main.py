"""The `codefusion` command: one subcommand per module, each registering its own parser.

Only the chosen subcommand's module is imported, so `codefusion --help` and `--version` answer at once
(no torch); `codefusion SUBCOMMAND --help` imports that one module.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..version import version

# (subcommand, module, help). Each module defines `add_arguments(parser)` and `run(args) -> int`.
SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("complete", "codefusion.server.cli.complete", "candidates for one prompt, printed (or --json)"),
    ("generate", "codefusion.server.cli.generate", "generate code for prompts in a JSONL file"),
    ("train", "codefusion.model.training.cli", "pretrain or fine-tune a model"),
    ("eval", "codefusion.server.cli.eval", "evaluate a model or baseline on the dev split"),
    ("bench", "codefusion.server.cli.bench", "print latency and memory figures"),
    ("probe", "codefusion.server.cli.probe", "docstring stubs completed as the editor does, run against tests"),
    ("cf", "codefusion.server.cli.cf", "Excel conditional formatting: suggest and apply rules"),
    ("doctor", "codefusion.server.cli.doctor", "check the installation"),
    ("serve", "codefusion.server.lsp.fast_start", "run the language server (stdio or --tcp)"),
]


def chosen(argv: Sequence[str]) -> str | None:
    """The subcommand argv names (its first word that is one), else None."""
    names = {name for name, _, _ in SUBCOMMANDS}
    return next((word for word in argv if word in names), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with `argv`, only the subcommand it names gets its arguments (its module imported)."""
    parser = argparse.ArgumentParser(prog="codefusion", description="CodeFusion: code from a comment, offline.")
    parser.add_argument("--version", action="version", version=f"codefusion {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = chosen(argv) if argv is not None else None
    for name, module, help_text in SUBCOMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if argv is not None and name != wanted:
            continue
        try:
            importlib.import_module(module).add_arguments(p)
        except ModuleNotFoundError as exc:  # a part not installed yet must not break the others
            p.set_defaults(_missing=str(exc))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    if getattr(args, "_missing", None):
        print(f"codefusion {args.command}: unavailable ({args._missing})", file=sys.stderr)
        return 2
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
