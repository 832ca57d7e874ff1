"""`codefusion cf probe`: CF suggestions for prompts typed as users type them, scored on small columns.

The probe (model/evaluation/cf_phrasing_probe.jsonl) holds prompts written for it, not taken from the
training data, each with the rule it asks for and a column of ten cells. Every prompt goes through what
a user runs (`cf_service.suggest` on a real workbook with the served engine), and a candidate is a hit
when it highlights the same cells as the expected rule (execution match, model/evaluation/metrics.py).
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


@dataclass(frozen=True)
class ProbeItem:
    prompt: str
    expected: str
    values: list[Any]


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
            items.append(ProbeItem(row["prompt"], row["expected"], list(row["values"])))
    return items


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


def summary(results: list[ProbeResult]) -> str:
    n = max(len(results), 1)
    top1 = sum(r.top1 for r in results)
    top3 = sum(r.top3 for r in results)
    return (f"CF phrasing probe ({len(results)} prompts): top-1 {100 * top1 / n:.1f} % ({top1}), "
            f"top-3 {100 * top3 / n:.1f} % ({top3})")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--probe", type=Path, default=PROBE, help="probe JSONL (prompt, expected, values)")
    parser.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    parser.add_argument("--misses", action="store_true", help="also list the prompts missed at top-1")


def run(args: argparse.Namespace, generate: Any = None) -> int:
    from .cf import engine_generate

    results = run_probe(load_probe(args.probe), generate or engine_generate(args.model))
    if args.misses:
        for r in results:
            if not r.top1:
                print(f"miss@1 {r.item.prompt!r}: expected {r.item.expected}, served {r.served}")
    print(summary(results))
    return 0
