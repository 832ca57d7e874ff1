"""`CodeFusionServer`, the pygls language server class: options, model loading, documents and generation.

Generation runs the engine in a one-thread executor, so the event loop keeps reading `didChange` and
`$/cancelRequest` while sampling; the newest request per (feature, document) wins (`Tickets`).
The server object and its features (handlers) are in server.py.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from ..engine import Engine, EngineNotReady, EngineState
from ..options import ServerOptions, update_options
from ..prompts import Prompt, PromptKind, extract_prompt, language_for, prompt_at_comment
from ..ranking import DOCSTRING_POOL, Candidate, function_bodies
from ..version import version
from .protocol import CodeFusionProtocol

log = logging.getLogger("codefusion.lsp")
VERSION = version()


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
        # the weights first: requests are served from the model alone while the example index loads (after
        # the first answer, Engine.load)
        loading = asyncio.ensure_future(asyncio.to_thread(functools.partial(engine.load, examples_later=True)))
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

    def ready(self, lang: str | None = None) -> bool:
        """True when the model serves (Engine.serving), or `lang`'s examples do while it loads (Engine.answers);
        otherwise tell the user why once per state, False."""
        state = self.engine.state
        if self.engine.serving or (lang is not None and self.engine.answers(lang)):
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

    def _asked(self, prompt: Prompt) -> int:
        """How many candidates the engine is asked for: a function body is chosen from DOCSTRING_POOL times the
        candidates served (function_bodies)."""
        return self.options.numCandidates * (DOCSTRING_POOL if prompt.kind is PromptKind.DOCSTRING else 1)

    def _served(self, prompt: Prompt, candidates: list[Candidate]) -> list[Candidate]:
        if prompt.kind is PromptKind.DOCSTRING:
            return function_bodies(candidates, prompt.text, prompt.names, prompt.params)[:self.options.numCandidates]
        return candidates

    def cached(self, prompt: Prompt) -> list[Candidate] | None:
        o = self.options
        found = self.engine.cached(
            prompt.text, prompt.lang, k=self._asked(prompt), steps=o.steps, seed=o.seed, max_tokens=o.maxTokens,
            names=prompt.engine_names, docstring=prompt.kind is PromptKind.DOCSTRING,
        )
        return None if found is None else self._served(prompt, found)

    async def generate(self, feature: str, uri: str, prompt: Prompt, *, automatic: bool = False
                       ) -> list[Candidate] | None:
        """Candidates for a prompt, or None while the model is not ready.

        Debounced only when the client says it triggered the request automatically (typing); one the user
        invoked (Ctrl-Space, a code action, a command) starts at once. Superseded by a newer request of the
        same feature on the same document or an edit (JSON-RPC ContentModified); `$/cancelRequest` cancels
        this task, which stops the sampler.
        """
        if not self.ready(prompt.lang):
            return None
        o = self.options
        ticket = self.tickets.start(feature, uri)
        try:
            if automatic and o.debounceMs and self.cached(prompt) is None:
                await asyncio.sleep(o.debounceMs / 1000)
            if ticket.stop.is_set():
                raise JsonRpcContentModified("superseded by a newer request")
            call = functools.partial(
                self.engine.generate,
                prompt.text,
                prompt.lang,
                k=self._asked(prompt),
                steps=o.steps,
                seed=o.seed,
                max_tokens=o.maxTokens,
                should_stop=ticket.stop.is_set,
                names=prompt.engine_names,
                docstring=prompt.kind is PromptKind.DOCSTRING,
            )
            candidates = await asyncio.get_running_loop().run_in_executor(self.sampler, call)
            if ticket.stop.is_set():  # the document changed while the sampler finished
                raise JsonRpcContentModified("superseded by a newer request")
            return self._served(prompt, candidates)
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
