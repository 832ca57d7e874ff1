"""The real `codefusion-lsp` process over stdio, with a tiny random model: protocol behaviour only.

Output quality is judged in test_lsp_quality.py against the shipped model.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_lsp
from lsp_support import (
    SERVER,
    apply_edit,
    change_doc,
    command,
    complete,
    initialize,
    make_workbook,
    open_doc,
    wait_until_loaded,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

PY_URI = "file:///work/example.py"
PY_TEXT = "import os\n\ndef main():\n    # list the files in the current directory\n    \n"
SH_URI = "file:///work/example.sh"
SH_TEXT = "#!/bin/bash\n# count the lines of every python file\n\n"


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest):
    model = request.getfixturevalue("tiny_model_dir")
    start = time.perf_counter()
    result = await initialize(lsp_client, modelPath=str(model), device="cpu", debounceMs=50)
    lsp_client.initialize_seconds = time.perf_counter() - start  # type: ignore[attr-defined]
    lsp_client.initialize_result = result  # type: ignore[attr-defined]
    status = await wait_until_loaded(lsp_client)
    assert status["state"] == "ready", status
    open_doc(lsp_client, PY_URI, PY_TEXT, "python")
    open_doc(lsp_client, SH_URI, SH_TEXT, "shellscript")
    yield
    await lsp_client.shutdown_session()


async def test_initialize_is_fast_and_advertises_features(client: LanguageClient):
    caps = client.initialize_result.capabilities  # type: ignore[attr-defined]
    assert client.initialize_seconds < 5  # type: ignore[attr-defined]  # well under 1 s unloaded; CI is slow
    assert caps.completion_provider is not None
    assert caps.inline_completion_provider is not None
    assert caps.code_action_provider.resolve_provider  # type: ignore[union-attr]
    assert "refactor.rewrite.codefusion" in caps.code_action_provider.code_action_kinds  # type: ignore[union-attr]
    assert {"codefusion.status", "codefusion.cf.suggest", "codefusion.cf.apply"} <= set(
        caps.execute_command_provider.commands  # type: ignore[union-attr]
    )


async def test_model_load_reports_work_done_progress(client: LanguageClient):
    # the end report follows the engine's ready state (sent once the load thread is joined): wait for it
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        r and type(r[-1]).__name__ == "WorkDoneProgressEnd" for r in client.progress_reports.values()
    ):
        await asyncio.sleep(0.05)
    reports = [r for r in client.progress_reports.values() if r]
    assert reports, "no work-done progress for the model load"
    kinds = [type(v).__name__ for v in reports[0]]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"


async def test_status_command(client: LanguageClient, tiny_model_dir):
    status = await command(client, "codefusion.status")
    assert status["state"] == "ready" and status["device"] == "cpu"
    assert status["modelPath"] == str(tiny_model_dir)
    assert status["parameters"] > 0 and status["loadSeconds"] > 0
    assert status["options"]["numCandidates"] == 5


async def test_completion_after_python_comment(client: LanguageClient):
    result = await complete(client, PY_URI, 4, 4)
    assert result is not None and 1 <= len(result.items) <= 5
    for rank, item in enumerate(result.items, 1):
        edit = item.text_edit
        assert isinstance(edit, types.TextEdit)
        assert edit.range == types.Range(start=types.Position(line=4, character=0), end=types.Position(4, 4))
        assert edit.new_text.startswith("    ") and item.label == edit.new_text.strip().splitlines()[0][:80]
        assert item.insert_text_format == types.InsertTextFormat.PlainText
        assert item.detail is not None and item.detail.startswith(f"CodeFusion #{rank} (score ")
        assert isinstance(item.documentation, types.MarkupContent) and item.documentation.value.startswith(
            "```python"
        )
    status = await command(client, "codefusion.status")
    assert status["lastLatencyMs"] is not None


async def test_completion_after_bash_comment_and_cache(client: LanguageClient):
    first = await complete(client, SH_URI, 2, 0)
    before = (await command(client, "codefusion.status"))["generations"]
    second = await complete(client, SH_URI, 2, 0)
    after = await command(client, "codefusion.status")
    assert first is not None and second is not None and first.items
    assert [i.label for i in first.items] == [i.label for i in second.items]
    assert after["generations"] == before and after["cacheHits"] >= 1


async def test_no_completion_without_prompt(client: LanguageClient):
    assert await complete(client, PY_URI, 0, 3) is None  # on code
    assert await complete(client, PY_URI, 1, 0) is None  # blank line not under a comment
    open_doc(client, "file:///work/notes.txt", "# a heading\n\n", "plaintext")
    assert await complete(client, "file:///work/notes.txt", 1, 0) is None  # not a supported language


async def test_inline_completion(client: LanguageClient):
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=PY_URI),
            position=types.Position(line=4, character=4),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
    assert isinstance(result, types.InlineCompletionList) and result.items
    for item in result.items:
        assert isinstance(item.insert_text, str) and item.insert_text.startswith("    ")
        assert item.range is not None and item.range.start == types.Position(4, 0)


async def test_code_action_resolves_lazily_to_an_edit(client: LanguageClient):
    uri, text = "file:///work/act.py", "x = 1\n# print hello world 😀"  # last line, no newline, non-BMP
    open_doc(client, uri, text, "python")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(1, 3), end=types.Position(1, 3)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions and 1 <= len(actions) <= 3
    action = actions[0]
    assert isinstance(action, types.CodeAction) and action.kind == "refactor.rewrite.codefusion"
    if action.edit is None:  # lazy: resolve fills in the edit
        action = await client.code_action_resolve_async(action)
    assert action.edit is not None and action.edit.document_changes
    change = action.edit.document_changes[0]
    assert isinstance(change, types.TextDocumentEdit)
    edit = change.edits[0]
    assert isinstance(edit, types.TextEdit)
    assert edit.range.start == types.Position(
        1, len("# print hello world ") + 2
    )  # emoji = 2 UTF-16 units
    new_text = apply_edit(text, edit)
    assert new_text.startswith(text + "\n") and len(new_text) > len(text) + 1


async def test_code_action_without_a_candidate_tells_the_user(client: LanguageClient):
    """A lazily listed title whose candidate did not come (fewer parsed than titles) inserts nothing, and says so."""
    uri, text = "file:///work/act_none.py", "# print hello world\n"
    open_doc(client, uri, text, "python")
    before = len(client.messages)
    data = {"uri": uri, "line": 0, "version": 1, "index": 40}  # more than any request's candidates
    title = "Generate from comment (candidate 41)"
    action = types.CodeAction(title=title, kind="refactor.rewrite.codefusion", data=data)
    resolved = await client.code_action_resolve_async(action)
    assert resolved.edit is None
    told = [m.message for m in client.messages[before:]]
    assert len(told) == 1 and told[0].startswith("CodeFusion: ") and "parsed" in told[0], told
    assert "candidate 41 has nothing to insert" in told[0] or "nothing was inserted" in told[0], told


@pytest.mark.parametrize(
    ("found", "index", "says"),
    [(0, 0, "none of the candidates generated for this comment parsed, so nothing was inserted"),
     (1, 2, "only 1 candidate for this comment parsed, so candidate 3 has nothing to insert"),
     (2, 4, "only 2 candidates for this comment parsed, so candidate 5 has nothing to insert")],
)
async def test_no_candidate_message_names_what_happened(found: int, index: int, says: str):
    from codefusion.server.lsp.items import no_candidate

    assert says in no_candidate(found, index)


async def test_code_action_elsewhere_is_empty(client: LanguageClient):
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=PY_URI),
            range=types.Range(start=types.Position(0, 0), end=types.Position(0, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert not actions


async def test_cancel_stops_sampling_with_request_cancelled(client: LanguageClient):
    uri = "file:///work/cancel.py"
    open_doc(client, uri, "# parse the json file and print its keys\n\n", "python")
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"codefusion": {"steps": 1200, "numCandidates": 20}})
    )
    try:
        params = types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(1, 0)
        )
        pending = asyncio.ensure_future(
            client.protocol.send_request_async(types.TEXT_DOCUMENT_COMPLETION, params, msg_id="slow-1")
        )
        await asyncio.sleep(0.5)  # debounce (50 ms) over, sampling under way
        assert not pending.done()
        cancelled_at = time.perf_counter()
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="slow-1"))
        with pytest.raises(JsonRpcException) as err:
            await asyncio.wait_for(pending, timeout=10)
        assert err.value.code == -32800
        assert time.perf_counter() - cancelled_at < 1.0
    finally:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"codefusion": {"steps": None, "numCandidates": 5}})
        )
    # The sampler stopped: a fresh request is answered promptly.
    start = time.perf_counter()
    assert await complete(client, PY_URI, 4, 4) is not None
    assert time.perf_counter() - start < 5


async def test_rapid_changes_only_latest_answered(client: LanguageClient):
    uri = "file:///work/rapid.py"
    open_doc(client, uri, "# add two numbers\n\n", "python")
    before = (await command(client, "codefusion.status"))["generations"]
    pending = []
    for version in range(2, 52):
        change_doc(client, uri, f"# add {version} numbers\n\n", version)
        params = types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(1, 0)
        )
        pending.append(
            asyncio.ensure_future(client.protocol.send_request_async(types.TEXT_DOCUMENT_COMPLETION, params))
        )
        await asyncio.sleep(0)  # let the request go out before the next change
    results = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), timeout=60)
    last = results[-1]
    assert isinstance(last, types.CompletionList) and last.items
    superseded = [r for r in results[:-1] if isinstance(r, JsonRpcException) and r.code == -32801]
    assert len(superseded) >= 45, results[:5]
    after = (await command(client, "codefusion.status"))["generations"]
    assert after - before <= 3


async def test_bad_params_then_server_keeps_answering(client: LanguageClient):
    assert await complete(client, "file:///work/never-opened.py", 0, 0) is None
    assert await complete(client, PY_URI, 999, 0) is None
    assert await complete(client, PY_URI, 4, 999) is not None  # past the line end: clamped
    weird = "# print a \ud800 lone surrogate and \x00 nul\n\n"
    open_doc(client, "file:///work/weird.py", weird, "python")
    result = await complete(client, "file:///work/weird.py", 1, 0)
    assert result is None or isinstance(result, types.CompletionList)
    with pytest.raises(JsonRpcException):
        await command(client, "codefusion.cf.suggest", "not an object")
    assert (await command(client, "codefusion.status"))["state"] == "ready"


async def test_bad_options_are_reported_and_ignored(client: LanguageClient):
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"codefusion": {"numCandidates": 999, "colour": "red"}})
    )
    status = await command(client, "codefusion.status")
    assert status["options"]["numCandidates"] == 5
    messages = [m.message for m in client.log_messages if m.type == types.MessageType.Warning]
    assert any("numCandidates" in m for m in messages) and any("colour" in m for m in messages)


async def test_disabled_language_gets_nothing(client: LanguageClient):
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"codefusion": {"enabledLanguages": ["bash"]}})
    )
    try:
        await command(client, "codefusion.status")  # notifications are handled in order
        assert await complete(client, PY_URI, 4, 4) is None
    finally:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"codefusion": {"enabledLanguages": ["python", "bash"]}}
            )
        )


async def test_cf_suggest_then_apply_the_suggested_rule(client: LanguageClient, tmp_path):
    from codefusion.model.cf import evaluate_rule
    from openpyxl import load_workbook

    book = make_workbook(tmp_path / "sales.xlsx")
    cells = {f"A{row}": v for row, (v,) in enumerate(load_workbook(book)["Sales"].iter_rows(min_row=2, max_row=7,
                                                                                            values_only=True), 2)}
    uri = book.as_uri()
    request = {"uri": uri, "sheet": "Sales", "range": "A2:A7", "description": "highlight cells greater than 500"}
    suggestions = await command(client, "codefusion.cf.suggest", {**request, "k": 3})
    assert suggestions["sheet"] == "Sales" and suggestions["cellRange"] == "A2:A7"
    assert 1 <= len(suggestions["candidates"]) <= 3  # the wording alone gives a rule, even from a random model
    top = suggestions["candidates"][0]
    assert set(top) == {"rule", "score", "count", "total", "addresses", "source", "notes"}
    assert top["rule"] == "GreaterThan(500)" and any("greater than 500" in n for n in top["notes"])
    for c in suggestions["candidates"]:  # every preview is what the rule does to these cells
        flags = evaluate_rule(c["rule"], list(cells.values()))
        assert c["addresses"] == [a for a, f in zip(cells, flags, strict=True) if f] and c["total"] == 6

    applied = await command(client, "codefusion.cf.apply", {**request, "rule": top["rule"]})
    assert applied["rule"] == top["rule"] and applied["cellRange"] == "A2:A7"
    assert applied["preview"]["addresses"] == top["addresses"] == [a for a, v in cells.items() if v > 500]
    rules = [(str(cf.sqref), r.formula) for cf in load_workbook(book)["Sales"].conditional_formatting for r in cf.rules]
    assert rules == [("A2:A7", applied["formula"])] and "500" in applied["formula"][0]
    with pytest.raises(JsonRpcException, match="CFSyntaxError") as info:
        await command(client, "codefusion.cf.apply", {"uri": uri, "range": "A2:A7", "rule": "GreaterThan("})
    assert info.value.code == types.ErrorCodes.InvalidParams


async def test_configuration_is_pulled_when_change_carries_no_settings(client: LanguageClient):
    client.set_configuration({"codefusion": {"numCandidates": 3}})
    try:
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        for _ in range(50):  # the server asks back with workspace/configuration
            if (await command(client, "codefusion.status"))["options"]["numCandidates"] == 3:
                break
            await asyncio.sleep(0.05)
        assert (await command(client, "codefusion.status"))["options"]["numCandidates"] == 3
    finally:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"codefusion": {"numCandidates": 5}})
        )
