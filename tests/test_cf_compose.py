"""Composed combined-condition training pairs (model/cf/compose.py)."""

from __future__ import annotations

import json

from codefusion.model.cf import format_rule, parse_data_column, parse_rule
from codefusion.model.cf.compose import ID_PREFIX, compose_pairs
from codefusion.model.cf.executor import evaluate_rule
from codefusion.model.cf.rules import And, Not, Or, is_cell_level
from codefusion.model.evaluation.metrics import cf_execution_match
from codefusion.model.training.data import DATA_DIR


def test_composed_pairs_are_combined_cell_rules_that_pick_some_cells():
    pairs = compose_pairs(60, seed=3)
    assert len(pairs) == 60 and len({p.id for p in pairs}) == 60
    for p in pairs:
        rule = parse_rule(p.code)
        assert isinstance(rule, And | Or | Not) and is_cell_level(rule)
        assert format_rule(rule) == p.code
        flags = evaluate_rule(rule, p.values)
        assert any(flags) and not all(flags), p


def test_the_rows_read_like_the_training_data_and_score_with_its_metric():
    pair = compose_pairs(5)[4]
    row = json.loads(json.dumps(pair.row()))  # as it would be written to a JSON file
    assert set(row) == {"ID", "NL Utterance", "Code", "Data"} and row["Data"][0] == ["Index", "Value"]
    assert parse_data_column(row["Data"]) == pair.values
    assert cf_execution_match(row["Code"], pair.code, row["Data"])
    assert not cf_execution_match("Blanks()", pair.code, row["Data"])  # the column tells rules apart


def test_composed_pairs_are_reproducible_and_never_in_the_data():
    assert compose_pairs(20, seed=1) == compose_pairs(20, seed=1)
    assert compose_pairs(20, seed=1) != compose_pairs(20, seed=2)
    ids = {str(r["ID"]) for r in json.loads((DATA_DIR / "cf.train.json").read_text())}
    assert all(p.id.startswith(ID_PREFIX) and p.id not in ids for p in compose_pairs(30))
