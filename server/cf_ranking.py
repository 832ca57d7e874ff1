"""Ranking CF rule suggestions: the model's order, then two named rules that read the prompt and the range.

1. `model_order` — the base: the model's rules by score (best first).
2. `prompt_wording_first` — the rules the prompt states in words (model/cf/wording.py: "above 500" is
   `GreaterThan(500)`) lead, in the order the wording gives them; one the model did not write joins the
   list, marked as read from the wording.
3. `named_kind_next` — a prompt that names a kind of rule but not its value ("Apply bottomItems formatting",
   "the top values", "a greaterThan rule") puts the model's rules of that kind (a bottom N, a GreaterThan)
   right after the worded ones.
4. `demote_all_or_none` — with the range's cells known, a rule that highlights every cell or none of them
   (a `top(500)` on 10 cells) goes after the rules that pick some, unless the prompt asked for it in words;
   colour scales, data bars and icon sets paint every number by design: demoted only where there is none.
   A rule the wording only guessed (a bare value: "highlight London"; "says Done" read as equal to or as
   containing Done) goes after them too when it highlights none of the cells: the value is not there.

Each rule that moves a candidate says why in the candidate's `notes`. No LSP, no workbook I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from codefusion.model.cf import CellBlock, preview_block
from codefusion.model.cf.rules import Rule, Scale
from codefusion.model.cf.wording import read_named_kind, read_wording

from .ranking import Candidate

SOURCE_MODEL = "model"
SOURCE_WORDING = "wording"


@dataclass(frozen=True)
class RankedRule:
    rule: Rule
    score: float | None  # the model's score; None for a rule only the wording gave
    source: str  # SOURCE_MODEL or SOURCE_WORDING
    worded: int | None = None  # position among the wording's rules, None when the wording does not state it
    guessed: bool = False  # the wording's guess (Reading.sure is False): demoted when it highlights no cell
    notes: tuple[str, ...] = field(default_factory=tuple)

    def note(self, text: str) -> RankedRule:
        return replace(self, notes=self.notes + (text,))


def model_order(scored: dict[str, tuple[float, Rule]]) -> list[RankedRule]:
    """The model's distinct rules (canonical text → (best score, rule)), best score first."""
    ranked = sorted(scored.values(), key=lambda sr: -sr[0])
    return [RankedRule(rule, score, SOURCE_MODEL) for score, rule in ranked]


def prompt_wording_first(ranked: list[RankedRule], prompt: str) -> list[RankedRule]:
    """The rules the prompt spells out first (adding those the model missed), the rest in their order."""
    readings = read_wording(prompt)
    by_rule = {r.rule: r for r in ranked}
    worded = []
    for i, reading in enumerate(readings):
        said = f"the prompt says {reading.words!r}"
        found = by_rule.get(reading.rule)
        if found is not None:
            worded.append(replace(found, worded=i, guessed=not reading.sure).note(said))
        else:
            worded.append(RankedRule(reading.rule, None, SOURCE_WORDING, i, not reading.sure,
                                     (f"{said}; not among the model's rules",)))
    rest = [r for r in ranked if r.rule not in {w.rule for w in worded}]
    return worded + rest


def named_kind_next(ranked: list[RankedRule], prompt: str) -> list[RankedRule]:
    """The model's rules of the kind the prompt names (without its value) after the worded ones (stable)."""
    kind = read_named_kind(prompt)
    if kind is None:
        return ranked
    worded = [r for r in ranked if r.worded is not None]
    fitting = [r.note(f"the prompt names {kind.words!r}") for r in ranked if r.worded is None and kind.fits(r.rule)]
    return worded + fitting + [r for r in ranked if r.worded is None and not kind.fits(r.rule)]


def demote_all_or_none(ranked: list[RankedRule], block: CellBlock) -> list[RankedRule]:
    """Rules that highlight all or none of the range's cells after those that pick some (stable)."""
    if not block.values:
        return ranked
    out = []
    for r in ranked:
        p = preview_block(r.rule, block, limit=0)
        # a scale paints every number by design; one over a range without numbers paints nothing
        blanket = p.count == 0 or (p.count == p.total and not isinstance(r.rule, Scale))
        lower = blanket and (r.worded is None or (r.guessed and p.count == 0))
        if blanket:
            what = "none of the" if p.count == 0 else "all"
            r = r.note(f"highlights {what} {p.total} cells" + ("; ranked lower" if lower else ""))
        out.append((lower, r))
    return [r for _, r in sorted(out, key=lambda dr: dr[0])]


def prompt_order(candidates: Sequence[Candidate], prompt: str) -> list[Candidate]:
    """The engine's CF candidates (its order kept) as served where no range's cells are known (`codefusion
    generate`, a completion in a rules file): `prompt_wording_first`, then `named_kind_next`. A rule only the
    wording gave joins in its canonical text, score 0 and no seed example. Ranks renumbered."""
    from codefusion.model.cf import CFSyntaxError, format_rule, parse_rule

    by_rule: dict[Rule, Candidate] = {}
    for c in candidates:
        try:
            by_rule.setdefault(parse_rule(c.text), c)
        except CFSyntaxError:  # never served: the engine validates
            continue
    ranked = [RankedRule(rule, c.score, SOURCE_MODEL) for rule, c in by_rule.items()]
    ordered = named_kind_next(prompt_wording_first(ranked, prompt), prompt)
    return [replace(by_rule[r.rule], rank=i) if r.rule in by_rule else Candidate(format_rule(r.rule), 0.0, i)
            for i, r in enumerate(ordered, 1)]


def rank_suggestions(scored: dict[str, tuple[float, Rule]], prompt: str, block: CellBlock) -> list[RankedRule]:
    """The model's rules, ranked by the named rules above (all of them; the caller keeps k)."""
    return demote_all_or_none(named_kind_next(prompt_wording_first(model_order(scored), prompt), prompt), block)
