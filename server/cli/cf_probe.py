"""`codefusion cf probe`: CF suggestions for prompts typed as users type them, scored on small columns.

Two probes, both written for probing, not taken from the training data, each prompt with the rule it asks
for and a column of cells: `typed` (model/evaluation/cf_phrasing_probe.jsonl, 74 prompts) and `patterns`
(cf_phrasing_probe_patterns.jsonl: rule kinds × phrasing patterns, model/evaluation/cf_probe_patterns.py,
in two halves by phrasing; `--half held-out` measures the phrasings the wording reader was not built on).
Every prompt goes through what a user runs (`cf_service.suggest` on a real workbook with the served
engine, or with no model at all under `--wording-only`), and a candidate is a hit when it highlights the
same cells as the expected rule (execution match, model/evaluation/metrics.py).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROBE = Path(__file__).resolve().parents[2] / "model" / "evaluation" / "cf_phrasing_probe.jsonl"
PROBES = {"typed": PROBE, "patterns": PROBE.with_name("cf_phrasing_probe_patterns.jsonl")}


@dataclass(frozen=True)
class ProbeItem:
    prompt: str
    expected: str
    values: list[Any]
    kind: str = ""  # the rule kind (patterns probe)
    half: str = ""  # "build" or "held-out" (patterns probe)


@dataclass(frozen=True)
class ProbeResult:
    item: ProbeItem
    served: list[str]  # the suggested rules, best first
    rank: int | None  # 1-based rank of the first candidate that highlights the expected cells

    @property
    def top1(self) -> bool:
        return self.rank == 1

    @property
    def top3(self) -> bool:
        return self.rank is not None and self.rank <= 3


def load_probe(path: Path = PROBE) -> list[ProbeItem]:
    """The probe's prompts, expected rules and cell values."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            items.append(ProbeItem(row["prompt"], row["expected"], list(row["values"]), row.get("kind", ""),
                                   row.get("half", "")))
    return items


def no_model(prompt: str, k: int) -> list[tuple[str, float]]:
    """A generator that writes nothing: the suggestions are then the wording reader's alone."""
    return []


def write_column(path: Path, values: list[Any]) -> str:
    """A workbook with a header and `values` below it in column A; returns the range of the values."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["Value"])
    for value in values:
        ws.append([value])
    wb.save(path)
    return f"A2:A{len(values) + 1}"


def score_item(item: ProbeItem, generate: Any, folder: Path, k: int = 3) -> ProbeResult:
    """Suggest rules for one probe prompt on its own workbook; where the expected cells first appear."""
    from codefusion.model.evaluation.metrics import cf_execution_match
    from codefusion.server import cf_service

    book = folder / "probe.xlsx"
    cell_range = write_column(book, item.values)
    result = cf_service.suggest(str(book), None, cell_range, item.prompt, k, generate)
    rows = [[i, v] for i, v in enumerate(item.values)]  # the Data-column form the metric reads
    served = [c.rule for c in result.candidates]
    rank = next((i for i, rule in enumerate(served, 1) if cf_execution_match(rule, item.expected, rows)), None)
    return ProbeResult(item, served, rank)


def run_probe(items: Iterable[ProbeItem], generate: Any, k: int = 3) -> list[ProbeResult]:
    with tempfile.TemporaryDirectory(prefix="cf-probe-") as tmp:
        return [score_item(item, generate, Path(tmp), k) for item in items]


def summary(results: list[ProbeResult], label: str = "CF phrasing probe") -> str:
    n = max(len(results), 1)
    top1 = sum(r.top1 for r in results)
    top3 = sum(r.top3 for r in results)
    return (f"{label} ({len(results)} prompts): top-1 {100 * top1 / n:.1f} % ({top1}), "
            f"top-3 {100 * top3 / n:.1f} % ({top3})")


def by_kind(results: list[ProbeResult]) -> list[str]:
    """One summary line per rule kind, in the probe's order."""
    kinds = list(dict.fromkeys(r.item.kind for r in results if r.item.kind))
    return [summary([r for r in results if r.item.kind == kind], f"  {kind}") for kind in kinds]


def probe_path(name: str) -> Path:
    return PROBES.get(name, Path(name))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--probe", default="typed",
                        help="typed (default), patterns, or a probe JSONL (prompt, expected, values[, kind, half])")
    parser.add_argument("--half", choices=["build", "held-out"], default=None,
                        help="only the prompts of one half (patterns probe; default: all)")
    parser.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    parser.add_argument("--wording-only", action="store_true",
                        help="no model: the suggestions are the wording reader's alone (model/cf/wording.py)")
    parser.add_argument("--misses", action="store_true", help="also list the prompts missed at top-1")


def run(args: argparse.Namespace, generate: Any = None) -> int:
    from .cf import engine_generate

    items = [i for i in load_probe(probe_path(args.probe)) if args.half is None or i.half == args.half]
    if args.wording_only:
        generate = no_model
    results = run_probe(items, generate or engine_generate(args.model))
    if args.misses:
        for r in results:
            if not r.top1:
                print(f"miss@1 {r.item.prompt!r}: expected {r.item.expected}, served {r.served}")
    print("\n".join(by_kind(results)))
    print(summary(results, f"CF phrasing probe {args.probe}" + (f", {args.half} half" if args.half else "")))
    return 0
