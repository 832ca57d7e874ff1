"""Prompt slots: the literal values a prompt names (quoted strings, `backticked` names, unquoted paths, shell
variables, globs and file names, numbers) and their transfer from a retrieved example to a new prompt.

A training example's code usually repeats its prompt's literals: "remove trailing newline in string
"test string\\n"" → `'test string\\n'.rstrip()`. When that example seeds a candidate for another prompt,
its literals are the wrong ones; `transfer` rewrites the example prompt's slots in the code with the new
prompt's, all at once so one replacement never feeds another. Slots pair by the word before them first
("number 8.005" with "number `price`"; a name may take any value's place), then in order within a kind
(quoted/backticked values with each other, paths with paths, numbers with numbers).

Only whole things are replaced: the whole inside of a string literal (the code's quotes stay: a value
replaces a value), a whole name or number (never part of a name or an attribute: a name replaces a name),
a whole shell word. A value that is punctuation, one character or a common word replaces nothing else,
so the quoted `.` of 'list all files in directory "."' never touches `os.path.join`; a longer value may
also be replaced as a whole word inside a longer string literal.

This is the canonicalisation of intents that CoNaLa systems use (Yin & Neubig, TranX), applied after
retrieval instead of before training: the shipped model needs no retraining for it.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from collections.abc import Sequence
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

KINDS = ("text", "path", "number")
# Values that occur everywhere in code: they replace only whole literals, names or shell words.
COMMON_WORDS = frozenset(
    "a an and are as at be by for from if in is it no not of on or the to with all any each every one two new old "
    "file files name names path dir directory folder list lists string strings str text word words line lines "
    "value values key keys item items data number count size type id true false none null yes".split())
# string literals of Python, Bash and CF formulas, escapes included
_STRING = re.compile(r"'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"")


@dataclass(frozen=True)
class Slot:
    value: str
    kind: str  # "text" (quoted or backticked), "path" (unquoted path, $VAR, glob, file name) or "number"
    role: str = field(default="", compare=False)  # the word before it in the prompt ("list", "string", …)
    name: bool = field(default=False, compare=False)  # `backticked`: CoNaLa's mark of a name, not a value


def prompt_slots(prompt: str) -> list[Slot]:
    """The prompt's literal values in order of appearance by kind: quoted/backticked, then unquoted paths
    (and shell variables, globs, file names), then numbers."""
    texts = [Slot(next(g for g in m.groups() if g is not None), "text", _role(prompt, m.start()),
                  name=m.group(1) is not None) for m in _QUOTED.finditer(prompt)]
    rest = _QUOTED.sub(" ", prompt)
    paths = [Slot(m.group(1), "path", _role(rest, m.start())) for m in _PATH.finditer(rest)]
    unpathed = _PATH.sub(" ", rest)
    numbers = [Slot(m.group(0), "number", _role(unpathed, m.start())) for m in _NUMBER.finditer(unpathed)]
    return texts + paths + numbers


def _role(prompt: str, start: int) -> str:
    words = re.findall(r"[a-z]+", prompt[:start].lower()[-30:])
    return words[-1] if words else ""


def _is_name(slot: Slot) -> bool:
    return slot.name and slot.value.isidentifier()


def _pair_up(a: list[Slot], b: list[Slot]) -> list[tuple[Slot, Slot]]:
    """Slots of the example (a) with the request's (b): same role word first ("list `x`" with "list `y`", "number
    8.005" with "number `price`": a name can stand for any value; numbers' role words, "than" or "to", say too
    little to pair two numbers), then the rest in order within each kind; extra slots on either side stay."""
    pairs, left_a, left_b = [], list(a), list(b)
    for x in a:
        y = next((y for y in left_b if x.role and y.role == x.role
                  and (y.kind == x.kind != "number" or _is_name(y))), None)
        if y is not None:
            pairs.append((x, y))
            left_a.remove(x)
            left_b.remove(y)
    for kind in KINDS:
        pairs += zip([x for x in left_a if x.kind == kind], [y for y in left_b if y.kind == kind], strict=False)
    return pairs


def _weak(value: str) -> bool:
    """Punctuation, one character or a common word: too frequent in code to replace anything but whole literals."""
    return len(value) == 1 or not any(c.isalnum() for c in value) or value.lower() in COMMON_WORDS


def _literals(code: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(spans of the code's string literals, quotes included; spans of whole literal values: a literal's inside
    or a CF rule's text argument)."""
    strings = [m.span() for m in _STRING.finditer(code)]
    insides = [(s + 1, e - 1) for s, e in strings] + [m.span(1) for m in _CF_ARGUMENT.finditer(code)]
    return strings, insides


def _occurrences(code: str, slot: Slot, literals_only: bool = False) -> list[tuple[int, int]]:
    """Spans of the slot's value in `code` that are whole: a whole literal value (`'.'`, `TextEquals(x)`); outside
    literals a whole name or number (not part of a name or of `1.5`, an attribute only when the value is not
    weak) or, for punctuation, a whole shell word (`find . -name`); inside a longer literal a whole word, and
    only when the value is not weak (`_weak`): never characters inside names, operators or text. With
    `literals_only`, whole literal values alone."""
    value = slot.value
    head = r"(?<!\w)" if value[:1].isalnum() or value[:1] == "_" else ""
    tail = r"(?!\w)(?!\.\d)" if value[-1:].isalnum() or value[-1:] == "_" else ""
    strings, insides = _literals(code)
    weak, word = _weak(value), bool(head and tail)
    spans = []
    for m in re.finditer(head + re.escape(value) + tail, code):
        start, end = m.span()
        if m.span() in insides:
            spans.append(m.span())
        elif literals_only:
            continue
        elif any(s < start < e or s < end < e for s, e in strings):  # inside (or across) a longer literal
            if not weak:
                spans.append(m.span())
        elif word:  # a whole name or number; after a dot, an attribute (or decimals): only a distinctive name
            if code[start - 1:start] != "." or not (weak or value[0].isdigit()):
                spans.append(m.span())
        elif not weak or (code[start - 1:start].strip() == "" and code[end:end + 1].strip() == ""):
            spans.append(m.span())
    return spans


# literal values in code: the inside of quotes, or a CF rule's text argument (`TextEquals(Alert)`)
_CF_ARGUMENT = re.compile(r"\b[A-Z][A-Za-z]*\(([^(),\n]*[A-Za-z][^(),\n]*)\)")
_CODE_LITERAL = re.compile(r"'([^'\n]+)'|\"([^\"\n]+)\"|" + _CF_ARGUMENT.pattern)


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


_TYPOGRAPHIC = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})
_DASHED_OPTION = re.compile(r"(?<!\S)[–—](?=(\w+))")  # `–force` pasted through a word processor: `--force`
# options that take one dash though they are words: find's primaries (`find . –name x` is `-name`)
_ONE_DASH_WORDS = frozenset(
    "name iname path ipath regex iregex type xtype size user group perm mtime mmin atime amin ctime cmin newer empty "
    "exec execdir ok print print0 printf delete prune ls maxdepth mindepth follow daystart lname not and or".split())


def _dash(m: re.Match[str]) -> str:
    """One dash for a letter, a number or a find primary (`–f`, `–12`, `–exec`), two for a word (`–force`)."""
    word = m.group(1)
    return "-" if len(word) == 1 or word.isdigit() or word in _ONE_DASH_WORDS else "--"


def plain_shell(code: str) -> str:
    """A shell command as a shell reads it: typographic quotes (‘ ’ “ ”, which a shell takes as plain
    characters, so `find . -name “*.old”` finds nothing) made plain, and a dash that starts an option made
    `--` (`mysqldump –force`) or, for a letter, a number or a find primary, `-` (`rm –f`, `find –exec`)."""
    return _DASHED_OPTION.sub(_dash, code.translate(_TYPOGRAPHIC))


# a quoted identifier after one of these words names a variable ("list 'a'", "a word list 'words'"), not text
CONTAINERS = frozenset("list lists array arrays dict dicts dictionary dictionaries dataframe dataframes df set sets "
                       "tuple tuples matrix variable object".split())


def transfer(code: str, example_prompt: str, prompt: str, lang: str = "") -> str:
    """`code` (written for `example_prompt`) with the example's slot values replaced by `prompt`'s. In Python, a
    quoted value taking a name's place in the code (not a literal's inside) is a string: "split string
    'fooxyzbar'" serves `'fooxyzbar'.lower()` for `s.lower()`, and 'key=value' never becomes a keyword argument;
    it stays a name where it is one (an identifier of two letters at most, or after a word like "list": CoNaLa
    quotes variables too, "items in list 'a'"). A `backticked` value is code unless it reads as none:
    "rename folder `Joe Blow` to `Blow, Joe`" serves `os.rename('Joe Blow', 'Blow, Joe')`."""
    old, new = prompt_slots(example_prompt), prompt_slots(prompt)
    texts = sum(s.kind == "text" for s in old)
    if sum(s.kind == "text" for s in new) > texts:  # the request names more: look for unquoted ones too
        old = [s for s in old if s.kind == "text"] + _unquoted(code, example_prompt, old)[: len(new) - texts] + [
            s for s in old if s.kind != "text"]
    pairs = [(x, y) for x, y in _pair_up(old, new) if x.value != y.value]
    if not pairs:
        return code
    # Longest values first, so a value that contains another wins; spans never overlap. A quoted value that
    # the example prompt also names as a `name` ("string `s` by letter 's'") takes its literals only.
    names = {s.value for s in old if s.name}
    strings = _literals(code)[0]
    taken: list[tuple[int, int, str]] = []
    for x, y in sorted(pairs, key=lambda p: -len(p[0].value)):
        as_code = code_value(y) if lang == "python" else y.value
        for start, end in _occurrences(code, x, literals_only=not x.name and x.value in names):
            value = y.value if any(s <= start and end <= e for s, e in strings) else as_code
            if value is None:
                continue
            if all(end <= s or start >= e for s, e, _ in taken) and not _fuses(code, start, end, value):
                taken.append((start, end, value))
    out, last = [], 0
    for start, end, value in sorted(taken):
        out += [code[last:start], value]
        last = end
    return "".join(out) + code[last:]


def code_value(slot: Slot) -> str | None:
    """What a request's slot becomes where the example's Python code has a name (not a literal's inside): the
    value as code, or as a string literal when it is text (None: that occurrence stays as it is)."""
    if slot.name:  # CoNaLa's mark of code, but also of text with spaces: `Joe Blow`
        return slot.value if _code_like(slot.value) else repr(slot.value)
    if slot.kind == "number" or (slot.value.isidentifier() and (len(slot.value) <= 2 or slot.role in CONTAINERS)):
        return slot.value
    return repr(slot.value)


def _code_like(value: str) -> bool:
    """Whether a `backticked` value reads as one Python expression (a name, `df['a']`, `[1, 2]`), not text
    (`Joe Blow`) or a bare tuple (`Blow, Joe`, which would split a call's arguments)."""
    try:
        tree = ast.parse(value, mode="eval")
    except SyntaxError:
        return False
    return not (isinstance(tree.body, ast.Tuple) and not value.lstrip().startswith("("))


def _fuses(code: str, start: int, end: int, value: str) -> bool:
    """Whether `value` in place of code[start:end] would join a word beside it into one (`df.iloc[2, 0]` with
    `[2, 0]` -> `df` reads `df.ilocdf`): then that occurrence is left as it is."""
    word = re.compile(r"\w")
    before = start > 0 and word.match(code[start - 1]) and word.match(value[:1] or " ")
    after = end < len(code) and word.match(code[end]) and word.match(value[-1:] or " ")
    return bool(before or after)


def coverage(code: str, prompt: str) -> float:
    """Share of the prompt's slot values that occur in `code` (0 when the prompt names none)."""
    values = [s.value for s in prompt_slots(prompt)]
    return sum(v in code for v in values) / len(values) if values else 0.0


# Names a snippet uses without defining that are not the user's values when an attribute is read from them:
# modules (the standard library's and the usual aliases), so `os.listdir(path)` keeps `os` and gives `path`
# the user's name.
_MODULES = frozenset(getattr(sys, "stdlib_module_names", ())) | {
    "np", "pd", "plt", "sns", "tf", "torch", "sp", "numpy", "pandas", "scipy", "matplotlib", "requests", "django",
    "models", "settings"}


# Standard-library functions and classes that snippets use bare (`list(chain.from_iterable(a))`, `reduce(f, xs)`):
# not the user's values, and each needs its `from` import (server/prompts.missing_imports adds it). Names that
# are also common variable names (`count`, `choice`, `mode`, `digits`) are left out.
LIBRARY_NAMES: dict[str, str] = {
    **dict.fromkeys(("chain", "groupby", "islice", "product", "permutations", "combinations", "zip_longest",
                     "accumulate"), "itertools"),
    **dict.fromkeys(("defaultdict", "Counter", "OrderedDict", "deque", "namedtuple"), "collections"),
    **dict.fromkeys(("reduce", "partial", "lru_cache", "wraps"), "functools"),
    **dict.fromkeys(("itemgetter", "attrgetter"), "operator"),
    **dict.fromkeys(("sqrt", "floor", "ceil", "factorial", "gcd", "isclose"), "math"),
    **dict.fromkeys(("randint", "shuffle"), "random"),
    **dict.fromkeys(("date", "timedelta"), "datetime"),
    **dict.fromkeys(("bisect_left", "bisect_right", "insort"), "bisect"),
    **dict.fromkeys(("heappush", "heappop", "heapify", "nlargest", "nsmallest"), "heapq"),
    **dict.fromkeys(("check_output", "Popen"), "subprocess"),
    **dict.fromkeys(("copyfile", "rmtree"), "shutil"),
    "monthrange": "calendar", "literal_eval": "ast", "Decimal": "decimal", "Fraction": "fractions",
    "Path": "pathlib", "sleep": "time", "deepcopy": "copy", "median": "statistics", "urlopen": "urllib.request",
    "pprint": "pprint",
}


Uses = list[tuple[int, int, int]]  # (line, start column, end column) of each use of a name


def scan_names(code: str) -> tuple[list[tuple[str, Uses]], set[str]]:
    """A Python snippet's free variables, first use first, each with its uses' (line, start, end) columns: names
    read but never bound in it (assigned, loop or comprehension targets, parameters, imports, definitions), that
    are not builtins, modules (_MODULES read an attribute of), called (a function defined elsewhere),
    class-like (Capitalised, longer than one letter) or LIBRARY_NAMES; and the names it binds. ([], set()) when
    the snippet does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return [], set()
    bound: set[str] = set()
    called: set[str] = set()
    uses: dict[str, Uses] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                assert node.end_col_offset is not None
                uses.setdefault(node.id, []).append((node.lineno, node.col_offset, node.end_col_offset))
            else:
                bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called.add(node.func.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in _MODULES:
            called.add(node.value.id)  # a module (`os.path`), not a value: `string` alone may be a variable
    free = [(n, sorted(u)) for n, u in uses.items() if n not in bound and n not in called and n not in ("self", "cls")
            and not hasattr(builtins, n) and not (n[0].isupper() and len(n) > 1) and n not in LIBRARY_NAMES]
    return sorted(free, key=lambda f: f[1][0]), bound


def bind_names(code: str, names: Sequence[str], example_prompt: str = "") -> str:
    """A Python example's free variables renamed to the names the user's code has (a function's parameters,
    nearest first): a free variable that already is one of them stays; the others take the unused names in
    order. "Return the last element of the list xs" under `def last_item(xs):` serves `xs[-1]` for the example's
    `alist[-1]`. Names still unused then take the place of the example's own data: the string and number
    literals whose values its prompt named (example_prompt's slots), in code order, so that "Count the
    occurrences of the character ch in text" serves `text.count(ch)` for `text.count('Hello')`. The code as it
    was when nothing would change or the result would not parse."""
    free, bound = scan_names(code)
    if not names or not (free or example_prompt):
        return code
    taken = {n for n, _ in free if n in names}
    spare = iter([n for n in dict.fromkeys(names) if n not in taken and n not in bound and n.isidentifier()
                  and n.isascii() and not reads(code, n)])
    spans: list[tuple[int, int, int, str]] = []
    for name, uses in free:
        if name not in taken:
            new = next(spare, None)
            if new is None:
                break
            spans += [(line, start, end, new) for line, start, end in uses]
    if example_prompt:
        for line, start, end in _data_literals(code, example_prompt):
            new = next(spare, None)
            if new is None:
                break
            spans.append((line, start, end, new))
    if not spans:
        return code
    lines = code.split("\n")
    for line, start, end, new in sorted(spans, reverse=True):  # columns are byte offsets: ASCII names only
        text = lines[line - 1].encode()
        lines[line - 1] = (text[:start] + new.encode() + text[end:]).decode()
    out = "\n".join(lines)
    try:
        ast.parse(out)
    except SyntaxError:
        return code
    return out


def reads(code: str, name: str) -> bool:
    """Whether the snippet reads `name` as a whole word, not as an attribute (a name bind_names need not
    give it; a docstring body that uses a parameter)."""
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", code) is not None


def _data_literals(code: str, example_prompt: str) -> list[tuple[int, int, int]]:
    """(line, start, end) of the snippet's string and number literals whose values the example's prompt named
    (its slots: the example's data, not the code's own constants like `','` or `-1`), in code order; f-string
    parts are not literals of their own."""
    values = {s.value for s in prompt_slots(example_prompt) if not s.name}
    if not values:
        return []
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    inside_f = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in ast.walk(n)}
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and id(node) not in inside_f and not isinstance(node.value, bool)
                and isinstance(node.value, (str, int, float)) and str(node.value) in values
                and node.end_lineno == node.lineno and node.end_col_offset is not None):
            found.append((node.lineno, node.col_offset, node.end_col_offset))
    return sorted(found)
