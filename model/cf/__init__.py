"""The CF (Excel conditional formatting) rule language: parse, print, execute, and write into workbooks."""

from codefusion.model.cf.data import parse_data_column
from codefusion.model.cf.excel import CFStyle, SheetRule, parse_style, rule_to_openpyxl, rules_from_worksheet
from codefusion.model.cf.executor import evaluate_rule
from codefusion.model.cf.parser import CFSyntaxError, is_valid_rule, keyword_spans, parse_rule
from codefusion.model.cf.rules import Rule, format_rule
from codefusion.model.cf.workbook import (
    ApplyResult,
    CellBlock,
    CFWorkbookError,
    Preview,
    apply_rule_to_workbook,
    default_range,
    preview,
    preview_block,
    read_range,
)

__all__ = [
    "ApplyResult", "CFStyle", "CFSyntaxError", "CFWorkbookError", "CellBlock", "Preview", "Rule", "SheetRule",
    "apply_rule_to_workbook", "default_range", "evaluate_rule", "format_rule", "is_valid_rule",
    "keyword_spans", "parse_data_column", "parse_rule", "parse_style", "preview", "preview_block",
    "read_range", "rule_to_openpyxl", "rules_from_worksheet",
]
