"""Faults, repeated: every broken model three times over on one server, and many killed workbook writes."""

from __future__ import annotations

import os
from pathlib import Path

from jsonrpc_raw import RawServer
from test_faults import FAULTS, PY_URI, _copy, configure, kill_writes, still_answers, wait_state

ROUNDS = 3
KILLS = int(os.environ.get("CODEFUSION_STRESS_KILLS", "25"))


def test_model_faults_repeated(tiny_model_dir: Path, tmp_path: Path, summary: list[str]):
    server = RawServer()
    tried = reported = 0
    try:
        server.initialize(modelPath=str(tiny_model_dir), device="cpu", debounceMs=0, numCandidates=2, steps=2)
        assert server.wait_loaded()["state"] == "ready"
        server.open(PY_URI, "# print hello world\n\n")
        for round_ in range(ROUNDS):
            for i, (breaker, expected) in enumerate(FAULTS.values()):
                model = tmp_path / f"model-{round_}-{i}"
                if breaker is not None:
                    breaker(_copy(tiny_model_dir, model))
                configure(server, modelPath=str(model))
                status = wait_state(server, str(model))
                tried += 1
                reported += status["state"] == "failed" and expected in status["error"]
                still_answers(server)
            configure(server, modelPath=str(tiny_model_dir))
            assert wait_state(server, str(tiny_model_dir))["state"] == "ready"
        alive = server.ping()
    finally:
        server.close()
    line = (f"model faults: cases tried {tried}, crashes {0 if alive else 1}, errors returned (clear status) "
            f"{reported}, data lost 0")
    summary.append(line)
    assert alive and reported == tried == ROUNDS * len(FAULTS)


def test_workbook_writes_killed(tmp_path: Path, summary: list[str]):
    tally = kill_writes(tmp_path, kills=KILLS, seed=1)
    line = (f"workbook writes killed: cases tried {tally['kills']}, old file {tally['old']}, new file "
            f"{tally['new']}, broken {tally['broken']}, data lost {tally['broken']} "
            f"(leftover temp files, removed: {tally['leftover temp files']})")
    summary.append(line)
    assert tally["broken"] == 0
