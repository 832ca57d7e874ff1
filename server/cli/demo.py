"""`make run`: a scripted session with the real `codefusion-lsp` process, as an editor would drive it.

Starts the server over stdio, opens a Python file, a Bash file and a workbook, asks for
completions after comments (and a docstring), an inline completion, a "Generate from comment"
code action and Excel rule suggestions, and prints the candidates with timings.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

SAMPLES: list[tuple[str, str, str, str]] = [  # (file name, languageId, text, what it shows)
    ("files.py", "python", "import os\n\n# get the list of files in directory `path`\n\n", "a comment"),
    (
        "stats.py",
        "python",
        'def mean(xs):\n    """Return the average of the list xs."""\n    \n',
        "a docstring",
    ),
    (
        "backup.sh",
        "shellscript",
        "#!/bin/bash\n# find all .log files older than 7 days and delete them\n\n",
        "a comment",
    ),
]


def server_command() -> list[str]:
    script = Path(sys.executable).parent / "codefusion-lsp"
    if script.exists():
        return [str(script)]
    found = shutil.which("codefusion-lsp")
    return [found] if found else [sys.executable, "-m", "codefusion.server.lsp.fast_start"]


def model_dir_or_tiny(arg: str | None, workdir: Path) -> tuple[str, str]:
    """(model path, note). Without a shipped model, a tiny untrained one shows the protocol only."""
    from codefusion.model.pipeline import DEFAULT_MODEL_DIR

    if arg:
        return arg, ""
    if (Path(DEFAULT_MODEL_DIR) / "model.safetensors").is_file():
        return "", ""
    path = tiny_untrained_model(workdir / "tiny-model")
    return str(
        path
    ), f"shipped model not found at {DEFAULT_MODEL_DIR}: using a tiny untrained model (noise output)"


def tiny_untrained_model(out_dir: Path) -> Path:
    """A tiny random model folder (tokenizer from the demo's texts): the protocol works, candidates are noise."""
    import torch
    from codefusion.model.config import preset
    from codefusion.model.modelfile import save_model_dir
    from codefusion.model.networks import CodeFusionNet
    from codefusion.model.tokenizer import CodeTokenizer

    torch.manual_seed(0)
    tok = CodeTokenizer.train([text for _, _, text, _ in SAMPLES] * 10, 300)
    cfg = preset("tiny", vocab_size=tok.vocab_size, pad_id=tok.pad_id, eos_id=tok.eos_id)
    save_model_dir(out_dir, CodeFusionNet(cfg).eval(), cfg, tok, half=False)
    return out_dir


def end_of_cursor_line(text: str) -> tuple[int, int]:
    """The cursor goes on the last non-empty line slot: the blank line after the prompt."""
    lines = text.split("\n")
    line = len(lines) - 2
    return line, len(lines[line])


def show_candidates(items: list[tuple[str, str]], took_ms: float) -> None:
    print(f"  {len(items)} candidate(s) in {took_ms:.0f} ms")
    for detail, code in items:
        print(f"   {detail}")
        print(textwrap.indent(code.rstrip() or "(empty)", "      │ "))


class Demo:
    def __init__(self, client: LanguageClient, workdir: Path) -> None:
        self.client = client
        self.workdir = workdir
        self.timings: list[float] = []

    async def command(self, name: str, *args: Any) -> Any:
        params = types.ExecuteCommandParams(command=name, arguments=list(args) or None)
        return await self.client.workspace_execute_command_async(params)

    async def wait_ready(self, timeout: float = 600) -> dict[str, Any]:
        """The server's status once the model and its example index loaded (or failed, or `timeout` passed)."""
        start = time.monotonic()
        told = False
        while True:
            status = await self.command("codefusion.status")
            if status["state"] in ("ready", "failed") or time.monotonic() > start + timeout:
                return status
            if not told and status.get("examples") == "loading" and time.monotonic() > start + 10:
                told = True  # the first load on a machine computes the example embeddings (seeding.py)
                print("loading the example index: the first load on this machine computes the example prompts' "
                      "MiniLM embeddings (~1-3 min), then caches them")
            await asyncio.sleep(0.1)

    def open(self, name: str, language_id: str, text: str) -> str:
        uri = (self.workdir / name).as_uri()
        (self.workdir / name).write_text(text)
        item = types.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
        return uri

    async def completion(self, name: str, language_id: str, text: str, what: str) -> None:
        uri = self.open(name, language_id, text)
        line, character = end_of_cursor_line(text)
        print(f"\n▶ {name}: completion after {what} (line {line + 1})")
        print(textwrap.indent(text.rstrip("\n"), "      "))
        params = types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, character)
        )
        start = time.perf_counter()
        result = await self.client.text_document_completion_async(params)
        took = (time.perf_counter() - start) * 1000
        self.timings.append(took)
        items = result.items if isinstance(result, types.CompletionList) else (result or [])
        rows = []
        for item in items:
            code = item.text_edit.new_text if isinstance(item.text_edit, types.TextEdit) else item.label
            rows.append((item.detail or "", textwrap.dedent(code)))
        show_candidates(rows, took)

    async def inline_and_code_action(self) -> None:
        text = "def main():\n    # read the file config.json into a dict\n    \n"
        uri = self.open("inline.py", "python", text)
        doc = types.TextDocumentIdentifier(uri=uri)
        print("\n▶ inline.py: inline completion (ghost text) and the 'Generate from comment' code action")
        start = time.perf_counter()
        inline = await self.client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=doc,
                position=types.Position(2, 4),
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            )
        )
        took = (time.perf_counter() - start) * 1000
        n = len(inline.items) if isinstance(inline, types.InlineCompletionList) else 0
        print(f"  inline completion: {n} item(s) in {took:.0f} ms")
        start = time.perf_counter()
        actions = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=doc,
                range=types.Range(start=types.Position(1, 6), end=types.Position(1, 6)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        took = (time.perf_counter() - start) * 1000
        titles = [a.title for a in actions or [] if isinstance(a, types.CodeAction)]
        print(f"  code actions in {took:.0f} ms:")
        for title in titles:
            print(f"   • {title}")

    async def tour(self, status: dict[str, Any]) -> None:
        size = status["parameters"] / 1e6
        where = status["modelPath"] or "shipped"
        print(f"model {where}: {size:.2f}M parameters on {status['device']}, load {status['loadSeconds']} s")
        for name, language_id, text, what in SAMPLES:
            await self.completion(name, language_id, text, what)
        await self.inline_and_code_action()
        await self.excel()
        t = sorted(self.timings)
        print(
            f"\ncompletion request → response: min {t[0]:.0f} ms, max {t[-1]:.0f} ms over {len(t)} requests"
        )
        final = await self.command("codefusion.status")
        print(f"status: {final['generations']} sampler runs, last sampler run {final['lastLatencyMs']} ms")

    async def excel(self) -> None:
        from openpyxl import Workbook

        path = self.workdir / "sales.xlsx"
        wb = Workbook()
        ws = wb.active
        ws.title = "Sales"
        ws.append(["Region", "Amount"])
        for row in [
            ("North", 120),
            ("South", 640),
            ("East", 75),
            ("West", 980),
            ("North", 510),
            ("East", 33),
        ]:
            ws.append(list(row))
        wb.save(path)
        description = "highlight amounts greater than 500"
        print(f"\n▶ sales.xlsx (Sales!B2:B7): codefusion.cf.suggest “{description}”")
        args = {"uri": path.as_uri(), "sheet": "Sales", "range": "B2:B7", "description": description, "k": 3}
        start = time.perf_counter()
        try:
            result = await self.command("codefusion.cf.suggest", args)
        except Exception as exc:  # the Excel side may not be installed in every checkout
            print(f"  unavailable: {exc}")
            return
        took = (time.perf_counter() - start) * 1000
        candidates = result.get("candidates", []) if isinstance(result, dict) else []
        print(f"  {len(candidates)} rule(s) in {took:.0f} ms")
        for c in candidates:
            cells = ", ".join(c.get("addresses", [])[:6])
            print(f"   {c['rule']:<32} score {c['score']:.2f}  highlights {c['count']}/{c['total']}: {cells}")
        if isinstance(result, dict) and result.get("rejected"):
            print(f"  ({len(result['rejected'])} generated text(s) were not valid rules and were dropped)")


async def run_demo(model_arg: str | None, device: str) -> int:
    with tempfile.TemporaryDirectory(prefix="codefusion-demo-") as tmp:
        workdir = Path(tmp)
        model, note = model_dir_or_tiny(model_arg, workdir)
        if note:
            print(f"note: {note}")
        client = LanguageClient("codefusion-demo", "0.1.0")

        @client.feature(types.WINDOW_SHOW_MESSAGE)
        def show_message(params: types.ShowMessageParams) -> None:
            print(f"[server] {params.message}")

        @client.feature(types.WINDOW_LOG_MESSAGE)
        def log_message(params: types.LogMessageParams) -> None:
            if params.type in (types.MessageType.Error, types.MessageType.Warning):
                print(f"[server log] {params.message}")

        cmd = server_command()
        print(f"starting {' '.join(cmd)}")
        t0 = time.perf_counter()
        await client.start_io(*cmd, "--log-level", "WARNING")
        stderr = asyncio.ensure_future(client._server.stderr.read())  # type: ignore[union-attr]  # drain it
        caps = types.ClientCapabilities(
            text_document=types.TextDocumentClientCapabilities(
                completion=types.CompletionClientCapabilities(
                    completion_item=types.ClientCompletionItemOptions(
                        documentation_format=[types.MarkupKind.Markdown]
                    )
                )
            )
        )
        options = {
            "codefusion": {"device": device, "debounceMs": 0, **({"modelPath": model} if model else {})}
        }
        await client.initialize_async(
            types.InitializeParams(capabilities=caps, initialization_options=options)
        )
        init_ms = (time.perf_counter() - t0) * 1000
        client.initialized(types.InitializedParams())
        demo = Demo(client, workdir)
        status = await demo.wait_ready()
        ready_s = time.perf_counter() - t0
        print(f"initialize answered in {init_ms:.0f} ms; model {status['state']} at {ready_s:.1f} s")
        code = 0
        if status["state"] != "ready":
            print(f"model failed to load: {status['error']}\n  run `codefusion doctor` for the fix")
            code = 1
        else:
            await demo.tour(status)
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
        stderr.cancel()
        return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codefusion.server.cli.demo", description=__doc__)
    parser.add_argument("--model", metavar="DIR", help="model folder (default: the shipped model)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    args = parser.parse_args(argv)
    return asyncio.run(run_demo(args.model, args.device))


if __name__ == "__main__":
    sys.exit(main())
