"""Prompt slots: the literal values a prompt names (quoted strings, `backticked` names, unquoted paths, shell
variables, globs and file names, numbers) and their transfer from a retrieved example to a new prompt.

A training example's code usually repeats its prompt's literals: "remove trailing newline in string
"test string\\n"" → `'test string\\n'.rstrip()`. When that example seeds a candidate for another prompt,
its literals are the wrong ones; `transfer` rewrites each occurrence of the example prompt's i-th slot in
the code with the new prompt's i-th slot of the same kind (quoted/backticked values pair with each other,
paths with paths, numbers with numbers), all at once so one replacement never feeds another. Values used in the code
inside quotes keep the code's quotes; bare uses become the new value as written in the prompt.

This is the canonicalisation of intents that CoNaLa systems use (Yin & Neubig, TranX), applied after
retrieval instead of before training: the shipped model needs no retraining for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# `name`, "text", 'text' (a quote not inside a word, so "don't" and "list's" are not slots), numbers.
_QUOTED = re.compile(r"`([^`\n]+)`|\"([^\"\n]+)\"|(?<![\w'])'([^'\n]+)'(?![\w])")
_NUMBER = re.compile(r"(?<![\w.])-?\d++(?:\.\d++)?+(?!\.*+\w)")  # possessive: linear time
# Unquoted paths, shell variables, globs and file names, as NL2Bash prompts write them: /var/log, ~/src,
# ./build, $LOGDIR, ${SRC}/out, *.txt, report.csv (a name with a known file extension).
_EXTENSIONS = ("txt|log|sh|bash|py|c|h|cpp|java|js|html|xml|json|yaml|yml|conf|cfg|ini|csv|tsv|gz|tgz|bz2|xz|tar|"
               "zip|jpg|jpeg|png|gif|pdf|mp3|mp4|wav|bak|tmp|out|php|rb|pl|doc|md|iso|deb|rpm|so|o|jar|sql")
_PATH = re.compile(
    r"(?<![\w/$.~*\-])("
    r"(?:~|\.{1,2})?/[\w.+\-/*~$]*[\w*]"  # /abs/path, ~/x, ./x, ../x
    r"|\$\{?[A-Za-z_]\w*\}?(?:/[\w.+\-/*]*[\w*])?"  # $VAR, ${VAR}/sub
    r"|\*\.[A-Za-z0-9]+"  # *.ext
    rf"|[\w\-]+(?:\.[\w\-]+)*\.(?:{_EXTENSIONS})"  # name.ext, name.tar.gz
    r")(?![\w/]|\.\w)")


@dataclass(frozen=True)
class Slot:
    value: str
    kind: str  # "text" (quoted or backticked), "path" (unquoted path, $VAR, glob, file name) or "number"
    role: str = field(default="", compare=False)  # the word before it in the prompt ("list", "string", …)


def prompt_slots(prompt: str) -> list[Slot]:
    """The prompt's literal values in order of appearance by kind: quoted/backticked, then unquoted paths
    (and shell variables, globs, file names), then numbers."""
    texts = [Slot(next(g for g in m.groups() if g is not None), "text", _role(prompt, m.start()))
             for m in _QUOTED.finditer(prompt)]
    rest = _QUOTED.sub(" ", prompt)
    paths = [Slot(m.group(1), "path", _role(rest, m.start())) for m in _PATH.finditer(rest)]
    numbers = [Slot(m.group(0), "number") for m in _NUMBER.finditer(_PATH.sub(" ", rest))]
    return texts + paths + numbers


def _role(prompt: str, start: int) -> str:
    words = re.findall(r"[a-z]+", prompt[:start].lower()[-30:])
    return words[-1] if words else ""


def _pair_up(a: list[Slot], b: list[Slot]) -> list[tuple[str, str]]:
    """Slots of the example (a) with the request's (b): same role word first ("list `x`" with "list `y`"),
    the rest in order."""
    pairs, left_a, left_b = [], list(a), list(b)
    for x in a:
        y = next((y for y in left_b if x.role and y.role == x.role), None)
        if y is not None:
            pairs.append((x.value, y.value))
            left_a.remove(x)
            left_b.remove(y)
    return pairs + [(x.value, y.value) for x, y in zip(left_a, left_b, strict=False)]  # extra slots stay


def _occurrences(code: str, value: str) -> list[tuple[int, int]]:
    """Spans of `value` in `code`: whole words when the value starts/ends with a word character."""
    head = r"(?<!\w)" if value[:1].isalnum() or value[:1] == "_" else ""
    tail = r"(?!\w)" if value[-1:].isalnum() or value[-1:] == "_" else ""
    return [(m.start(), m.end()) for m in re.finditer(head + re.escape(value) + tail, code)]


# literal values in code: the inside of quotes, or a CF rule's text argument (`TextEquals(Alert)`)
_CODE_LITERAL = re.compile(r"'([^'\n]+)'|\"([^\"\n]+)\"|\b[A-Z][A-Za-z]*\(([^(),\n]*[A-Za-z][^(),\n]*)\)")


def _unquoted(code: str, example_prompt: str, known: list[Slot]) -> list[Slot]:
    """Text slots the example prompt names without quotes: literal values of the code that occur in it as
    whole words, in the order they occur there."""
    seen = {s.value for s in known}
    found: list[tuple[int, str]] = []
    for m in _CODE_LITERAL.finditer(code):
        value = next(g for g in m.groups() if g is not None).strip()
        hit = re.search(r"(?<!\w)" + re.escape(value) + r"(?!\w)", example_prompt) if value else None
        if hit and value not in seen:
            seen.add(value)
            found.append((hit.start(), value))
    return [Slot(value, "text") for _, value in sorted(found)]


def transfer(code: str, example_prompt: str, prompt: str) -> str:
    """`code` (written for `example_prompt`) with the example's slot values replaced by `prompt`'s."""
    old, new = prompt_slots(example_prompt), prompt_slots(prompt)
    texts = sum(s.kind == "text" for s in old)
    if sum(s.kind == "text" for s in new) > texts:  # the request names more: look for unquoted ones too
        old = [s for s in old if s.kind == "text"] + _unquoted(code, example_prompt, old)[: len(new) - texts] + [
            s for s in old if s.kind != "text"]
    pairs: list[tuple[str, str]] = []
    for kind in ("text", "path", "number"):
        pairs += [(x, y) for x, y in _pair_up([s for s in old if s.kind == kind], [s for s in new if s.kind == kind])
                  if x != y]
    if not pairs:
        return code
    # Longest values first, so a value that contains another wins; spans never overlap.
    taken: list[tuple[int, int, str]] = []
    for x, y in sorted(pairs, key=lambda p: -len(p[0])):
        for start, end in _occurrences(code, x):
            if all(end <= s or start >= e for s, e, _ in taken):
                taken.append((start, end, y))
    out, last = [], 0
    for start, end, y in sorted(taken):
        out += [code[last:start], y]
        last = end
    return "".join(out) + code[last:]


def coverage(code: str, prompt: str) -> float:
    """Share of the prompt's slot values that occur in `code` (0 when the prompt names none)."""
    values = [s.value for s in prompt_slots(prompt)]
    return sum(v in code for v in values) / len(values) if values else 0.0
