"""Excel conditional formatting for the CLI and the language server: suggest rules, apply one.

Pure functions over files; no LSP types. Results are dataclasses; `wire` gives their JSON form with
camelCase names (`cellRange`), the one the language server sends and `--json` prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codefusion.model.cf import (
    ApplyResult,
    CellBlock,
    CFSyntaxError,
    apply_rule_to_workbook,
    format_rule,
    parse_rule,
    preview_block,
    read_range,
)
from codefusion.model.cf.rules import Rule

from .cf_ranking import rank_suggestions

Generate = Callable[[str, int], list[tuple[str, float]]]  # (prompt, k) -> [(rule text, score)]


@dataclass(frozen=True)
class Candidate:
    rule: str  # canonical rule text
    score: float | None  # the model's score; None for a rule read from the prompt's wording alone
    count: int  # cells it highlights
    total: int  # cells in the range
    addresses: list[str]  # first few highlighted cells
    source: str = "model"  # "model" or "wording" (cf_ranking.py)
    notes: list[str] = field(default_factory=list)  # why it ranks where it does


@dataclass(frozen=True)
class Suggestions:
    sheet: str
    cell_range: str
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # generated texts that are not valid rules


def suggest(path: str, sheet: str | None, cell_range: str | None, description: str, k: int,
            generate: Generate) -> Suggestions:
    """Up to `k` distinct valid rules for `description`, ranked (cf_ranking.py), each with its preview."""
    return suggest_block(read_range(path, sheet, cell_range), description, k, generate)


def suggest_block(block: CellBlock, description: str, k: int, generate: Generate) -> Suggestions:
    """`suggest` on cells already read (the cross-validation scores the data's columns this way)."""
    best: dict[str, tuple[float, Rule]] = {}
    rejected = []
    for text, score in generate(description, max(k, 1) * 2):  # over-generate: some are dropped
        try:
            rule = parse_rule(text)
        except CFSyntaxError:
            rejected.append(text)
            continue
        key = format_rule(rule)
        if key not in best or score > best[key][0]:
            best[key] = (float(score), rule)
    candidates = []
    for r in rank_suggestions(best, description, block)[:k]:
        p = preview_block(r.rule, block)
        candidates.append(Candidate(p.rule, r.score, p.count, p.total, p.addresses, r.source, list(r.notes)))
    return Suggestions(block.sheet, block.cell_range, candidates, rejected)


def apply(path: str, sheet: str | None, cell_range: str | None, rule: str,
          style: str | dict | None = None) -> ApplyResult:
    """Write `rule` into the workbook safely; raises CFSyntaxError or CFWorkbookError, file unchanged."""
    return apply_rule_to_workbook(path, sheet, cell_range, rule, style)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def wire(value: Any) -> Any:
    """The JSON form of a CF result: dataclasses as objects with camelCase keys (`cell_range` → `cellRange`)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {_camel(f.name): wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    return value
