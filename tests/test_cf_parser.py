"""The CF rule language parser and printer, on every rule of the shipped data."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from codefusion.model.cf import CFSyntaxError, format_rule, is_valid_rule, keyword_spans, parse_rule
from codefusion.model.cf.rules import And, Compare, CompareOp, Not, Or, Rank, TextOp, TextTest

ROOT = Path(__file__).resolve().parents[1]
# The survey in model/cf/README.md; these tests recompute it from the data.
TRAIN_ROWS, TRAIN_PARSED = 712, 702
SNIPPET_LINES = 226_468


def _reason(text: str) -> str:
    try:
        parse_rule(text)
    except CFSyntaxError as exc:
        message = str(exc)
        if "ExcelScript" in text:
            return "script"
        if "cell references" in message:
            return "cell-reference"
        if re.search(r"needs a number, got '\d+ [Dd]ays'", message):
            return "number-with-unit"
        return "other: " + message
    return "ok"


def test_every_training_rule_is_surveyed():
    rows = json.loads((ROOT / "data/cf.train.json").read_text(encoding="utf-8"))
    reasons = Counter(_reason(r["Code"]) for r in rows)
    assert len(rows) == TRAIN_ROWS
    assert reasons == {"ok": TRAIN_PARSED, "number-with-unit": 6, "script": 3, "cell-reference": 1}


def test_every_snippet_parses_and_round_trips():
    lines = (ROOT / "data/cf.snippets.txt").read_text(encoding="utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    assert len(lines) == SNIPPET_LINES
    for text in set(lines):
        rule = parse_rule(text)
        printed = format_rule(rule)
        assert parse_rule(printed) == rule, text
        assert format_rule(parse_rule(printed)) == printed


def test_training_rules_round_trip():
    rows = json.loads((ROOT / "data/cf.train.json").read_text(encoding="utf-8"))
    for text in {r["Code"] for r in rows if is_valid_rule(r["Code"])}:
        printed = format_rule(parse_rule(text))
        assert parse_rule(printed) == parse_rule(text)
        assert format_rule(parse_rule(printed)) == printed


def test_readme_reports_the_survey():
    readme = (ROOT / "model/cf/README.md").read_text(encoding="utf-8")
    for n in (f"{TRAIN_PARSED}", f"{TRAIN_ROWS}", f"{SNIPPET_LINES:,}"):
        assert n in readme


@pytest.mark.parametrize(
    "text, expected",
    [
        ("greaterthan(437)", Compare(CompareOp.GREATER, 437.0)),
        ("Top(10%)", Rank(10, percent=True)),
        ("TopPercent(5)", Rank(5, percent=True)),
        ("bottom(3)", Rank(3, bottom=True)),
        ('TextEquals("a, (b")', TextTest(TextOp.EQUALS, "a, (b")),
        ("TextContains(RT (Retaken))", TextTest(TextOp.CONTAINS, "RT (Retaken)")),
        ("TextContains(Non-pooled, en)", TextTest(TextOp.CONTAINS, "Non-pooled, en")),
        ("TextContains(()", TextTest(TextOp.CONTAINS, "(")),
        ("TextEquals()", TextTest(TextOp.EQUALS, "")),
        ("NOT(TextContains(x (y)))", Not(TextTest(TextOp.CONTAINS, "x (y)"))),
        (
            "OR(TextEquals(p), TextEquals(ul))",
            Or((TextTest(TextOp.EQUALS, "p"), TextTest(TextOp.EQUALS, "ul"))),
        ),
        (
            "AND(GreaterThanEqual(25),LessThan(50))",
            And((Compare(CompareOp.GREATER_EQUAL, 25), Compare(CompareOp.LESS, 50))),
        ),
    ],
)
def test_parses(text, expected):
    assert parse_rule(text) == expected
    assert parse_rule(format_rule(expected)) == expected


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("=A1>5", "raw Excel formulas"),
        ("Biggest(5)", "unknown rule name"),
        ("GreaterThan(abc)", "needs a number"),
        ("GreaterThan($E$13)", "cell references"),
        ("top(0)", "whole number"),
        ("top(150%)", "percentage"),
        ("AND(top(3),GreaterThan(1))", "only combines cell rules"),
        ("Duplicate(3)", "takes no arguments"),
        ("GreaterThan(5) extra", "unexpected text"),
        ("GreaterThan(5", "needs a number"),
    ],
)
def test_rejects_with_a_clear_message(text, words):
    with pytest.raises(CFSyntaxError, match=re.escape(words)):
        parse_rule(text)
    assert not is_valid_rule(text)


def test_printer_quotes_only_when_needed():
    assert format_rule(parse_rule("textcontains(FB)")) == "TextContains(FB)"
    assert format_rule(TextTest(TextOp.EQUALS, 'say "hi"')) == 'TextEquals("say ""hi""")'
    assert format_rule(TextTest(TextOp.EQUALS, "")) == "TextEquals()"
    assert format_rule(parse_rule("Between(400,800)")) == "Between(400, 800)"


def test_keyword_spans_cover_function_names_only():
    text = "AND(NOT(TextContains(top (x))),GreaterThan(5))"
    names = [text[a:b] for a, b in keyword_spans(text)]
    assert names == ["AND", "NOT", "TextContains", "GreaterThan"]
    broken = "GreaterThan(5 days"
    assert [broken[a:b] for a, b in keyword_spans(broken)] == ["GreaterThan"]
