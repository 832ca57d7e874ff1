"""The CodeFusion language server (pygls 2): completion, inline completion, "Generate from comment".

The server object is created once, here; features register with decorators. Handlers are thin:
read params, call the pure prompt functions and the engine (in a one-thread executor, so the event
loop keeps reading `didChange` and `$/cancelRequest` while sampling), translate with `lsp_items`.
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
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.capabilities import ServerCapabilitiesBuilder
from pygls.exceptions import JsonRpcContentModified, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from . import fast_start
from .engine import Candidate, Engine, EngineNotReady, EngineState
from .fast_start import CAPABILITIES_FILE
from .lsp_items import (
    CODE_ACTION_KIND,
    action_title,
    lsp_code_action,
    lsp_completion_items,
    lsp_inline_items,
    lsp_insert_edit,
)
from .lsp_protocol import BoundedReader, CodeFusionProtocol
from .options import MAX_CANDIDATES, ServerOptions, update_options
from .prompts import Prompt, extract_prompt, language_for, prompt_at_comment

log = logging.getLogger("codefusion.lsp")
VERSION = "0.1.0"
STATUS_COMMAND = "codefusion.status"
CF_SUGGEST_COMMAND = "codefusion.cf.suggest"
CF_APPLY_COMMAND = "codefusion.cf.apply"
MAX_CODE_ACTIONS = 3


@dataclass
class Ticket:
    """One generation request; `stop` is set when it is cancelled or superseded."""

    key: tuple[str, str]  # (feature, uri)
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Snapshot:
    """A prompt found in one version of a document; edits are computed against this text."""

    uri: str
    version: int | None
    text: str
    prompt: Prompt


class Tickets:
    """The newest request per (feature, document) wins; older ones and edited documents are stopped.

    Used only from the event loop thread; the sampler thread only reads `stop`.
    """

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], Ticket] = {}

    def start(self, feature: str, uri: str) -> Ticket:
        ticket = Ticket((feature, uri))
        if (old := self._latest.get(ticket.key)) is not None:
            old.stop.set()
        self._latest[ticket.key] = ticket
        return ticket

    def stop_document(self, uri: str) -> None:
        for key, ticket in list(self._latest.items()):
            if key[1] == uri:
                ticket.stop.set()
                del self._latest[key]

    def stop_all(self) -> None:
        for ticket in self._latest.values():
            ticket.stop.set()
        self._latest.clear()

    def finish(self, ticket: Ticket) -> None:
        if self._latest.get(ticket.key) is ticket:
            del self._latest[ticket.key]


class _QuietSuperseded(logging.Filter):
    """pygls logs every error response with a traceback; a superseded request is routine, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, JsonRpcContentModified)


class CodeFusionServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "codefusion-lsp",
            VERSION,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=CodeFusionProtocol,
        )
        self.base_options = ServerOptions()  # defaults, with command-line flags applied
        self.quantize = False  # int8 dynamic quantisation on CPU (--quantize)
        self.options = ServerOptions()
        self.engine = Engine()
        self.tickets = Tickets()
        self.sampler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codefusion-sampler")
        self._load_task: asyncio.Task[None] | None = None
        self._told_not_ready: EngineState | None = None

    # --- options and model --------------------------------------------------------------------------

    def apply_options(self, raw: Any) -> None:
        """Update options from a client settings object; reload the model if its path or device changed."""
        old = self.options
        self.options, warnings = update_options(self.options, raw)
        for warning in warnings:
            self.log(f"option ignored: {warning}", types.MessageType.Warning)
        if (old.modelPath, old.device) != (self.options.modelPath, self.options.device):
            self.engine = self.new_engine()
            self._told_not_ready = None
            if self._load_task is not None:  # already started once: load the new model now
                self.start_loading()
        self.engine.seeding = self.options.seedFromExamples

    def new_engine(self) -> Engine:
        return Engine(self.options.modelPath or None, device=self.options.device, quantize=self.quantize,
                      seeding=self.options.seedFromExamples)

    async def pull_configuration(self) -> Any:
        """The client's `codefusion` settings via workspace/configuration, or None if it has none to give."""
        caps = self.client_capabilities.workspace
        if not (caps and caps.configuration):
            return None
        item = types.ConfigurationItem(section="codefusion")
        try:
            result = await self.workspace_configuration_async(types.ConfigurationParams(items=[item]))
        except Exception as exc:  # a client that cannot answer keeps the current options
            log.info("workspace/configuration failed: %s", exc)
            return None
        return result[0] if result else None

    def start_loading(self) -> None:
        self._load_task = asyncio.ensure_future(self.load_model(self.engine))

    async def load_model(self, engine: Engine) -> None:
        """Load in a thread, reporting work-done progress when the client supports it."""
        where = engine.model_dir or "the shipped model"
        loading = asyncio.ensure_future(asyncio.to_thread(engine.load))
        token = f"codefusion-load-{uuid.uuid4().hex[:8]}"
        progress = await self._create_progress(token)
        if progress:
            self.work_done_progress.begin(
                token, types.WorkDoneProgressBegin(title="CodeFusion", message=f"loading {where}")
            )
        try:
            await loading
            message = f"model ready ({engine.status()['device']}, {engine.status()['loadSeconds']} s)"
            self.log(message)
        except EngineNotReady as exc:
            message = f"model failed to load: {exc}"
            self.log(message, types.MessageType.Error)
            self._told_not_ready = EngineState.FAILED  # shown here; requests need not repeat it
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))
        if progress:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    async def _create_progress(self, token: str) -> bool:
        caps = self.client_capabilities.window
        if not (caps and caps.work_done_progress):
            return False
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), timeout=5)
            return True
        except Exception as exc:  # a client that refuses progress still gets the model
            log.info("no work-done progress: %s", exc)
            return False

    def ready(self) -> bool:
        """True when the model is loaded; otherwise tell the user why once per state and return False."""
        state = self.engine.state
        if state is EngineState.READY:
            return True
        if self._load_task is None:
            self.start_loading()
        if self._told_not_ready is not state:
            self._told_not_ready = state
            if state is EngineState.FAILED:
                text, kind = f"CodeFusion: model failed to load: {self.engine.error}", types.MessageType.Error
            else:
                text, kind = (
                    "CodeFusion: the model is still loading; try again in a moment",
                    types.MessageType.Info,
                )
            self.window_show_message(types.ShowMessageParams(type=kind, message=text))
        return False

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        log.log(logging.ERROR if kind is types.MessageType.Error else logging.INFO, message)
        self.window_log_message(types.LogMessageParams(type=kind, message=f"CodeFusion: {message}"))

    # --- documents and generation -------------------------------------------------------------------

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or "utf-16")

    def client_renders_markdown(self) -> bool:
        caps = self.client_capabilities.text_document
        item = caps.completion.completion_item if caps and caps.completion else None
        return bool(
            item and item.documentation_format and types.MarkupKind.Markdown in item.documentation_format
        )

    def document(self, uri: str) -> TextDocument | None:
        """An open document the client sent (never read from disk), or None."""
        return self.workspace.text_documents.get(unquote(uri))

    def language(self, doc: TextDocument) -> str | None:
        lang = language_for(doc.language_id, doc.uri)
        return lang if lang in self.options.enabledLanguages else None

    def snapshot(
        self, uri: str, *, position: types.Position | None = None, line: int = -1
    ) -> Snapshot | None:
        """The prompt before `position` (completion), or of the comment on `line` (code action), or None."""
        doc = self.document(uri)
        lang = self.language(doc) if doc is not None else None
        if doc is None or lang is None:
            return None
        text = doc.source
        if position is not None:
            prompt = extract_prompt(text, position.line, position.character, lang, self.encoding)
        else:
            prompt = prompt_at_comment(text, line, lang)
        return Snapshot(doc.uri, doc.version, text, prompt) if prompt is not None else None

    def cached(self, prompt: Prompt) -> list[Candidate] | None:
        o = self.options
        return self.engine.cached(
            prompt.text, prompt.lang, k=o.numCandidates, steps=o.steps, seed=o.seed, max_tokens=o.maxTokens
        )

    async def generate(self, feature: str, uri: str, prompt: Prompt) -> list[Candidate] | None:
        """Candidates for a prompt, or None while the model is not ready.

        Debounced; superseded by a newer request of the same feature on the same document or an edit
        (JSON-RPC ContentModified); `$/cancelRequest` cancels this task, which stops the sampler.
        """
        if not self.ready():
            return None
        o = self.options
        ticket = self.tickets.start(feature, uri)
        try:
            if o.debounceMs and self.cached(prompt) is None:
                await asyncio.sleep(o.debounceMs / 1000)
            if ticket.stop.is_set():
                raise JsonRpcContentModified("superseded by a newer request")
            call = functools.partial(
                self.engine.generate,
                prompt.text,
                prompt.lang,
                k=o.numCandidates,
                steps=o.steps,
                seed=o.seed,
                max_tokens=o.maxTokens,
                should_stop=ticket.stop.is_set,
            )
            candidates = await asyncio.get_running_loop().run_in_executor(self.sampler, call)
            if ticket.stop.is_set():  # the document changed while the sampler finished
                raise JsonRpcContentModified("superseded by a newer request")
            return candidates
        except asyncio.CancelledError:
            ticket.stop.set()  # the sampler thread sees it between denoising steps
            raise
        except EngineNotReady:
            return None
        except Exception as exc:
            from codefusion.model.pipeline import SamplingCancelled

            if isinstance(exc, SamplingCancelled):
                raise JsonRpcContentModified("superseded by a newer request") from exc
            raise
        finally:
            self.tickets.finish(ticket)


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
    candidates = await ls.generate("completion", snap.uri, snap.prompt)
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
    candidates = await ls.generate("inlineCompletion", snap.uri, snap.prompt) or []
    return types.InlineCompletionList(items=lsp_inline_items(snap.text, snap.prompt, candidates, ls.encoding))


# --- code actions -------------------------------------------------------------------------------------


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(code_action_kinds=[CODE_ACTION_KIND], resolve_provider=True),
)
async def code_action(ls: CodeFusionServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    """One action per top candidate. Without cached candidates, actions are resolved lazily when supported."""
    snap = ls.snapshot(params.text_document.uri, line=params.range.start.line)
    if snap is None or not ls.ready():
        return None
    candidates = ls.cached(snap.prompt)
    if candidates is None and not _client_resolves_edits(ls):
        candidates = await ls.generate("codeAction", snap.uri, snap.prompt) or []
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
    return _action(ls, snap, candidates[index], index) if 0 <= index < len(candidates) else action


def _action(ls: CodeFusionServer, snap: Snapshot, candidate: Candidate, index: int) -> types.CodeAction:
    edit = lsp_insert_edit(snap.text, snap.prompt, candidate, ls.encoding)
    return lsp_code_action(action_title(candidate, index), snap.uri, snap.version, edit)


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
        return {"error": "model not ready", "status": ls.engine.status()}

    def generate(prompt: str, n: int) -> list[tuple[str, float]]:
        o = ls.options
        return [(c.text, c.score) for c in ls.engine.generate(prompt, "cf", k=n, steps=o.steps, seed=o.seed)]

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
    except (EngineNotReady, OSError, ValueError, LookupError) as exc:
        raise JsonRpcInvalidParams(f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        if type(exc).__name__.startswith("CF"):  # CFSyntaxError, CFWorkbookError, ...
            raise JsonRpcInvalidParams(f"{type(exc).__name__}: {exc}") from exc
        raise
    return _jsonable(result)


def _cf_service() -> Any:
    """Imported on first use: the Excel side (openpyxl) costs start-up time most sessions never need."""
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


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


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
    """`python -m codefusion.server.lsp_server`: as `codefusion-lsp`, but the LSP imports are already done,
    so the server answers initialize itself (going through fast_start would import this module twice)."""
    parser = argparse.ArgumentParser(prog="codefusion-lsp", description="CodeFusion language server")
    fast_start.add_arguments(parser)
    return main_with(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
