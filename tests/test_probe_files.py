"""The docstring probes' own data: every stub has a docstring the server reads as a prompt, and where a row
carries its writer's reference body, the reference passes the test and an empty body fails it (a test that
an empty body passes would measure nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from codefusion.server.cli.probe import stub_prompt

PROBES = Path(__file__).resolve().parents[1] / "model" / "evaluation"
FILES = ["docstring_probe.jsonl", "docstring_probe_heldout.jsonl", "docstring_probe_fresh.jsonl",
         "docstring_probe_typed.jsonl"]


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (PROBES / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def passes(program: str) -> bool:
    return subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=30).returncode == 0


@pytest.mark.parametrize("name", FILES)
def test_every_stub_is_a_docstring_prompt_with_a_test(name: str):
    found = rows(name)
    assert len(found) >= 25 and len({r["id"] for r in found}) == len(found)
    for r in found:
        assert stub_prompt(r["stub"]).text.strip(), r["id"]
        assert "assert" in r["test"], r["id"]


@pytest.mark.parametrize("name", ["docstring_probe_fresh.jsonl", "docstring_probe_typed.jsonl"])
def test_the_blind_probes_references_pass_and_empty_bodies_fail(name: str):
    for r in rows(name):
        assert passes(r["stub"] + r["reference"] + "\n" + r["test"]), r["id"]
        assert not passes(r["stub"] + "    pass\n" + r["test"]), r["id"]


def test_sections_give_a_one_line_docstring_google_style_args_and_returns():
    from codefusion.server.cli.probe import with_sections

    got = with_sections('def add(a, b=1):\n    """Return a plus b."""\n')
    assert got == ('def add(a, b=1):\n    """Return a plus b.\n\n    Args:\n        a: the a.\n        b: the b.\n\n'
                   '    Returns:\n        The result.\n    """\n')
    assert stub_prompt(got).text == "Return a plus b." and stub_prompt(got).params == ("a", "b")
    assert with_sections('def f():\n    """Do it."""\n').count("Args") == 0  # no parameters: no Args section
    multi = 'def f(x):\n    """Do it.\n\n    More.\n    """\n'
    assert with_sections(multi) == multi  # not a one-line docstring: unchanged
