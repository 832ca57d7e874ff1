"""pygls' LSP protocol, made to answer every request and to survive any input on stdin.

pygls 2 stays silent on a request it cannot structure (wrong types, missing fields), on requests after
`shutdown` and on messages without `jsonrpc`; a client then waits forever. It also trusts
`Content-Length`, so one bad header allocates the claimed size and kills the process. Here every
request gets a result or a JSON-RPC error, and frame bodies are bounded.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, BinaryIO

from cattrs import ClassValidationError, transform_error
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger("codefusion.lsp")
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a 10 MB document is 10-20 MB of JSON; far beyond that is an error
MAX_HEADER_BYTES = 64 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class _Refused:
    """A request that cannot be handled; it is answered with `error`."""

    id: int | str | None
    error: JsonRpcException


def _request_id(data: dict[str, Any]) -> int | str | None:
    msg_id = data.get("id")
    ok = isinstance(msg_id, int | str) and not isinstance(msg_id, bool)
    return msg_id if ok else None  # JSON-RPC: answer with a null id when the id itself is invalid


class CodeFusionProtocol(LanguageServerProtocol):
    """Answers malformed requests, requests before `initialize` and after `shutdown` with errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialized = False
        # (id, result) of the initialize request fast_start answered before this server started: our own
        # answer to that id is dropped (the client has one already), after checking that it is the same
        self.already_answered: tuple[Any, dict[str, Any]] | None = None

    def _send_data(self, data: Any) -> None:
        sent = self.already_answered
        if sent is not None and _is_response(data) and data.id == sent[0]:
            self.already_answered = None
            ours = json.loads(json.dumps(data, default=self._serialize_message))
            if ours.get("result") != sent[1]:
                log.error("the fast initialize answer differed from the server's: sent %s, server %s "
                          "(regenerate server/capabilities.json: codefusion-lsp --write-capabilities)",
                          json.dumps(sent[1])[:2000], json.dumps(ours)[:2000])
            return
        super()._send_data(data)

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" in data and "method" in data:  # a request: its sender waits for an answer
                why = exc.__cause__
                where = transform_error(why) if isinstance(why, ClassValidationError) else [str(why or exc)]
                detail = f"bad params for {str(data.get('method'))[:100]!r}: {'; '.join(where)}"
                return _Refused(_request_id(data), JsonRpcInvalidParams(detail[:2000]))
            raise  # a notification or response: logged and dropped by the reader loop

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Refused):
            self._refuse(message.id, message.error)
            return
        if not all(hasattr(message, a) for a in ("jsonrpc", "method")) and not _is_response(message):
            if isinstance(message, dict) and "id" in message and "method" in message:
                self._refuse(_request_id(message), JsonRpcInvalidRequest("not a JSON-RPC 2.0 request"))
            else:
                log.warning("ignored a message that is not JSON-RPC 2.0: %.200r", message)
            return
        method = getattr(message, "method", None)
        is_request = hasattr(message, "id") and method is not None
        if is_request and message.jsonrpc != self.VERSION:
            self._refuse(message.id, JsonRpcInvalidRequest("jsonrpc must be \"2.0\""))
            return
        if method != types.EXIT:
            if self._shutdown:
                if is_request:
                    self._refuse(message.id, JsonRpcInvalidRequest("the server is shut down"))
                return
            if method == types.INITIALIZE:
                if self._initialized:
                    self._refuse(message.id, JsonRpcInvalidRequest("initialize was already sent"))
                    return
                self._initialized = True
            elif not self._initialized and method is not None:  # LSP: answer -32002, drop notifications
                if is_request:
                    self._refuse(message.id, JsonRpcServerNotInitialized("send initialize first"))
                return
        super().handle_message(message)

    def _refuse(self, msg_id: int | str | None, error: JsonRpcException) -> None:
        log.warning("request %r refused: %s", msg_id, error)
        self._send_response(msg_id, error=error.to_response_error())  # type: ignore[arg-type]


def _is_response(message: Any) -> bool:
    return hasattr(message, "jsonrpc") and hasattr(message, "id") and not hasattr(message, "method")


class BoundedReader:
    """stdin for pygls' reader loop with bounded header lines and bodies.

    A body longer than MAX_MESSAGE_BYTES is read and discarded in chunks (it belongs to its frame) and
    replaced by a blank, which the loop logs as unparsable and skips, instead of allocating it whole.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def readline(self) -> bytes:
        return self._stream.readline(MAX_HEADER_BYTES)

    def read(self, n: int) -> bytes:
        if n <= MAX_MESSAGE_BYTES:
            return self._stream.read(n)
        log.error("a message of %d bytes is over the %d byte limit; skipped", n, MAX_MESSAGE_BYTES)
        left = n
        while left > 0:
            chunk = self._stream.read(min(left, _CHUNK))
            if not chunk:
                return b""  # end of input: the reader loop stops, as it would anyway
            left -= len(chunk)
        return b" "
