"""Prompt extraction from a document: pure functions, no LSP types.

A prompt is the natural-language request the model turns into code: the `#` comment lines directly
above the cursor (Python, Bash), or the docstring of a Python function whose body is still empty.
Positions here are (line, UTF-16 code unit) as LSP sends them; `utf16_*` convert to str indices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

LANGUAGE_IDS = {"python": "python", "shellscript": "bash", "bash": "bash", "sh": "bash", "zsh": "bash"}
EXTENSIONS = {".py": "python", ".pyi": "python", ".sh": "bash", ".bash": "bash"}
COMMENT_PREFIX = {"python": "#", "bash": "#"}

_DEF_RE = re.compile(r"^(\s*)(async\s+)?def\s+\w+\s*\(.*\)\s*(->\s*[^:]+)?:\s*(#.*)?$")
_DOCSTRING_QUOTES = ('"""', "'''")


class PromptKind(Enum):
    COMMENT = "comment"
    DOCSTRING = "docstring"


@dataclass(frozen=True)
class Prompt:
    """What to generate and where: `text` is the NL prompt; code goes on `insert_line` at `indent`."""

    text: str
    lang: str
    kind: PromptKind
    first_line: int  # first line of the comment block / docstring
    last_line: int  # last line of the comment block / docstring
    insert_line: int
    indent: str
    names: tuple[str, ...] = ()  # what the code around the prompt already names (code_names), nearest first
    params: tuple[str, ...] = ()  # a docstring's function's parameters (def_parameters), the body's inputs

    @property
    def engine_names(self) -> tuple[str, ...]:
        """The names the engine gets (Engine.generate's `names`). Under a docstring, the names an example's
        variables take, in order (server/seeded.py): the function's parameters in signature order, then the
        other names the docstring mentions. A function's inputs are its parameters whether or not the
        docstring names them, and the first is usually what the body works on (`def safe_int(value,
        default)`: "… returning default if …" must not make `default` the string converted). Under a
        comment, what the code names (the engine binds those the comment mentions)."""
        from .seeded import mentioned

        if self.kind is PromptKind.DOCSTRING:
            return tuple(dict.fromkeys((*self.params, *mentioned(self.names, self.text))))
        return self.names


def language_for(language_id: str | None, uri: str = "") -> str | None:
    """Our language name for an LSP languageId, else guessed from the file extension; None if unsupported."""
    if language_id and language_id.lower() in LANGUAGE_IDS:
        return LANGUAGE_IDS[language_id.lower()]
    suffix = PurePosixPath(unquote(urlparse(uri).path)).suffix.lower()
    return EXTENSIONS.get(suffix)


# --- positions: LSP counts characters in UTF-16 code units unless the client negotiated otherwise ----


def _units(ch: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(ch.encode("utf-8", "surrogatepass"))
    if encoding == "utf-32":
        return 1
    return 2 if ord(ch) > 0xFFFF else 1


def utf16_len(s: str, encoding: str = "utf-16") -> int:
    """Length of `s` in LSP position units (UTF-16 code units by default)."""
    return sum(_units(ch, encoding) for ch in s)


def utf16_to_index(line: str, character: int, encoding: str = "utf-16") -> int:
    """str index of the LSP offset `character` (UTF-16 units by default) in `line`, clamped to its end."""
    units = 0
    for i, ch in enumerate(line):
        if units >= character:
            return i
        units += _units(ch, encoding)
    return len(line)


def split_lines(text: str) -> list[str]:
    """Lines of a document without their terminators (a trailing newline gives a last empty line)."""
    return re.split(r"\r\n|\r|\n", text)


# --- prompt extraction ------------------------------------------------------------------------------


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _comment_text(line: str, prefix: str) -> str | None:
    stripped = line.strip()
    if not stripped.startswith(prefix) or stripped.startswith("#!"):
        return None
    return stripped[len(prefix) :].strip()


def comment_block(lines: list[str], line: int, lang: str) -> tuple[int, int, str] | None:
    """The comment block containing `line`: (first, last, joined text), or None if `line` is no comment."""
    prefix = COMMENT_PREFIX.get(lang)
    if prefix is None or not 0 <= line < len(lines) or _comment_text(lines[line], prefix) is None:
        return None
    first = last = line
    while first > 0 and _comment_text(lines[first - 1], prefix) is not None:
        first -= 1
    while last + 1 < len(lines) and _comment_text(lines[last + 1], prefix) is not None:
        last += 1
    parts = [_comment_text(lines[i], prefix) or "" for i in range(first, last + 1)]
    text = " ".join(p for p in parts if p)
    return (first, last, text) if text else None


MAX_DEF_LINES = 12  # a `def` header split over lines (one parameter per line, annotations) spans at most this many
# Where a docstring's sections begin (Google, NumPy and Sphinx styles, doctests): the prompt stops there.
_SECTION = re.compile(r"^(?:(?:Args|Arguments|Parameters|Params|Keyword Args|Returns?|Yields?|Raises|Examples?|"
                      r"Notes?|Attributes|See Also|Todo|Warnings?)\s*:?$|:(?:param|type|returns?|rtype|raises)\b|"
                      r">>>|-{3,}$)", re.IGNORECASE)


def _def_header(lines: list[str], end: int) -> tuple[int, str] | None:
    """The `def` header that ends on line `end`, on one line or several (`def f(\n    xs: list[int],\n) -> int:`):
    (its first line, the header joined onto one line), or None."""
    for start in range(end, max(-1, end - MAX_DEF_LINES), -1):
        header = _indent_of(lines[start]) + " ".join(line.strip() for line in lines[start: end + 1])
        if _DEF_RE.match(header):
            return start, header
        if start < end and re.match(r"^\s*(?:async\s+)?def\b", lines[start]):
            return None  # a def whose header does not end on `end`
    return None


def docstring_summary(body: str) -> str:
    """What a docstring asks, on one line: its text up to the first section (`Args:`, `Returns:`, `:param`,
    `>>>`, a NumPy-style underline), which describes the interface rather than the task; the whole text when
    it opens with a section."""
    kept: list[str] = []
    for line in body.split("\n"):
        if _SECTION.match(line.strip()):
            break
        kept.append(line)
    return " ".join(" ".join(kept).split()) or " ".join(body.split())


def _unraw(text: str) -> str:
    """A docstring's text without its raw-string prefix (`r` or `R` before the quotes)."""
    return text[1:] if text[:1] in ("r", "R") else text


def _docstring_above(lines: list[str], line: int) -> tuple[int, int, str, str, str] | None:
    """A docstring ending on the nearest non-blank line above `line`, directly under a `def` (its header on one
    line or several).

    Returns (first, last, text, indent, the def header on one line) or None; text is docstring_summary's.
    """
    end = line - 1
    while end >= 0 and not lines[end].strip():
        end -= 1
    if end < 0:
        return None
    closing = lines[end].rstrip()
    quote = next((q for q in _DOCSTRING_QUOTES if closing.endswith(q)), None)
    if quote is None:
        return None
    start = end
    stripped = _unraw(lines[start].strip())
    single_line = stripped.startswith(quote) and len(stripped) >= 6
    if not single_line:
        start -= 1
        while start >= 0 and quote not in lines[start]:
            start -= 1
        if start < 0 or not _unraw(lines[start].strip()).startswith(quote):
            return None
    header = _def_header(lines, start - 1) if start > 0 else None
    if header is None:
        return None
    body = _unraw("\n".join(lines[start : end + 1]).strip())
    text = docstring_summary(body[3:-3])
    return (start, end, text, _indent_of(lines[start]), header[1]) if text else None


def _body_is_empty(lines: list[str], after: int, def_indent: str) -> bool:
    """True if no statement follows line `after` inside the function (only blanks until a dedent)."""
    for line in lines[after + 1 :]:
        if not line.strip():
            continue
        return len(_indent_of(line)) <= len(def_indent)
    return True


def extract_prompt(
    text: str, line: int, character: int, lang: str, encoding: str = "utf-16"
) -> Prompt | None:
    """The prompt for a cursor at (line, UTF-16 character), or None if the cursor is not after one.

    The cursor must be on a line holding only whitespace before it, directly below a `#` comment
    block, or (Python) below the docstring of a function whose body is still empty.
    """
    lines = split_lines(text)
    if not 0 <= line < len(lines):
        return None
    current = lines[line]
    before_cursor = current[: utf16_to_index(current, character, encoding)]
    if before_cursor.strip() or current[len(before_cursor) :].strip():
        return None
    block = comment_block(lines, line - 1, lang) if line > 0 else None
    if block is not None:
        first, last, prompt_text = block
        indent = before_cursor or _indent_of(lines[last])
        return Prompt(prompt_text, lang, PromptKind.COMMENT, first, last, line, indent, code_names(lines, first, lang))
    if lang == "python":
        doc = _docstring_above(lines, line)
        if doc is not None:
            first, last, prompt_text, doc_indent, header = doc
            if _body_is_empty(lines, line, _indent_of(header)):
                indent = before_cursor if len(before_cursor) >= len(doc_indent) else doc_indent
                params = tuple(def_parameters(header))
                names = tuple(dict.fromkeys((*params, *code_names(lines, first, lang))))[:MAX_NAMES]
                return Prompt(prompt_text, lang, PromptKind.DOCSTRING, first, last, line, indent, names, params)
    return None


def prompt_at_comment(text: str, line: int, lang: str) -> Prompt | None:
    """The prompt for a code action on line `line` of a comment block: code goes under the block."""
    lines = split_lines(text)
    block = comment_block(lines, line, lang)
    if block is None:
        return None
    first, last, prompt_text = block
    return Prompt(prompt_text, lang, PromptKind.COMMENT, first, last, last + 1, _indent_of(lines[last]),
                  code_names(lines, first, lang))


def indent_code(code: str, indent: str, *, first_line_indented: bool = False) -> str:
    """Indent every line of `code` by `indent` (the first only if `first_line_indented`)."""
    lines = code.strip("\n").split("\n")
    out = [(indent + lines[0]) if first_line_indented else lines[0]]
    out += [(indent + ln) if ln.strip() else ln for ln in lines[1:]]
    return "\n".join(out)


def first_line(code: str, limit: int = 80) -> str:
    """A one-line label for a candidate."""
    head = next((ln.strip() for ln in code.splitlines() if ln.strip()), "")
    return head if len(head) <= limit else head[: limit - 1] + "…"


# --- the user's code as context: names an edit model may use ---------------------------------------------

MAX_NAMES = 6  # names passed to the model, nearest first
NAMES_LOOKBACK = 40  # lines above the prompt searched for them
_PY_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(\w+)\s*\((.*)\)")
_PY_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?::[^=]*)?=(?!=)")
_PY_FOR = re.compile(r"^\s*(?:async\s+)?for\s+([\w\s,()]+?)\s+in\b")
_PY_IMPORT = re.compile(r"^\s*(?:from\s+\S+\s+)?import\s+(.+)$")
_PY_CLASS = re.compile(r"^\s*class\s+(\w+)")
_SH_ASSIGN = re.compile(r"^\s*(?:local\s+|export\s+|declare\s+(?:-\w+\s+)?)?([A-Za-z_]\w*)=")
_SH_FOR = re.compile(r"^\s*for\s+([A-Za-z_]\w*)\s+in\b")
_IDENT = re.compile(r"[A-Za-z_]\w*")


def def_parameters(line: str) -> list[str]:
    """The parameter names of a one-line `def` header (annotations, defaults, `*`, `self`/`cls` dropped)."""
    m = _PY_DEF.match(line)
    if m is None:
        return []
    out, depth, part = [], 0, ""
    for ch in m.group(2) + ",":  # split on top-level commas only
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            name = _IDENT.search(part.split(":")[0].split("=")[0])
            if name and name.group(0) not in ("self", "cls"):
                out.append(name.group(0))
            part = ""
        else:
            part += ch
    return out


def _line_names(line: str, lang: str) -> list[str]:
    if lang == "bash":
        m = _SH_ASSIGN.match(line) or _SH_FOR.match(line)
        return [m.group(1)] if m else []
    if (params := def_parameters(line)) or _PY_DEF.match(line):
        return params
    for pattern in (_PY_ASSIGN, _PY_FOR, _PY_CLASS):
        m = pattern.match(line)
        if m:
            return [n for n in _IDENT.findall(m.group(1))]
    m = _PY_IMPORT.match(line)
    if m:
        return [part.split(" as ")[-1].strip().split(".")[0] for part in m.group(1).strip("() ").split(",")
                if part.strip() and part.strip() != "*"]
    return []


def code_names(lines: list[str], above: int, lang: str) -> tuple[str, ...]:
    """What the code above line `above` names (Python: parameters of the function around it, assigned, loop,
    imported and class names; Bash: assigned and loop variables), nearest first, at most MAX_NAMES."""
    out: list[str] = []
    for line in reversed(lines[max(0, above - NAMES_LOOKBACK): above]):
        for name in _line_names(line, lang):
            if name not in out and not name.startswith("__"):
                out.append(name)
        if len(out) >= MAX_NAMES:
            break
    return tuple(out[:MAX_NAMES])


_SHOWS = re.compile(r"^\W*(?:print|display|show|output|write|log|echo)s?\b", re.IGNORECASE)


def as_function_body(code: str, request: str = "") -> str:
    """A one-line candidate as the body of a function whose docstring asked for a value: an expression or an
    assignment becomes `return …` (a function that computes a value returns it), and so does printing one
    value unless the docstring (`request`) asks to print or show it; other code is unchanged."""
    import ast

    text = code.strip()
    if "\n" in text or text.startswith(("return", "yield", "raise")):
        return code
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return code
    if len(tree.body) != 1:
        return code
    node = tree.body[0]
    if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "print"):
        call = node.value
        if (len(call.args) != 1 or call.keywords or isinstance(call.args[0], ast.Starred)
                or _SHOWS.search(request)):
            return code
        return f"return {ast.get_source_segment(text, call.args[0])}"
    mutated = _mutated(node)
    if mutated is not None:  # `xs.sort()` returns None: sort, then return the list
        return f"{text}\nreturn {mutated}"
    if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Await):
        return f"return {text}"
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return f"return {ast.get_source_segment(text, node.value)}"
    return code


# methods that change their object in place and return None (list, dict, set): `return xs.sort()` returns None
_IN_PLACE = frozenset({"sort", "reverse", "append", "extend", "insert", "remove", "clear", "update", "add",
                       "discard"})


def _mutated(node: object) -> str | None:
    """The variable a one-statement body changes in place, returning None (`xs.sort(key=len)`,
    `random.shuffle(xs)`), so that the function returns the variable instead; None for anything else (a
    module's function such as `os.remove(path)` is not a change of a variable)."""
    import ast
    import sys

    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return None
    func = node.value.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return None
    owner = func.value.id
    if owner == "random" and func.attr == "shuffle" and len(node.value.args) == 1:
        arg = node.value.args[0]
        return arg.id if isinstance(arg, ast.Name) else None
    if func.attr in _IN_PLACE and owner not in getattr(sys, "stdlib_module_names", ()):
        return owner
    return None


_IMPORT_LINE = re.compile(r"^(?:import|from)\s+([A-Za-z_][\w.]*)")
_DEFINES = re.compile(r"^\s*(?:def|class)\s+(\w+)|^(\w+)\s*=[^=]")


def missing_imports(code: str, document: str) -> list[str]:
    """The import lines a Python candidate needs and the document lacks: `import X` for the standard-library
    modules the candidate reads an attribute of (`json.loads(text)`), `from X import N` for the standard-library
    names it uses bare (`reduce(f, xs)`, `chain.from_iterable(a)`: slots.LIBRARY_NAMES), where the candidate
    does not bind them and the document neither imports nor defines them. [] when the candidate does not parse."""
    import ast
    import sys

    from codefusion.model.examples.slots import LIBRARY_NAMES, scan_names

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    bound = scan_names(code)[1]  # what the candidate binds itself (assigns, imports, parameters, definitions)
    used, bare = [], []  # modules read an attribute of (`json.loads`); names read bare (`reduce`), code order
    for n in ast.walk(tree):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
            used.append(n.value.id)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            bare.append(n.id)
    have: set[str] = set()  # what the document imports (conservatively: a `from` line's module too) or defines
    for line in document.split("\n"):
        if _IMPORT_LINE.match(line.strip()):
            try:
                node = ast.parse(line.strip()).body[0]
            except (SyntaxError, IndexError):
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                have |= {(a.asname or a.name).split(".")[0] for a in node.names}
                if isinstance(node, ast.ImportFrom) and node.module:
                    have.add(node.module.split(".")[0])
        elif m := _DEFINES.match(line):
            have.add(m.group(1) or m.group(2))
    stdlib: frozenset[str] = getattr(sys, "stdlib_module_names", frozenset())
    out = []
    for name in dict.fromkeys(used):
        if name in stdlib and name not in bound and name not in have:
            out.append(f"import {name}")
    for name in dict.fromkeys(bare):
        if name in LIBRARY_NAMES and name not in bound and name not in have and f"import {name}" not in out:
            out.append(f"from {LIBRARY_NAMES[name]} import {name}")
    return out


def import_line(lines: list[str]) -> int:
    """Where an import goes: after the document's last top-level import, else after a shebang or encoding line
    and a one-line module docstring, else at the top."""
    last = max((i for i, line in enumerate(lines) if _IMPORT_LINE.match(line)), default=None)
    if last is not None:
        return last + 1
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        i += 1
    if i < len(lines) and re.match(r'^("""|\'\'\').*\1\s*$', lines[i]):
        i += 1
    return i if i < len(lines) else 0
