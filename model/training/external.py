"""Public pairs beyond the CodeFusion release (data/external/, its README): loaded as `Pair`s for training.

Every row becomes a training pair of its language; rows whose code does not parse, whose code or prompt
equals a development row (lower-cased, whitespace collapsed), or that repeat an earlier row are dropped.
The Django dataset's code is space-separated tokens: detokenize_python joins them back.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..validate import validate
from .data import DATA_DIR, Pair, load_pairs, log

EXTERNAL_DIR = DATA_DIR / "external"
# source name -> (language, file)
SOURCES: dict[str, tuple[str, str]] = {
    "tldr": ("bash", "bash.tldr.jsonl"),
    "cheat": ("bash", "bash.cheat.jsonl"),
    "eg": ("bash", "bash.eg.jsonl"),
    "pydocs": ("python", "python.docs.jsonl"),
    "django": ("python", "python.django.jsonl"),
}

_NO_SPACE_BEFORE = {".", ",", ")", "]", "}", ":", "(", "["}
_NO_SPACE_AFTER = {".", "(", "[", "{"}
_WORD_END = re.compile(r"[\w'\")\]}]$")


def detokenize_python(code: str) -> str:
    """`from django . conf import settings` -> `from django.conf import settings`; `f ( a , b )` -> `f(a, b)`.
    A `(` or `[` keeps its space after a keyword or an operator (`in (a, b)`, `= [1]`), not after a name."""
    out = ""
    for tok in code.split():
        if not out:
            out = tok
        elif tok in (",", ")", "]", "}", ":", ".") or out.endswith(tuple(_NO_SPACE_AFTER)):
            out += tok
        elif tok in ("(", "[") and _WORD_END.search(out) and not re.search(
                r"\b(in|and|or|not|if|return|else|elif|for|while|is|lambda|yield|assert|del|print)$", out):
            out += tok
        else:
            out += " " + tok
    return out


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def load_external(sources: list[str], data_dir: Path | None = None) -> tuple[dict[str, list[Pair]], dict[str, dict]]:
    """The named sources' pairs per language, and per source how many rows were read, kept and dropped why."""
    folder = data_dir or EXTERNAL_DIR
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown external sources {unknown}; choose from {sorted(SOURCES)}")
    dev: dict[str, set[str]] = {}
    out: dict[str, list[Pair]] = {}
    stats: dict[str, dict] = {}
    seen: set[tuple[str, str, str]] = set()
    for source in sources:
        lang, name = SOURCES[source]
        if lang not in dev:
            dev[lang] = {_key(t) for p in load_pairs(lang, "dev")[0] for t in (p.prompt, p.code)}
        counts = {"read": 0, "kept": 0, "not_parsing": 0, "dev_overlap": 0, "repeated": 0, "bad": 0}
        with (folder / name).open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                counts["read"] += 1
                row = json.loads(line)
                nl, code = row.get("nl"), row.get("code")
                if not isinstance(nl, str) or not isinstance(code, str) or not nl.strip() or not code.strip():
                    counts["bad"] += 1
                    continue
                nl, code = " ".join(nl.split()), code.strip()
                if source == "django":
                    code = detokenize_python(code)
                if _key(nl) in dev[lang] or _key(code) in dev[lang]:
                    counts["dev_overlap"] += 1
                    continue
                if (lang, nl, code) in seen:
                    counts["repeated"] += 1
                    continue
                if not validate(lang, code):
                    counts["not_parsing"] += 1
                    continue
                seen.add((lang, nl, code))
                out.setdefault(lang, []).append(Pair(f"{source}-{n}", lang, nl, code))
                counts["kept"] += 1
        stats[source] = counts
    return out, stats


CODEFUSION = "codefusion"  # the source name of the CodeFusion training split's own pairs


def by_source(train: list[Pair], external: list[Pair]) -> dict[str, list[Pair]]:
    """One language's pairs by source: the CodeFusion split's under CODEFUSION first, then each external row
    under the source its id names (`tldr-12` -> tldr), in order of first appearance."""
    out: dict[str, list[Pair]] = {CODEFUSION: list(train)}
    for p in external:
        out.setdefault(p.id.rsplit("-", 1)[0], []).append(p)
    return out


def load_external_logged(sources: list[str]) -> dict[str, list[Pair]]:
    """load_external's pairs per language, each source's counts (read, kept, dropped why) logged."""
    external, stats = load_external(sources) if sources else ({}, {})
    for source, counts in stats.items():
        log(f"external {source}: {counts}")
    return external


def weighted_mix(train: dict[str, list[Pair]], external: dict[str, list[Pair]],
                 weights: dict[str, dict[str, float]]) -> dict[str, list[Pair]]:
    """Each language's pairs with every source repeated so that a uniform draw from the list meets the
    source shares in `weights` ({"bash": {"codefusion": 0.6, "tldr": 0.3, ...}}): the plain fine-tuning
    stream (one uniform draw per row) then sees the edit stream's mix. A source's rows are repeated a whole
    number of times (at least once), so the shares are met to within one copy of the smallest source.
    A language without weights keeps its pairs as they are; a weight for a source with no rows fails."""
    out: dict[str, list[Pair]] = {}
    for lang in set(train) | set(external):
        rows = by_source(train.get(lang, []), external.get(lang, []))
        shares = weights.get(lang)
        if not shares:
            out[lang] = [p for source in rows.values() for p in source]
            continue
        empty = [s for s, w in shares.items() if w > 0 and not rows.get(s)]
        if empty:
            raise ValueError(f"{lang}: source weights name sources with no rows: {empty}")
        # rows per unit of share: the source that needs the most rows per share sets the scale
        scale = max(len(rows[s]) / w for s, w in shares.items() if w > 0)
        out[lang] = []
        for s, w in shares.items():
            if w > 0:
                out[lang] += rows[s] * max(1, round(scale * w / len(rows[s])))
    return out
