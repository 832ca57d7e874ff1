"""A broken model path: clear status and messages, empty answers, and a server that keeps working."""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_lsp
from lsp_support import SERVER, command, complete, initialize, make_workbook, open_doc, wait_until_loaded
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_broken_model_path(client: LanguageClient, tmp_path):
    start = time.perf_counter()
    await initialize(client, modelPath=str(tmp_path / "no-such-model"))
    assert time.perf_counter() - start < 5  # initialize never waits for the model
    status = await wait_until_loaded(client)
    assert status["state"] == "failed" and "no-such-model" in status["error"]
    # the message follows the failure (the load's task tells the user once the thread has returned): a status
    # request answered in between sees "failed" first, so give the notification a moment
    deadline = time.monotonic() + 5
    while not any(m.type == types.MessageType.Error and "no-such-model" in m.message for m in client.messages):
        assert time.monotonic() < deadline, client.messages
        await asyncio.sleep(0.05)

    open_doc(client, "file:///w/a.py", "# print hello\n\n", "python")
    result = await complete(client, "file:///w/a.py", 1, 0)
    assert result is not None and not result.items and result.is_incomplete
    assert (await command(client, "codefusion.status"))["state"] == "failed"  # still answering

    book = make_workbook(tmp_path / "book.xlsx")  # CF without a model: a JSON-RPC error, not a result
    with pytest.raises(JsonRpcException) as info:
        await command(client, "codefusion.cf.suggest", {"uri": book.as_uri(), "description": "above 500"})
    assert info.value.code == types.LSPErrorCodes.RequestFailed and "model not ready" in info.value.message
    assert info.value.data["status"]["state"] == "failed"


async def test_loading_answer_is_immediate(client: LanguageClient, tiny_model_dir):
    await initialize(client, modelPath=str(tiny_model_dir), device="cpu")
    open_doc(client, "file:///w/b.sh", "# list all files\n\n", "shellscript")
    start = time.perf_counter()
    result = await complete(client, "file:///w/b.sh", 1, 0)  # sent right away: usually still loading
    assert time.perf_counter() - start < 5
    if result is not None and not result.items:
        assert result.is_incomplete and any("loading" in m.message for m in client.messages)
    assert (await wait_until_loaded(client))["state"] == "ready"
    result = await complete(client, "file:///w/b.sh", 1, 0)
    assert result is not None and result.items


async def test_shutdown_while_sampling_exits_promptly(client: LanguageClient, tiny_model_dir):
    slow = {"steps": 1200, "numCandidates": 20, "debounceMs": 0}
    await initialize(client, modelPath=str(tiny_model_dir), device="cpu", **slow)
    assert (await wait_until_loaded(client))["state"] == "ready"
    open_doc(client, "file:///w/c.py", "# parse the arguments\n\n", "python")
    pending = asyncio.ensure_future(complete(client, "file:///w/c.py", 1, 0))
    await asyncio.sleep(0.5)
    start = time.perf_counter()
    await asyncio.wait_for(client.shutdown_session(), timeout=10)  # shutdown + exit; waits for the process
    assert time.perf_counter() - start < 5
    client.capabilities = None  # already shut down: the fixture must not do it again
    pending.cancel()
