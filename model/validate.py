"""Syntax validators: tree-sitter for Python and Bash, our CF grammar for rules."""

from __future__ import annotations

import ast
import functools

import tree_sitter_bash
import tree_sitter_python
from tree_sitter import Language, Parser

_GRAMMARS = {"python": tree_sitter_python.language, "bash": tree_sitter_bash.language}


@functools.cache
def parser_for(lang: str) -> Parser:
    if lang not in _GRAMMARS:
        raise ValueError(f"no tree-sitter grammar for {lang!r}")
    return Parser(Language(_GRAMMARS[lang]()))


def validate_tree_sitter(lang: str, code: str) -> bool:
    if not code.strip():
        return False
    root = parser_for(lang).parse(code.encode()).root_node
    return not root.has_error


def validate_cf(code: str) -> bool:
    from .cf import is_valid_rule

    return is_valid_rule(code)


def validate(lang: str, code: str) -> bool:
    """True when `code` parses in `lang` ("python", "bash" or "cf")."""
    if lang == "cf":
        return validate_cf(code)
    return validate_tree_sitter(lang, code)


def normalize(lang: str, code: str) -> str:
    """A canonical form for deduplication and exact match."""
    code = code.strip()
    if lang == "python":
        try:
            return ast.unparse(ast.parse(code))
        except (SyntaxError, ValueError, RecursionError):
            return " ".join(code.split())
    if lang == "cf":
        from .cf import CFSyntaxError, format_rule, parse_rule

        try:
            return format_rule(parse_rule(code))
        except CFSyntaxError:
            return " ".join(code.split())
    return " ".join(code.split())
