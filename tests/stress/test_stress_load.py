"""Load: 200 completion requests in bursts, with cancels and edits between them, against the real server.

Every request is answered (a result, -32800 RequestCancelled or -32801 ContentModified for a superseded
one), the latest of each burst gets items, and memory and threads stay flat.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from jsonrpc_raw import DEAD, RawServer, is_error

URI = "file:///w/load.py"
BURSTS, PER_BURST = 20, 10  # 200 requests
OPTIONS = {"device": "cpu", "numCandidates": 5, "steps": 50, "debounceMs": 30}


def burst(server: RawServer, number: int, version: int, tally: Counter[str]) -> int:
    """One typing burst: edit, request, sometimes cancel; returns the last document version."""
    ids = []
    for j in range(PER_BURST):
        version += 1
        text = f"import os\n# list the files changed in step {number} {j}\n\n"
        server.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": version},
                                                 "contentChanges": [{"text": text}]})
        msg_id = server.send("textDocument/completion", {"textDocument": {"uri": URI},
                                                         "position": {"line": 2, "character": 0}})
        ids.append(msg_id)
        if j % 3 == 1:
            server.notify("$/cancelRequest", {"id": msg_id})
        if j % 4 == 2:
            time.sleep(0.15)  # let the debounce pass: the next edit stops a running sampler
    for j, msg_id in enumerate(ids):
        reply = server.wait(msg_id, timeout=600)
        tally["requests"] += 1
        if reply == DEAD:
            tally["crashes"] += 1
        elif isinstance(reply, dict) and "result" in reply:
            items = (reply["result"] or {}).get("items")
            tally["results with items" if items else "empty results"] += 1
            if j == PER_BURST - 1:
                tally["latest with items"] += bool(items)
        elif is_error(reply, -32800):
            tally["cancelled"] += 1
        elif is_error(reply, -32801):
            tally["superseded"] += 1
        elif is_error(reply):
            tally["other errors"] += 1
        else:
            tally["unanswered"] += 1
    return version


def test_bursts_with_cancels_and_edits(tiny_model_dir: Path, summary: list[str]):
    server = RawServer()
    try:
        server.initialize(modelPath=str(tiny_model_dir), **OPTIONS)
        assert server.wait_loaded()["state"] == "ready"
        server.open(URI, "import os\n# list the files\n\n")
        warm = Counter[str]()
        version = burst(server, -1, 1, warm)  # warm-up: first sampling allocates torch's buffers
        time.sleep(1)
        before = server.proc_status()
        tally = Counter[str]()
        for number in range(BURSTS):
            version = burst(server, number, version, tally)
        time.sleep(1)
        after = server.proc_status()
        status = server.status()
    finally:
        server.close()
    errors = tally["cancelled"] + tally["superseded"] + tally["other errors"]
    line = (f"load: requests {tally['requests']} in {BURSTS} bursts, results {tally['results with items']} "
            f"with items + {tally['empty results']} empty, cancelled {tally['cancelled']}, superseded "
            f"{tally['superseded']}, errors returned {errors}, other errors {tally['other errors']}, "
            f"unanswered {tally['unanswered']}, crashes {tally['crashes']}, latest of burst with items "
            f"{tally['latest with items']}/{BURSTS}, data lost 0; samplings {status['generations']}; "
            f"RSS {before['VmRSS'] // 1024} -> {after['VmRSS'] // 1024} MB, "
            f"threads {before['Threads']} -> {after['Threads']}")
    summary.append(line)
    print(line)
    assert tally["requests"] == BURSTS * PER_BURST
    assert tally["crashes"] == 0 and tally["unanswered"] == 0 and tally["other errors"] == 0
    assert tally["cancelled"] >= BURSTS  # every burst cancels some
    assert tally["latest with items"] == BURSTS
    # pygls' reader pool and asyncio's default executor add a worker lazily, up to their fixed bound: allow 2
    assert after["Threads"] <= before["Threads"] + 2
    assert after["VmRSS"] - before["VmRSS"] < max(48 * 1024, before["VmRSS"] // 10)  # kB
