"""Prompt extraction, language detection, indentation and position units (pure functions)."""

from __future__ import annotations

import pytest
from codefusion.server.prompts import (
    PromptKind,
    extract_prompt,
    first_line,
    indent_code,
    language_for,
    prompt_at_comment,
    utf16_len,
    utf16_to_index,
)


@pytest.mark.parametrize(
    ("language_id", "uri", "expected"),
    [
        ("python", "file:///a.txt", "python"),
        ("shellscript", "file:///a", "bash"),
        ("bash", "file:///a", "bash"),
        ("sh", "file:///a", "bash"),
        ("", "file:///x/run.sh", "bash"),
        ("plaintext", "file:///x/mod.py", "python"),
        ("rust", "file:///x/main.rs", None),
        (None, "untitled:Untitled-1", None),
    ],
)
def test_language_for(language_id, uri, expected):
    assert language_for(language_id, uri) == expected


def test_comment_lines_joined_and_cursor_indent_kept():
    text = "def f(xs):\n    # sort the list xs\n    # in reverse order\n    \n"
    p = extract_prompt(text, 3, 4, "python")
    assert p is not None and p.kind is PromptKind.COMMENT
    assert p.text == "sort the list xs in reverse order"
    assert (p.first_line, p.last_line, p.insert_line, p.indent) == (1, 2, 3, "    ")


def test_cursor_at_column_zero_takes_the_comment_indent():
    p = extract_prompt("if x:\n    # print hello\n", 2, 0, "python")
    assert p is not None and p.indent == "    "


def test_no_prompt_when_not_directly_below_a_comment():
    assert extract_prompt("# list files\n\n\n", 2, 0, "bash") is None  # a blank line in between
    assert extract_prompt("x = 1\n\n", 1, 0, "python") is None
    assert extract_prompt("# list files\nls", 1, 2, "bash") is None  # code already on the line
    assert extract_prompt("#!/bin/bash\n\n", 1, 0, "bash") is None  # a shebang is no prompt


def test_out_of_range_positions_are_safe():
    assert extract_prompt("# a\n", 99, 0, "python") is None
    assert extract_prompt("# a\n", -1, 0, "python") is None
    p = extract_prompt("# a\n", 1, 500, "python")  # past the end of the line: clamped
    assert p is not None and p.text == "a"


def test_docstring_of_empty_function_is_a_prompt():
    text = 'def add(a, b):\n    """Return the sum of a and b."""\n    \n'
    p = extract_prompt(text, 2, 4, "python")
    assert p is not None and p.kind is PromptKind.DOCSTRING
    assert p.text == "Return the sum of a and b." and p.indent == "    "
    assert p.params == ("a", "b")
    comment = extract_prompt("def f(x):\n    # double x\n    \n", 2, 4, "python")
    assert comment is not None and comment.kind is PromptKind.COMMENT and comment.params == ()


def test_docstring_prompt_stops_at_its_sections():
    """Google, Sphinx and NumPy sections describe the interface, not the task: the prompt is the text before
    them (a docstring that opens with one keeps its whole text); a raw docstring reads the same."""
    google = ('def mean(xs):\n    """Return the average of the list xs.\n\n    Args:\n        xs: numbers.\n\n'
              '    Returns:\n        The mean.\n    """\n    \n')
    p = extract_prompt(google, 9, 4, "python")
    assert p is not None and p.text == "Return the average of the list xs." and p.params == ("xs",)
    sphinx = ('def f(a, b):\n    r"""Add a and b,\n    then double it.\n\n    :param a: first\n    >>> f(1, 2)\n'
              '    """\n    \n')
    p = extract_prompt(sphinx, 7, 4, "python")
    assert p is not None and p.text == "Add a and b, then double it."
    numpy = 'def f(a):\n    """\n    Parameters\n    ----------\n    a : int\n    """\n    \n'
    p = extract_prompt(numpy, 6, 4, "python")
    assert p is not None and p.text == "Parameters ---------- a : int"


def test_docstring_under_a_def_header_over_several_lines():
    """One parameter per line, annotations, a return type: still a docstring prompt, with the parameters."""
    text = ('def mean(\n    xs: list[float],\n    default: float = 0.0,\n) -> float:\n'
            '    """Return the average of xs."""\n    \n')
    p = extract_prompt(text, 5, 4, "python")
    assert p is not None and p.kind is PromptKind.DOCSTRING and p.text == "Return the average of xs."
    assert p.params == ("xs", "default") and p.names[:2] == ("xs", "default") and p.indent == "    "
    assert extract_prompt('x = [\n    1,\n]\n"""Not a docstring."""\n\n', 4, 0, "python") is None
    body = 'def f(\n    a,\n):\n    """Do it."""\n    return a\n    \n'  # the body is not empty: no prompt
    assert extract_prompt(body, 5, 4, "python") is None


def test_multiline_docstring_and_non_empty_body():
    text = 'def f(path):\n    """Read the file at path\n    and return its lines.\n    """\n\n'
    p = extract_prompt(text, 4, 0, "python")
    assert p is not None and p.text == "Read the file at path and return its lines." and p.indent == "    "
    body = 'def f():\n    """Do it."""\n\n    return 1\n'
    assert extract_prompt(body, 2, 0, "python") is None
    assert extract_prompt('x = """not a docstring"""\n\n', 1, 0, "python") is None
    assert extract_prompt('def f():\n    """Do it."""\n\n', 2, 0, "bash") is None


def test_code_action_prompt_from_any_line_of_a_block():
    text = "x = 1\n# create a dict\n# mapping names to ages\nprint(x)\n"
    p = prompt_at_comment(text, 2, "python")
    assert p is not None and p.text == "create a dict mapping names to ages"
    assert (p.first_line, p.last_line, p.insert_line) == (1, 2, 3)
    assert prompt_at_comment(text, 0, "python") is None


def test_utf16_units():
    line = "s = '😀é' # x"
    assert utf16_len("😀") == 2 and utf16_len("😀", "utf-8") == 4 and utf16_len("😀", "utf-32") == 1
    assert utf16_to_index(line, 7) == 6  # after the emoji (2 units) the index is one behind
    assert utf16_to_index(line, 1000) == len(line)
    assert utf16_to_index("a😀b", 2) == 2  # inside a surrogate pair rounds up


def test_non_ascii_comment_before_cursor():
    text = "# imprime « bonjour » 😀\n  "
    p = extract_prompt(text, 1, 2, "python")
    assert p is not None and p.text == "imprime « bonjour » 😀"


def test_indent_code_and_first_line():
    assert indent_code("for x in y:\n    print(x)\n", "  ") == "for x in y:\n      print(x)"
    assert indent_code("a\n\nb", "  ", first_line_indented=True) == "  a\n\n  b"
    assert first_line("\n  ls -la\nwc") == "ls -la"
    assert len(first_line("x" * 200)) == 80


def test_missing_imports_names_the_standard_modules_a_candidate_reads_and_the_file_lacks():
    from codefusion.server.prompts import missing_imports

    assert missing_imports("json.loads(text)", "def f(text):\n    pass\n") == ["import json"]
    assert missing_imports("math.sqrt(x) + json.dumps(y)", "") == ["import math", "import json"]
    assert missing_imports("json.loads(text)", "import json\n") == []
    assert missing_imports("re.sub(a, b, s)", "import sys, re as re\n") == []
    assert missing_imports("os.path.join(a, b)", "from os import path\n") == []  # conservative: os is named
    assert missing_imports("np.array(x)", "") == []  # not the standard library: the user's choice
    assert missing_imports("[json.x for json in xs]", "") == []  # bound in the candidate itself
    assert missing_imports("json = 1 +", "") == []  # does not parse
    # standard-library names used bare: their `from` import, unless the file has it or defines the name
    assert missing_imports("list(chain.from_iterable(xs))", "") == ["from itertools import chain"]
    assert missing_imports("reduce(lambda a, b: a * b, xs)", "") == ["from functools import reduce"]
    assert missing_imports("reduce(f, xs)", "from functools import reduce\n") == []
    assert missing_imports("reduce(f, xs)", "def reduce(f, xs):\n    pass\n") == []
    assert missing_imports("[reduce for reduce in xs]", "") == []


def test_imports_go_after_the_last_import_or_the_files_header():
    from codefusion.server.prompts import import_line

    assert import_line(["#!/usr/bin/env python", '"""Tools."""', "x = 1"]) == 2
    assert import_line(["import os", "from re import sub", "", "x = 1"]) == 2
    assert import_line(["def f():", "    pass"]) == 0


@pytest.mark.parametrize("code, request_text, want", [
    ("sum(xs) / len(xs)", "Return the average of xs.", "return sum(xs) / len(xs)"),
    ("r = int(''.join(map(str, x)))", "Join the digits x.", "return int(''.join(map(str, x)))"),
    ("print(sorted(d))", "Return the keys of d in order.", "return sorted(d)"),  # printing one value: returned
    ("print(sorted(d))", "Print the keys of d in order.", "print(sorted(d))"),  # asked to print: it prints
    ("print(sorted(d))", "display the keys of d", "print(sorted(d))"),
    ("print(a, b)", "Return a and b.", "print(a, b)"),  # two values: not one thing to return
    ("print(x, end='')", "Return x.", "print(x, end='')"),
    ("for x in xs:\n    print(x)", "Return xs.", "for x in xs:\n    print(x)"),  # more than one line: as it is
    ("return xs[-1]", "Return the last of xs.", "return xs[-1]"),
    # a change in place returns None: the function makes it, then returns what it changed
    ("xs.sort(key=len)", "Sort xs by length.", "xs.sort(key=len)\nreturn xs"),
    ("d.update(other)", "Merge other into d.", "d.update(other)\nreturn d"),
    ("random.shuffle(cards)", "Shuffle the cards.", "random.shuffle(cards)\nreturn cards"),
    ("os.remove(path)", "Delete the file path.", "return os.remove(path)"),  # a module's function: as before
])
def test_a_one_line_candidate_becomes_the_functions_return(code: str, request_text: str, want: str):
    from codefusion.server.prompts import as_function_body

    assert as_function_body(code, request_text) == want


def test_a_docstrings_engine_names_are_its_parameters_in_order_then_the_names_it_mentions():
    """An example's variables take the parameters in signature order: the docstring mentions only `default`,
    but the string converted is `value`, the first."""
    source = ("LIMIT = 10\nitems = []\n\ndef safe_int(value: str, default: int = 0) -> int:\n"
              '    """Convert a string to an int, returning default up to LIMIT."""\n    ')
    prompt = extract_prompt(source, 5, 4, "python")
    assert prompt is not None and prompt.params == ("value", "default")
    assert prompt.engine_names == ("value", "default", "LIMIT")  # `items` is not mentioned
    comment = extract_prompt("xs = [3, 1]\nn = 2\n# sort xs\n", 3, 0, "python")
    assert comment is not None and comment.engine_names == comment.names  # the engine keeps those mentioned
