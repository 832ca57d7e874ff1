"""The CF rule tree and its canonical printer.

A rule is a small immutable tree. Cell-level rules (comparisons, text tests, blanks, errors and the
AND/OR/NOT combinators over them) decide each cell on its own; range-level rules (top/bottom, average,
duplicates, colour scales...) need the whole range and may only stand at the top of a rule.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class CompareOp(enum.Enum):
    GREATER = "GreaterThan"
    LESS = "LessThan"
    GREATER_EQUAL = "GreaterThanEqual"
    LESS_EQUAL = "LessThanEqual"
    EQUAL = "Equals"
    NOT_EQUAL = "NotEquals"


class TextOp(enum.Enum):
    CONTAINS = "TextContains"
    EQUALS = "TextEquals"
    STARTS_WITH = "TextStartsWith"
    ENDS_WITH = "TextEndsWith"


class CellState(enum.Enum):
    BLANKS = "Blanks"
    ERRORS = "Errors"


class Visual(enum.Enum):
    COLOR_SCALE = "ColorScale"
    DATA_BAR = "DataBar"
    ICON_SET = "IconSet"


@dataclass(frozen=True)
class Compare:
    op: CompareOp
    value: float


@dataclass(frozen=True)
class Between:
    low: float  # as written; evaluation and Excel treat the bounds in either order
    high: float


@dataclass(frozen=True)
class TextTest:
    op: TextOp
    text: str


@dataclass(frozen=True)
class State:
    kind: CellState


@dataclass(frozen=True)
class Rank:
    count: float  # a whole number of cells, or a percentage when `percent`
    percent: bool = False
    bottom: bool = False


@dataclass(frozen=True)
class Average:
    above: bool


@dataclass(frozen=True)
class Uniqueness:
    duplicate: bool  # True: Duplicate(), False: Unique()


@dataclass(frozen=True)
class Scale:
    kind: Visual


@dataclass(frozen=True)
class And:
    items: tuple[Rule, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Rule, ...]


@dataclass(frozen=True)
class Not:
    item: Rule


Rule = Compare | Between | TextTest | State | Rank | Average | Uniqueness | Scale | And | Or | Not
CELL_LEVEL = (Compare, Between, TextTest, State, And, Or, Not)


def is_cell_level(rule: Rule) -> bool:
    """True when the rule decides each cell from that cell alone (so it can be combined)."""
    return isinstance(rule, CELL_LEVEL)


def format_number(x: float) -> str:
    """Shortest text for a number: `437`, not `437.0`; `0.9`; `1e-50`."""
    if math.isfinite(x) and x == int(x) and abs(x) < 1e16:
        return str(int(x))
    return repr(float(x))


def format_text(text: str) -> str:
    """Unquoted when that reads back as the same text (the data's style), else a "quoted" string."""
    from codefusion.model.cf.parser import parse_rule  # printer and parser check each other

    probe = TextTest(TextOp.EQUALS, text)
    try:
        nested = parse_rule(f"NOT(TextEquals({text}))")
        if parse_rule(f"TextEquals({text})") == probe and nested == Not(probe):
            return text
    except ValueError:
        pass
    return '"' + text.replace('"', '""') + '"'


def format_rule(rule: Rule) -> str:
    """The canonical text of a rule; `parse_rule(format_rule(r)) == r` for every rule."""
    if isinstance(rule, Compare):
        return f"{rule.op.value}({format_number(rule.value)})"
    if isinstance(rule, Between):
        return f"Between({format_number(rule.low)}, {format_number(rule.high)})"
    if isinstance(rule, TextTest):
        return f"{rule.op.value}({format_text(rule.text)})"
    if isinstance(rule, State):
        return f"{rule.kind.value}()"
    if isinstance(rule, Rank):
        name = "bottom" if rule.bottom else "top"
        return f"{name}({format_number(rule.count)}{'%' if rule.percent else ''})"
    if isinstance(rule, Average):
        return "aboveAverage()" if rule.above else "belowAverage()"
    if isinstance(rule, Uniqueness):
        return "Duplicate()" if rule.duplicate else "Unique()"
    if isinstance(rule, Scale):
        return f"{rule.kind.value}()"
    if isinstance(rule, And):
        return "AND(" + ",".join(format_rule(r) for r in rule.items) + ")"
    if isinstance(rule, Or):
        return "OR(" + ",".join(format_rule(r) for r in rule.items) + ")"
    if isinstance(rule, Not):
        return f"NOT({format_rule(rule.item)})"
    raise TypeError(f"not a CF rule: {rule!r}")
