"""Combined-condition training pairs composed from the rule grammar: `AND/OR/NOT` over cell rules.

The CF training split has nine combined rows; a model cannot learn "over 40 and under 90" or "anything
except Closed" from them. `compose_pairs` writes (prompt, rule, cells) triples from templates — two
comparisons joined by "and"/"or", a range less one value, a negated text test, either of two texts, blank
or a number — each with a column on which the rule picks some cells but not all. They are for training
only: their IDs start with `composed-`, they are not in data/cf.train.json, so no dev row and no
cross-validation fold ever holds one. Not yet used to train (issue 40: no CF retraining that day).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from codefusion.model.cf.executor import evaluate_rule
from codefusion.model.cf.parser import parse_rule
from codefusion.model.cf.rules import format_rule

ID_PREFIX = "composed-"
_WORDS = ["Done", "Closed", "Open", "Pending", "Late", "Shipped", "Paid", "Overdue", "Active", "North", "Urgent",
          "Approved", "Rejected", "Draft", "Yes", "No"]
# (prompt template, rule template, kind of slots): n/m numbers (n < m), v/w words
_TEMPLATES = [
    ("values over {n} and under {m}", "AND(GreaterThan({n}),LessThan({m}))", "nums"),
    ("at least {n} but no more than {m}", "AND(GreaterThanEqual({n}),LessThanEqual({m}))", "nums"),
    ("numbers below {n} or above {m}", "OR(LessThan({n}),GreaterThan({m}))", "nums"),
    ("anything outside {n} to {m}", "OR(LessThan({n}),GreaterThan({m}))", "nums"),
    ("between {n} and {m} but not {k}", "AND(Between({n}, {m}),NotEquals({k}))", "nums"),
    ("blank or {n}", "OR(Blanks(),Equals({n}))", "nums"),
    ("anything except {v}", "NOT(TextEquals({v}))", "words"),
    ("cells that do not mention {v}", "NOT(TextContains({v}))", "words"),
    ("cells that say {v} or {w}", "OR(TextEquals({v}),TextEquals({w}))", "words"),
    ("text containing {v} and {w}", "AND(TextContains({v}),TextContains({w}))", "words"),
    ("non-blank cells other than {v}", "AND(NOT(Blanks()),NOT(TextEquals({v})))", "words"),
]


@dataclass(frozen=True)
class ComposedPair:
    id: str
    prompt: str
    code: str  # canonical rule text
    values: list[Any]  # a column on which the rule picks some cells, not all

    def row(self) -> dict[str, Any]:
        """The pair in data/cf.train.json's form (`Data` with its header row)."""
        data: list[list[Any]] = [["Index", "Value"], *([i, v] for i, v in enumerate(self.values))]
        return {"ID": self.id, "NL Utterance": self.prompt, "Code": self.code, "Data": data}


def _column(rng: random.Random, kind: str, slots: dict[str, Any]) -> list[Any]:
    if kind == "nums":
        lo, hi = slots["n"], slots["m"]
        values: list[Any] = [rng.randint(lo - 20, hi + 20) for _ in range(10)] + [lo, hi, slots["k"], None]
    else:
        picks = [slots["v"], slots["w"], f"{slots['v']} - {slots['w'].lower()}", f"not {slots['v'].lower()}"]
        values = [rng.choice(_WORDS + picks) for _ in range(12)] + [None, slots["v"].upper()]
    rng.shuffle(values)
    return values


def compose_pairs(n: int, seed: int = 0) -> list[ComposedPair]:
    """`n` pairs from the templates in turn, with random values; each rule picks some but not all of its cells."""
    rng = random.Random(seed)
    out: list[ComposedPair] = []
    while len(out) < n:
        prompt_t, rule_t, kind = _TEMPLATES[len(out) % len(_TEMPLATES)]
        lo = rng.randint(0, 80)
        hi = lo + rng.randint(10, 100)
        v, w = rng.sample(_WORDS, 2)
        slots: dict[str, Any] = {"n": lo, "m": hi, "k": rng.randint(lo + 1, hi - 1), "v": v, "w": w}
        rule = parse_rule(rule_t.format(**slots))
        values = _column(rng, kind, slots)
        picked = evaluate_rule(rule, values)
        if any(picked) and not all(picked):
            out.append(ComposedPair(f"{ID_PREFIX}{len(out)}", prompt_t.format(**slots), format_rule(rule), values))
    return out
