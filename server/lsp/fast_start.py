"""`codefusion-lsp`: answer `initialize` before the LSP libraries are imported, then start the server.

Importing lsprotocol (it builds ~1,000 attrs classes) and pygls takes ~0.4 s of CPU, and an editor
waits for the `initialize` answer. So on stdio this front reads the first frame itself. When it is a
well-formed `initialize` request, the front answers at once from capabilities.json (the server's own
answer for the same client, written by `codefusion-lsp --write-capabilities`; a test checks that it
matches what pygls computes), then imports the server and replays the frame to it, so pygls initialises
exactly as usual; the server drops its own, second answer to that request id and logs an error if the
two ever differ. Anything else (another method, a malformed frame, TCP) goes to the server untouched.

This module imports only the standard library (and server/version.py, which does too).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

from ..version import version

CAPABILITIES_FILE = Path(__file__).with_name("capabilities.json")
MAX_FRAME_BYTES = 1024 * 1024  # an initialize request is a few kB; larger ones take the normal path
MAX_HEADER_LINES = 16
SUPPORTED_ENCODINGS = ("utf-8", "utf-16", "utf-32")  # pygls' choice: the client's first supported one


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    parser.add_argument("--stdio", action="store_true", help="speak LSP on stdin/stdout (the default; accepted "
                        "because some clients pass it)")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: the shipped model)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantisation on CPU")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--no-fast-initialize", action="store_true",
                        help="let the server answer initialize itself, after its imports (~0.4 s later)")
    parser.add_argument("--write-capabilities", action="store_true",
                        help=f"write the server's initialize answer to {CAPABILITIES_FILE.name} and exit")


def read_frame(stream: BinaryIO) -> tuple[bytes, Any]:
    """(raw bytes read, parsed JSON body or None). Reads one frame's headers and, if sane, its body.

    Whatever is read is returned raw, so that the server can read the same bytes again.
    """
    raw = b""
    length = None
    for _ in range(MAX_HEADER_LINES):
        line = stream.readline(4096)
        raw += line
        if not line.endswith(b"\n"):
            return raw, None  # end of input or an overlong header line
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip()) if value.strip().isdigit() else None
    else:
        return raw, None
    if length is None or length > MAX_FRAME_BYTES:
        return raw, None  # the server reads (and handles) the body itself
    body = stream.read(length)
    raw += body
    try:
        return raw, json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return raw, None


def position_encoding(params: dict[str, Any]) -> str:
    """The encoding pygls picks: the client's first supported preference, else UTF-16."""
    general = params["capabilities"].get("general")
    preferred = general.get("positionEncodings") if isinstance(general, dict) else None
    for encoding in preferred if isinstance(preferred, list) else []:
        if encoding in SUPPORTED_ENCODINGS:
            return str(encoding)
    return "utf-16"


def fast_answer(message: Any) -> tuple[Any, dict[str, Any]] | None:
    """(request id, initialize result) when `message` is a plain initialize request, else None."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or message.get("method") != "initialize":
        return None
    msg_id, params = message.get("id"), message.get("params")
    if isinstance(msg_id, bool) or not isinstance(msg_id, int | str) or not isinstance(params, dict):
        return None
    if not isinstance(params.get("capabilities"), dict) or "processId" not in params:
        return None
    if isinstance(params["processId"], bool) or not isinstance(params["processId"], int | None) or not all(
        isinstance(params.get(key), str | None) for key in ("rootUri", "rootPath", "locale")
    ):
        return None  # pygls would refuse these params: let it answer
    try:
        result = json.loads(CAPABILITIES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    result.setdefault("serverInfo", {})["version"] = version()  # the installed version, not the file's
    # the client-dependent parts of pygls' answer (tests/test_fast_start.py compares both for several clients)
    result["capabilities"]["positionEncoding"] = position_encoding(params)
    document = params["capabilities"].get("textDocument")
    sync = document.get("synchronization") if isinstance(document, dict) else None
    for key in ("willSave", "willSaveWaitUntil"):  # we handle neither; pygls says so when the client asks
        if isinstance(sync, dict) and sync.get(key) is not None:
            result["capabilities"]["textDocumentSync"][key] = False
    return msg_id, result


def write_frame(stream: BinaryIO, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stream.flush()


def _import_model_code() -> None:
    """The example index's code (numpy, no torch) beside the server's imports: the index loads first and answers
    Python and Bash while torch and the weights load after it (Engine.load); importing torch here as well
    would race the index for the two cores (first items 2.6–3.0 s instead of 1.3–1.6 s, 2026-12-07)."""
    try:
        importlib.import_module("codefusion.model.examples.seeding")
    except Exception:  # the load reports it properly later
        pass


class Replay:
    """A binary stream that yields `prefix` first, then reads from `stream`."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def readline(self, limit: int = -1) -> bytes:
        if self._prefix:
            end = self._prefix.find(b"\n") + 1 or len(self._prefix)
            if limit >= 0:
                end = min(end, limit)
            line, self._prefix = self._prefix[:end], self._prefix[end:]
            if line.endswith(b"\n") or (limit >= 0 and len(line) >= limit):
                return line
            return line + self._stream.readline(-1 if limit < 0 else limit - len(line))
        return self._stream.readline(limit)

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            take = self._prefix if n < 0 else self._prefix[:n]
            self._prefix = self._prefix[len(take):]
            if n < 0:
                return take + self._stream.read()
            if len(take) < n:
                return take + self._stream.read(n - len(take))
            return take
        return self._stream.read(n)


def main(argv: list[str] | None = None) -> int:
    """`codefusion-lsp`: the language server on stdio (or `--tcp HOST:PORT`)."""
    # numpy's BLAS on one thread, set before numpy loads: the example index's sentence encoder runs per request,
    # and BLAS threads spin after each call, taking the cores the model samples on
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(prog="codefusion-lsp", description="CodeFusion language server")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.write_capabilities or args.tcp or args.no_fast_initialize:
        from . import server

        return server.main_with(args)
    stdin = sys.stdin.buffer
    raw, message = read_frame(stdin)
    answer = fast_answer(message)
    if answer is not None:
        msg_id, result = answer
        write_frame(sys.stdout.buffer, {"jsonrpc": "2.0", "id": msg_id, "result": result})
    if answer is not None:  # the example index's imports beside the server's, before `initialized` asks
        threading.Thread(target=_import_model_code, name="codefusion-preimport", daemon=True).start()
    from . import server  # the slow imports, now that the editor has its answer

    return server.main_with(args, stdin=Replay(raw, stdin),  # type: ignore[arg-type]
                                answered=answer)


if __name__ == "__main__":
    raise SystemExit(main())
