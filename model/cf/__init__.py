"""The CF (Excel conditional formatting) rule language: parse, print, execute, and write into workbooks."""

from codefusion.model.cf.parser import CFSyntaxError, is_valid_rule, keyword_spans, parse_rule
from codefusion.model.cf.rules import Rule, format_rule

__all__ = ["CFSyntaxError", "Rule", "format_rule", "is_valid_rule", "keyword_spans", "parse_rule"]
