"""The CodeFusion language server (pygls 2): completion, inline completion, "Generate from comment".

The server object is created once, here; features register with decorators. Handlers are thin:
read params, call the pure prompt functions and the engine (in a one-thread executor, so the event
loop keeps reading `didChange` and `$/cancelRequest` while sampling), translate with `items`.
The server class (options, model loading, documents, generation) is in language_server.py.
Logs go to stderr and `window/logMessage`; stdout carries only the protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import importlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

from lsprotocol import types
from pygls.capabilities import ServerCapabilitiesBuilder
from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcInvalidParams
from pygls.uris import to_fs_path

from ..engine import EngineNotReady
from ..options import MAX_CANDIDATES, ServerOptions
from ..ranking import Candidate
from . import fast_start
from .fast_start import CAPABILITIES_FILE
from .items import (
    CODE_ACTION_KIND,
    action_title,
    lsp_code_action,
    lsp_completion_items,
    lsp_import_edits,
    lsp_inline_items,
    lsp_insert_edit,
    no_candidate,
)
from .language_server import VERSION, CodeFusionServer, Snapshot
from .protocol import BoundedReader, CodeFusionProtocol

log = logging.getLogger("codefusion.lsp")
STATUS_COMMAND = "codefusion.status"
CF_SUGGEST_COMMAND = "codefusion.cf.suggest"
CF_APPLY_COMMAND = "codefusion.cf.apply"
REQUEST_FAILED = types.LSPErrorCodes.RequestFailed  # -32803: valid request, cannot be served now
MAX_CODE_ACTIONS = 3


class _QuietSuperseded(logging.Filter):
    """pygls logs every error response with a traceback; a superseded request is routine, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, JsonRpcContentModified)


server = CodeFusionServer()
logging.getLogger("pygls.protocol.json_rpc").addFilter(_QuietSuperseded())


# --- lifecycle and options ----------------------------------------------------------------------------


@server.feature(types.INITIALIZE)
def initialize(ls: CodeFusionServer, params: types.InitializeParams) -> None:
    ls.options = dataclasses.replace(ls.base_options)
    ls.engine = ls.new_engine()
    ls.apply_options(params.initialization_options)


@server.feature(types.INITIALIZED)
def initialized(ls: CodeFusionServer, params: types.InitializedParams) -> None:
    ls.start_loading()


@server.feature(types.SHUTDOWN)
def shutdown(ls: CodeFusionServer, params: None) -> None:
    ls.tickets.stop_all()  # a running sampler stops at its next step, so `exit` is not kept waiting
    ls.sampler.shutdown(wait=False, cancel_futures=True)


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def did_change_configuration(ls: CodeFusionServer, params: types.DidChangeConfigurationParams) -> None:
    if params.settings:
        ls.apply_options(params.settings)
    else:  # "something changed, ask me": pull our section
        ls.apply_options(await ls.pull_configuration())


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: CodeFusionServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.tickets.stop_document(params.text_document.uri)  # pygls already applied the change


# --- completion ---------------------------------------------------------------------------------------


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["\n"]))
async def completion(ls: CodeFusionServer, params: types.CompletionParams) -> types.CompletionList | None:
    snap = ls.snapshot(params.text_document.uri, position=params.position)
    if snap is None:
        return None
    automatic = params.context is not None and params.context.trigger_kind != types.CompletionTriggerKind.Invoked
    candidates = await ls.generate("completion", snap.uri, snap.prompt, automatic=automatic)
    if candidates is None:  # model loading or broken: the user was told; ask again later
        return types.CompletionList(is_incomplete=True, items=[])
    markdown = ls.client_renders_markdown()
    return types.CompletionList(
        is_incomplete=False,
        items=lsp_completion_items(snap.text, snap.prompt, candidates, ls.encoding, markdown),
    )


@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
async def inline_completion(
    ls: CodeFusionServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    snap = ls.snapshot(params.text_document.uri, position=params.position)
    if snap is None:
        return None
    automatic = params.context.trigger_kind == types.InlineCompletionTriggerKind.Automatic
    candidates = await ls.generate("inlineCompletion", snap.uri, snap.prompt, automatic=automatic) or []
    return types.InlineCompletionList(items=lsp_inline_items(snap.text, snap.prompt, candidates, ls.encoding))


# --- code actions -------------------------------------------------------------------------------------


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(code_action_kinds=[CODE_ACTION_KIND], resolve_provider=True),
)
async def code_action(ls: CodeFusionServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    """One action per top candidate. Without cached candidates, actions are resolved lazily when supported."""
    snap = ls.snapshot(params.text_document.uri, line=params.range.start.line)
    if snap is None or not ls.ready(snap.prompt.lang):
        return None
    candidates = ls.cached(snap.prompt)
    if candidates is None and not _client_resolves_edits(ls):
        automatic = params.context.trigger_kind == types.CodeActionTriggerKind.Automatic
        candidates = await ls.generate("codeAction", snap.uri, snap.prompt, automatic=automatic) or []
    if candidates is None:
        data = {"uri": snap.uri, "line": params.range.start.line, "version": snap.version}
        count = min(MAX_CODE_ACTIONS, ls.options.numCandidates)
        return [lsp_code_action(action_title(None, i), snap.uri, snap.version, None, {**data, "index": i})
                for i in range(count)]  # fmt: skip
    return [_action(ls, snap, c, i) for i, c in enumerate(candidates[:MAX_CODE_ACTIONS])]


@server.feature(types.CODE_ACTION_RESOLVE)
async def code_action_resolve(ls: CodeFusionServer, action: types.CodeAction) -> types.CodeAction:
    data = action.data if isinstance(action.data, dict) else {}
    line, index = data.get("line", -1), data.get("index", 0)
    if not (isinstance(line, int) and isinstance(index, int)):  # not data we made: nothing to resolve
        return action
    snap = ls.snapshot(str(data.get("uri", "")), line=line)
    if snap is None or snap.version != data.get("version"):  # gone or edited since: nothing to insert
        return action
    candidates = await ls.generate("codeActionResolve", snap.uri, snap.prompt) or []
    if 0 <= index < len(candidates):
        return _action(ls, snap, candidates[index], index)
    # titles listed before generating: fewer candidates parsed than there are titles; say so, insert nothing
    message = no_candidate(len(candidates), index)
    ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=message))
    return action


def _action(ls: CodeFusionServer, snap: Snapshot, candidate: Candidate, index: int) -> types.CodeAction:
    edit = lsp_insert_edit(snap.text, snap.prompt, candidate, ls.encoding)
    return lsp_code_action(action_title(candidate, index), snap.uri, snap.version, edit,
                           imports=lsp_import_edits(snap.text, snap.prompt, candidate))


def _client_resolves_edits(ls: CodeFusionServer) -> bool:
    caps = ls.client_capabilities.text_document
    resolve = caps.code_action.resolve_support if caps and caps.code_action else None
    return bool(resolve and "edit" in resolve.properties)


# --- commands -----------------------------------------------------------------------------------------


@server.command(STATUS_COMMAND)
def status(ls: CodeFusionServer, *args: Any) -> dict[str, Any]:
    return {"server": VERSION, **ls.engine.status(), "options": dataclasses.asdict(ls.options)}


@server.command(CF_SUGGEST_COMMAND)
async def cf_suggest(ls: CodeFusionServer, *args: Any) -> Any:
    """{uri, sheet?, range?, description, k?} → suggested conditional-formatting rules with previews."""
    a = _cf_arguments(args, "description")
    k = a.get("k") or ls.options.numCandidates
    if isinstance(k, bool) or not isinstance(k, int):
        raise JsonRpcInvalidParams(f"k must be an integer, got {k!r}")
    k = min(max(k, 1), MAX_CANDIDATES)
    if not ls.ready():
        raise _model_not_ready(ls)

    def generate(prompt: str, n: int) -> list[tuple[str, float]]:
        o = ls.options
        found = ls.engine.generate(prompt, "cf", k=n, steps=o.steps, seed=o.seed, worded=False)  # ranked with cells
        return [(c.text, c.score) for c in found]

    suggest = _cf_service().suggest
    return await _cf_call(
        ls, suggest, a["path"], a.get("sheet"), a.get("range"), a["description"], k, generate
    )


@server.command(CF_APPLY_COMMAND)
async def cf_apply(ls: CodeFusionServer, *args: Any) -> Any:
    """{uri, sheet?, range?, rule, style?} → writes the rule into the workbook (never half-written)."""
    a = _cf_arguments(args, "rule")
    return await _cf_call(
        ls, _cf_service().apply, a["path"], a.get("sheet"), a.get("range"), a["rule"], a.get("style")
    )


async def _cf_call(ls: CodeFusionServer, fn: Any, *args: Any) -> Any:
    """Run a cf_service call on the sampler thread; its errors (bad range, bad rule) become clear replies."""
    try:
        result = await asyncio.get_running_loop().run_in_executor(ls.sampler, functools.partial(fn, *args))
    except EngineNotReady as exc:
        raise _model_not_ready(ls) from exc
    except (OSError, ValueError, LookupError) as exc:
        raise JsonRpcInvalidParams(f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        if type(exc).__name__.startswith("CF"):  # CFSyntaxError, CFWorkbookError, ...
            raise JsonRpcInvalidParams(f"{type(exc).__name__}: {exc}") from exc
        raise
    return _cf_service().wire(result)


def _model_not_ready(ls: CodeFusionServer) -> JsonRpcException:
    """The JSON-RPC error for a CF request while the model loads (or failed to): RequestFailed, status as data."""
    status = ls.engine.status()
    return JsonRpcException(f"model not ready ({status.get('state')})", int(REQUEST_FAILED), {"status": status})


def _cf_service() -> Any:
    """Imported on first use: the Excel side (openpyxl) costs start-up time most editor runs never need."""
    return importlib.import_module("codefusion.server.cf_service")


def _cf_arguments(args: tuple[Any, ...], text_key: str) -> dict[str, Any]:
    if len(args) != 1 or not isinstance(args[0], dict):
        raise JsonRpcInvalidParams(f"expected one object argument {{uri, sheet?, range?, {text_key}, ...}}")
    a = dict(args[0])
    if text_key == "description" and not a.get("description"):
        a["description"] = a.get("rule")
    if not a.get("uri") or not isinstance(a.get(text_key), str):
        raise JsonRpcInvalidParams(f"arguments need 'uri' and '{text_key}'")
    if not all(isinstance(a.get(key), str | None) for key in ("uri", "sheet", "range")):
        raise JsonRpcInvalidParams("'uri', 'sheet' and 'range' must be strings")
    uri = str(a["uri"])
    if uri.startswith("file:") and urlparse(uri).netloc not in ("", "localhost"):
        raise JsonRpcInvalidParams("remote file URIs (file://host/...) are not opened: no network access")
    path = to_fs_path(uri) if uri.startswith("file:") else uri
    if not path or not os.path.isabs(path):  # a relative path would resolve against the server's folder
        raise JsonRpcInvalidParams(f"'uri' must be a file: URI or an absolute path, got {uri[:200]!r}")
    a["path"] = path
    return a


# --- entry points -------------------------------------------------------------------------------------


def initialize_result(client_capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `initialize` result pygls computes for a client with these capabilities, as JSON."""
    proto = server.protocol
    caps = proto._converter.structure(client_capabilities or {}, types.ClientCapabilities)
    built = ServerCapabilitiesBuilder(
        caps,
        set({**proto.fm.features, **proto.fm.builtin_features}.keys()),
        proto.fm.feature_options,
        list(proto.fm.commands.keys()),
        server._text_document_sync_kind,
        server._notebook_document_sync,
        ServerCapabilitiesBuilder.choose_position_encoding(caps),
    ).build()
    result = types.InitializeResult(capabilities=built, server_info=proto.server_info)
    return json.loads(json.dumps(result, default=proto._serialize_message))


def write_capabilities(path: Path = CAPABILITIES_FILE) -> None:
    path.write_text(json.dumps(initialize_result(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


def main_with(args: argparse.Namespace, stdin: BinaryIO | None = None,
              answered: tuple[Any, dict[str, Any]] | None = None) -> int:
    """Run the server with parsed arguments (fast_start.main parses them). `answered`: the (id, result)
    fast_start already sent for the first frame, which `stdin` replays."""
    if args.write_capabilities:
        write_capabilities()
        return 0
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if args.log_level != "DEBUG":  # pygls logs every message it sends at INFO
        logging.getLogger("pygls").setLevel(logging.WARNING)
    server.base_options = ServerOptions(modelPath=args.model or "", device=args.device)
    server.quantize = args.quantize
    started = time.perf_counter()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        assert isinstance(server.protocol, CodeFusionProtocol)
        server.protocol.already_answered = answered
        server.start_io(BoundedReader(stdin or sys.stdin.buffer))  # type: ignore[arg-type]
    log.info("server stopped after %.0f s", time.perf_counter() - started)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m codefusion.server.lsp.server`: as `codefusion-lsp`, but the LSP imports are already done,
    so the server answers initialize itself (going through fast_start would import this module twice)."""
    parser = argparse.ArgumentParser(prog="codefusion-lsp", description="CodeFusion language server")
    fast_start.add_arguments(parser)
    return main_with(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
