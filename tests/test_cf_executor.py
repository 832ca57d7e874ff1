"""The CF executor on hand-made columns with known highlights."""

import pytest
from codefusion.model.cf import evaluate_rule, parse_data_column


def hits(rule, values):
    return [i for i, flag in enumerate(evaluate_rule(rule, values)) if flag]


MIXED = [10, "abc", None, 600, "#N/A", 500, "", 750.5, "  "]


@pytest.mark.parametrize(
    "rule, expected",
    [
        ("GreaterThan(500)", [3, 7]),  # text, blanks and errors never match a comparison
        ("LessThan(100)", [0]),  # blanks are not 0
        ("GreaterThanEqual(500)", [3, 5, 7]),
        ("Between(600, 10)", [0, 3, 5]),  # bounds in either order, inclusive
        ("NotEquals(10)", [3, 5, 7]),
        ("Blanks()", [2, 6, 8]),  # whitespace-only text is blank (LEN(TRIM()))
        ("Errors()", [4]),
        ("NOT(Blanks())", [0, 1, 3, 4, 5, 7]),
        ("NOT(GreaterThan(500))", [0, 1, 2, 4, 5, 6, 8]),
        ("AND(NOT(Blanks()),NOT(Errors()),LessThan(600))", [0, 5]),
        ("OR(TextContains(B),GreaterThan(700))", [1, 7]),  # text tests are case-insensitive
    ],
)
def test_cell_rules(rule, expected):
    assert hits(rule, MIXED) == expected


def test_text_tests_see_numbers_as_text():
    values = [15, 150, "5 apples", "APPLE", 1.5, None]
    assert hits("TextContains(5)", values) == [0, 1, 2, 4]
    assert hits("TextEquals(apple)", values) == [3]
    assert hits("TextEquals(150)", values) == [1]
    assert hits("TextStartsWith(1)", values) == [0, 1, 4]
    assert hits("TextEndsWith(PLES)", values) == [2]
    assert hits("TextContains(*)", ["a*b", "ab"]) == [0]  # a literal star, not a wildcard


def test_top_and_bottom_count_ties():
    values = [5, 9, 9, 1, "text", None, 7, "#DIV/0!"]
    assert hits("top(1)", values) == [1, 2]
    assert hits("top(2)", values) == [1, 2]
    assert hits("top(3)", values) == [1, 2, 6]
    assert hits("bottom(1)", values) == [3]
    assert hits("top(100)", values) == [0, 1, 2, 3, 6]  # more than there are numbers: all of them


def test_top_percent_keeps_at_least_one():
    values = list(range(1, 21))  # 20 numbers
    assert hits("top(10%)", values) == [18, 19]
    assert hits("bottom(10%)", values) == [0, 1]
    assert hits("top(1%)", values) == [19]
    assert hits("TopPercent(50)", values) == list(range(10, 20))


def test_average_ignores_blanks_and_text():
    values = [1, 2, None, "x", 9, "#N/A"]  # mean of 1, 2, 9 is 4
    assert hits("aboveAverage()", values) == [4]
    assert hits("belowAverage()", values) == [0, 1]
    assert hits("aboveAverage()", [None, "x"]) == []


def test_duplicates_and_unique():
    values = ["a", "A", "b", 1, 1.0, "1", None, None, "#N/A", "#N/A"]
    assert hits("Duplicate()", values) == [0, 1, 3, 4]
    assert hits("Unique()", values) == [2, 5]


def test_scales_mark_every_number():
    assert hits("ColorScale()", [1, "a", None, 2.5]) == [0, 3]
    assert hits("DataBar()", []) == []


def test_data_column_feeds_the_executor():
    data = "[['Index', 'Value'], [0, ''], [1, '619.5'], [2, 'abc'], [3, '#N/A'], [4, '40'], [5, '70"
    values = parse_data_column(data)  # truncated literal: the broken last row is recovered as far as it goes
    assert values[:5] == [None, 619.5, "abc", "#N/A", 40]
    assert hits("GreaterThan(50)", values) == [1, 5]
    assert parse_data_column([["Index", "Value"], [0, "1e3"], [1, "x"]]) == [1000.0, "x"]
