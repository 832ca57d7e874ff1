"""Python library reference rows for the served example pool (data/external/python.docs.jsonl, pydocs).

A docstring such as "Return n factorial." or "Return True if year is a leap year." reads like the library
reference's own first sentences ("Return `x` factorial as an integer."), and the answer is often one call of
the standard library. The rows kept are those a user can run as they stand: a call of a standard-library
module's function (`math.factorial(x)`, `os.path.splitext(path)`) or of a builtin, whose code parses (the
external loader already dropped rows equal to a development row). Each row's prompt is its summary: the
reference text up to its first sentence end, as a docstring's first line is.

seeding.json's `source_weight` scales these rows' nearness (examples.jsonl marks them "source": "pydocs"), so
an example of the CodeFusion split that is as near stays ahead.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys

from ..training.data import Pair
from ..training.external import load_external

SOURCE = "pydocs"
_CALL = re.compile(r"([A-Za-z_]\w*)((?:\.\w+)*)\(")
# the reference text is tokenised: a sentence ends at a full stop standing alone (" . ")
_SENTENCE_END = re.compile(r" \.(?: |$)")
_STDLIB = frozenset(sys.stdlib_module_names)


def callable_as_is(code: str) -> bool:
    """Whether the code is a call a user can make as written: `module.function(...)` of the standard library
    or a builtin `function(...)` (not an instance placeholder such as `string_io.getvalue()`)."""
    m = _CALL.match(code)
    if m is None:
        return False
    head, attrs = m.group(1), m.group(2)
    return head in _STDLIB or (not attrs and hasattr(builtins, head))


def summary(text: str) -> str:
    """The reference text's first sentence, without its full stop: what a docstring's first line says."""
    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0]
    return first.rstrip(" .")


def unshadowed(code: str, text: str) -> str:
    """The call with each argument the reference names in backticks but that is also a builtin's name
    (`os.path.commonprefix(list)`, "of all paths in `list`") renamed with a trailing underscore (`list_`): an
    argument that reads as a builtin is never taken for the user's variable, so a docstring's parameter could
    not replace it (slots.bind_names)."""
    tree = ast.parse(code, mode="eval")
    call = tree.body
    if not isinstance(call, ast.Call):
        return code
    values = [*call.args, *(k.value for k in call.keywords)]
    shadowing = {v.id for v in values if isinstance(v, ast.Name) and hasattr(builtins, v.id) and f"`{v.id}`" in text}
    if not shadowing:
        return code
    for v in values:
        if isinstance(v, ast.Name) and v.id in shadowing:
            v.id += "_"
    return ast.unparse(tree)


def library_pairs() -> list[Pair]:
    """The pydocs rows a user can call as they are, each with its summary as the prompt (load_external's
    filters first: parsing, not a development row, not repeated) and its documented arguments unshadowed."""
    pairs, _ = load_external([SOURCE])
    out = []
    for p in pairs.get("python", []):
        if callable_as_is(p.code):
            prompt = summary(p.prompt)
            if prompt:
                out.append(Pair(p.id, p.lang, prompt, unshadowed(p.code, p.prompt)))
    return out
