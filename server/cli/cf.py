"""`codefusion cf suggest|apply`: Excel conditional formatting from the command line."""

from __future__ import annotations

import argparse
import json
import sys

from codefusion.model.cf import CFSyntaxError, CFWorkbookError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="cf_command", required=True)
    s = sub.add_parser("suggest", help="suggest rules for a description, with the cells each highlights")
    s.add_argument("book", help="the .xlsx/.xlsm workbook")
    s.add_argument("description", help='what to highlight, e.g. "sales above 500"')
    s.add_argument("--k", type=int, default=5, help="number of candidates")
    s.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    a = sub.add_parser("apply", help="write a rule into the workbook (keeps BOOK.bak the first time)")
    a.add_argument("book", help="the .xlsx/.xlsm workbook")
    a.add_argument("--rule", required=True, help="e.g. 'GreaterThan(500)'")
    a.add_argument("--style", default=None, help="fill=#RRGGBB[,font=#RRGGBB] (default light red)")
    probe = sub.add_parser("probe", help="hit rate of the suggestions on the phrasing probe (typed prompts)")
    from . import cf_probe

    cf_probe.add_arguments(probe)
    crossval = sub.add_parser("crossval", help="k-fold cross-validated hit rate over the CF training data "
                                               "(the wording reader + the nearest examples of the other folds)")
    from . import cf_crossval

    cf_crossval.add_arguments(crossval)
    for p in (s, a):
        p.add_argument("--sheet", default=None, help="sheet name (default: the first)")
        p.add_argument("--range", dest="cell_range", default=None,
                       help="cells, e.g. B2:B200 (default: the first used data column)")
        p.add_argument("--json", action="store_true", help="print the result as JSON")


def engine_generate(model_dir: str | None):
    from codefusion.server.engine import Engine  # heavy (torch); only `suggest` needs it

    engine = Engine(model_dir=model_dir)

    def generate(prompt: str, k: int) -> list[tuple[str, float]]:
        # the rules as the model ranks them: suggest ranks them with the wording and the range's cells itself
        return [(c.text, float(c.score)) for c in engine.generate(prompt, "cf", k=k, worded=False)]

    return generate


def _where(count: int, total: int, addresses: list[str]) -> str:
    more = ", ..." if count > len(addresses) else ""
    return f"{count}/{total} cells" + (f": {', '.join(addresses)}{more}" if addresses else "")


def run(args: argparse.Namespace, generate=None) -> int:
    from codefusion.server import cf_service

    if args.cf_command == "probe":
        from . import cf_probe

        return cf_probe.run(args, generate)
    if args.cf_command == "crossval":
        from . import cf_crossval

        return cf_crossval.run(args)
    try:
        if args.cf_command == "suggest":
            result = cf_service.suggest(args.book, args.sheet, args.cell_range, args.description, args.k,
                                        generate or engine_generate(args.model))
            if args.json:
                print(json.dumps(cf_service.wire(result), indent=2))
            elif not result.candidates:
                print(f"no valid rule among {len(result.rejected)} generated", file=sys.stderr)
                return 1
            else:
                print(f"{result.sheet}!{result.cell_range}")
                for i, c in enumerate(result.candidates, 1):
                    where = _where(c.count, c.total, c.addresses)
                    origin = "from the wording" if c.score is None else f"score {c.score:.3f}"
                    print(f"{i}. {c.rule}  ({origin}) highlights {where}")
                    for note in c.notes:
                        print(f"   {note}")
            return 0
        applied = cf_service.apply(args.book, args.sheet, args.cell_range, args.rule, args.style)
        if args.json:
            print(json.dumps(cf_service.wire(applied), indent=2))
        else:
            p = applied.preview
            print(f"wrote {applied.rule} to {applied.sheet}!{applied.cell_range} of {applied.path}; "
                  f"it highlights {_where(p.count, p.total, p.addresses)}")
            if applied.backup:
                print(f"original kept as {applied.backup}")
        return 0
    except (CFSyntaxError, CFWorkbookError) as exc:
        print(f"codefusion cf: {exc}", file=sys.stderr)
        return 1
