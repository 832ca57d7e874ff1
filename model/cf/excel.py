"""CF rules <-> openpyxl conditional-formatting rules.

Range rules map onto Excel's own rule types (top10, aboveAverage, duplicateValues, containsBlanks,
containsErrors, colorScale, dataBar, iconSet). Comparisons, text tests and AND/OR/NOT become formula
(expression) rules whose formulas follow the executor's semantics exactly; a plain "Cell Value > 5" rule
would also highlight text (Excel ranks text above numbers) and treat blanks as 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    format_number,
)
from openpyxl.formatting.rule import ColorScaleRule, DataBarRule, FormulaRule, IconSetRule
from openpyxl.formatting.rule import Rule as XLRule
from openpyxl.styles import Font, PatternFill
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils.cell import get_column_letter, range_boundaries

_OPERATORS = {
    CompareOp.GREATER: ">",
    CompareOp.LESS: "<",
    CompareOp.GREATER_EQUAL: ">=",
    CompareOp.LESS_EQUAL: "<=",
    CompareOp.EQUAL: "=",
    CompareOp.NOT_EQUAL: "<>",
}
_CELL_IS = {  # Excel cellIs operators read back from other people's workbooks
    "greaterThan": CompareOp.GREATER,
    "lessThan": CompareOp.LESS,
    "greaterThanOrEqual": CompareOp.GREATER_EQUAL,
    "lessThanOrEqual": CompareOp.LESS_EQUAL,
    "equal": CompareOp.EQUAL,
    "notEqual": CompareOp.NOT_EQUAL,
}
_HEX = re.compile(r"#?([0-9A-Fa-f]{6})")


@dataclass(frozen=True)
class CFStyle:
    """Highlight colours (RGB hex); the default is Excel's "Light Red Fill with Dark Red Text"."""

    fill: str = "FFC7CE"
    font: str | None = "9C0006"

    def differential(self) -> DifferentialStyle:
        font = Font(color=self.font) if self.font else None
        return DifferentialStyle(fill=PatternFill(bgColor=self.fill, fill_type="solid"), font=font)


def parse_style(style: str | dict | CFStyle | None) -> CFStyle:
    """`"fill=#FFC7CE,font=#9C0006"`, `{"fill": "#C6EFCE"}` or None (default) -> CFStyle."""
    if style is None or isinstance(style, CFStyle):
        return style or CFStyle()
    if isinstance(style, str):
        pairs = [p.split("=", 1) for p in re.split(r"[,;\s]+", style.strip()) if p]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(f"bad style {style!r}: use fill=#RRGGBB[,font=#RRGGBB]")
        style = {k.strip().lower(): v.strip() for k, v in pairs}
    unknown = set(style) - {"fill", "font"}
    if unknown:
        raise ValueError(f"unknown style keys {sorted(unknown)}: use fill and font")
    colours: dict[str, str | None] = {}
    for key, value in style.items():
        m = _HEX.fullmatch(str(value)) if value else None
        if value and not m:
            raise ValueError(f"bad colour {value!r} for {key}: use #RRGGBB")
        colours[key] = m.group(1).upper() if m else None
    base = CFStyle()
    return CFStyle(fill=colours.get("fill") or base.fill, font=colours.get("font", base.font))


def _string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _search_literal(text: str) -> str:
    # SEARCH treats * ? ~ as wildcards; escape them so TextContains(*) means a literal star
    return re.sub(r"([~*?])", r"~\1", text)


def cell_formula(rule: Rule, cell: str) -> str:
    """An Excel formula, relative to the range's top-left `cell`, true where a cell-level rule holds.

    Each leaf guards against error cells with IF (which Excel evaluates lazily) so that AND/OR/NOT never
    see an error value, matching the executor.
    """
    if isinstance(rule, Compare):
        return f"IF(ISNUMBER({cell}),{cell}{_OPERATORS[rule.op]}{format_number(rule.value)},FALSE)"
    if isinstance(rule, Between):
        low, high = sorted((rule.low, rule.high))
        return f"IF(ISNUMBER({cell}),AND({cell}>={format_number(low)},{cell}<={format_number(high)}),FALSE)"
    if isinstance(rule, TextTest):
        s = _string(rule.text)
        body = {
            TextOp.CONTAINS: f"ISNUMBER(SEARCH({_string(_search_literal(rule.text))},{cell}))",
            TextOp.EQUALS: f'{cell}&""={s}',
            TextOp.STARTS_WITH: f"LEFT({cell},LEN({s}))={s}",
            TextOp.ENDS_WITH: f"RIGHT({cell},LEN({s}))={s}",
        }[rule.op]
        return f"IF(ISERROR({cell}),FALSE,{body})"
    if isinstance(rule, State):
        if rule.kind is CellState.ERRORS:
            return f"ISERROR({cell})"
        return f"IF(ISERROR({cell}),FALSE,LEN(TRIM({cell}))=0)"
    if isinstance(rule, And | Or):
        name = "AND" if isinstance(rule, And) else "OR"
        return f"{name}(" + ",".join(cell_formula(r, cell) for r in rule.items) + ")"
    if isinstance(rule, Not):
        return f"NOT({cell_formula(rule.item, cell)})"
    raise TypeError(f"{type(rule).__name__} is not a cell-level rule")


def top_left(cell_range: str) -> str:
    min_col, min_row, _, _ = range_boundaries(cell_range)
    return f"{get_column_letter(min_col or 1)}{min_row or 1}"


def rule_to_openpyxl(rule: Rule, cell_range: str, style: str | dict | CFStyle | None = None) -> XLRule:
    """The openpyxl rule to add with `ws.conditional_formatting.add(cell_range, rule)`."""
    dxf = parse_style(style).differential()
    cell = top_left(cell_range)
    if isinstance(rule, Rank):
        return XLRule(type="top10", rank=int(rule.count), percent=rule.percent or None,
                      bottom=rule.bottom or None, dxf=dxf)
    if isinstance(rule, Average):
        return XLRule(type="aboveAverage", aboveAverage=None if rule.above else False, dxf=dxf)
    if isinstance(rule, Uniqueness):
        return XLRule(type="duplicateValues" if rule.duplicate else "uniqueValues", dxf=dxf)
    if isinstance(rule, State):
        kind = "containsErrors" if rule.kind is CellState.ERRORS else "containsBlanks"
        return XLRule(type=kind, formula=[cell_formula(rule, cell)], dxf=dxf)
    if isinstance(rule, Scale):
        if rule.kind is Visual.COLOR_SCALE:  # Excel's red-yellow-green default
            return ColorScaleRule(start_type="min", start_color="F8696B", mid_type="percentile", mid_value=50,
                                  mid_color="FFEB84", end_type="max", end_color="63BE7B")
        if rule.kind is Visual.DATA_BAR:
            return DataBarRule(start_type="min", end_type="max", color="638EC6")
        return IconSetRule("3TrafficLights1", "percent", [0, 33, 67])
    if isinstance(rule, TextTest) and rule.op is not TextOp.EQUALS:
        kind, operator = {
            TextOp.CONTAINS: ("containsText", "containsText"),
            TextOp.STARTS_WITH: ("beginsWith", "beginsWith"),
            TextOp.ENDS_WITH: ("endsWith", "endsWith"),
        }[rule.op]
        formula = [cell_formula(rule, cell)]
        return XLRule(type=kind, operator=operator, text=rule.text, formula=formula, dxf=dxf)
    return FormulaRule(formula=[cell_formula(rule, cell)], font=dxf.font, fill=dxf.fill)


# ---- reading back --------------------------------------------------------------------------------

_STR = r'"((?:[^"]|"")*)"'
_NUM = r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"


def _unstring(s: str) -> str:
    return s.replace('""', '"')


def _split_args(body: str) -> list[str] | None:
    """Split `a,b,c` at top-level commas (outside parentheses and strings)."""
    args, depth, start, in_str = [], 0, 0, False
    for i, ch in enumerate(body):
        if ch == '"':
            in_str = not in_str
        elif in_str:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "," and depth == 0:
            args.append(body[start:i])
            start = i + 1
    args.append(body[start:])
    return None if depth or in_str else args


def rule_from_formula(formula: str, cell: str) -> Rule | None:
    """Invert `cell_formula`; None for formulas it did not write."""
    f, c = formula.strip().lstrip("="), re.escape(cell)
    m = re.fullmatch(rf"IF\(ISNUMBER\({c}\),{c}(>=|<=|<>|>|<|=){_NUM},FALSE\)", f)
    if m:
        op = {v: k for k, v in _OPERATORS.items()}[m.group(1)]
        return Compare(op, float(m.group(2)))
    m = re.fullmatch(rf"IF\(ISNUMBER\({c}\),AND\({c}>={_NUM},{c}<={_NUM}\),FALSE\)", f)
    if m:
        return Between(float(m.group(1)), float(m.group(2)))
    if f == f"ISERROR({cell})":
        return State(CellState.ERRORS)
    if f == f"IF(ISERROR({cell}),FALSE,LEN(TRIM({cell}))=0)":
        return State(CellState.BLANKS)
    m = re.fullmatch(rf"IF\(ISERROR\({c}\),FALSE,ISNUMBER\(SEARCH\({_STR},{c}\)\)\)", f)
    if m:
        return TextTest(TextOp.CONTAINS, re.sub(r"~([~*?])", r"\1", _unstring(m.group(1))))
    m = re.fullmatch(rf'IF\(ISERROR\({c}\),FALSE,{c}&""={_STR}\)', f)
    if m:
        return TextTest(TextOp.EQUALS, _unstring(m.group(1)))
    m = re.fullmatch(rf"IF\(ISERROR\({c}\),FALSE,(LEFT|RIGHT)\({c},LEN\({_STR}\)\)={_STR}\)", f)
    if m and m.group(2) == m.group(3):
        op = TextOp.STARTS_WITH if m.group(1) == "LEFT" else TextOp.ENDS_WITH
        return TextTest(op, _unstring(m.group(2)))
    m = re.fullmatch(r"(AND|OR|NOT)\((.*)\)", f)
    if m:
        parts = _split_args(m.group(2))
        items = [rule_from_formula(p, cell) for p in parts or []]
        if not parts or any(r is None for r in items):
            return None
        if m.group(1) == "NOT":
            return Not(items[0]) if len(items) == 1 else None  # type: ignore[arg-type]
        return (And if m.group(1) == "AND" else Or)(tuple(items))  # type: ignore[arg-type]
    return None


def rule_from_openpyxl(xl: XLRule, cell_range: str) -> Rule | None:
    """Our rule for an openpyxl rule where the language can say it, else None."""
    cell, formula = top_left(cell_range), list(xl.formula or [])
    kind = xl.type
    if kind == "expression" and len(formula) == 1:
        return rule_from_formula(formula[0], cell)
    if kind == "top10" and xl.rank:
        return Rank(count=float(xl.rank), percent=bool(xl.percent), bottom=bool(xl.bottom))
    if kind == "aboveAverage" and not xl.equalAverage and not xl.stdDev:
        return Average(above=xl.aboveAverage is not False)
    if kind in ("duplicateValues", "uniqueValues"):
        return Uniqueness(duplicate=kind == "duplicateValues")
    if kind in ("containsBlanks", "containsErrors"):
        return State(CellState.BLANKS if kind == "containsBlanks" else CellState.ERRORS)
    if kind in ("containsText", "beginsWith", "endsWith") and xl.text is not None:
        op = {"containsText": TextOp.CONTAINS, "beginsWith": TextOp.STARTS_WITH, "endsWith": TextOp.ENDS_WITH}
        return TextTest(op[kind], xl.text)
    if kind == "colorScale":
        return Scale(Visual.COLOR_SCALE)
    if kind == "dataBar":
        return Scale(Visual.DATA_BAR)
    if kind == "iconSet":
        return Scale(Visual.ICON_SET)
    if kind == "cellIs" and xl.operator in _CELL_IS and len(formula) == 1 and re.fullmatch(_NUM, formula[0]):
        # approximate: Excel's cellIs also ranks text above numbers and reads blanks as 0
        return Compare(_CELL_IS[xl.operator], float(formula[0]))
    if kind == "cellIs" and xl.operator == "between" and len(formula) == 2:
        if all(re.fullmatch(_NUM, f) for f in formula):
            return Between(float(formula[0]), float(formula[1]))
    return None


@dataclass(frozen=True)
class SheetRule:
    """One conditional-formatting rule found in a worksheet."""

    cell_range: str
    kind: str  # Excel's rule type, e.g. "top10", "expression"
    formula: tuple[str, ...]
    rule: Rule | None  # None when the CF language cannot express it


def rules_from_worksheet(ws) -> list[SheetRule]:
    """Every conditional-formatting rule of an openpyxl worksheet, in the CF language where possible."""
    found = []
    for cf in ws.conditional_formatting:
        cell_range = str(cf.sqref).split()[0]
        for xl in cf.rules:
            found.append(SheetRule(str(cf.sqref), str(xl.type), tuple(xl.formula or ()),
                                   rule_from_openpyxl(xl, cell_range)))
    return found
