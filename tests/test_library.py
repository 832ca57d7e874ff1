"""The Python library reference's one-call rows for the served example pool (model/examples/library.py)."""

from __future__ import annotations

import pytest
from codefusion.model.examples.library import callable_as_is, library_pairs, summary, unshadowed
from codefusion.model.training.external import EXTERNAL_DIR


@pytest.mark.parametrize("code, ok", [
    ("math.factorial(x)", True),
    ("os.path.splitext(path)", True),
    ("sorted(iterable, key=None)", True),
    ("calendar.isleap(year)", True),
    ("string_io.getvalue()", False),  # an instance the user does not have
    ("POP3.getwelcome()", False),
    ("abc.ABC", False),  # not a call
    ("x.sort()", False),
])
def test_only_calls_a_user_can_make_as_written(code: str, ok: bool):
    assert callable_as_is(code) is ok


def test_the_summary_is_the_first_sentence():
    assert summary("Return `x` factorial as an integer .") == "Return `x` factorial as an integer"
    text = "Return a list with the `n` largest elements . `key` , if provided , specifies a function ."
    assert summary(text) == "Return a list with the `n` largest elements"
    assert summary("Return the value of e.g. `x` 3.5 times .") == "Return the value of e.g. `x` 3.5 times"


def test_a_documented_argument_named_like_a_builtin_is_renamed():
    text = "Return the longest path prefix that is a prefix of all paths in `list` ."
    assert unshadowed("os.path.commonprefix(list)", text) == "os.path.commonprefix(list_)"
    assert unshadowed("pprint.pprint(object, stream=None)", "Prints `object` on `stream` .") == \
        "pprint.pprint(object_, stream=None)"
    # a builtin the text does not name as an argument stays (a default value, a real builtin)
    assert unshadowed("warnings.warn(message, category=Warning)", "Issue a warning .") == \
        "warnings.warn(message, category=Warning)"
    assert unshadowed("math.factorial(x)", "Return `x` factorial .") == "math.factorial(x)"


@pytest.mark.skipif(not (EXTERNAL_DIR / "python.docs.jsonl").is_file(), reason="data/external not present")
def test_library_pairs_are_short_callable_and_parse():
    from codefusion.model.validate import validate

    pairs = library_pairs()
    assert 5000 < len(pairs) < 7000  # 6,049 of the reference's 12,955 rows on 2026-12-07
    assert all(callable_as_is(p.code) and validate("python", p.code) for p in pairs)
    assert all(" . " not in p.prompt and p.id.startswith("pydocs-") for p in pairs)
    factorial = [p for p in pairs if p.code == "math.factorial(x)"]
    assert factorial and factorial[0].prompt == "Return `x` factorial as an integer"
