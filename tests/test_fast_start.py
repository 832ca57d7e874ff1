"""The fast `initialize` front (server/lsp/fast_start.py): same answer as pygls, replayed to the real server."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from typing import Any

import pytest
from codefusion.server.lsp import fast_start

COMMAND = [sys.executable, "-m", "codefusion.server.lsp.fast_start"]
CLIENTS = {
    "bare": {},
    "utf-32 first": {"general": {"positionEncodings": ["utf-32", "utf-16"]}},
    "unknown encodings": {"general": {"positionEncodings": ["ebcdic"]}},
    "vscode-like": {
        "general": {"positionEncodings": ["utf-16"]},
        "notebookDocument": {"synchronization": {"dynamicRegistration": True}},
        "textDocument": {"synchronization": {"willSave": True, "willSaveWaitUntil": True, "didSave": True}},
        "workspace": {"fileOperations": {"didCreate": True, "willRename": True}, "configuration": True},
    },
}


def frame(obj: Any) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_message(stream: Any) -> dict[str, Any]:
    length = None
    while True:
        line = stream.readline()
        assert line, "server closed its output"
        if line in (b"\r\n", b"\n"):
            break
        if line.lower().startswith(b"content-length"):
            length = int(line.split(b":")[1])
    assert length is not None
    return json.loads(stream.read(length))


def session(params: dict[str, Any], *extra: str) -> tuple[dict[str, Any], float, dict[str, Any], str]:
    """(initialize answer, seconds to it, answer to a later status command, stderr) of one server run."""
    start = time.perf_counter()
    proc = subprocess.Popen([*COMMAND, "--model", "/nonexistent", *extra], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}))
    proc.stdin.flush()
    answer = read_message(proc.stdout)
    seconds = time.perf_counter() - start
    proc.stdin.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    proc.stdin.write(frame({"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand",
                            "params": {"command": "codefusion.status"}}))
    proc.stdin.flush()
    later = read_message(proc.stdout)
    while "id" not in later or later.get("id") != 2:  # skip notifications (log messages, progress)
        later = read_message(proc.stdout)
    proc.stdin.write(frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}))
    proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
    proc.stdin.flush()
    _, err = proc.communicate(timeout=60)
    return answer, seconds, later, err.decode()


@pytest.mark.parametrize("client", list(CLIENTS))
def test_fast_answer_is_the_servers_answer(client: str):
    params = {"processId": None, "rootUri": None, "capabilities": CLIENTS[client]}
    fast, fast_s, fast_later, fast_err = session(params)
    slow, slow_s, slow_later, _ = session(params, "--no-fast-initialize")
    assert fast == slow and "result" in fast  # identical answer, same id
    assert "differed" not in fast_err  # the server's own (dropped) answer matched the one sent
    # the replayed initialize reached the server: it answers requests after it, exactly once per id
    assert fast_later["result"]["modelPath"] == slow_later["result"]["modelPath"] == "/nonexistent"
    print(f"{client}: initialize answered in {fast_s * 1000:.0f} ms (fast) vs {slow_s * 1000:.0f} ms")


def test_params_pygls_would_refuse_take_the_normal_path():
    answer, _, _, _ = session({"processId": "not a number", "capabilities": {}})
    assert answer["id"] == 1 and answer["error"]["code"] == -32602  # the server's own InvalidParams


def test_shipped_capabilities_file_is_current():
    from codefusion.server.lsp.server import initialize_result

    on_disk = json.loads(fast_start.CAPABILITIES_FILE.read_text(encoding="utf-8"))
    assert on_disk == initialize_result(), "run: codefusion-lsp --write-capabilities"


@pytest.mark.parametrize(
    "data",
    [
        b"",  # end of input
        b"Content-Length: 5\r\n\r\n{bad}",  # not JSON
        b"Content-Length: 999999999\r\n\r\n",  # too long to read here
        b"X" * 5000,  # overlong header line
        b"Content-Length: 2\r\n\r\n[]",  # JSON, not a request
    ],
)
def test_whatever_is_read_is_replayed_unchanged(data: bytes):
    stream = io.BytesIO(data + b"REST")
    raw, message = fast_start.read_frame(stream)
    assert fast_start.fast_answer(message) is None
    replay = fast_start.Replay(raw, stream)
    assert replay.read(len(data) + 4) == data + b"REST"


def test_replay_readline_and_read_cross_the_prefix():
    replay = fast_start.Replay(b"ab\ncd", io.BytesIO(b"ef\ngh"))
    assert replay.readline() == b"ab\n"
    assert replay.readline() == b"cdef\n"
    assert replay.read(1) == b"g" and replay.read(5) == b"h"
    limited = fast_start.Replay(b"abcdef\n", io.BytesIO(b""))
    assert limited.readline(3) == b"abc" and limited.readline() == b"def\n"
