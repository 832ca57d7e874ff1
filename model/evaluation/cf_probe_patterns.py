"""The CF phrasing probe written from rule kinds × phrasing patterns (not from the data).

Each kind is a rule shape (`TextEquals({v})`, `AND(GreaterThan({a}),LessThan({b}))`, ...), a column of
cells on which the rule and its near misses highlight different cells (case variants, a value inside a
longer text, blanks, errors), the values its slots take, and the ways a spreadsheet user phrases it.
Every pattern is filled once, with the kind's fills in turn. Each prompt belongs to one half by a hash of
its *pattern*, so the held-out half holds phrasings the wording reader (model/cf/wording.py) was never
built against, not just other values in phrasings it was. `write_probe` writes
model/evaluation/cf_phrasing_probe_patterns.jsonl (`codefusion cf probe --probe patterns`).

Conventions (what a rule means in Excel, model/cf/README.md): "say / read / is / marked / tagged /
labelled X" is the whole cell (`TextEquals`, case-insensitive, as Excel compares); "contain / mention /
with X in it" is `TextContains`; "except / other than / not X" negates the rule it qualifies; "missing /
empty / NaN" is `Blanks()`; "#N/A / errors" is `Errors()`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PATTERN_PROBE = Path(__file__).resolve().parent / "cf_phrasing_probe_patterns.jsonl"
HALVES = ("build", "held-out")

NUMBERS: list[Any] = [5, 12, 15, 18, 20, 40, 41, 75, 89, 90, 120, -3, 0, "n/a", None]
STATUS: list[Any] = ["Done", "done", "Not done", "Shipped", "Shipped late", "Late", "Pending", "Closed",
                     "Closed - won", "Open", "Urgent", "urgent - call back", "In Progress", "in progress?",
                     "Paris", "Paris office", "Pending review", "Re-open", 42, None]
NAMES: list[Any] = ["Q1 report.pdf", "q2 plan.PDF", "Budget.xlsx", "Quarterly.docx", "notes.txt",
                    "Query log.pdf", "INV-2024-001", "inv-2023", "PO-77", "#1 priority", "price $5",
                    "a@b.com", "what?", "x/y", "under_score", "Alpha", "alphabet", None]
STATES: list[Any] = [12, None, 0, "", "  ", "#N/A", "#DIV/0!", 7, "text", None, 3, "#VALUE!", -1, 0]


@dataclass(frozen=True)
class Kind:
    name: str
    expected: str  # the rule, with {slots}
    values: list[Any]  # the column the prompts are scored on
    fills: list[dict[str, str]]  # slot values, used in turn
    patterns: list[str]  # phrasings with the same {slots}


KINDS = [
    Kind("text equals", "TextEquals({v})", STATUS,
         [{"v": "Done"}, {"v": "Shipped"}, {"v": "Late"}, {"v": "closed"}, {"v": "Pending"}, {"v": "urgent"},
          {"v": "In Progress"}, {"v": "Open"}],
         ["cells that say {v}", "highlight anything that reads {v}", "flag rows marked {v}",
          "status is {v}", "mark entries tagged {v}", "where the value is {v}", "cells equal to {v}",
          "colour every cell that says {v} green", "items labelled {v}", "cells that are exactly {v}",
          "cells set to {v}", "flag anything marked as {v}", "show the {v} ones", "highlight \"{v}\"",
          "status = {v}", "whatever reads {v}", "entries with status {v}", "rows labeled as {v}"]),
    Kind("text contains", "TextContains({v})", STATUS,
         [{"v": "done"}, {"v": "Paris"}, {"v": "late"}, {"v": "Closed"}, {"v": "urgent"}, {"v": "progress"},
          {"v": "ship"}],
         ["cells that mention {v}", "anything containing {v}", "cells with {v} in them",
          "values that have {v} somewhere in the text", "entries including {v}",
          "rows where the text includes {v}", "cells containing the word {v}", "highlight any cell with {v} in it",
          "text has {v} in it", "entries mentioning {v}", "{v} anywhere in the cell",
          "cells that contain '{v}'", "mark anything which contains {v}", "where the text mentions {v}"]),
    Kind("text starts with", "TextStartsWith({v})", NAMES,
         [{"v": "Q"}, {"v": "INV"}, {"v": "Bud"}, {"v": "al"}, {"v": "PO-"}, {"v": "#"}],
         ["beginning with {v}", "names that start with {v}", "codes with the prefix {v}",
          "anything that begins with the letter {v}", "cells starting with {v}", "ids prefixed with {v}",
          "entries whose text starts with {v}", "files that begin with {v}", "text starting {v}",
          "values that start in {v}"]),
    Kind("text ends with", "TextEndsWith({v})", NAMES,
         [{"v": ".pdf"}, {"v": ".xlsx"}, {"v": "t"}, {"v": "001"}, {"v": "?"}, {"v": ".com"}],
         ["ending in {v}", "files that end with {v}", "names with the suffix {v}", "cells ending with {v}",
          "anything that ends in {v}", "entries finishing with {v}", "values whose last characters are {v}",
          "text ending {v}", "documents that end in '{v}'"]),
    Kind("text contains a symbol", "TextContains({v})", NAMES,
         [{"v": "#", "w": "hash sign"}, {"v": "@", "w": "at sign"}, {"v": "?", "w": "question mark"},
          {"v": "-", "w": "hyphen"}, {"v": "/", "w": "slash"}, {"v": "$", "w": "dollar sign"},
          {"v": "_", "w": "underscore"}],
         ["cells with a {v} in them", "anything containing {v}", "values that have a {w}",
          "cells containing a {w}", "text with the {v} symbol", "entries with a {w} in them",
          "highlight cells that include the {v} character"]),
    Kind("not text", "NOT(TextEquals({v}))", STATUS,
         [{"v": "Closed"}, {"v": "Done"}, {"v": "Pending"}, {"v": "Shipped"}, {"v": "Open"}],
         ["anything except {v}", "everything but {v}", "cells that don't say {v}", "all rows other than {v}",
          "status is not {v}", "everything excluding {v}", "whatever isn't {v}", "cells not equal to {v}",
          "any status apart from {v}"]),
    Kind("not containing", "NOT(TextContains({v}))", STATUS,
         [{"v": "late"}, {"v": "done"}, {"v": "urgent"}, {"v": "Paris"}],
         ["cells not containing {v}", "text without {v} in it", "entries that don't mention {v}",
          "anything that does not contain {v}", "rows whose text doesn't include {v}"]),
    Kind("text either", "OR(TextEquals({v}),TextEquals({w}))", STATUS,
         [{"v": "Done", "w": "Closed"}, {"v": "Late", "w": "Pending"}, {"v": "Open", "w": "Shipped"}],
         ["cells that say {v} or {w}", "status {v} or {w}", "anything marked {v} or {w}",
          "either {v} or {w}", "rows that are {v} or {w}"]),
    Kind("two text tests", "AND(TextStartsWith({v}),TextEndsWith({w}))", NAMES,
         [{"v": "Q", "w": ".pdf"}, {"v": "INV", "w": "1"}, {"v": "al", "w": "t"}],
         ["starting with {v} and ending with {w}", "names that begin with {v} and end in {w}",
          "cells that start with {v} and end with {w}"]),
    Kind("range and", "AND(GreaterThan({a}),LessThan({b}))", NUMBERS,
         [{"a": "40", "b": "90"}, {"a": "10", "b": "20"}, {"a": "0", "b": "75"}, {"a": "12", "b": "89"}],
         ["over {a} and under {b}", "more than {a} but less than {b}", "greater than {a} and below {b}",
          "values above {a} and beneath {b}", "higher than {a} yet lower than {b}",
          "bigger than {a} and smaller than {b}", "numbers > {a} and < {b}", "anything over {a} but under {b}"]),
    Kind("range inclusive and", "AND(GreaterThanEqual({a}),LessThanEqual({b}))", NUMBERS,
         [{"a": "15", "b": "75"}, {"a": "0", "b": "20"}, {"a": "12", "b": "90"}],
         ["at least {a} and at most {b}", "{a} or more and {b} or less", "no less than {a} and no more than {b}",
          "greater than or equal to {a} and less than or equal to {b}"]),
    Kind("either side", "OR(LessThan({a}),GreaterThan({b}))", NUMBERS,
         [{"a": "10", "b": "90"}, {"a": "15", "b": "75"}, {"a": "0", "b": "40"}],
         ["below {a} or above {b}", "under {a} or over {b}", "less than {a} or more than {b}",
          "either under {a} or over {b}", "values outside {a} to {b}", "anything not between {a} and {b}",
          "numbers smaller than {a} or bigger than {b}"]),
    Kind("range but not", "AND(Between({a}, {b}),NotEquals({c}))", NUMBERS,
         [{"a": "10", "b": "20", "c": "15"}, {"a": "0", "b": "90", "c": "40"}, {"a": "12", "b": "89", "c": "75"}],
         ["between {a} and {b} but not {c}", "from {a} to {b} except {c}", "between {a} and {b} other than {c}",
          "values between {a} and {b}, excluding {c}"]),
    Kind("blank or zero", "OR(Blanks(),Equals(0))", STATES,
         [{}],
         ["blank or zero", "empty or 0", "zero or missing", "cells that are 0 or empty", "missing or zero values",
          "cells that are either blank or 0"]),
    Kind("number except", "NotEquals({n})", NUMBERS,
         [{"n": "40"}, {"n": "0"}, {"n": "12"}, {"n": "90"}],
         ["anything except {n}", "every value but {n}", "all values other than {n}", "numbers that aren't {n}",
          "values different from {n}"]),
    Kind("blanks", "Blanks()", STATES,
         [{}],
         ["empty cells", "missing values", "blank entries", "cells with nothing in them", "cells left empty",
          "NaN", "highlight NaN values", "rows with no value", "unfilled cells", "null values",
          "cells that are blank", "show where data is missing", "find the gaps"]),
    Kind("not blank", "NOT(Blanks())", STATES,
         [{}],
         ["cells that aren't empty", "anything filled in", "non-blank cells", "cells with something in them",
          "values that are not missing", "every cell that has a value"]),
    Kind("errors", "Errors()", STATES,
         [{}],
         ["errors", "#N/A", "cells showing #DIV/0!", "formula errors", "cells with an error",
          "highlight error values", "#VALUE! and #N/A cells", "anything that shows an error", "mark the #REF! cells"]),
    Kind("not errors", "NOT(Errors())", STATES,
         [{}],
         ["cells without errors", "everything that is not an error", "values that aren't errors"]),
    Kind("sign", "{rule}", NUMBERS,  # the fills are in the order the patterns ask for them
         [{"rule": "LessThan(0)"}, {"rule": "GreaterThan(0)"}, {"rule": "Equals(0)"}, {"rule": "NotEquals(0)"}],
         ["negative numbers", "positive values", "zero values", "non-zero values", "anything below zero",
          "values above zero", "cells equal to zero", "numbers that are not zero"]),
]


def half_of(pattern: str) -> str:
    """The probe half a pattern's prompt belongs to: a hash of the phrasing, so a half holds whole phrasings."""
    return HALVES[int(hashlib.sha256(pattern.encode()).hexdigest(), 16) % 2]


def probe_rows() -> list[dict[str, Any]]:
    """Every kind × pattern, filled with the kind's fills in turn."""
    rows = []
    for kind in KINDS:
        for i, pattern in enumerate(kind.patterns):
            fill = kind.fills[i % len(kind.fills)]
            rows.append({"prompt": pattern.format(**fill), "expected": kind.expected.format(**fill),
                         "values": kind.values, "kind": kind.name, "half": half_of(pattern)})
    return rows


def write_probe(path: Path = PATTERN_PROBE) -> int:
    rows = probe_rows()
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


if __name__ == "__main__":
    print(f"wrote {write_probe()} prompts to {PATTERN_PROBE}")
