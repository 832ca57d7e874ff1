"""Helpers for end-to-end tests that start the real `codefusion-lsp` process and speak LSP to it."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "codefusion.server.lsp.fast_start"])


def capabilities() -> types.ClientCapabilities:
    """Neovim 0.11's capabilities (work-done progress, markdown docs, resolving edits), UTF-16."""
    caps = client_capabilities("neovim@v0.11.0")
    caps.general = types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16])
    return caps


async def initialize(client: LanguageClient, **options: Any) -> types.InitializeResult:
    params = types.InitializeParams(
        capabilities=capabilities(), initialization_options={"codefusion": options}
    )
    return await client.initialize_session(params)


async def command(client: LanguageClient, name: str, *args: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(args) or None)
    )


async def wait_until_loaded(client: LanguageClient, timeout: float = 60.0) -> dict[str, Any]:
    """Poll `codefusion.status` until the model is ready or failed."""
    deadline = time.monotonic() + timeout
    while True:
        status = await command(client, "codefusion.status")
        if status["state"] in ("ready", "failed") or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.1)


def open_doc(client: LanguageClient, uri: str, text: str, language_id: str, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=version, text=text)
        )
    )


def change_doc(client: LanguageClient, uri: str, text: str, version: int) -> None:
    """Replace the whole text (a range-less change is a full sync, which incremental servers accept)."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def complete(
    client: LanguageClient, uri: str, line: int, character: int
) -> types.CompletionList | None:
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
        )
    )
    assert result is None or isinstance(result, types.CompletionList)
    return result


def apply_edit(text: str, edit: types.TextEdit) -> str:
    """Apply one TextEdit (UTF-16 positions) to `text`."""
    from codefusion.server.prompts import utf16_to_index

    lines = text.split("\n")

    def offset(pos: types.Position) -> int:
        before = sum(len(line) + 1 for line in lines[: pos.line])
        current = lines[pos.line] if pos.line < len(lines) else ""
        return before + utf16_to_index(current, pos.character)

    return text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]


def make_workbook(path: Path) -> Path:
    """A small real .xlsx: sheet "Sales", header "Amount" and six numbers in column A."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws.append(["Amount"])
    for value in (120, 640, 75, 980, 510, 33):
        ws.append([value])
    wb.save(path)
    return path
