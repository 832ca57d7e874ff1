"""`codefusion cf crossval` (server/cli/cf_crossval.py) and the patterns probe (cf_probe_patterns.py)."""

from __future__ import annotations

import argparse
import json

import pytest
from codefusion.model.cf import evaluate_rule, parse_rule
from codefusion.model.evaluation import cf_probe_patterns as patterns
from codefusion.model.training.data import Pair
from codefusion.server.cli import cf_crossval as cv
from codefusion.server.cli import cf_probe


def test_folds_are_stable_and_near_even():
    ids = [str(i) for i in range(1, 713)]
    folds = [cv.fold_of(i, 10) for i in ids]
    assert folds == [cv.fold_of(i, 10) for i in ids]  # a hash, not a shuffle: the same every run
    sizes = [folds.count(f) for f in range(10)]
    assert min(sizes) >= 50 and max(sizes) <= 95, sizes


def test_bootstrap_interval_holds_the_mean_and_resamples_groups():
    mean, low, high = cv.bootstrap_interval([[100.0], [0.0], [100.0], [100.0]] * 10, resamples=500)
    assert mean == 75.0 and low < mean < high and 0.0 <= low and high <= 100.0
    # one group of 40 hits and 40 groups of one miss: resampling groups, not rows, gives a wide interval
    _, low, high = cv.bootstrap_interval([[100.0] * 40] + [[0.0]] * 40, resamples=500)
    assert high - low > 40


@pytest.mark.parametrize("reference, kind", [
    ("TextEquals(Done)", "text"), ("NOT(TextEquals(Done))", "combined"), ("OR(Blanks(),Equals(0))", "combined"),
    ("Blanks()", "blanks"), ("Errors()", "errors"), ("Between(1, 2)", "comparison"), ("top(10%)", "top/bottom"),
    ("ColorScale()", "other"), ("GreaterThan(13 Days)", "other"),
])
def test_kind_of(reference: str, kind: str):
    assert cv.kind_of(reference) == kind


def _pair(i: int, prompt: str, code: str, values: list) -> Pair:
    return Pair(str(i), "cf", prompt, code, [["Index", "Value"]] + [[n, v] for n, v in enumerate(values)])


def test_every_row_is_scored_once_by_a_system_that_did_not_see_it():
    numbers = [5, 50, 500, 5000, 12]
    pairs = [_pair(i, f"highlight the quarterly zebra metric {i}", f"GreaterThan({i * 7})", numbers)
             for i in range(1, 13)]
    pairs.append(_pair(99, "unique wombat request", "IconSet()", numbers))
    scored = cv.cross_validate(pairs, folds=3, k=3, embed=False)
    for name, rows in scored.items():
        assert sorted(r.id for r in rows) == sorted(p.id for p in pairs), name
    wombat = next(r for r in scored["examples alone"] if r.id == "99")
    assert wombat.served == [] and wombat.rank is None  # its own code is in no other fold
    # the wording reads "over 40" itself: no example is needed
    pairs.append(_pair(100, "values over 40", "GreaterThan(40)", numbers))
    over = next(r for r in cv.cross_validate(pairs, 3, 3, ["wording alone"], embed=False)["wording alone"]
                if r.id == "100")
    assert over.served[0] == "GreaterThan(40)" and over.rank == 1


def test_figures_count_rows_per_kind():
    rows = [cv.Scored("1", "p", "TextEquals(a)", "text", ["TextEquals(a)"], 1),
            cv.Scored("2", "p", "TextEquals(b)", "text", ["TextEquals(c)", "TextEquals(b)"], 2),
            cv.Scored("3", "p", "Blanks()", "blanks", [], None)]
    fig = cv.figures(rows, resamples=200)
    assert fig["all"]["rows"] == 3 and fig["text"]["rows"] == 2 and fig["blanks"]["rows"] == 1
    assert fig["text"]["top1"][0] == 50.0 and fig["text"]["top3"][0] == 100.0
    assert fig["all"]["top1"][0] == pytest.approx(33.3)


def test_the_probe_file_is_the_generators_output():
    rows = [json.loads(line) for line in patterns.PATTERN_PROBE.read_text(encoding="utf-8").splitlines()]
    assert rows == json.loads(json.dumps(patterns.probe_rows()))
    assert len(rows) >= 150
    halves = [r["half"] for r in rows]
    assert min(halves.count(h) for h in patterns.HALVES) >= 0.35 * len(rows)
    for kind in patterns.KINDS:  # a half holds whole phrasings
        for pattern in kind.patterns:
            assert patterns.half_of(pattern) in patterns.HALVES


def test_every_probe_rule_picks_some_cells_and_differs_from_its_near_miss():
    near_miss = {"TextEquals": "TextContains", "TextContains": "TextEquals"}
    for row in patterns.probe_rows():
        flags = evaluate_rule(row["expected"], row["values"])
        assert any(flags) and not all(flags), row
        name = row["expected"].split("(")[0]
        if name in near_miss:
            other = parse_rule(row["expected"].replace(name, near_miss[name], 1))
            assert evaluate_rule(other, row["values"]) != flags, row  # the column tells the two apart


def test_probe_command_on_the_held_out_half_with_the_reader_alone(capsys):
    args = argparse.Namespace(probe="patterns", half="held-out", model=None, wording_only=True, misses=False)
    assert cf_probe.run(args) == 0
    held = [i for i in cf_probe.load_probe(cf_probe.PROBES["patterns"]) if i.half == "held-out"]
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"CF phrasing probe patterns, held-out half ({len(held)} prompts): top-1 ")
    assert {i.kind for i in held} >= {"text equals", "text contains", "blanks"}
