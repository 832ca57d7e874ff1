"""The rule a CF prompt states in so many words: "sales above 500" → `GreaterThan(500)`.

A small reader of the phrasings people use for the rule language's conditions — comparisons with a
number ("over", "at least", "500 or less", ">=", "below zero", "negative"), ranges ("between 4 and 8",
"from 4 to 8", "4-8", "outside 4 to 8"), equality, top/bottom counts and percentages, averages,
duplicates, blanks ("empty", "missing", "NaN"), errors ("#N/A"), visuals, and text tests whose value is
the user's own words, quoted or not ("that say Done", "marked as Late", "that mention Paris", "beginning
with Q", "ending in .pdf", "with a # in them", "with a question mark"). Conditions joined by "and/but/or"
or qualified by "not/except/other than" are combined (`AND/OR/NOT`): "over 40 and under 90", "anything
except Closed", "blank or zero", "between 10 and 20 but not 15".

Text values keep the prompt's letters (Excel compares text case-insensitively, so the case only shows);
sentence punctuation around a value is not part of it, symbols that are the value are ("ending in ?").
A prompt with a bare value and no verb ("highlight London", "mark cancelled orders") gives a guess,
marked `sure=False`: the ranking keeps it first only when it highlights some of the range's cells.
Used by the CF suggestion ranking (server/cf_ranking.py) to put the rule the prompt spells out first.

Built against the build half of the phrasing probe (model/evaluation/cf_probe_patterns.py) and the
phrasings of tests/test_cf_wording.py; measured on the probe's held-out half and by cross-validation
over the training data (`codefusion cf probe --probe patterns --half held-out`, `codefusion cf crossval`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codefusion.model.cf.executor import ERROR_VALUES
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
    sure: bool = True  # False: a guess (a bare value, "says X" as equal or containing): first only if it picks cells


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
     r"different from|not|isn't|aren't)\s+(?P<n>{N})(?!\s*(?:and|-|to)\s*{N})", CompareOp.NOT_EQUAL),
    (r"(?:(?:greater|grater|more|higher|bigger|larger)(?: (?:value|number|amount)s?)? th[ae]n|above|over|"
     r"exceed(?:s|ing)?|in excess of|>)\s*(?P<n>{N})", CompareOp.GREATER),
    (r"(?:(?:less|lower|smaller|fewer)(?: (?:value|number|amount)s?)? th[ae]n|below|under|beneath|<)\s*(?P<n>{N})",
     CompareOp.LESS),
    (r"(?:equal to|equals?|exactly|=|is|are|of)\s+(?P<n>{N})(?!\s*(?:%|percent|and|-|to)\b)",
     CompareOp.EQUAL),
]
_COMPARISON_RES = [(re.compile(p.replace("{N}", _NUM)), op) for p, op in _COMPARISONS]
_BETWEEN = [re.compile(p.replace("{N}", _NUM)) for p in (
    r"between\s+(?P<a>{N})\s*(?:and|&|-|to)\s*(?P<b>{N})",
    r"from\s+(?P<a>{N})\s*(?:to|-|until|till)\s*(?P<b>{N})",
    r"(?:range|within)\s+(?:of\s+)?(?P<a>{N})\s*(?:-|–|to)\s*(?P<b>{N})",
    r"(?<![\w.])(?P<a>{N})\s*(?:-|–)\s*(?P<b>{N})(?![\w.])",
)]
_YEAR_SPAN = re.compile(r"(?:19|20)\d\d\s*[-–]\s*(?:(?:19|20)\d\d|\d\d)")
_TOP = re.compile(rf"\b(?:top|highest|largest|biggest|greatest|best)\s*(?P<n>{_NUM})\s*(?P<p>%|percent\b)?"
                  rf"|(?P<m>{_NUM})\s+(?:highest|largest|biggest|greatest|best|top)\b")
_BOTTOM = re.compile(rf"\b(?:bottom|lowest|smallest|worst)\s*(?P<n>{_NUM})\s*(?P<p>%|percent\b)?"
                     rf"|(?P<m>{_NUM})\s+(?:lowest|smallest|worst|bottom)\b")
_SINGLE_TOP = re.compile(r"\bthe (?:highest|largest|biggest|greatest|maximum|max|top)\b(?! \d)"
                         r"|\b(?:highest|largest|biggest|greatest|maximum|max) (?:value|number|amount|score)\b(?!s)")
_SINGLE_BOTTOM = re.compile(r"\bthe (?:lowest|smallest|minimum|min)\b(?! \d)"
                            r"|\b(?:lowest|smallest|minimum|min) (?:value|number|amount|score)\b(?!s)"
                            r"|\bminimum value\b")
_ABOVE_AVG = re.compile(r"\b(?:above|over|greater than|higher than|more than|exceeding)\s+(?:the\s+)?"
                        r"(?:average|mean)\b")
_BELOW_AVG = re.compile(r"\b(?:below|under|less than|lower than|smaller than|beneath)\s+(?:the\s+)?"
                        r"(?:average|mean)\b")
_DUPLICATE = re.compile(r"\b(?:duplicates?|duplicated|dupes?|repeated|repeats?|appears? more than once|"
                        r"occurs? more than once)\b")
_UNIQUE = re.compile(r"\b(?:unique|distinct|(?:appears?|occurs?) (?:only )?once|no duplicates?)\b")
_NOT_BLANK = re.compile(r"(?:\bnon-?\s?(?:blank|empty|null)|(?:\bnot|n't|\bnever) (?:be )?(?:blank|empty|missing|null)|"
                        r"\bfilled(?: in)?|populated|(?:has|have|with) (?:a value|something in (?:it|them))|"
                        r"(?:anything|something) in (?:it|them))\b")
_BLANK = re.compile(r"\b(?:blanks?|empty|missing(?: values?| data)?|(?:is|are) missing|nan|nulls?|unfilled|"
                    r"no (?:value|data|entry)|nothing in (?:it|them)|without (?:a )?value|gaps?)\b")
_NOT_ERRORS = re.compile(r"(?:\bwithout (?:an? )?errors?|\bno errors?|(?:\bnot|n't) (?:an? )?errors?|"
                         r"\berror[- ]free)\b")
_ERRORS = re.compile(r"#n/a|#div/0!?|#value!?|#ref!?|#name\?|#num!?|#null!?|\berrors?\b")
_SIGN = [(re.compile(r"\bnegatives?\b"), Compare(CompareOp.LESS, 0.0)),
         (re.compile(r"\bpositives?\b"), Compare(CompareOp.GREATER, 0.0)),
         (re.compile(r"\bnon-?\s?(?:0|zero)\b"), Compare(CompareOp.NOT_EQUAL, 0.0)),
         (re.compile(r"(?<![\w.$-])(?:zeros|zeroes|0s|0 (?:values?|cells?|entries|numbers?|amounts?))\b"
                     r"|\b(?:with|having|contain(?:s|ing)?) (?:a )?0(?![\w.,%])"),
          Compare(CompareOp.EQUAL, 0.0))]
# "outside 10 to 90", "not between 10 and 90": numbers on either side (text and blanks are neither)
_OUTSIDE = re.compile(r"(?:outside(?: of)?(?: the range(?: of)?)?|not between|not in the range(?: of)?)\s+"
                      r"(?P<a>{N})\s*(?:and|to|-|–)\s*(?P<b>{N})".replace("{N}", _NUM))
_NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                 "seven": "7", "eight": "8", "nine": "9", "ten": "10", "twenty": "20", "fifty": "50",
                 "a hundred": "100", "one hundred": "100", "hundred": "100", "a thousand": "1000",
                 "one thousand": "1000", "thousand": "1000", "a million": "1000000"}
_NUMBER_WORD = re.compile(r"\b(?:" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\b(?![-'])",
                          re.IGNORECASE)
# most specific first: "icon bar" and "5 icon colour scale" are icon sets, a "gradient fill" is Excel's data bar
_LOW_WORDS = r"(?:low|lower|lowest|min|minimum|small|smaller|smallest|bottom)"
_HIGH_WORDS = r"(?:high|higher|highest|max|maximum|large|larger|largest|big|bigger|biggest|top)"
_VISUALS = [
    (re.compile(r"\bicons?(?:[- ]?sets?)?\b|\btraffic lights?\b|\barrows\b"), Visual.ICON_SET),
    (re.compile(r"\bdata[- ]?bars?\b|\b(?:gradient|solid) fill\b"), Visual.DATA_BAR),
    (re.compile(rf"\b(?:colou?r[- ]?scales?|heat[- ]?map|gradient)\b|\b{_LOW_WORDS} to {_HIGH_WORDS}\b"
                rf"|\b{_HIGH_WORDS} to {_LOW_WORDS}\b"), Visual.COLOR_SCALE),  # "shade from low to high"
    (re.compile(r"\bbars?\b"), Visual.DATA_BAR),
]
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
            found.append((m.start(), m.end(), Compare(op, _number(m.group(name))), m.group(0).strip()))
    return sorted(found, key=lambda f: f[0])


# --- text tests: the value is the user's own words ------------------------------------------------------

_SYMBOLS = {"hash sign": "#", "hash": "#", "hashtag": "#", "pound sign": "#", "number sign": "#", "at sign": "@",
            "at symbol": "@", "question mark": "?", "exclamation mark": "!", "exclamation point": "!",
            "hyphen": "-", "dash": "-", "forward slash": "/", "slash": "/", "backslash": "\\",
            "underscore": "_", "dollar sign": "$", "percent sign": "%", "asterisk": "*", "comma": ",",
            "full stop": ".", "period": ".", "dot": ".", "colon": ":", "semicolon": ";", "ampersand": "&",
            "plus sign": "+", "equals sign": "=", "apostrophe": "'", "space": " "}
_SYMBOL = re.compile(r"(?:an?\s+|the\s+)?(?P<name>" + "|".join(sorted(_SYMBOLS, key=len, reverse=True)) + r")\b"
                     r"(?:\s+(?:sign|symbol|character))?")
# never a value: function words and the words of other conditions
_NOT_VALUE = frozenset("""
a an the any some all every each it them this that these those its their there here cell cells value values text
word words number numbers string letter letters character characters row rows entry entries item items
greater less more fewer higher lower bigger smaller larger above below over under beneath between equal equals
exactly top bottom highest lowest largest smallest not no in on at from to with without by of for than as and or
but is are be was were if when where which who whose contain contains containing include includes including
mention mentions mentioning start starts starting begin begins beginning end ends ending say says read reads
marked tagged labelled labeled set same different average mean positive negative zero date dates today
something anything nothing everything column columns sheet sheets range tab workbook file
apart aside except other besides excluding either neither both conditional formatting format formation""".split())
_STATUS_PREPOSITIONS = frozenset({"on", "in", "at", "off", "out", "under", "past"})  # "on hold", "in progress"
# condition words: not a value when typed in lower case ("contain errors"), a value when capitalised ("Error")
_STATE_WORDS = frozenset("error errors blank blanks empty missing null nan duplicate duplicates unique".split())
# words that end a value of several words ("say done in green", "marked late by the client")
_VALUE_STOP = _NOT_VALUE | frozenset("""
please only anywhere somewhere ones one red green yellow orange blue purple pink grey gray bold italic colour
color colored coloured highlighted highlight fill font status label tag so then yet also either""".split())
_VERB_ARTICLES = re.compile(r"(?:(?:the|a|an)\s+)?(?:(?:word|words|text|string|phrase|term|letters?|characters?|"
                            r"value|prefix|suffix|status|label|tag|name)\s+)?")

# (phrasing before the value, operator, sense): sense "sure" or "either" (equal first, contains second, both guesses)
_TEXT_VERBS: list[tuple[re.Pattern[str], TextOp, str]] = [(re.compile(p), op, sense) for p, op, sense in [
    (r"\b(?:start|starts|starting|started|begin|begins|beginning|began)(?:\s+(?:with|in|by|as))?\s+"
     r"|\b(?:prefixed|prefix)(?:\s+(?:with|by|of))?\s+"
     r"|\bfirst (?:letter|letters|character|characters|word)\s+(?:is|are|of|=)\s+", TextOp.STARTS_WITH, "sure"),
    (r"\b(?:end|ends|ending|ended|finish|finishes|finishing|finished)(?:\s+(?:with|in|by|on))?\s+"
     r"|\bsuffix(?:ed)?(?:\s+(?:with|by|of))?\s+"
     r"|\blast (?:letter|letters|character|characters|word)\s+(?:is|are|of|=)\s+", TextOp.ENDS_WITH, "sure"),
    (r"\b(?:contain|contains|containing|contained|include|includes|including|included|mention|mentions|"
     r"mentioning|mentioned)\s+", TextOp.CONTAINS, "sure"),
    (r"\b(?:say|says|said|saying|read|reads|reading|(?:marked|labell?ed|tagged|flagged)(?:\s+as)?)\s+",
     TextOp.EQUALS, "either"),
    (r"\b(?:set to|called|named|equal to(?:\s*=)?|equals|exactly|matching|matches|match|either)\s+|(?<![<>!])=\s*"
     r"|\bstatus\s+(?:is\s+|are\s+|of\s+|=\s*|:\s*)?"
     r"|\b(?:state|label|tag|category|type|value|text|name|word)\s+(?:is\s+|are\s+|of\s+|=\s*|:\s*)"
     r"|\b(?:is|are)\s+", TextOp.EQUALS, "sure"),
]]
# "with X in them", "has X somewhere": contains, the value between
_HAS = re.compile(r"\b(?:with|has|have|having)\s+(?!(?:an? |the )?(?:status|label|tag|category|state|type)\b)")
_HAS_AFTER = re.compile(r"\s+(?:in (?:it|them|the \w+|their \w+|its \w+|each \w+)|anywhere|somewhere)\b")
_ANYWHERE = re.compile(r"(?P<v>[^\s\"']+)\s+(?:anywhere|somewhere) in\b")
_EXCEPT = re.compile(r"\b(?:except(?: for)?|but|other than|apart from|excluding|besides|aside from|save for|"
                     r"isn't|is not|aren't|are not|not)\s+")
_NEGATED = re.compile(r"(?:\bnot|n't|\bnever|\bno longer)\s+(?:\w+\s+)?$")
_WITHOUT = re.compile(r"\bwithout\s+")
# the request around a value: "please apply conditional formatting to", "change the cell colour of", "in red"
_COLOURS = r"red|green|yellow|orange|blue|purple|pink|grey|gray|light|dark|bold|italic"
_COMMAND = re.compile(r"^(?:(?:please|can|could|would|you|i|i'd|we|want|like|to|apply|applied|change|changed|"
                      r"highlight|highlighted|mark|flag|colou?r|colou?rs|shade|show|me|find|out|format|formatting|conditional|"
                      r"conditionally|condition|formation|bold|select|pick|identify|spot|emphasi[sz]e|fill|get|list|"
                      r"equal|set|use|make|add|put|all|any|every|each|the|only|of|just|for|cell|cells|font|background|"
                      r"border|text|value|values|" + _COLOURS + r")\b[\s,;:]*)*")
_TRAILING = re.compile(r"(?:\s+(?:ones?|cells?|rows?|values?|entries|items?|only|please|highlighted|colou?red|"
                       r"formatted|marked|in (?:" + _COLOURS + r"|(?:the|this|my|each|every) \w+(?: column)?|"
                       r"column \w+)|(?:by|using|with) (?:conditional )?format(?:ting)?|status(?:es)?))+$")


def _end_of_request(lower: str) -> int:
    """Where the request ends: before the closing punctuation and words ("... in red please.")."""
    return len(_TRAILING.sub("", lower.rstrip(".!?, ")).rstrip(".!?, "))


@dataclass(frozen=True)
class _Atom:
    start: int
    end: int
    rule: Rule
    words: str
    sure: bool = True


def _value_at(cased: str, lower: str, pos: int, numbers: bool = False) -> tuple[int, int, str] | None:
    """The value a phrasing ending at `pos` names: a quoted text, a named symbol ("a question mark"), or
    the next words (one, or a run of capitalised words, or of lower-case words up to a stop word); a number
    only where `numbers` (a text test of digits: "ending in 001"; "is 5" is a comparison)."""
    m = _VERB_ARTICLES.match(lower, pos)
    rest = lower[m.end():].split() if m else []
    # skip "the word", "a": unless what follows ends the value ("with A and ...", "with the word in it")
    if m and rest and rest[0] not in _VALUE_STOP and not _HAS_AFTER.match(lower, m.end() - 1):
        pos = m.end()
    m = re.compile(r"\"([^\"]+)\"|“([^”]+)”|(?<!\w)'([^']+)'(?!\w)").match(cased, pos)
    if m:  # spaces just inside the quotes are typing, not the value (unless they are all of it)
        group = next(i for i in (1, 2, 3) if m.group(i))
        value = m.group(group).strip() or m.group(group)
        start = m.start(group) + m.group(group).index(value)
        return start, start + len(value), value
    m = _SYMBOL.match(lower, pos)
    if m:
        return m.start("name"), m.end(), _SYMBOLS[m.group("name")]
    tokens = [(t.start(), t.end()) for t in re.finditer(r"[^\s\"“”]+", lower[pos:pos + 80])][:4]
    words: list[tuple[int, int]] = []
    for i, (s, e) in enumerate(tokens):
        s, e = s + pos, e + pos
        raw = cased[s:e]
        token = raw.rstrip(".,;:!?)") or raw  # sentence punctuation is not the value; a symbol alone is
        token = token.lstrip("(") or token
        start = s + raw.index(token)
        end = start + len(token)
        if i == 0 and len(token) > 1 and token[0] == "=":  # "equal to =Opening"
            token, start = token[1:], start + 1
        word = token.lower()
        if not token.strip(".,;:"):
            break  # a full stop or comma is the sentence's, not a value
        # a name with a number: "Level 2", "Phase 10"
        numbered = i > 0 and cased[words[-1][0]].isupper() and re.fullmatch(r"\d{1,4}", word) is not None
        if i == 0:
            after = lower[tokens[1][0] + pos:tokens[1][1] + pos] if len(tokens) > 1 else ""
            # a function word that is a value: "In Progress", "starting with A and ...", "is on hold"
            name = token[:1].isupper() and start > 0 and (cased[tokens[1][0] + pos].isupper() if after else True)
            letter = token in ("A", "I") and (not after or after in _VALUE_STOP)
            state = word in _STATUS_PREPOSITIONS and after not in _VALUE_STOP | {""} and not re.fullmatch(_NUM, after)
            if (word in _NOT_VALUE and not (name or letter or state)) or (word in _STATE_WORDS and token == word) \
                    or word.upper() in ERROR_VALUES:
                return None
            if re.fullmatch(_NUM, word) and not numbers:
                return None  # "is 5": the comparisons read it
        elif not numbered and (word in _VALUE_STOP or (token[:1].isupper() != cased[words[0][0]].isupper())
                               or re.fullmatch(_NUM, word)):
            break
        words.append((start, end))
        if end < e or i >= 2:  # punctuation after it ends the value
            break
    if not words:
        return None
    return words[0][0], words[-1][1], cased[words[0][0]:words[-1][1]]


def _text_atoms(cased: str, lower: str, taken: list[tuple[int, int]]) -> list[_Atom]:
    """Text tests, each value read once by the first (most specific) phrasing that takes it."""
    atoms: list[_Atom] = []

    def free(s: int, e: int) -> bool:
        return not any(a < e and s < b for a, b in taken) and not any(a.start < e and s < a.end for a in atoms)

    def add(op: TextOp, found: tuple[int, int, str], verb_start: int, negate: bool, sense: str) -> None:
        s, e, value = found
        if not value.strip() and value != " " or not free(s, e):
            return
        words = lower[verb_start:e]
        if sense == "either":
            rules: list[tuple[Rule, bool]] = [(TextTest(TextOp.EQUALS, value), False),
                                              (TextTest(TextOp.CONTAINS, value), False)]
        else:
            rules = [(TextTest(op, value), True)]
        for rule, sure in rules:
            atoms.append(_Atom(verb_start, e, Not(rule) if negate else rule, words, sure or negate))
        # "say Done or Closed", "contain A and B": the same test of the next value
        more = re.compile(r"\s*(?:,\s*)?(?:or|and|and/or|nor|,)\s+").match(lower, e)
        if more and (nxt := _value_at(cased, lower, more.end(), op is not TextOp.EQUALS)) is not None:
            add(op, nxt, nxt[0], negate, sense)

    def verbs(which: slice) -> None:
        for regex, op, sense in _TEXT_VERBS[which]:
            for m in regex.finditer(lower):
                found = _value_at(cased, lower, m.end(), op is not TextOp.EQUALS)
                if found is not None:
                    add(op, found, m.start(), bool(_NEGATED.search(lower[:m.start()])), sense)

    end = _end_of_request(lower)
    verbs(slice(0, 3))  # starts, ends, contains
    for m in _HAS.finditer(lower):
        found = _value_at(cased, lower, m.end())
        if found is not None and (_HAS_AFTER.match(lower, found[1]) or found[1] >= end):
            add(TextOp.CONTAINS, found, m.start(), bool(_NEGATED.search(lower[:m.start()])), "sure")
    for m in _WITHOUT.finditer(lower):
        found = _value_at(cased, lower, m.end())
        if found is not None:
            add(TextOp.CONTAINS, found, m.start(), True, "sure")
    for m in _ANYWHERE.finditer(lower):
        found = _value_at(cased, lower, m.start("v"), True)
        if found is not None:
            add(TextOp.CONTAINS, found, m.start(), False, "sure")
    verbs(slice(3, None))  # says, is, equal to
    for m in _EXCEPT.finditer(lower):
        found = _value_at(cased, lower, m.end())
        if found is not None:
            add(TextOp.EQUALS, found, m.start(), True, "sure")
    for m in re.finditer(r"\"(?P<q>[^\"]+)\"|(?<!\w)'(?P<s>[^']+)'(?!\w)|“(?P<u>[^”]+)”", cased):
        group = next(g for g in ("q", "s", "u") if m.group(g))
        bare = not (_COMMAND.sub("", lower[:m.start()]).strip() or _TRAILING.sub("", lower[m.end():]).strip(" ,.!?;:"))
        ops = [(TextOp.EQUALS, True), (TextOp.CONTAINS, False)] if bare else [(TextOp.CONTAINS, True)]
        if free(m.start(group), m.end(group)):
            for op, sure in ops:
                atoms.append(_Atom(m.start(), m.end(), TextTest(op, m.group(group)), m.group(0), sure))
    return atoms


def _bare_value(cased: str, lower: str) -> list[_Atom]:
    """A prompt that is a value and no condition ("highlight London", "mark cancelled orders", "highlight all 0"):
    a guess."""
    start = _COMMAND.match(lower)
    s = start.end() if start else 0
    e = _end_of_request(lower)
    tokens = [(t.start() + s, t.end() + s) for t in re.finditer(r"\S+", lower[s:e])]
    words = [lower[a:b] for a, b in tokens]
    if words and re.fullmatch(_NUM, words[-1]) and (len(words) == 1 or words[:-1] in (["year"], ["number"])):
        a, b = tokens[-1]
        return [_Atom(a, b, Compare(CompareOp.EQUAL, _number(words[-1])), cased[a:b], False)]
    if not 1 <= len(tokens) <= 3 or any(lower[a:b] in _VALUE_STOP or lower[a:b] in _STATE_WORDS
                                        or re.fullmatch(_NUM, lower[a:b]) for a, b in tokens):
        return []
    capitals = [i for i, (a, _) in enumerate(tokens) if cased[a].isupper() and a > 0]
    if capitals:  # the last run of capitalised words: "Stad name Ans", "Mexico city"
        first = capitals[-1]
        while first - 1 in capitals:
            first -= 1
        tokens = tokens[first:capitals[-1] + 1]
    elif len(tokens) == 2 and lower[tokens[1][0]:tokens[1][1]].endswith("s"):
        tokens = tokens[:1]  # "cancelled orders": the state, not the thing
    a, b = tokens[0][0], tokens[-1][1]
    value = cased[a:b]
    return [_Atom(a, b, TextTest(TextOp.EQUALS, value), value, False),
            _Atom(a, b, TextTest(TextOp.CONTAINS, value), value, False)]


# --- combining cell conditions ----------------------------------------------------------------------------

_AND_JOINERS = frozenset({"and", "but", "&", "yet", "while", "and also", "but also", "but not", ",", ", and", ", but"})
_OR_JOINERS = frozenset({"or", "and/or", ", or", "or else", "nor"})
_JOIN_FILLER = re.compile(r"\b(?:values?|cells?|numbers?|ones?|it|they|is|are|that|which|also|still|either|"
                          r"anything|everything|the)\b")


def _joiner(text: str) -> str | None:
    """"and" / "or" for the words between two conditions, None when they are not a plain joiner."""
    words = " ".join(_JOIN_FILLER.sub(" ", text).split())
    if words in _AND_JOINERS:
        return "and"
    if words in _OR_JOINERS:
        return "or"
    return None


def _negation(rule: Rule) -> bool:
    return isinstance(rule, Not) or (isinstance(rule, Compare) and rule.op is CompareOp.NOT_EQUAL)


def _combine(text: str, atoms: list[_Atom]) -> _Atom | None:
    """Cell conditions in a row joined by "and"/"or" (or qualified by "except N"): one AND/OR of them."""
    chain = sorted((a for a in atoms if a.sure or isinstance(a.rule, TextTest)), key=lambda a: a.start)
    chain = [a for i, a in enumerate(chain) if not any(b.start == a.start and b.end == a.end for b in chain[:i])]
    if len(chain) < 2:
        return None
    joins = []
    for a, b in zip(chain, chain[1:], strict=False):
        between = text[a.end:b.start]
        join = _joiner(between.strip())
        if join is None and not between.strip(" ,") and _negation(b.rule):
            join = "and"  # "from 10 to 20 except 15"
        if join is None:
            return None
        joins.append(join)
    rules = tuple(a.rule for a in chain)
    # "over 0 and either under 5 or over 9": "either" opens an OR that runs to the end
    if len(joins) > 1 and joins[0] == "and" and set(joins[1:]) == {"or"} and \
            re.search(r"\beither\b", text[chain[0].end:chain[1].start]):
        return _Atom(chain[0].start, chain[-1].end, And((rules[0], Or(rules[1:]))),
                     text[chain[0].start:chain[-1].end])
    if len(set(joins)) != 1:
        return None
    equal_texts = all(isinstance(r, TextTest) and r.op is TextOp.EQUALS for r in rules)
    # a cell equals one text at most: "say Done and Closed" means either
    combined = Or(rules) if joins[0] == "or" or equal_texts else And(rules)
    return _Atom(chain[0].start, chain[-1].end, combined, text[chain[0].start:chain[-1].end])


def _state_atoms(text: str, taken: list[tuple[int, int]]) -> list[_Atom]:
    """Blanks and errors, and their negations ("not empty", "without errors")."""
    atoms = []

    def first(*regexes: re.Pattern[str]) -> re.Match[str] | None:
        for regex in regexes:
            for m in regex.finditer(text):
                if not any(a < m.end() and m.start() < b for a, b in taken):
                    return m
        return None

    if m := first(_NOT_BLANK):
        atoms.append(_Atom(m.start(), m.end(), Not(State(CellState.BLANKS)), m.group(0)))
    elif m := first(_BLANK):
        atoms.append(_Atom(m.start(), m.end(), State(CellState.BLANKS), m.group(0)))
    if m := first(_NOT_ERRORS):
        atoms.append(_Atom(m.start(), m.end(), Not(State(CellState.ERRORS)), m.group(0)))
    elif m := first(_ERRORS):
        atoms.append(_Atom(m.start(), m.end(), State(CellState.ERRORS), m.group(0)))
    return atoms


def _bare_numbers(text: str, atoms: list[_Atom], taken: list[tuple[int, int]]) -> list[_Atom]:
    """A number with no phrasing of its own, joined by "or" to a condition ("blank or 0"): equal to it."""
    out = []
    for m in re.finditer(rf"(?<![\w.$-])(?:{_NUM})(?![\w.%])", text):
        if any(a < m.end() and m.start() < b for a, b in taken) or any(
                a.start < m.end() and m.start() < a.end for a in atoms):
            continue
        before, after = text[:m.start()].rstrip(), text[m.end():].lstrip()
        if re.search(r"\bor$", before) or re.match(r"or\b", after):
            out.append(_Atom(m.start(), m.end(), Compare(CompareOp.EQUAL, _number(m.group(0))), m.group(0)))
    return out


# --- what is not a condition: places, Excel's own rule names, number units -----------------------------------

# Excel's names for its rules, as users copy them from its menus and scripts ("Apply topItems formatting")
_EXCEL_NAMES = {"greaterthanorequal": "greater than or equal to", "lessthanorequal": "less than or equal to",
                "greaterthan": "greater than", "lessthan": "less than", "notequalto": "not equal to",
                "equalto": "equal to", "notbetween": "not between", "topitems": "top items",
                "toppercent": "top percent", "bottomitems": "bottom items", "bottompercent": "bottom percent",
                "topbottom": "top bottom", "aboveaverage": "above average", "belowaverage": "below average",
                "duplicatevalues": "duplicate values", "uniquevalues": "unique values", "nonblanks": "not blank",
                "nonerrors": "no errors", "beginswith": "begins with", "endswith": "ends with",
                "notcontains": "does not contain", "containstext": "contains text", "colorscale": "color scale",
                "databar": "data bar", "iconset": "icon set"}
_EXCEL_NAME = re.compile(r"\b(?:" + "|".join(sorted(_EXCEL_NAMES, key=len, reverse=True)) + r")\b", re.IGNORECASE)
# "2 lakh", "1.5 million": the number they make (Indian and English units)
_UNITS = {"thousand": 1e3, "lakh": 1e5, "lakhs": 1e5, "lac": 1e5, "lacs": 1e5, "crore": 1e7, "crores": 1e7,
          "million": 1e6, "millions": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9}
# "5 to 7 lakhs": the unit is both numbers'
_UNIT = re.compile(r"(?:(?P<a>\d[\d,]*(?:\.\d+)?)(?P<to>\s*(?:-|–|to|and)\s*))?(?P<n>\d[\d,]*(?:\.\d+)?)\s*"
                   r"(?P<u>" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")\b", re.IGNORECASE)
# cells and ranges: "B2:B30", "from cell A1 to A9", "F9- F200", "D:E", "cell range C4"
_CELL = r"\$?[A-Za-z]{1,3}\$?\d{1,7}"
_RANGE = re.compile(
    rf"(?:\b(?:from|in|on|for|at|to|of|over|across|within)\s+)?(?:the\s+)?(?:(?:cell\s+range|cells?|range|rane)\s+)?"
    rf"(?:\b{_CELL}\s*(?::|-|–|\bto\b|\bthrough\b)\s*(?:{_CELL}\b|\$?[A-Za-z]{{1,3}}\b|\d+\b)"
    rf"|\b[A-Za-z]{{1,3}}:[A-Za-z]{{1,3}}\b"
    rf"|\b(?:cell\s+range|cells?|range|rane|cell number)\s+{_CELL}\b)", re.IGNORECASE)
# a sheet, column or tab: its name is a place, not a value ("in sheet Sales 2020", "on the Status column")
_PLACE = re.compile(r"\b(?:work)?sheet(?=\d|\b)|\bcolumns?\b|\btab\b", re.IGNORECASE)
_PLACE_PREPOSITIONS = frozenset("in on of for from at".split())
# words that end a place's name: what follows is the request again
_PLACE_STOP = frozenset("""
for from in on at to where whose with without that which who if when by and or but is are was were be has have
having than contain contains containing say says saying read reads start starts starting begin begins beginning
end ends ending equal equals greater less more above below over under between not except marked labelled labeled
tagged mention mentions highlight apply change find mark colour color using as then please only sheet column tab
value values""".split())
_NAME_END = _PLACE_STOP - {"of"}  # "in Qtr Statements of Income sheet"


def _places(cased: str) -> list[tuple[int, int]]:
    """Spans of the prompt that name where the rule goes (cells, ranges, sheets, columns), not what it tests."""
    spans = [m.span() for m in _RANGE.finditer(cased)]
    lower = cased.lower()
    for m in _PLACE.finditer(cased):
        after = list(re.finditer(r"\"[^\"]*\"|'[^']*'|“[^”]*”|[^\s\"“]+", lower[m.end():]))
        named = 0
        while named < len(after) and after[named].group(0) in ("named", "called", "titled", "-", ":"):
            named += 1
        end = m.end()
        first = after[named].group(0) if named < len(after) else ""
        if first and first[0] in "\"'“":
            end = m.end() + after[named].end()
        elif first.lstrip("-:").rstrip(".,;") not in _PLACE_STOP | {""}:
            allow_of = not m.group(0).lower().startswith("column")  # "sheet Statement of Position"
            for t in after[named:named + 6]:
                word = t.group(0).lstrip("-:")
                if word.rstrip(".,;:") in _PLACE_STOP and not (allow_of and word == "of") and t is not after[named]:
                    break
                end = m.end() + t.end()
                if word != word.rstrip(".,;"):  # a comma or full stop ends the name
                    end -= len(word) - len(word.rstrip(".,;"))
                    break
        else:  # the name is before it: "in the Status column", "in Class X sheet"
            before = list(re.finditer(r"[^\s]+", lower[:m.start()]))[-7:]
            i = len(before)
            while i > 0 and before[i - 1].group(0) not in _NAME_END and m.start() - before[i - 1].start() < 60:
                i -= 1
            if i > 0 and before[i - 1].group(0) in _PLACE_PREPOSITIONS:
                spans.append((before[i - 1].start(), m.end()))
                continue
        start = m.start()
        if pre := re.search(r"\b(?:in|on|of|for|from|at)\s+(?:the\s+|a\s+)?$", lower[:m.start()]):
            start = pre.start()
        spans.append((start, end))
    # "on Sample Site values", "in the Price value": a named column's values, a place like "column"
    for m in re.finditer(r"\b(?:in|on)\s+(?:the\s+)?((?:[A-Z][\w-]*\s+){1,3})values?\b", cased):
        spans.append(m.span())
    return spans


def _spell_unit(m: re.Match[str]) -> str:
    unit = _UNITS[m.group("u").lower()]
    spelled = f"{_number(m.group('n')) * unit:.15g}"
    if m.group("a") is None:
        return spelled
    return f"{_number(m.group('a')) * unit:.15g}{m.group('to')}{spelled}"


def _normalise(prompt: str) -> str:
    """The prompt on one line, Excel's rule names and numbers spelled out, its places blanked (same length)."""
    cased = " ".join(prompt.split())
    if len(cased.lower()) != len(cased):  # lower() may change a length (rare Unicode)
        cased = cased.lower()
    cased = _EXCEL_NAME.sub(lambda m: _EXCEL_NAMES[m.group(0).lower()], cased)
    cased = _UNIT.sub(_spell_unit, cased)
    cased = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m.group(0).lower()], cased)
    chars = list(cased)
    for s, e in _places(cased):  # a comma keeps the words on either side apart ("lowest [from B4 to B] 104")
        chars[s:e] = " " * (e - s)
        chars[s + (e - s) // 2] = ","
    return "".join(chars)


def read_wording(prompt: str) -> list[Reading]:
    """The rules `prompt` states in words, most specific first; empty when it names no condition."""
    cased = _normalise(prompt)
    text = cased.lower()
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
    atoms: list[_Atom] = []
    if (m := _OUTSIDE.search(text)) and not any(s <= m.start() < e for s, e in taken):
        low, high = sorted((_number(m.group("a")), _number(m.group("b"))))
        atoms.append(_Atom(m.start(), m.end(), Or((Compare(CompareOp.LESS, low), Compare(CompareOp.GREATER, high))),
                           m.group(0)))
        taken.append(m.span())
    for regex in _BETWEEN:
        m = regex.search(text)
        if m and regex is _BETWEEN[-1] and (_YEAR_SPAN.fullmatch(m.group(0).strip(" ,"))
                                            or _number(m.group("a")) > _number(m.group("b"))):
            continue
        if m and not any(s <= m.start() < e for s, e in taken):
            atoms.append(_Atom(m.start(), m.end(), Between(_number(m.group("a")), _number(m.group("b"))), m.group(0)))
            taken.append(m.span())
            break
    found = [f for f in _comparisons(text) if not any(s <= f[0] < e or f[0] <= s < f[1] for s, e in taken)]
    atoms += [_Atom(s, e, c, words) for s, e, c, words in found]
    for regex, rule in _SIGN:
        if (m := regex.search(text)) and not any(a.start <= m.start() < a.end for a in atoms):
            atoms.append(_Atom(m.start(), m.end(), rule, m.group(0)))
    taken += [(a.start, a.end) for a in atoms]
    range_level = [m for m in (_DUPLICATE.search(text), _UNIQUE.search(text), *(r.search(text) for r, _ in _VISUALS))
                   if m] or readings
    # a top/average/duplicates/visual request cannot be combined with a text test: its quoted or named
    # words are sheets, columns and headers ("colour scale on sheet 'Final'"), not values
    text_atoms = [] if range_level else _text_atoms(cased, text, taken)
    atoms += text_atoms
    atoms += _state_atoms(text, taken + [(a.start, a.end) for a in text_atoms])
    atoms += _bare_numbers(text, atoms, taken)
    if (combined := _combine(text, atoms)) is not None:
        atoms.insert(0, combined)
    readings += [Reading(a.rule, a.words.strip(), a.sure) for a in atoms]
    for m, rule in ((_DUPLICATE.search(text), Uniqueness(duplicate=True)),
                    (_UNIQUE.search(text), Uniqueness(duplicate=False))):
        if m:
            add(rule, m)
    for regex, kind in _VISUALS:
        if m := regex.search(text):
            add(Scale(kind), m)
            break
    if not readings and not range_level:
        readings += [Reading(a.rule, a.words, a.sure) for a in _bare_value(cased, text)]
    return _distinct(readings)


@dataclass(frozen=True)
class NamedKind:
    """A kind of rule the prompt names without all of its values ("bottom items", "a greaterThan rule"):
    the candidates of that kind should come before the others the wording does not state."""

    words: str
    rank: bool = False  # a top/bottom rule
    bottom: bool | None = None  # which end, None when the prompt names both or neither
    percent: bool | None = None  # "top percent" / "top items", None when it does not say
    compare: CompareOp | None = None

    def fits(self, rule: Rule) -> bool:
        if isinstance(rule, Rank):
            return self.rank and self.bottom in (None, rule.bottom) and self.percent in (None, rule.percent)
        if isinstance(rule, Compare):
            return rule.op is self.compare
        if isinstance(rule, TextTest):  # "equal to" with no number may be a text
            return self.compare is CompareOp.EQUAL and rule.op is TextOp.EQUALS
        return False


_TOP_BOTTOM = re.compile(r"\btop\s*(?:/|and|&|or)?\s*bottom\b")  # Excel's rule family, no end named
_TOP_WORD = re.compile(r"\b(?:top|highest|largest|biggest|greatest|max|maximum)\b")
_BOTTOM_WORD = re.compile(r"\b(?:bottom|lowest|smallest|min|minimum)\b")
_NAMED_OPS = [(re.compile(p), op) for p, op in (
    (r"\b(?:greater|more) than or equal to\b", CompareOp.GREATER_EQUAL),
    (r"\bless than or equal to\b", CompareOp.LESS_EQUAL), (r"\bnot equal to\b", CompareOp.NOT_EQUAL),
    (r"\b(?:greater|more) than\b", CompareOp.GREATER), (r"\bless than\b", CompareOp.LESS),
    (r"\bequal to\b", CompareOp.EQUAL))]


def read_named_kind(prompt: str) -> NamedKind | None:
    """The kind of rule `prompt` names when it leaves out a value ("Apply bottomItems formatting", "top value",
    "highlight with greaterThan"), None when it names no kind or several."""
    text = _normalise(prompt).lower()
    if any(regex.search(text) for regex, _ in _VISUALS):
        return None  # "low to high" is a colour scale, not a top/bottom
    both = _TOP_BOTTOM.search(text)
    rest = _TOP_BOTTOM.sub(" ", text)
    top, bottom = _TOP_WORD.search(rest), _BOTTOM_WORD.search(rest)
    if both or top or bottom:
        end = None if bool(top) == bool(bottom) else bool(bottom)
        percent = False if re.search(r"\bitems?\b", rest) else (
            True if re.search(r"\b(?:percent|percentage)\b|%", rest) else None)
        words = (top or bottom or both).group(0)  # type: ignore[union-attr]
        return NamedKind(words, rank=True, bottom=end, percent=percent)
    for regex, op in _NAMED_OPS:
        if m := regex.search(text):
            return NamedKind(m.group(0), compare=op)
    return None


def _distinct(readings: list[Reading]) -> list[Reading]:
    seen: set[Rule] = set()
    out = []
    for r in readings:
        if r.rule not in seen:
            seen.add(r.rule)
            out.append(r)
    return out
