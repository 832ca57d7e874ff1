"""Syntax-repair remasking: which tokens of a candidate that does not parse the sampler should refill.

The parser points at the broken part (tree-sitter's ERROR and MISSING nodes for Python and Bash, the CF
parser's failure position for rules); the tokens overlapping it, and one on each side, are remasked and the
model fills them again under the prompt."""

from __future__ import annotations

from ..validate import parser_for

Span = tuple[int, int]


def error_spans(lang: str, code: str) -> list[Span]:
    """Character spans the parser blames; [] when the code parses (an empty code blames everything)."""
    if not code.strip():
        return [(0, max(len(code), 1))]
    if lang == "cf":
        from ..cf.parser import CFSyntaxError, parse_rule

        try:
            parse_rule(code)
        except CFSyntaxError as exc:
            pos = exc.position if exc.position >= 0 else 0
            return [(pos, max(pos + 1, min(len(code), pos + 3)))]
        return []
    data = code.encode()
    root = parser_for(lang).parse(data).root_node
    if not root.has_error:
        return []
    spans: list[Span] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            start, end = node.start_byte, max(node.end_byte, node.start_byte + 1)
            spans.append((len(data[:start].decode(errors="ignore")), len(data[:end].decode(errors="ignore"))))
        elif node.has_error:
            stack.extend(node.children)
    return spans or [(0, len(code))]


def positions_to_remask(offsets: list[Span], spans: list[Span], widen: int = 1) -> list[int]:
    """Token indices overlapping any span (a zero-width span counts the token it touches), widened by
    `widen` tokens on each side."""
    hit: set[int] = set()
    for i, (a, b) in enumerate(offsets):
        if any(a < e and s < b or (s == e and a <= s <= b) for s, e in spans):
            hit.update(range(max(0, i - widen), min(len(offsets), i + widen + 1)))
    return sorted(hit)
