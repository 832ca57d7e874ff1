"""Reading the rule a CF prompt states (model/cf/wording.py) and ranking suggestions with it (server/cf_ranking.py).

The phrasings here are not the phrasing probe's (model/evaluation/cf_phrasing_probe.jsonl), so the probe's
figure is not a measure of prompts the reader was tested on.
"""

from __future__ import annotations

import pytest
from codefusion.model.cf import CellBlock, format_rule, parse_rule
from codefusion.model.cf.rules import Scale
from codefusion.model.cf.wording import read_named_kind, read_wording
from codefusion.server.cf_ranking import (
    SOURCE_WORDING,
    demote_all_or_none,
    model_order,
    named_kind_next,
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
    ("orders with status 'shipped'", "TextEquals(shipped)"),  # a status is the whole cell
    ("Text contains Apple", "TextContains(Apple)"),  # the prompt's letters are kept
])
def test_wording_gives_the_rule_first(prompt: str, rule: str):
    readings = read_wording(prompt)
    assert readings, prompt
    assert format_rule(readings[0].rule) == format_rule(parse_rule(rule))
    assert readings[0].words and readings[0].words.lower() in " ".join(prompt.lower().split())


@pytest.mark.parametrize("prompt, rule", [
    # text tests whose value is the user's own words, quoted or not
    ("rows where the region says North", "TextEquals(North)"),
    ("anything labelled as Backorder", "TextEquals(Backorder)"),
    ("cells that say On Hold.", "TextEquals(On Hold)"),  # a name of several words; the full stop is not in it
    ("orders whose state is on hold", "TextEquals(on hold)"),
    ("invoices that mention refund", "TextContains(refund)"),
    ("comments with ASAP somewhere in them", "TextContains(ASAP)"),
    ("SKUs beginning with ZX", "TextStartsWith(ZX)"),
    ("phone numbers starting with 0044", "TextStartsWith(0044)"),  # digits are text to a text test
    ("files ending in .csv", "TextEndsWith(.csv)"),
    ("questions ending with a question mark", "TextEndsWith(?)"),
    ("cells with an & in them", "TextContains(&)"),
    ("names containing an apostrophe", "TextContains(')"),
    ("codes with an underscore", "TextContains(_)"),
    # combined conditions
    ("scores above 60 and below 70", "AND(GreaterThan(60),LessThan(70))"),
    ("10 or more but 20 or less", "AND(GreaterThanEqual(10),LessThanEqual(20))"),
    ("anything except Cancelled", "NOT(TextEquals(Cancelled))"),
    ("regions other than North", "NOT(TextEquals(North))"),
    ("text that doesn't contain draft", "NOT(TextContains(draft))"),
    ("notes without TODO in them", "NOT(TextContains(TODO))"),
    ("say Won or Lost", "OR(TextEquals(Won),TextEquals(Lost))"),
    ("labelled Won and Lost", "OR(TextEquals(Won),TextEquals(Lost))"),  # one cell cannot equal both
    ("names starting with A and ending with n", "AND(TextStartsWith(A),TextEndsWith(n))"),
    ("empty or zero", "OR(Blanks(),Equals(0))"),
    ("between 1 and 9 but not 5", "AND(Between(1, 9),NotEquals(5))"),
    ("outside 5 to 10", "OR(LessThan(5),GreaterThan(10))"),
    ("amounts not between 100 and 200", "OR(LessThan(100),GreaterThan(200))"),
    # blanks, errors, signs, number words
    ("cells with no data", "Blanks()"),
    ("nulls", "Blanks()"),
    ("populated cells", "NOT(Blanks())"),
    ("#VALUE! cells", "Errors()"),
    ("error-free cells", "NOT(Errors())"),
    ("cells that contain errors", "Errors()"),  # the condition, not the text "errors"
    ("below zero", "LessThan(0)"),
    ("more than ten", "GreaterThan(10)"),
    ("nonzero amounts", "NotEquals(0)"),
    ("zero values", "Equals(0)"),
])
def test_wording_reads_text_combinations_and_states(prompt: str, rule: str):
    readings = read_wording(prompt)
    assert readings, prompt
    assert format_rule(readings[0].rule) == format_rule(parse_rule(rule))


@pytest.mark.parametrize("prompt", ["dates after 2020", "make it pretty", "", "apply a colour scale to column 'Final'",
                                    "top 5 in sheet 'Q3 Sales'"])
def test_wording_without_a_phrase_reads_nothing_it_cannot_use(prompt: str):
    # a colour scale or a top 5 cannot combine with a text test: the quoted words are places, not values
    assert not [r for r in read_wording(prompt) if "Text" in format_rule(r.rule)]
    if prompt in ("dates after 2020", "make it pretty", ""):
        assert read_wording(prompt) == []


def test_a_bare_value_is_a_guess():
    readings = read_wording("highlight London")
    assert [format_rule(r.rule) for r in readings] == ["TextEquals(London)", "TextContains(London)"]
    assert not any(r.sure for r in readings)
    assert format_rule(read_wording("mark cancelled orders")[0].rule) == "TextEquals(cancelled)"
    assert all(r.sure for r in read_wording("cells that mention London"))


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



def test_a_guess_that_picks_no_cell_goes_after_the_model():
    cities = CellBlock("S", "A1:A4", ["A1", "A2", "A3", "A4"], ["Paris", "Lyon", "Oslo", "Paris office"])
    model = scored(("TextContains(o)", -1.0))
    ranked = rank_suggestions(model, "highlight London", cities)  # London is not in the range
    assert texts(ranked)[0] == "TextContains(o)"
    assert ranked[1].guessed and "ranked lower" in ranked[1].notes[-1]
    ranked = rank_suggestions(model, "highlight Paris", cities)  # Paris is: the guess leads
    assert texts(ranked)[:2] == ["TextEquals(Paris)", "TextContains(Paris)"]


def test_says_x_prefers_the_sense_that_picks_cells():
    # "say Done" is the whole cell, or a cell containing it when no cell is exactly Done
    notes = CellBlock("S", "A1:A3", ["A1", "A2", "A3"], ["Done by Ann", "open", "done by Bo"])
    assert texts(rank_suggestions({}, "cells that say done", notes))[0] == "TextContains(done)"
    status = CellBlock("S", "A1:A3", ["A1", "A2", "A3"], ["Done", "Not done", "DONE"])
    assert texts(rank_suggestions({}, "cells that say done", status))[0] == "TextEquals(done)"


def test_a_read_text_rule_in_a_real_workbook_follows_excel(tmp_path):
    """Suggest with no model (the reader alone) on a saved .xlsx, write the rule, read it back: case does not
    matter, a value inside a longer text is not equal, the `?` of a value is literal (not a wildcard)."""
    from codefusion.model.cf import rules_from_worksheet
    from codefusion.server import cf_service
    from codefusion.server.cli.cf_probe import no_model
    from openpyxl import Workbook, load_workbook

    book = tmp_path / "book.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "Tasks"
    rows = (["Status", "Note"], ["Done", "why?"], ["DONE", "ok"], ["Not done", "what?"], [None, "so"], ["done", "?!"])
    for row in rows:
        ws.append(row)
    wb.save(book)
    result = cf_service.suggest(str(book), "Tasks", "A2:A6", "flag anything marked Done", 3, no_model)
    first = result.candidates[0]
    assert (first.rule, first.count, first.addresses) == ("TextEquals(Done)", 3, ["A2", "A3", "A6"])
    cf_service.apply(str(book), "Tasks", "A2:A6", first.rule)
    assert [r.rule for r in rules_from_worksheet(load_workbook(book)["Tasks"])] == [parse_rule("TextEquals(Done)")]
    ends = cf_service.suggest(str(book), "Tasks", "B2:B6", "notes ending in ?", 3, no_model).candidates[0]
    assert (ends.rule, ends.addresses) == ("TextEndsWith(?)", ["B2", "B4"])


@pytest.mark.parametrize("prompt, rule", [
    # where the rule goes is not what it tests: cells, ranges, sheets and columns are blanked first
    ("cells over 500 in sheet 2019-20 Budget", "GreaterThan(500)"),  # not Between(2019, 20)
    ('Highlight "Closed" in column D on sheet Tasks', "TextEquals(Closed)"),  # the quoted value alone: equal
    ("Change the cell colour of 'Paid' from range C2:C80 on sheet1", "TextEquals(Paid)"),
    ("Lowest number from column 'Score'", "bottom(1)"),  # the quoted column is not a text value
    ("highlight cell with text Y from cell B2 to B9 by conditional formatting", "TextContains(Y)"),
    # Excel's own rule names, number units
    ("Apply aboveAverage conditional formatting to range B2:B40", "aboveAverage()"),
    ("Apply equalTo =Pending on cell range F1:F17", "TextEquals(Pending)"),
    ("amounts more than 3 lakh", "GreaterThan(300000)"),
    ("sales between 2 and 3 million", "Between(2000000, 3000000)"),  # the unit is both numbers'
    ("budgets over 1.5 crore", "GreaterThan(15000000)"),
    # comparisons, ranks, visuals
    ("a smaller number than 7", "LessThan(7)"),
    ("numbers grater than 12", "GreaterThan(12)"),  # a common typo
    ("rows with zero", "Equals(0)"),
    ("top3 scores", "top(3)"),
    ("lowest score in the sheet", "bottom(1)"),  # singular: one cell
    ("Apply icon bar to the scores", "IconSet()"),
    ("gradient fill on B2:B9", "DataBar()"),  # Excel's name for a data bar's fill
    ("shade the marks from low to high", "ColorScale()"),
    ("over 0 and either under 10 or over 90", "AND(GreaterThan(0),OR(LessThan(10),GreaterThan(90)))"),
    # the value as typed: spaces just inside quotes are not in it, a name may end in a number
    ('cells containing " Paid "', "TextContains(Paid)"),
    ("rows whose status is Phase 3", "TextEquals(Phase 3)"),
])
def test_wording_reads_the_request_around_the_places(prompt: str, rule: str):
    readings = read_wording(prompt)
    assert readings, prompt
    assert format_rule(readings[0].rule) == format_rule(parse_rule(rule))


@pytest.mark.parametrize("prompt, guesses", [
    ("Apply red fill to Region name Lyon", ["TextEquals(Lyon)", "TextContains(Lyon)"]),  # the last capitalised run
    ("highlight Berlin city on sheet Offices", ["TextEquals(Berlin)", "TextContains(Berlin)"]),
    ("highlight all 0", ["Equals(0)"]),
    ("Highlight the year 1999 in the data", ["Equals(1999)"]),
    ("Apply conditional formatting to Oslo on Office City values from cell C1 to C40", ["TextEquals(Oslo)",
                                                                                       "TextContains(Oslo)"]),
])
def test_a_bare_value_among_places_is_a_guess(prompt: str, guesses: list[str]):
    readings = read_wording(prompt)
    assert [format_rule(r.rule) for r in readings] == guesses
    assert not any(r.sure for r in readings)


@pytest.mark.parametrize("prompt", ["Apply conditional formatting on sheet Statement of Financial Position",
                                    "Apply conditional formatting to cell B6 to B108 in sheet 1",
                                    "Apply a data bar for Actual 2014-2015, Revenue"])
def test_places_alone_read_no_condition(prompt: str):
    assert [format_rule(r.rule) for r in read_wording(prompt) if not isinstance(r.rule, Scale)] == []


@pytest.mark.parametrize("prompt, fits, does_not_fit", [
    ("Apply bottomItems conditional formatting to B2:B20", ["bottom(3)", "bottom(1)"], ["top(3)", "bottom(5%)"]),
    ("Apply topPercent formatting on sheet REI", ["top(5%)"], ["top(5)", "bottom(5%)"]),
    ("show the top values", ["top(3)", "top(10%)"], ["bottom(3)", "GreaterThan(3)"]),
    ("Change top bottom for the bottom value", ["bottom(10)"], ["top(10)"]),
    ("Apply lessThan conditional formatting to C2:C9", ["LessThan(5)"], ["GreaterThan(5)", "LessThanEqual(5)"]),
])
def test_a_kind_named_without_its_value(prompt: str, fits: list[str], does_not_fit: list[str]):
    kind = read_named_kind(prompt)
    assert kind is not None
    assert all(kind.fits(parse_rule(r)) for r in fits)
    assert not any(kind.fits(parse_rule(r)) for r in does_not_fit)


def test_no_kind_where_none_is_named():
    assert read_named_kind("highlight London") is None
    assert read_named_kind("shade from low to high") is None  # a colour scale


def test_the_named_kind_follows_the_worded_rules():
    model = scored(("top(5)", -1.0), ("ColorScale()", -1.1), ("bottom(3)", -1.2), ("bottom(5%)", -1.3))
    ranked = named_kind_next(prompt_wording_first(model_order(model), "Apply bottomItems to C4:J7"),
                             "Apply bottomItems to C4:J7")
    assert texts(ranked) == ["bottom(3)", "top(5)", "ColorScale()", "bottom(5%)"]
    assert ranked[0].notes == ("the prompt names 'bottom'",)
    ranked = rank_suggestions(model, "values over 2 with the bottom items", BLOCK)
    assert texts(ranked)[:2] == ["GreaterThan(2)", "bottom(3)"]  # what the prompt says in full leads


def test_prompt_order_puts_the_worded_rule_first_and_keeps_the_engines_order_otherwise():
    """What `codefusion generate` and a completion serve for CF without a range's cells (prompt_order)."""
    from codefusion.server.cf_ranking import prompt_order
    from codefusion.server.ranking import Candidate

    engine = [Candidate("Equals(1)", 0.9, 1, "Equals(1)"), Candidate("GreaterThan(5)", 0.8, 2)]
    got = prompt_order(engine, "Color cells that start with partial")
    assert [(c.text, c.rank) for c in got] == [("TextStartsWith(partial)", 1), ("Equals(1)", 2), ("GreaterThan(5)", 3)]
    assert got[0].score == 0.0 and got[0].seed is None and got[1].seed == "Equals(1)"  # the model's keep theirs
    said = prompt_order(engine, "values greater than 5")  # the model wrote it: it moves up, itself
    assert [c.text for c in said] == ["GreaterThan(5)", "Equals(1)"] and said[0].score == 0.8
    assert prompt_order(engine, "make it pretty") == engine  # nothing worded: the engine's order


def test_served_cf_puts_the_rule_the_prompt_states_first(shipped_model_dir):
    """Engine.generate for CF as served (seeding on): the worded rule leads; the model alone is not reordered."""
    from codefusion.server.engine import Engine

    prompt = "highlight the cells beginning with Q"
    served = Engine(shipped_model_dir, device="cpu").generate(prompt, "cf", k=3)
    assert served and format_rule(parse_rule(served[0].text)) == "TextStartsWith(Q)"
    alone = Engine(shipped_model_dir, device="cpu", seeding=False)
    assert all(c.score != 0.0 or c.seed is not None for c in alone.generate(prompt, "cf", k=3))  # no wording rule
