"""Reading the rule a CF prompt states (model/cf/wording.py) and ranking suggestions with it (server/cf_ranking.py).

The phrasings here are not the phrasing probe's (model/evaluation/cf_phrasing_probe.jsonl), so the probe's
figure is not a measure of prompts the reader was tested on.
"""

from __future__ import annotations

import pytest
from codefusion.model.cf import CellBlock, format_rule, parse_rule
from codefusion.model.cf.wording import read_wording
from codefusion.server.cf_ranking import (
    SOURCE_WORDING,
    demote_all_or_none,
    model_order,
    prompt_wording_first,
    rank_suggestions,
)


@pytest.mark.parametrize("prompt, rule", [
    ("highlight sales above 500", "GreaterThan(500)"),
    ("amounts over $1,000", "GreaterThan(1000)"),
    ("over 2k", "GreaterThan(2000)"),
    ("greater then 10", "GreaterThan(10)"),  # a common typo
    ("anything that's 10 or higher", "GreaterThanEqual(10)"),
    ("values >= 5", "GreaterThanEqual(5)"),
    ("values no more than 3.5", "LessThanEqual(3.5)"),
    ("values equal to or less than 7", "LessThanEqual(7)"),
    ("numbers between 10 & 20", "Between(10, 20)"),
    ("values from -5 to 5", "Between(-5, 5)"),
    ("sales in the 100-200 range", "Between(100, 200)"),
    ("mark values not equal to 0", "NotEquals(0)"),
    ("show values equal to 0", "Equals(0)"),
    ("scores greater than 50 and less than 90", "AND(GreaterThan(50),LessThan(90))"),
    ("values at least 20 but under 30", "AND(GreaterThanEqual(20),LessThan(30))"),
    ("under 5 or over 9", "OR(LessThan(5),GreaterThan(9))"),
    ("top 10 percent", "top(10%)"),
    ("highest 3 scores", "top(3)"),
    ("5 lowest", "bottom(5)"),
    ("the max", "top(1)"),
    ("less than average", "belowAverage()"),
    ("greater than the mean", "aboveAverage()"),
    ("find dupes", "Duplicate()"),
    ("distinct entries", "Unique()"),
    ("cells that are not empty", "NOT(Blanks())"),
    ("missing values", "Blanks()"),
    ("#DIV/0! cells", "Errors()"),
    ("a heat map please", "ColorScale()"),
    ("traffic lights", "IconSet()"),
    ("names beginning with the letter J", "TextStartsWith(J)"),
    ("emails ending with @gmail.com", "TextEndsWith(@gmail.com)"),
    ('cells with the text "N/A" in them', "TextContains(N/A)"),
    ("orders with status 'shipped'", "TextContains(shipped)"),
    ("Text contains Apple", "TextContains(Apple)"),  # the prompt's letters are kept
])
def test_wording_gives_the_rule_first(prompt: str, rule: str):
    readings = read_wording(prompt)
    assert readings, prompt
    assert format_rule(readings[0].rule) == format_rule(parse_rule(rule))
    assert readings[0].words and readings[0].words.lower() in " ".join(prompt.lower().split())


@pytest.mark.parametrize("prompt", ["highlight London", "dates after 2020", "make it pretty", "", "zero values"])
def test_wording_without_a_phrase_reads_nothing(prompt: str):
    assert read_wording(prompt) == []


def test_a_number_is_read_once():
    assert [format_rule(r.rule) for r in read_wording("top 10 sales")] == ["top(10)"]  # not also Equals(10)
    assert [format_rule(r.rule) for r in read_wording("between 4 and 8")] == ["Between(4, 8)"]
    assert [format_rule(r.rule) for r in read_wording("at least 500")] == ["GreaterThanEqual(500)"]


BLOCK = CellBlock("S", "A1:A10", [f"A{i}" for i in range(1, 11)], [120, 480, 500, 730, 950, 305, 1200, 64, 500, 880])


def scored(*pairs: tuple[str, float]):
    return {format_rule(parse_rule(t)): (s, parse_rule(t)) for t, s in pairs}


def texts(ranked) -> list[str]:
    return [format_rule(r.rule) for r in ranked]


def test_model_order_is_the_base():
    model = scored(("aboveAverage()", -1.0), ("top(500)", -1.1), ("GreaterThan(500)", -1.2))
    assert texts(model_order(model)) == ["aboveAverage()", "top(500)", "GreaterThan(500)"]
    assert texts(rank_suggestions(model, "make it pretty", CellBlock("S", "A1", [], []))) == texts(model_order(model))


def test_the_readme_example_ranks_greater_than_first_and_top_500_last():
    # the ranking from the model: aboveAverage() first, GreaterThan(500) third, top(500) on 10 cells
    model = scored(("aboveAverage()", -1.0), ("top(500)", -1.1), ("GreaterThan(500)", -1.2), ("LessThan(1)", -1.3))
    ranked = rank_suggestions(model, "highlight sales above 500", BLOCK)
    assert texts(ranked) == ["GreaterThan(500)", "aboveAverage()", "top(500)", "LessThan(1)"]
    assert ranked[0].score == -1.2 and ranked[0].notes == ("the prompt says 'above 500'",)
    assert ranked[2].notes == ("highlights all 10 cells; ranked lower",)
    assert ranked[3].notes == ("highlights none of the 10 cells; ranked lower",)


def test_a_worded_rule_the_model_missed_joins_marked():
    ranked = prompt_wording_first(model_order(scored(("LessThan(850)", -1.0))), "mark amounts exceeding 850")
    assert texts(ranked) == ["GreaterThan(850)", "LessThan(850)"]
    assert ranked[0].source == SOURCE_WORDING and ranked[0].score is None
    assert "not among the model's rules" in ranked[0].notes[0]


def test_demotion_spares_worded_rules_and_visuals():
    model = scored(("GreaterThan(5000)", -1.0), ("ColorScale()", -1.1), ("top(3)", -1.2))
    ranked = demote_all_or_none(prompt_wording_first(model_order(model), "over 5000"), BLOCK)
    assert texts(ranked) == ["GreaterThan(5000)", "ColorScale()", "top(3)"]  # asked for, though it picks none now
    assert ranked[0].notes[-1] == "highlights none of the 10 cells"
    assert ranked[1].notes == ()  # a colour scale paints every number by design


def test_a_scale_over_text_paints_nothing_and_is_demoted():
    text = CellBlock("S", "A1:A3", ["A1", "A2", "A3"], ["Paris", "Lyon", "Oslo"])
    ranked = demote_all_or_none(model_order(scored(("ColorScale()", -1.0), ("TextContains(o)", -1.5))), text)
    assert texts(ranked) == ["TextContains(o)", "ColorScale()"]
    assert ranked[1].notes == ("highlights none of the 3 cells; ranked lower",)

