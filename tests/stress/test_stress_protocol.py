"""Protocol fuzzing, long: several thousand generated cases against one real server process."""

from __future__ import annotations

import os
import time
from pathlib import Path

from protocol_fuzz import Figures, fuzz, start_server
from test_fuzz_protocol import make_workbook

CASES = int(os.environ.get("CODEFUSION_STRESS_CASES", "5000"))


def test_thousands_of_fuzzed_messages(tiny_model_dir: Path, tmp_path: Path, summary: list[str]):
    workbook = make_workbook(tmp_path / "sales.xlsx").as_uri()
    server = start_server(str(tiny_model_dir))
    figures = Figures()
    start = time.monotonic()
    try:
        before = server.proc_status()
        fuzz(server, workbook, CASES, figures)
        after = server.proc_status()
        alive = server.ping()
    finally:
        server.close()
    line = (f"{figures.line('protocol fuzz')}, frame resyncs {figures.resyncs}, data lost 0; "
            f"{time.monotonic() - start:.0f} s, RSS {before['VmRSS'] // 1024} -> {after['VmRSS'] // 1024} MB, "
            f"threads {before['Threads']} -> {after['Threads']}")
    summary.append(line)
    print(line)
    assert figures.cases == CASES and alive
    assert figures.crashes == 0 and figures.unanswered == 0, figures.failures[:5]
    assert -32603 not in figures.errors, "an internal error: a handler raised on some input"
