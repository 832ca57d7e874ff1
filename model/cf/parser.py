"""Parser for the CF rule language: `GreaterThan(437)`, `top(10%)`, `AND(NOT(Blanks()),TextContains(FB))`.

Text arguments are usually unquoted and may hold commas, quotes and parentheses of their own
(`TextContains(RT (Retaken))`, `TextEquals(Higher, but not sig)`), so the parser backtracks over where
a text argument ends: first the shortest properly nested choice, then any other `)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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
    Visual,
    is_cell_level,
)

Span = tuple[int, int]


class CFSyntaxError(ValueError):
    """A rule text that is not in the CF rule language; the message says where and why, `position` is the
    character offset of the failure (-1 when the whole text is at fault)."""

    def __init__(self, message: str, position: int = -1):
        super().__init__(message)
        self.position = position


_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_ONE_NUMBER = re.compile(rf"\s*({_NUMBER})\s*\)")
_TWO_NUMBERS = re.compile(rf"\s*({_NUMBER})\s*[,;]\s*({_NUMBER})\s*\)")
_RANK_ARG = re.compile(rf"\s*({_NUMBER})\s*(%?)\s*\)")
_NO_ARGS = re.compile(r"\s*\)")
_QUOTED = re.compile(r'\s*"((?:[^"]|"")*)"\s*\)')
_SEPARATOR = re.compile(r"\s*([,)])")
_CELL_REF = re.compile(r"\s*\$?[A-Za-z]{1,3}\$?\d+\s*$")
_MAX_STEPS = 20_000  # backtracking budget; real rules need a few dozen steps

# lower-case name -> (kind, payload). Names are case-insensitive; a few spellings are aliases.
_NAMES: dict[str, tuple[str, object]] = {
    "greaterthan": ("compare", CompareOp.GREATER),
    "lessthan": ("compare", CompareOp.LESS),
    "greaterthanequal": ("compare", CompareOp.GREATER_EQUAL),
    "greaterthanorequal": ("compare", CompareOp.GREATER_EQUAL),
    "lessthanequal": ("compare", CompareOp.LESS_EQUAL),
    "lessthanorequal": ("compare", CompareOp.LESS_EQUAL),
    "equals": ("compare", CompareOp.EQUAL),
    "equal": ("compare", CompareOp.EQUAL),
    "notequals": ("compare", CompareOp.NOT_EQUAL),
    "notequal": ("compare", CompareOp.NOT_EQUAL),
    "between": ("between", None),
    "textcontains": ("text", TextOp.CONTAINS),
    "textequals": ("text", TextOp.EQUALS),
    "textstartswith": ("text", TextOp.STARTS_WITH),
    "textbeginswith": ("text", TextOp.STARTS_WITH),
    "textendswith": ("text", TextOp.ENDS_WITH),
    "top": ("rank", (False, False)),
    "bottom": ("rank", (True, False)),
    "toppercent": ("rank", (False, True)),
    "bottompercent": ("rank", (True, True)),
    "aboveaverage": ("fixed", Average(above=True)),
    "belowaverage": ("fixed", Average(above=False)),
    "duplicate": ("fixed", Uniqueness(duplicate=True)),
    "duplicates": ("fixed", Uniqueness(duplicate=True)),
    "unique": ("fixed", Uniqueness(duplicate=False)),
    "blanks": ("fixed", State(CellState.BLANKS)),
    "errors": ("fixed", State(CellState.ERRORS)),
    "colorscale": ("fixed", Scale(Visual.COLOR_SCALE)),
    "databar": ("fixed", Scale(Visual.DATA_BAR)),
    "iconset": ("fixed", Scale(Visual.ICON_SET)),
    "and": ("and", None),
    "or": ("or", None),
    "not": ("not", None),
}
RULE_NAMES: frozenset[str] = frozenset(_NAMES)


def _nested(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


class _Parser:
    """Backtracking recursive descent; every `_call` yields each way a rule can be read from `pos`."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.steps = 0
        self.error: tuple[int, str] = (-1, "")

    def fail(self, pos: int, message: str) -> None:
        if pos >= self.error[0]:  # the furthest failure is the most useful one to report
            self.error = (pos, message)

    def call(self, pos: int) -> Iterator[tuple[Rule, int, list[Span]]]:
        self.steps += 1
        if self.steps > _MAX_STEPS:
            raise CFSyntaxError("rule too ambiguous to parse (quote its text arguments)")
        m = _NAME.match(self.s, pos)
        if not m:
            self.fail(pos, "expected a rule such as GreaterThan(500) or TextContains(x)")
            return
        name, start = m.group(1), m.end()
        spec = _NAMES.get(name.lower())
        if spec is None:
            self.fail(m.start(1), f"unknown rule name {name!r}")
            return
        kind, payload = spec
        span = [(m.start(1), m.end(1))]
        if kind == "fixed":
            close = _NO_ARGS.match(self.s, start)
            if close:
                yield payload, close.end(), span  # type: ignore[misc]
            else:
                self.fail(start, f"{name}() takes no arguments")
        elif kind == "compare":
            num = _ONE_NUMBER.match(self.s, start)
            if num:
                yield Compare(payload, float(num.group(1))), num.end(), span  # type: ignore[arg-type]
            else:
                self.fail_number(name, start)
        elif kind == "between":
            nums = _TWO_NUMBERS.match(self.s, start)
            if nums:
                yield Between(float(nums.group(1)), float(nums.group(2))), nums.end(), span
            else:
                self.fail(start, f"{name} needs two numbers, e.g. Between(400, 800)")
        elif kind == "rank":
            yield from self.rank(name, start, payload, span)  # type: ignore[arg-type]
        elif kind == "text":
            for text, end in self.text_args(start):
                yield TextTest(payload, text), end, span  # type: ignore[arg-type]
        else:
            for items, end, spans in self.items(start, []):
                bad = [r for r in items if not is_cell_level(r)]
                if bad:
                    self.fail(start, f"{name}() only combines cell rules (comparisons, text, Blanks, Errors)")
                elif kind == "not" and len(items) != 1:
                    self.fail(start, "NOT() takes exactly one rule")
                elif kind == "not":
                    yield Not(items[0]), end, span + spans
                else:
                    yield (And if kind == "and" else Or)(tuple(items)), end, span + spans

    def fail_number(self, name: str, pos: int) -> None:
        close = self.s.find(")", pos)
        arg = self.s[pos : close if close >= 0 else len(self.s)]
        if _CELL_REF.match(arg):
            self.fail(pos, f"{name}({arg.strip()}): cell references are not supported, give a number")
        else:
            self.fail(pos, f"{name} needs a number, got {arg.strip()!r}")

    def rank(self, name: str, pos: int, payload: tuple[bool, bool], span: list[Span]):
        m = _RANK_ARG.match(self.s, pos)
        if not m:
            self.fail(pos, f"{name} needs a count or a percentage, e.g. {name}(10) or {name}(10%)")
            return
        bottom, percent = payload
        count, percent = float(m.group(1)), percent or bool(m.group(2))
        if percent and not 0 < count <= 100:
            self.fail(pos, f"{name}: a percentage must be in 1..100, got {m.group(1)}")
        elif not percent and (count != int(count) or not 1 <= count <= 1000):
            self.fail(pos, f"{name}: the count must be a whole number in 1..1000, got {m.group(1)}")
        else:
            yield Rank(count=count, percent=percent, bottom=bottom), m.end(), span

    def text_args(self, pos: int) -> Iterator[tuple[str, int]]:
        quoted = _QUOTED.match(self.s, pos)
        if quoted:
            yield quoted.group(1).replace('""', '"'), quoted.end()
        closes = [i for i, ch in enumerate(self.s) if ch == ")" and i >= pos]
        nested = [i for i in closes if _nested(self.s[pos:i])]
        for i in nested + [i for i in closes if i not in nested]:
            text = self.s[pos:i]
            if '"' in text or "\n" in text:
                # unquoted text never holds a quote: that is leaked script code, not a rule
                self.fail(pos, 'text with a double quote must be quoted: TextEquals("say ""hi""")')
                continue
            yield text, i + 1
        if not closes:
            self.fail(len(self.s), "missing ')'")

    def items(self, pos: int, done: list[Rule]) -> Iterator[tuple[list[Rule], int, list[Span]]]:
        for rule, end, spans in self.call(pos):
            sep = _SEPARATOR.match(self.s, end)
            if not sep:
                self.fail(end, "expected ',' or ')'")
            elif sep.group(1) == ")":
                yield done + [rule], sep.end(), spans
            else:
                for items, last, more in self.items(sep.end(), done + [rule]):
                    yield items, last, spans + more


def _parse(text: str) -> tuple[Rule, list[Span]]:
    if not isinstance(text, str) or not text.strip():
        raise CFSyntaxError("empty rule")
    if text.lstrip().startswith("="):
        raise CFSyntaxError("raw Excel formulas are not supported; write a rule such as GreaterThan(500)")
    parser = _Parser(text)
    for rule, end, spans in parser.call(0):
        if not text[end:].strip():
            return rule, spans
        parser.fail(end, f"unexpected text after the rule: {text[end:end + 20]!r}")
    pos, message = parser.error
    raise CFSyntaxError(f"{message} (at column {pos + 1} of {text[:80]!r})", position=pos)


def parse_rule(text: str) -> Rule:
    """Parse a CF rule; raises CFSyntaxError with the position and reason when it is not one."""
    return _parse(text)[0]


def is_valid_rule(text: str) -> bool:
    """True when `text` parses as a CF rule."""
    try:
        _parse(text)
    except CFSyntaxError:
        return False
    return True


def keyword_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the function names (`GreaterThan`, `AND`, `top`...) in a rule, in order.

    Used to mask whole identifiers for continuous-paragraph denoising. Text that does not parse falls
    back to a scan for known names followed by `(`.
    """
    try:
        return sorted(_parse(text)[1])
    except CFSyntaxError:
        return [
            (m.start(1), m.end(1))
            for m in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", text)
            if m.group(1).lower() in RULE_NAMES
        ]
