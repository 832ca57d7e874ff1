"""Excel conditional formatting for the CLI and the language server: suggest rules, apply one.

Pure functions over files; no LSP types. Results are dataclasses of JSON-ready fields
(`dataclasses.asdict` gives the wire form).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from codefusion.model.cf import (
    ApplyResult,
    CFSyntaxError,
    apply_rule_to_workbook,
    format_rule,
    parse_rule,
    preview_block,
    read_range,
)

Generate = Callable[[str, int], list[tuple[str, float]]]  # (prompt, k) -> [(rule text, score)]


@dataclass(frozen=True)
class Candidate:
    rule: str  # canonical rule text
    score: float
    count: int  # cells it highlights
    total: int  # cells in the range
    addresses: list[str]  # first few highlighted cells


@dataclass(frozen=True)
class Suggestions:
    sheet: str
    cell_range: str
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # generated texts that are not valid rules


def suggest(path: str, sheet: str | None, cell_range: str | None, description: str, k: int,
            generate: Generate) -> Suggestions:
    """Up to `k` distinct valid rules for `description`, best score first, each with its preview."""
    block = read_range(path, sheet, cell_range)
    best: dict[str, tuple[float, object]] = {}
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
    ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:k]
    candidates = []
    for _, (score, rule) in ranked:
        p = preview_block(rule, block)  # type: ignore[arg-type]
        candidates.append(Candidate(p.rule, score, p.count, p.total, p.addresses))
    return Suggestions(block.sheet, block.cell_range, candidates, rejected)


def apply(path: str, sheet: str | None, cell_range: str | None, rule: str,
          style: str | dict | None = None) -> ApplyResult:
    """Write `rule` into the workbook safely; raises CFSyntaxError or CFWorkbookError, file unchanged."""
    return apply_rule_to_workbook(path, sheet, cell_range, rule, style)
