"""Protocol fuzzing against the real server process over stdio: it never dies and answers every request
with a result or a proper JSON-RPC error. A few hundred generated cases here; thousands in `make stress`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonrpc_raw import RawServer, frame, is_answer, is_error
from lsp_support import make_workbook
from protocol_fuzz import Figures, fuzz, start_server

EXAMPLES = 300


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path) -> Iterator[RawServer]:
    s = start_server(str(tiny_model_dir))
    yield s
    s.close()


def completion(uri: str, line: int, character: int) -> dict:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


def test_fuzzed_messages_are_all_answered(server: RawServer, tmp_path: Path):
    workbook = make_workbook(tmp_path / "sales.xlsx").as_uri()
    figures = Figures()
    fuzz(server, workbook, EXAMPLES, figures)
    print(figures.line("protocol fuzz"))
    assert figures.cases == EXAMPLES
    assert figures.crashes == 0 and figures.unanswered == 0, figures.failures[:5]
    assert -32603 not in figures.errors, "an internal error: a handler raised on some input"
    assert figures.results > 0 and figures.errors  # both paths were exercised


@pytest.mark.parametrize(
    "params",
    [
        None, [], "x", {"textDocument": {"uri": "file:///w/fuzz.py"}},
        completion("file:///w/fuzz.py", -1, 0), completion("file:///w/fuzz.py", 0, 2**31),
        completion("file:///w/fuzz.py", [1], 0), {"position": {"line": 0, "character": 0}},
    ],
)
def test_bad_params_get_invalid_params(server: RawServer, params):
    assert is_error(server.request("textDocument/completion", params), -32602)


def test_positions_out_of_range_and_inside_surrogate_pairs(server: RawServer):
    uri = "file:///w/emoji.py"  # line 0: x = '😀😀' (each emoji two UTF-16 units); line 1: comment
    for line, character in [(0, 5), (0, 6), (0, 7), (1, 14), (1, 15), (2, 0), (2, 500), (3, 0), (10**6, 0),
                            (2**31 - 1, 2**31 - 1)]:
        for method in ("textDocument/completion", "textDocument/inlineCompletion"):
            reply = server.request(method, {**completion(uri, line, character), "context": {"triggerKind": 1}})
            assert isinstance(reply, dict) and "result" in reply, (method, line, character, reply)
    reply = server.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "context": {"diagnostics": []},
        "range": {"start": {"line": 1, "character": 15}, "end": {"line": 99, "character": 0}}})
    assert isinstance(reply, dict) and "result" in reply


def test_lone_surrogates_in_text_and_uri(server: RawServer):
    uri = "file:///w/\ud800.py"
    server.open(uri, "# print \ud800 and \udfff\n\n")
    reply = server.request("textDocument/completion", completion(uri, 1, 0))
    assert is_answer(reply) and "result" in reply  # type: ignore[operator]
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": 0, "character": 8}, "end": {"line": 0, "character": 9}}, "text": "\udc00"}]})
    assert is_answer(server.request("textDocument/inlineCompletion", {**completion(uri, 1, 0),
                                                                       "context": {"triggerKind": 1}}))
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert server.ping()


def test_ten_megabyte_document_and_huge_prompt(server: RawServer):
    uri = "file:///w/big.py"
    body = "x = 1\n" * (10 * 1024 * 1024 // 6)
    text = body + "# " + "sort the list " * 20_000 + "\n\n"  # a 280 kB one-line prompt at the end
    last = text.count("\n")
    server.open(uri, text)
    reply = server.request("textDocument/completion", completion(uri, last, 0), timeout=300)
    assert isinstance(reply, dict) and "result" in reply, reply
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": 3, "character": 0}, "end": {"line": 3, "character": 0}}, "text": "# hi\n"}]})
    actions = server.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "context": {"diagnostics": []},
        "range": {"start": {"line": 3, "character": 2}, "end": {"line": 3, "character": 2}}}, timeout=300)
    assert isinstance(actions, dict) and "result" in actions, actions
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert server.ping()


def test_oversized_frame_is_skipped(server: RawServer):
    from codefusion.server.lsp.protocol import MAX_MESSAGE_BYTES

    size = MAX_MESSAGE_BYTES + 1
    server.write(b"Content-Length: %d\r\n\r\n" % size)
    chunk = b" " * (1 << 20)
    for offset in range(0, size, len(chunk)):
        server.write(chunk[: min(len(chunk), size - offset)])
    assert server.ping(timeout=60) and server.alive()


def test_unknown_methods(server: RawServer):
    assert is_error(server.request("codefusion/nope", {}), -32601)
    assert is_error(server.request("workspace/executeCommand", {"command": "rm -rf /"}), -32602)
    server.notify("codefusion/nope", {"x": 1})
    server.write(frame(b'{"jsonrpc": "2.0", "id": 9001, "method": "x", "params": {}, "extra": [1]}'))
    assert is_error(server.wait(9001))  # an extra member: refused one way or another, but answered
    assert server.ping()


def test_before_initialize_and_after_shutdown():
    server = RawServer()
    try:
        assert is_error(server.request("textDocument/completion", completion("file:///a.py", 0, 0)), -32002)
        assert is_error(server.request("workspace/executeCommand", {"command": "codefusion.status"}), -32002)
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": "file:///a.py", "languageId": "python", "version": 1, "text": "# hi\n\n"}})  # dropped
        server.initialize(modelPath="/nonexistent/model", device="cpu")
        assert is_error(server.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}}),
                        -32600)
        assert server.request("textDocument/completion", completion("file:///a.py", 1, 0))["result"] is None
        assert server.request("shutdown")["result"] is None  # type: ignore[index]
        for method, params in [("textDocument/completion", completion("file:///a.py", 1, 0)),
                               ("workspace/executeCommand", {"command": "codefusion.status"}),
                               ("shutdown", None)]:
            assert is_error(server.request(method, params, timeout=10), -32600), method
        server.notify("exit")
        assert server.proc.wait(10) == 0
    finally:
        if server.alive():
            server.proc.kill()
        server.close()
