"""The rule a CF prompt states in so many words: "sales above 500" → `GreaterThan(500)`.

A small reader of the phrasings people use for the rule language's conditions — comparisons with a
number ("over", "at least", "500 or less", ">="), ranges ("between 4 and 8", "from 4 to 8", "4-8"),
equality, top/bottom counts and percentages, averages, duplicates, blanks, errors, visuals and text
tests ("containing X", "starting with X"). It reads only what the words say: a prompt it has no phrase
for ("highlight London") gives nothing, and the model's own ranking stands. Used by the CF suggestion
ranking (server/cf_ranking.py) to put the rule the prompt spells out first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codefusion.model.cf.rules import (
    And,
    Average,
    Between,
    CellState,
    Compare,
    CompareOp,
    Not,
    Or,
    Rank,
    Rule,
    Scale,
    State,
    TextOp,
    TextTest,
    Uniqueness,
    Visual,
)

# a number as typed: 500, 1,000, $2.5, -3, 1.5k
_NUM = r"[-+]?\$?\d[\d,]*(?:\.\d+)?k?|[-+]?\$?\.\d+"


def _number(text: str) -> float:
    text = text.replace("$", "").replace(",", "")
    scale = 1000.0 if text.endswith("k") else 1.0
    return float(text.rstrip("k")) * scale


@dataclass(frozen=True)
class Reading:
    """A rule read from the prompt and the words it was read from (shown to the user)."""

    rule: Rule
    words: str


# (pattern with one number group `n`, operator). Longer phrasings first: "greater than or equal to"
# must win over "greater than", "500 or more" over a bare number.
_COMPARISONS: list[tuple[str, CompareOp]] = [
    (r"(?:(?:greater|more|higher|bigger|larger) th[ae]n or equal to|equal to or (?:greater|more|higher|bigger|"
     r"larger) th[ae]n)\s+(?P<n>{N})", CompareOp.GREATER_EQUAL),
    (r"(?:(?:less|lower|smaller|fewer) th[ae]n or equal to|equal to or (?:less|lower|smaller|fewer) th[ae]n)"
     r"\s+(?P<n>{N})", CompareOp.LESS_EQUAL),
    (r">=\s*(?P<n>{N})|≥\s*(?P<n2>{N})", CompareOp.GREATER_EQUAL),
    (r"<=\s*(?P<n>{N})|≤\s*(?P<n2>{N})", CompareOp.LESS_EQUAL),
    (r"(?:<>|!=|≠)\s*(?P<n>{N})", CompareOp.NOT_EQUAL),
    (r"(?:at least|no less than|not less than|a minimum of|minimum of|min of)\s+(?P<n>{N})",
     CompareOp.GREATER_EQUAL),
    (r"(?:at most|no more than|not more than|up to|a maximum of|maximum of|max of)\s+(?P<n>{N})",
     CompareOp.LESS_EQUAL),
    (r"(?P<n>{N})\s*(?:or|and) (?:more|above|higher|greater|over|up|bigger|larger)\b(?!\s*(?:than|{N}))|(?P<n2>{N})\+",
     CompareOp.GREATER_EQUAL),
    (r"(?P<n>{N})\s*(?:or|and) (?:less|below|lower|fewer|under|smaller|down)\b(?!\s*(?:than|{N}))",
     CompareOp.LESS_EQUAL),
    (r"(?:not equal to|not equals?|does not equal|doesn't equal|other than|except(?: for)?|excluding|"
     r"different from|not)\s+(?P<n>{N})(?!\s*(?:and|-|to)\s*{N})", CompareOp.NOT_EQUAL),
    (r"(?:(?:greater|more|higher|bigger|larger) th[ae]n|above|over|exceed(?:s|ing)?|"
     r"in excess of|>)\s*(?P<n>{N})", CompareOp.GREATER),
    (r"(?:(?:less|lower|smaller|fewer) th[ae]n|below|under|beneath|<)\s*(?P<n>{N})", CompareOp.LESS),
    (r"(?:equal to|equals?|exactly|=|is|are|of)\s+(?P<n>{N})(?!\s*(?:%|percent|and|or|-|to)\b)",
     CompareOp.EQUAL),
]
_COMPARISON_RES = [(re.compile(p.replace("{N}", _NUM)), op) for p, op in _COMPARISONS]
_BETWEEN = [re.compile(p.replace("{N}", _NUM)) for p in (
    r"between\s+(?P<a>{N})\s*(?:and|&|-|to)\s*(?P<b>{N})",
    r"from\s+(?P<a>{N})\s*(?:to|-|until|till)\s*(?P<b>{N})",
    r"(?:range|within)\s+(?:of\s+)?(?P<a>{N})\s*(?:-|–|to)\s*(?P<b>{N})",
    r"(?<![\w.])(?P<a>{N})\s*(?:-|–)\s*(?P<b>{N})(?![\w.])",
)]
_TOP = re.compile(rf"\b(?:top|highest|largest|biggest|greatest|best)\s+(?P<n>{_NUM})\s*(?P<p>%|percent\b)?"
                  rf"|(?P<m>{_NUM})\s+(?:highest|largest|biggest|greatest|best|top)\b")
_BOTTOM = re.compile(rf"\b(?:bottom|lowest|smallest|worst)\s+(?P<n>{_NUM})\s*(?P<p>%|percent\b)?"
                     rf"|(?P<m>{_NUM})\s+(?:lowest|smallest|worst|bottom)\b")
_SINGLE_TOP = re.compile(r"\bthe (?:highest|largest|biggest|greatest|maximum|max|top)\b(?! \d)|\bmaximum value\b")
_SINGLE_BOTTOM = re.compile(r"\bthe (?:lowest|smallest|minimum|min)\b(?! \d)|\bsmallest (?:value|number)\b"
                            r"|\bminimum value\b")
_ABOVE_AVG = re.compile(r"\b(?:above|over|greater than|higher than|more than|exceeding)\s+(?:the\s+)?"
                        r"(?:average|mean)\b")
_BELOW_AVG = re.compile(r"\b(?:below|under|less than|lower than|smaller than|beneath)\s+(?:the\s+)?"
                        r"(?:average|mean)\b")
_DUPLICATE = re.compile(r"\b(?:duplicates?|duplicated|dupes?|repeated|repeats?|appears? more than once|"
                        r"occurs? more than once)\b")
_UNIQUE = re.compile(r"\b(?:unique|distinct|(?:appears?|occurs?) (?:only )?once|no duplicates?)\b")
_NOT_BLANK = re.compile(r"\b(?:non-?\s?(?:blank|empty)|not (?:blank|empty)|filled(?: in)?|has a value|"
                        r"have a value)\b")
_BLANK = re.compile(r"\b(?:blanks?|empty|missing values?)\b")
_ERRORS = re.compile(r"#n/a|#div/0!?|#value!?|#ref!?|\berrors?\b")
_VISUALS = [
    (re.compile(r"\b(?:colou?r[- ]?scales?|heat[- ]?map|gradient)\b"), Visual.COLOR_SCALE),
    (re.compile(r"\bdata[- ]?bars?\b|\bbars?\b"), Visual.DATA_BAR),
    (re.compile(r"\bicons?(?:[- ]?sets?)?\b|\btraffic lights?\b|\barrows\b"), Visual.ICON_SET),
]
# the text argument: a quoted string, or the next word (letters, digits, a few joiners)
_ARG = r"(?:\"(?P<q>[^\"]+)\"|'(?P<s>[^']+)'|“(?P<u>[^”]+)”|(?P<w>[^\s,;:!?\"']*[^\s,;:.!?\"']))"
_TEXTS = [
    (re.compile(rf"\b(?:start(?:s|ing)?|begin(?:s|ning)?) with\s+(?:the (?:letters?|text|word|prefix)\s+)?{_ARG}"),
     TextOp.STARTS_WITH),
    (re.compile(rf"\b(?:end(?:s|ing)?) (?:with|in)\s+(?:the (?:letters?|text|word|suffix)\s+)?{_ARG}"),
     TextOp.ENDS_WITH),
    (re.compile(rf"\b(?:contain(?:s|ing)?|includ(?:e|es|ing)|with)\s+(?:the (?:word|text|string|letters?)\s+)?"
                rf"{_ARG}(?=(?:\s+(?:in (?:it|them)|anywhere))?\s*$)"), TextOp.CONTAINS),
    (re.compile(rf"\b(?:contain(?:s|ing)?|includ(?:e|es|ing))\s+(?:the (?:word|text|string|letters?)\s+)?{_ARG}"),
     TextOp.CONTAINS),
    (re.compile(rf"\b(?:text|word|value|cells?)\s+(?:is\s+|equal to\s+|equals?\s+|of\s+)(?:exactly\s+)?{_ARG}"),
     TextOp.EQUALS),
    (re.compile(rf"\b(?:equal to|equals|exactly|matching|matches)\s+{_ARG}"), TextOp.EQUALS),
    (re.compile(r"\"(?P<q>[^\"]+)\"|(?<!\w)'(?P<s>[^']+)'|“(?P<u>[^”]+)”"), TextOp.CONTAINS),  # quoted text
]
_FILLER = frozenset({"a", "an", "the", "any", "some", "it", "them", "text", "word", "value", "values",
                     "cells", "cell"})


def _comparisons(text: str) -> list[tuple[int, int, Compare, str]]:
    """Every comparison in the text, each number read once, by the first (longest) phrasing that takes it."""
    found: list[tuple[int, int, Compare, str]] = []
    for regex, op in _COMPARISON_RES:
        for m in regex.finditer(text):
            name = "n" if m.group("n") is not None else "n2"
            span = m.span(name)
            if any(s <= span[0] < e for s, e, _, _ in found):
                continue
            if op is CompareOp.EQUAL and re.search(r"\b(?:top|bottom|highest|lowest)\s*$", text[:m.start()]):
                continue
            found.append((m.start(), span[1], Compare(op, _number(m.group(name))), m.group(0).strip()))
    return sorted(found, key=lambda f: f[0])


def _combined(text: str, found: list[tuple[int, int, Compare, str]]) -> Reading | None:
    """Two comparisons joined by "and"/"or": `AND(...)`/`OR(...)`."""
    if len(found) != 2:
        return None
    (s1, e1, a, w1), (s2, e2, b, w2) = found
    joiner = text[e1:s2].strip()
    words = text[s1:e2]
    if joiner in ("and", "but", "but also", "and also", "&"):
        return Reading(And((a, b)), words)
    if joiner in ("or", "and/or"):
        return Reading(Or((a, b)), words)
    return None


def _text_arg(m: re.Match[str]) -> str | None:
    groups = m.groupdict()
    for name in ("q", "s", "u"):
        if groups.get(name):
            return groups[name]
    word = groups.get("w")
    return None if word is None or word.lower() in _FILLER else word


def _texts(prompt: str, lower: str) -> list[Reading]:
    """Text tests; the argument keeps the prompt's own letters (tests ignore case, but the rule shows it)."""
    source = prompt if len(prompt) == len(lower) else lower  # lower() may change a length (rare Unicode)
    for regex, op in _TEXTS:
        m = regex.search(lower)
        if m and _text_arg(m) is not None:
            start, end = next(m.span(g) for g in ("q", "s", "u", "w") if m.groupdict().get(g))
            return [Reading(TextTest(op, source[start:end]), m.group(0))]  # the most specific phrasing
    return []


def read_wording(prompt: str) -> list[Reading]:
    """The rules `prompt` states in words, most specific first; empty when it names no condition."""
    text = " ".join(prompt.lower().split())
    readings: list[Reading] = []
    taken: list[tuple[int, int]] = []  # spans already read, so "top 10" is not also "equal to 10"

    def add(rule: Rule, m: re.Match[str]) -> None:
        readings.append(Reading(rule, m.group(0).strip()))
        taken.append(m.span())

    for regex, above in ((_ABOVE_AVG, True), (_BELOW_AVG, False)):
        if m := regex.search(text):
            add(Average(above=above), m)
    for regex, bottom in ((_TOP, False), (_BOTTOM, True)):
        if m := regex.search(text):
            count = _number(m.group("n") or m.group("m"))
            percent = bool(m.groupdict().get("p"))
            if (percent and 0 < count <= 100) or (not percent and count == int(count) and 1 <= count <= 1000):
                add(Rank(count=count, percent=percent, bottom=bottom), m)
    for regex, bottom in ((_SINGLE_TOP, False), (_SINGLE_BOTTOM, True)):
        if not any(isinstance(r.rule, Rank) for r in readings) and (m := regex.search(text)):
            add(Rank(count=1, bottom=bottom), m)
    for regex in _BETWEEN:
        if (m := regex.search(text)) and not any(s <= m.start() < e for s, e in taken):
            add(Between(_number(m.group("a")), _number(m.group("b"))), m)
            break
    found = [f for f in _comparisons(text) if not any(s <= f[0] < e or f[0] <= s < f[1] for s, e in taken)]
    combined = _combined(text, found)
    if combined is not None:
        readings.append(combined)
    else:
        readings.extend(Reading(c, words) for _, _, c, words in found)
    for m, rule in ((_DUPLICATE.search(text), Uniqueness(duplicate=True)),
                    (_UNIQUE.search(text), Uniqueness(duplicate=False))):
        if m:
            add(rule, m)
    if m := _NOT_BLANK.search(text):
        add(Not(State(CellState.BLANKS)), m)
    elif m := _BLANK.search(text):
        add(State(CellState.BLANKS), m)
    if m := _ERRORS.search(text):
        add(State(CellState.ERRORS), m)
    for regex, kind in _VISUALS:
        if m := regex.search(text):
            add(Scale(kind), m)
            break
    if not readings:
        readings.extend(_texts(" ".join(prompt.split()), text))
    return _distinct(readings)


def _distinct(readings: list[Reading]) -> list[Reading]:
    seen: set[Rule] = set()
    out = []
    for r in readings:
        if r.rule not in seen:
            seen.add(r.rule)
            out.append(r)
    return out
