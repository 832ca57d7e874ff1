"""Which cells a CF rule highlights, with Excel's semantics.

Each cell is first classified as a number, text, blank or error. Comparisons and top/bottom/average look
at numbers only (text, blanks and errors never match); text tests are case-insensitive and see a number
as its general-format text (Excel's `A1&""`); top/bottom keep every cell tied with the last one kept;
errors match nothing but `Errors()`. The formulas written into workbooks (excel.py) follow the same rules,
so a preview shows what Excel will show.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from codefusion.model.cf.parser import parse_rule
from codefusion.model.cf.rules import (
    And,
    Average,
    Between,
    CellState,
    Compare,
    CompareOp,
    Not,
    Or,
    Rank,
    Rule,
    Scale,
    State,
    TextOp,
    TextTest,
    Uniqueness,
)

ERROR_VALUES = frozenset(
    {"#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA"}
)


@dataclass(frozen=True)
class Cell:
    """A cell as Excel sees it: exactly one of number / text is set, or it is blank or an error."""

    number: float | None = None
    text: str | None = None
    error: bool = False

    @property
    def blank(self) -> bool:
        return self.number is None and self.text is None and not self.error

    def as_text(self) -> str:
        """What `A1&""` gives: numbers in general format (15 significant digits), blanks as ''."""
        if self.number is not None:
            return format_general(self.number)
        return self.text or ""


def format_general(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return format(x, ".15g")


def classify(value: Any) -> Cell:
    """Raw cell value (number, str, bool, date, None, '#N/A'...) -> Cell."""
    if value is None:
        return Cell()
    if isinstance(value, bool):
        return Cell(text="TRUE" if value else "FALSE")
    if isinstance(value, int | float):
        return Cell(number=float(value)) if math.isfinite(value) else Cell(error=True)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        from openpyxl.utils.datetime import to_excel

        return Cell(number=float(to_excel(value)))
    if isinstance(value, dt.timedelta):
        return Cell(number=value.total_seconds() / 86400)
    text = str(value)
    if text == "":
        return Cell()
    if text.upper() in ERROR_VALUES:
        return Cell(error=True)
    return Cell(text=text)


def _compare(op: CompareOp, x: float, v: float) -> bool:
    if op is CompareOp.GREATER:
        return x > v
    if op is CompareOp.LESS:
        return x < v
    if op is CompareOp.GREATER_EQUAL:
        return x >= v
    if op is CompareOp.LESS_EQUAL:
        return x <= v
    if op is CompareOp.EQUAL:
        return x == v
    return x != v


def _text_test(op: TextOp, cell_text: str, arg: str) -> bool:
    a, b = cell_text.casefold(), arg.casefold()
    if op is TextOp.CONTAINS:
        return b in a
    if op is TextOp.EQUALS:
        return a == b
    if op is TextOp.STARTS_WITH:
        return a.startswith(b)
    return a.endswith(b)


def matches_cell(rule: Rule, cell: Cell) -> bool:
    """Decide a cell-level rule for one cell."""
    if isinstance(rule, State):
        if rule.kind is CellState.ERRORS:
            return cell.error
        return not cell.error and not cell.as_text().strip()  # Excel: LEN(TRIM(A1))=0
    if isinstance(rule, Compare):
        return cell.number is not None and _compare(rule.op, cell.number, rule.value)
    if isinstance(rule, Between):
        low, high = sorted((rule.low, rule.high))
        return cell.number is not None and low <= cell.number <= high
    if isinstance(rule, TextTest):
        return not cell.error and _text_test(rule.op, cell.as_text(), rule.text)
    if isinstance(rule, And):
        return all(matches_cell(r, cell) for r in rule.items)
    if isinstance(rule, Or):
        return any(matches_cell(r, cell) for r in rule.items)
    if isinstance(rule, Not):
        return not matches_cell(rule.item, cell)
    raise TypeError(f"{type(rule).__name__} needs the whole range")


def rank_threshold(rule: Rank, numbers: list[float]) -> float | None:
    """The value the last kept cell has; cells tied with it are kept too (Excel's top 10 rule)."""
    if not numbers:
        return None
    if rule.percent:
        keep = max(1, math.floor(len(numbers) * rule.count / 100 + 1e-9))
    else:
        keep = int(rule.count)
    ordered = sorted(numbers, reverse=not rule.bottom)
    return ordered[min(keep, len(ordered)) - 1]


def evaluate_cells(rule: Rule, cells: list[Cell]) -> list[bool]:
    """Highlight flags for classified cells (one range, in row-major order)."""
    numbers = [c.number for c in cells if c.number is not None]
    if isinstance(rule, Rank):
        t = rank_threshold(rule, numbers)
        if t is None:
            return [False] * len(cells)
        return [c.number is not None and (c.number <= t if rule.bottom else c.number >= t) for c in cells]
    if isinstance(rule, Average):
        if not numbers:
            return [False] * len(cells)
        mean = sum(numbers) / len(numbers)
        return [c.number is not None and (c.number > mean if rule.above else c.number < mean) for c in cells]
    if isinstance(rule, Uniqueness):
        keys = [_dedupe_key(c) for c in cells]
        counts: dict[tuple[str, Any], int] = {}
        for k in keys:
            if k is not None:
                counts[k] = counts.get(k, 0) + 1
        return [k is not None and (counts[k] > 1) == rule.duplicate for k in keys]
    if isinstance(rule, Scale):
        return [c.number is not None for c in cells]  # colour scales, bars and icons mark every number
    return [matches_cell(rule, c) for c in cells]


def _dedupe_key(cell: Cell) -> tuple[str, Any] | None:
    # Excel compares duplicate text case-insensitively; blanks and errors are never duplicates
    if cell.number is not None:
        return ("n", cell.number)
    if cell.text is not None:
        return ("t", cell.text.casefold())
    return None


def evaluate_rule(rule: Rule | str, values: list[Any]) -> list[bool]:
    """Which of `values` (raw cell values of one range, row-major) the rule highlights."""
    if isinstance(rule, str):
        rule = parse_rule(rule)
    return evaluate_cells(rule, [classify(v) for v in values])
