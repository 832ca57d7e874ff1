"""Request → response latency of `textDocument/completion` (5 candidates) through the real server process.

`python -m codefusion.server.cli.lsp_bench [--model DIR] [--requests N]` prints p50/p95; `measure()` returns
the figures for `codefusion bench`. Each request uses a new prompt, so the engine's cache never answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from .demo import server_command

PROMPTS = {
    "python": [
        "sort the list `names` alphabetically", "read the file `path` into a string", "reverse string `s`",
        "get the maximum value in dictionary `d`", "remove duplicates from list `xs`", "convert `n` to hex",
        "split the string `line` on commas", "count the words in `text`", "join the list `parts` with spaces",
        "check if the file `path` exists",
    ],
    "bash": [
        "list all files in the current directory", "count the lines of file.txt", "find all python files",
        "show disk usage of the home folder", "delete all .tmp files", "print the current date",
        "compress the folder logs into logs.tar.gz", "show the last 20 lines of app.log",
        "search for the word error in all log files", "make the script run.sh executable",
    ],
}  # fmt: skip


FIRST_PROMPT = "read a csv file into a list of dicts"
DEFAULT_K = 5  # ServerOptions.numCandidates


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def rss_mb(pid: int) -> dict[str, float | None]:
    """Resident memory of a process now and at its peak (MB), from /proc; None where /proc is missing."""
    fields: dict[str, float | None] = {"rss_mb": None, "peak_rss_mb": None}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return fields


async def _measure(model: str | None, device: str, requests: int, k: int, options: dict[str, Any] | None = None,
                   server_args: tuple[str, ...] = ()) -> dict[str, Any]:
    client = LanguageClient("codefusion-bench", "0.1.0")
    client.feature(types.WINDOW_LOG_MESSAGE)(lambda params: None)  # the server says "model ready"; not needed
    spawned = time.perf_counter()
    await client.start_io(*server_command(), "--log-level", "WARNING", *server_args)
    drain = asyncio.ensure_future(client._server.stderr.read())  # type: ignore[union-attr]
    settings = {  # the options a user gets by default (debounce included: an invoked request skips it)
        **({"numCandidates": k} if k != DEFAULT_K else {}),
        **({"device": device} if device != "auto" else {}),
        **({"modelPath": model} if model else {}),
        **(options or {}),
    }
    await client.initialize_async(
        types.InitializeParams(  # with a processId, as editors send it (the fast initialize path needs one)
            process_id=os.getpid(), capabilities=types.ClientCapabilities(),
            initialization_options={"codefusion": settings},
        )
    )
    initialize_ms = (time.perf_counter() - spawned) * 1000  # process start to the `initialize` answer
    client.initialized(types.InitializedParams())
    first_items_ms = await _first_items(client, spawned)  # what the user who asks at once waits
    status = await _wait_ready(client)
    ready_ms = (time.perf_counter() - spawned) * 1000
    timings: dict[str, list[float]] = {lang: [] for lang in PROMPTS}
    asked = 0
    if status["state"] == "ready":
        for i in range(requests + 1):  # the first request warms up and is not counted
            lang = "python" if i % 2 == 0 else "bash"
            pool = PROMPTS[lang]
            prompt = pool[(i // 2) % len(pool)] + ("" if i < 2 * len(pool) else f" (variant {i})")
            uri = f"file:///bench/{i}.{'py' if lang == 'python' else 'sh'}"
            text = f"# {prompt}\n\n"
            item = types.TextDocumentItem(uri=uri, language_id=lang, version=1, text=text)
            client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
            params = invoked_completion(uri)
            start = time.perf_counter()
            await client.text_document_completion_async(params)
            asked += 1
            if i:
                timings[lang].append((time.perf_counter() - start) * 1000)
    after = await _status(client) if asked else status
    memory = rss_mb(client._server.pid)  # type: ignore[union-attr]
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    drain.cancel()
    every = [t for ts in timings.values() for t in ts]
    return {
        "status": status,
        "k": k,
        "requests": len(every),
        "p50_ms": percentile(every, 50) if every else None,
        "p95_ms": percentile(every, 95) if every else None,
        "mean_ms": statistics.fmean(every) if every else None,
        "by_language": {lang: percentile(ts, 50) for lang, ts in timings.items() if ts},
        # the completions asked after loading (warm-up included) and how many of them the model wrote (None: the
        # server does not count them)
        "completions": asked,
        "model_runs": _count(after) - _count(status) if "modelRuns" in after else None,
        # … and in how many it judged the nearest examples (seeding.json `rerank`; None: not counted)
        "model_ranks": _count(after, "modelRanks") - _count(status, "modelRanks") if "modelRanks" in after else None,
        "initialize_ms": initialize_ms,
        "first_items_ms": first_items_ms,
        "ready_ms": ready_ms,
        **memory,
    }


def invoked_completion(uri: str) -> types.CompletionParams:
    """A completion the user asked for (Ctrl-Space): triggerKind Invoked, as the clients send it."""
    return types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(1, 0),
                                  context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked))


async def _first_items(client: LanguageClient, spawned: float, timeout: float = 300) -> float | None:
    """ms from process start to the first completion with items, asking again while the model loads."""
    uri = "file:///bench/first.py"
    item = types.TextDocumentItem(uri=uri, language_id="python", version=1, text=f"# {FIRST_PROMPT}\n\n")
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
    while time.perf_counter() - spawned < timeout:
        result = await client.text_document_completion_async(invoked_completion(uri))
        items = result.items if isinstance(result, types.CompletionList) else result
        if items:
            return (time.perf_counter() - spawned) * 1000
        await asyncio.sleep(0.05)
    return None


async def _status(client: LanguageClient) -> dict[str, Any]:
    params = types.ExecuteCommandParams(command="codefusion.status")
    return await client.workspace_execute_command_async(params) or {}


def _count(status: dict[str, Any], key: str = "modelRuns") -> int:
    """A counter of codefusion.status (modelRuns, modelRanks); 0 where absent."""
    return int(status.get(key) or 0)


async def _wait_ready(client: LanguageClient, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = await _status(client)
        if status["state"] in ("ready", "failed") or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.1)


def measure(model: str | None = None, device: str = "auto", requests: int = 20, k: int = 5, *,
            options: dict[str, Any] | None = None, server_args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Latency figures (ms) of completion requests through a fresh `codefusion-lsp` process.

    `options` are extra `codefusion` settings (e.g. steps, maxTokens); `server_args` extra command-line
    flags (e.g. `--quantize`). Also: process start → `initialize` answer, → model ready, and the RSS.
    """
    return asyncio.run(_measure(model, device, requests, k, options, server_args))


def report(figures: dict[str, Any]) -> str:
    status = figures["status"]
    if figures["p50_ms"] is None:
        return f"LSP completion latency: no figures (model {status['state']}: {status.get('error')})"
    langs = ", ".join(f"{lang} p50 {ms:.0f} ms" for lang, ms in figures["by_language"].items())
    return (
        f"LSP completion, {figures['k']} candidates, request → response over {figures['requests']} requests "
        f"on {status['device']}: p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms "
        f"(mean {figures['mean_ms']:.0f} ms; {langs}); default options, triggerKind Invoked\n"
        f"the model wrote {_written(figures)} and ordered the examples of {_ranked(figures)} of the "
        f"{figures['completions']} completions asked after loading\n"
        f"from spawn: initialize answered {figures['initialize_ms']:.0f} ms, first items "
        + (f"{figures['first_items_ms']:.0f} ms" if figures.get("first_items_ms") is not None else "none")
        + f", everything loaded {figures['ready_ms']:.0f} ms"
    )


def _ranked(figures: dict[str, Any]) -> str:
    ranks = figures.get("model_ranks")
    return "?" if ranks is None else str(ranks)


def _written(figures: dict[str, Any]) -> str:
    runs = figures.get("model_runs")
    return "? (the server does not report modelRuns)" if runs is None else str(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codefusion.server.cli.lsp_bench", description=__doc__)
    parser.add_argument("--model", metavar="DIR", help="model folder (default: the shipped model)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args(argv)
    figures = measure(args.model, args.device, args.requests, args.k)
    print(report(figures))
    return 0 if figures["p50_ms"] is not None else 1


if __name__ == "__main__":
    sys.exit(main())
