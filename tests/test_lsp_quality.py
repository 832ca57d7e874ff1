"""The shipped model through the real server: candidates parse, are distinct, and edits give valid files.

Skipped (with the reason) while models/codefusion/ is not there yet.
"""

from __future__ import annotations

import textwrap

import pytest
import pytest_lsp
from codefusion.model.validate import validate
from lsp_support import SERVER, apply_edit, command, complete, initialize, open_doc, wait_until_loaded
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest):
    request.getfixturevalue("shipped_model_dir")  # skips when absent
    await initialize(lsp_client, device="cpu", debounceMs=0)  # no modelPath: the shipped model by default
    status = await wait_until_loaded(lsp_client, timeout=120)
    assert status["state"] == "ready", status
    yield
    await lsp_client.shutdown_session()


# The server seeds Python candidates from the nearest training examples (seedFromExamples, the default;
# models/codefusion/seeding.json). Alone, sampling from pure noise, Python is written by the masked model
# (models/codefusion-masked; 60 % of its raw dev samples parse after the syntax repair): the model
# alone still serves candidates, and every one parses.


def item_code(item: types.CompletionItem) -> str:
    assert isinstance(item.text_edit, types.TextEdit)
    return textwrap.dedent(item.text_edit.new_text)


@pytest.mark.parametrize(
    ("uri", "language_id", "lang", "text", "line", "character"),
    [
        ("file:///q/a.py", "python", "python", "# sort the list `names` in reverse order\n\n", 1, 0),
        (
            "file:///q/b.sh",
            "shellscript",
            "bash",
            "# count the lines in all txt files in the current folder\n\n",
            1,
            0,
        ),
    ],
)
async def test_completion_candidates_parse_and_differ(client, uri, language_id, lang, text, line, character):
    open_doc(client, uri, text, language_id)
    result = await complete(client, uri, line, character)
    assert result is not None
    codes = [item_code(i) for i in result.items]
    assert len(set(codes)) >= 3, codes
    assert all(validate(lang, c) for c in codes), codes
    for item in result.items:  # inserted where the cursor is, the file still parses
        assert validate(lang, apply_edit(text, item.text_edit))  # type: ignore[arg-type]


async def test_docstring_body_generation(client: LanguageClient):
    text = 'def average(values):\n    """Return the mean of the list values."""\n    \n'
    open_doc(client, "file:///q/doc.py", text, "python")
    result = await complete(client, "file:///q/doc.py", 2, 4)
    assert result is not None and result.items
    for item in result.items:
        assert validate("python", apply_edit(text, item.text_edit))  # type: ignore[arg-type]


async def test_docstring_candidates_use_the_functions_parameter_names(client: LanguageClient):
    """Under `def last_item(xs):` the served examples read `xs`, not the example's own list name."""
    text = 'def last_item(xs):\n    """Return the last element of the list xs."""\n    \n'
    open_doc(client, "file:///q/last.py", text, "python")
    result = await complete(client, "file:///q/last.py", 2, 4)
    assert result is not None and result.items
    codes = [item_code(i) for i in result.items]
    assert "xs[" in codes[0], codes
    assert all(validate("python", apply_edit(text, i.text_edit)) for i in result.items)  # type: ignore[arg-type]


async def test_docstring_bodies_take_the_parameters_the_docstring_does_not_name(client: LanguageClient):
    """`rows` is not in the docstring, yet the examples' lists become `rows`: one of the (at most five) bodies,
    run as the function's body, flattens a list of lists."""
    text = 'def flatten(rows):\n    """Join the nested lists into one list."""\n    \n'
    open_doc(client, "file:///q/flat.py", text, "python")
    result = await complete(client, "file:///q/flat.py", 2, 4)
    assert result is not None and 1 <= len(result.items) <= 5
    results = []
    for item in result.items:
        scope: dict[str, object] = {}
        try:
            exec(apply_edit(text, item.text_edit), scope)  # type: ignore[arg-type]
            results.append(scope["flatten"]([[1], [2, 3]]))  # type: ignore[operator]
        except Exception as exc:  # a candidate that does something else: fine, one must flatten
            results.append(exc)
    assert [1, 2, 3] in results, ([item_code(i) for i in result.items], results)


async def body_items_holding(client: LanguageClient, uri: str, text: str, needle: str) -> list[types.CompletionItem]:
    """The completions at the body line (line 2) under a one-line docstring whose code holds `needle`; at least
    one must."""
    open_doc(client, uri, text, "python")
    result = await complete(client, uri, 2, 4)
    assert result is not None and result.items
    found = [i for i in result.items if needle in item_code(i)]
    assert found, [item_code(i) for i in result.items]
    return found


async def test_a_candidate_that_reads_a_module_brings_its_import(client: LanguageClient):
    """A completion whose code reads `json` carries `import json` as an additional edit; applied, the function
    runs."""
    text = 'def parse_json(text):\n    """Parse the JSON string text into a Python object."""\n    \n'
    with_json = await body_items_holding(client, "file:///q/pj.py", text, "json.")
    for item in with_json:
        extra = item.additional_text_edits or []
        assert [e.new_text for e in extra] == ["import json\n"], extra
        assert extra[0].range.start == types.Position(line=0, character=0)
        applied = apply_edit(apply_edit(text, item.text_edit), extra[0])  # type: ignore[arg-type]
        assert applied.startswith("import json\n") and validate("python", applied)


async def test_code_action_edit_gives_a_parsing_file(client: LanguageClient):
    uri, text = "file:///q/act.py", "import os\n# get the current working directory\nprint('done')\n"
    open_doc(client, uri, text, "python")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(1, 0), end=types.Position(1, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions
    for action in actions:
        assert isinstance(action, types.CodeAction)
        if action.edit is None:
            action = await client.code_action_resolve_async(action)
        if action.edit is None:  # fewer distinct candidates than actions offered
            continue
        change = action.edit.document_changes[0]  # type: ignore[index]
        edit = change.edits[0]  # type: ignore[union-attr]
        assert validate("python", apply_edit(text, edit))  # type: ignore[arg-type]
    assert (await command(client, "codefusion.status"))["lastLatencyMs"] is not None


async def test_model_alone_python_candidates_parse(client: LanguageClient):
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"codefusion": {"seedFromExamples": False}}))
    try:
        text = "# remove duplicates from the list `items`\n\n"
        open_doc(client, "file:///q/alone.py", text, "python")
        result = await complete(client, "file:///q/alone.py", 1, 0)
        assert result is not None and result.items
        assert all(validate("python", item_code(i)) for i in result.items)
    finally:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"codefusion": {"seedFromExamples": True}}))


async def test_a_docstring_the_library_reference_answers_gets_its_call(client: LanguageClient):
    """The library reference's one-call rows answer docstrings (seeding.json's docstring_sources): "Return True
    if year is a leap year." gets `calendar.isleap(year)` with its import, and the function runs right; the same
    words as a comment are answered from the CodeFusion split alone, which has no such call."""
    text = 'def is_leap(year):\n    """Return True if year is a leap year."""\n    \n'
    leap = await body_items_holding(client, "file:///q/leap.py", text, "calendar.isleap(year)")
    extra = leap[0].additional_text_edits or []
    source = apply_edit(apply_edit(text, leap[0].text_edit), extra[0])  # type: ignore[arg-type]
    scope: dict[str, object] = {}
    exec(source, scope)
    assert [scope["is_leap"](y) for y in (2000, 1900, 2024, 2023)] == [True, False, True, False]  # type: ignore[operator]
    comment = "# return True if year is a leap year\n\n"
    open_doc(client, "file:///q/leap_comment.py", comment, "python")
    as_comment = await complete(client, "file:///q/leap_comment.py", 1, 0)
    assert as_comment is not None and as_comment.items
    assert not any("isleap" in item_code(i) for i in as_comment.items), [item_code(i) for i in as_comment.items]
