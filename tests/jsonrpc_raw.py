"""A small raw JSON-RPC client for the real `codefusion-lsp` process: frames bytes by hand, so tests can
send what no well-behaved client would (bad headers, bad JSON, wrong types) and check what comes back.

Shared by the protocol fuzz tests (`test_fuzz_protocol.py`, `stress/`) and the security tests.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SERVER_COMMAND = [sys.executable, "-m", "codefusion.server.lsp.fast_start"]
DEAD = "server died"


def frame(body: bytes | str) -> bytes:
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return b"Content-Length: %d\r\n\r\n" % len(data) + data


def dumps(message: Any) -> bytes:
    """JSON for any message, lone surrogates included (a client may send them as \\ud800 escapes)."""
    return json.dumps(message).encode("ascii")


class RawServer:
    """The server as a subprocess; a reader thread parses its frames into responses and notifications."""

    def __init__(self, command: Sequence[str] = SERVER_COMMAND, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None) -> None:
        full_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        self.proc = subprocess.Popen(
            list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=full_env, cwd=cwd,
        )
        self.responses: dict[Any, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.server_requests: list[dict[str, Any]] = []
        self.bad_frames = 0  # frames from the server that were not valid JSON-RPC (must stay 0)
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self.stderr_tail: deque[bytes] = deque(maxlen=200)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    # --- wire -----------------------------------------------------------------------------------------

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    with self._cond:
                        self._cond.notify_all()
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii", "replace").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = out.read(length or 0)
            try:
                message = json.loads(body)
                assert message.get("jsonrpc") == "2.0"
            except Exception:
                self.bad_frames += 1
                continue
            with self._cond:
                if "method" in message and "id" in message:
                    self.server_requests.append(message)
                    self._answer_server_request(message)
                elif "method" in message:
                    self.notifications.append(message)
                else:
                    self.responses[message.get("id")] = message
                self._cond.notify_all()

    def _drain_stderr(self) -> None:
        err = self.proc.stderr
        assert err is not None
        for line in err:
            self.stderr_tail.append(line)

    def _answer_server_request(self, message: dict[str, Any]) -> None:
        """Progress creation and configuration pulls get a null result, as a minimal client would."""
        result: Any = [None] if message["method"] == "workspace/configuration" else None
        self.write(frame(dumps({"jsonrpc": "2.0", "id": message["id"], "result": result})))

    def write(self, data: bytes) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(data)
            stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # a dead server is reported by alive()/wait()

    # --- messages -------------------------------------------------------------------------------------

    def new_id(self) -> int:
        return next(self._ids)

    def send(self, method: str, params: Any = None, *, id: Any = None, omit_params: bool = False) -> Any:
        """Send a request (when `id` is given or made) and return its id; see `notify` for notifications."""
        msg_id = self.new_id() if id is None else id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if not omit_params:
            message["params"] = params
        self.write(frame(dumps(message)))
        return msg_id

    def notify(self, method: str, params: Any = None) -> None:
        self.write(frame(dumps({"jsonrpc": "2.0", "method": method, "params": params})))

    def wait(self, msg_id: Any, timeout: float = 120.0) -> dict[str, Any] | str:
        """The response to `msg_id`, or DEAD if the process ended, or "timeout"."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg_id not in self.responses:
                if self.proc.poll() is not None:
                    return DEAD
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                self._cond.wait(min(left, 0.5))
            return self.responses.pop(msg_id)

    def request(self, method: str, params: Any = None, timeout: float = 120.0) -> dict[str, Any] | str:
        return self.wait(self.send(method, params), timeout)

    def ping(self, timeout: float = 120.0) -> bool:
        """The server is alive and answering: `codefusion.status` comes back with a result."""
        reply = self.request("workspace/executeCommand", {"command": "codefusion.status"}, timeout)
        return isinstance(reply, dict) and isinstance(reply.get("result"), dict)

    def status(self) -> dict[str, Any]:
        reply = self.request("workspace/executeCommand", {"command": "codefusion.status"})
        assert isinstance(reply, dict) and "result" in reply, reply
        return reply["result"]

    def initialize(self, **options: Any) -> dict[str, Any]:
        caps = {"window": {"workDoneProgress": True}, "general": {"positionEncodings": ["utf-16"]}}
        reply = self.request(
            "initialize",
            {"processId": None, "rootUri": None, "capabilities": caps,
             "initializationOptions": {"codefusion": options}},
        )
        assert isinstance(reply, dict) and "result" in reply, reply
        self.notify("initialized", {})
        return reply["result"]

    def wait_loaded(self, timeout: float = 300.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status["state"] in ("ready", "failed") or time.monotonic() > deadline:
                return status
            time.sleep(0.1)

    def open(self, uri: str, text: str, language_id: str = "python", version: int = 1) -> None:
        self.notify("textDocument/didOpen",
                    {"textDocument": {"uri": uri, "languageId": language_id, "version": version, "text": text}})

    # --- process --------------------------------------------------------------------------------------

    def alive(self) -> bool:
        return self.proc.poll() is None

    def proc_status(self) -> dict[str, int]:
        """VmRSS (kB) and Threads of the server process, from /proc."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads"):
                fields[key] = int(value.split()[0])
        return fields

    def close(self) -> int | None:
        """shutdown + exit; kill if it does not go. Returns the exit code."""
        if self.alive():
            self.request("shutdown", None, timeout=10)
            self.notify("exit")
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        return self.proc.returncode

    def stderr_text(self) -> str:
        return b"".join(self.stderr_tail).decode("utf-8", "replace")


def is_error(reply: Any, *codes: int) -> bool:
    """A proper JSON-RPC error response (with one of `codes`, if given)."""
    if not isinstance(reply, dict) or not isinstance(reply.get("error"), dict):
        return False
    code, message = reply["error"].get("code"), reply["error"].get("message")
    return isinstance(code, int) and isinstance(message, str) and (not codes or code in codes)


def is_answer(reply: Any) -> bool:
    """A result or a proper JSON-RPC error."""
    return isinstance(reply, dict) and ("result" in reply or is_error(reply))
