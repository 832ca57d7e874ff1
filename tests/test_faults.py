"""Faults: broken model folders, a missing GPU, absurd limits; and a workbook write killed half-way.

Every model fault gives a clear error in `codefusion.status` and a message to the user, and the server keeps
answering. A process killed in the middle of writing a workbook leaves the old file or the new one.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from jsonrpc_raw import RawServer, is_error

PY_URI = "file:///w/faults.py"


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _corrupt(d: Path) -> None:
    (d / "model.safetensors").write_bytes(bytes(random.Random(0).randrange(256) for _ in range(4096)))


def _truncate(d: Path) -> None:
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])


def _bad_json(d: Path) -> None:
    (d / "config.json").write_text('{"kind": "diffusion", "d_model": ')


def _wrong_shape(d: Path) -> None:
    cfg = json.loads((d / "config.json").read_text())
    cfg["d_model"] *= 2  # the weights no longer fit
    (d / "config.json").write_text(json.dumps(cfg))


def _other_tokenizer(d: Path) -> None:
    from codefusion.model.tokenizer import CodeTokenizer

    CodeTokenizer.train(["a b c", "d e f"] * 5, 40).save(d / "tokenizer.json")


def _garbage_tokenizer(d: Path) -> None:
    (d / "tokenizer.json").write_text("not a tokenizer")


# name -> (how to break a copy of the model, words the error must contain)
FAULTS: dict[str, tuple[Callable[[Path], None] | None, str]] = {
    "missing folder": (None, "model folder not found"),
    "missing weights": (lambda d: (d / "model.safetensors").unlink(), "weights not found"),
    "corrupt weights": (_corrupt, "corrupt weights"),
    "truncated weights": (_truncate, "corrupt weights"),
    "config not JSON": (_bad_json, "bad model config"),
    "config does not fit the weights": (_wrong_shape, "do not fit the config"),
    "missing config": (lambda d: (d / "config.json").unlink(), "model config not found"),
    "tokenizer mismatch": (_other_tokenizer, "does not match the config"),
    "tokenizer not a tokenizer": (_garbage_tokenizer, "bad tokenizer"),
}


def configure(server: RawServer, **options) -> None:
    server.notify("workspace/didChangeConfiguration", {"settings": {"codefusion": options}})


def wait_state(server: RawServer, model_path: str, timeout: float = 300) -> dict:
    """Status once the model at `model_path` has finished loading (ready or failed)."""
    deadline = time.monotonic() + timeout
    while True:
        status = server.status()
        if status["modelPath"] == model_path and status["state"] in ("ready", "failed"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def still_answers(server: RawServer) -> None:
    """Completion gets an empty, incomplete list (not a hang, not an error); other requests work."""
    reply = server.request("textDocument/completion", {"textDocument": {"uri": PY_URI},
                                                       "position": {"line": 1, "character": 0}})
    assert isinstance(reply, dict) and reply["result"] == {"isIncomplete": True, "items": []}, reply
    reply = server.request("textDocument/codeAction", {
        "textDocument": {"uri": PY_URI}, "context": {"diagnostics": []},
        "range": {"start": {"line": 0, "character": 2}, "end": {"line": 0, "character": 2}}})
    assert isinstance(reply, dict) and "result" in reply, reply
    assert server.ping()


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path) -> Iterator[RawServer]:
    s = RawServer()
    s.initialize(modelPath=str(tiny_model_dir), device="cpu", debounceMs=0, numCandidates=2, steps=2)
    assert s.wait_loaded()["state"] == "ready"
    s.open(PY_URI, "# print hello world\n\n")
    yield s
    s.close()


@pytest.mark.parametrize("fault", list(FAULTS))
def test_model_fault_is_reported_and_server_keeps_answering(server: RawServer, tiny_model_dir: Path,
                                                            tmp_path: Path, fault: str):
    breaker, expected = FAULTS[fault]
    model = tmp_path / "model"
    if breaker is not None:
        breaker(_copy(tiny_model_dir, model))
    shown = len(server.notifications)
    configure(server, modelPath=str(model))
    status = wait_state(server, str(model))
    assert status["state"] == "failed" and expected in status["error"], status
    still_answers(server)
    messages = [n["params"]["message"] for n in server.notifications[shown:]
                if n["method"] in ("window/showMessage", "window/logMessage")]
    assert any(expected in m for m in messages), messages
    configure(server, modelPath=str(tiny_model_dir))  # a fixed path loads again
    assert wait_state(server, str(tiny_model_dir))["state"] == "ready"


def test_cuda_asked_without_a_gpu(server: RawServer, tiny_model_dir: Path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present here")
    configure(server, device="cuda")
    status = wait_state(server, str(tiny_model_dir))
    assert status["state"] == "failed" and "no CUDA GPU is available" in status["error"], status
    still_answers(server)
    configure(server, device="cpu")
    assert wait_state(server, str(tiny_model_dir))["state"] == "ready"


@pytest.mark.parametrize("option, value", [
    ("numCandidates", 10**6), ("numCandidates", 0), ("steps", 10**9), ("maxTokens", 10**9),
    ("debounceMs", 10**12), ("seed", -1), ("numCandidates", "5"),
])
def test_absurd_limits_are_rejected(server: RawServer, option: str, value):
    before = server.status()["options"][option]
    logged = len(server.notifications)
    configure(server, **{option: value})
    assert server.status()["options"][option] == before
    warnings = [n["params"]["message"] for n in server.notifications[logged:] if n["method"] == "window/logMessage"]
    assert any(option in w for w in warnings), warnings


def test_huge_k_for_cf_suggest_is_clamped(server: RawServer, tmp_path: Path):
    from codefusion.server.options import MAX_CANDIDATES
    from lsp_support import make_workbook

    uri = make_workbook(tmp_path / "sales.xlsx").as_uri()
    args = {"uri": uri, "range": "A2:A7", "description": "above 500"}
    reply = server.request("workspace/executeCommand", {"command": "codefusion.cf.suggest",
                                                        "arguments": [{**args, "k": 10**9}]})
    candidates = reply["result"]["candidates"] if isinstance(reply, dict) else []
    assert 1 <= len(candidates) <= MAX_CANDIDATES, reply  # "above 500" is read from the wording at least
    assert candidates[0]["rule"] == "GreaterThan(500)" and candidates[0]["total"] == 6, candidates[0]
    for bad in ("all", 1.5, [5]):
        reply = server.request("workspace/executeCommand", {"command": "codefusion.cf.suggest",
                                                            "arguments": [{**args, "k": bad}]})
        assert is_error(reply, -32602), reply


# --- a workbook write killed half-way -----------------------------------------------------------------

WRITER = """
import sys
from codefusion.model.cf import apply_rule_to_workbook
print("ready", flush=True)
sys.stdin.readline()
apply_rule_to_workbook(sys.argv[1], None, "A2:D3001", "GreaterThan(500)")
print("done", flush=True)
"""


def big_workbook(path: Path, rows: int = 3000) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["a", "b", "c", "d"])
    for r in range(rows):
        ws.append([r, r * 7 % 1000, f"text {r}", r / 3])
    wb.save(path)
    return path.read_bytes()


def _writer(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"  # imports done
    return proc


def _go(proc: subprocess.Popen) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


def workbook_state(path: Path, original: bytes) -> str:
    """'old' (byte-identical), 'new' (a valid workbook with the rule added) or 'broken: why'."""
    from openpyxl import load_workbook

    if path.read_bytes() == original:
        return "old"
    try:
        wb = load_workbook(path)
    except Exception as exc:
        return f"broken: {type(exc).__name__}: {exc}"
    rules = [r for cf in wb["Data"].conditional_formatting for r in cf.rules]
    cells = wb["Data"].max_row
    return "new" if len(rules) == 1 and cells == 3001 else f"broken: {len(rules)} rules, {cells} rows"


def kill_writes(folder: Path, kills: int, seed: int = 0) -> dict[str, int]:
    """Start the safe writer, SIGKILL it at a random moment of its write, check the file; `kills` times."""
    path = folder / "big.xlsx"
    original = big_workbook(path)
    proc = _writer(path)  # one full write, timed, shows what "new" looks like
    start = time.monotonic()
    _go(proc)
    assert proc.wait(300) == 0
    duration = time.monotonic() - start
    assert workbook_state(path, original) == "new"
    tally = {"kills": 0, "old": 0, "new": 0, "broken": 0, "leftover temp files": 0}
    moments = random.Random(seed)
    for _ in range(kills):
        path.write_bytes(original)
        path.with_name(path.name + ".bak").unlink(missing_ok=True)
        proc = _writer(path)
        _go(proc)
        time.sleep(moments.uniform(0, duration))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        tally["kills"] += 1
        state = workbook_state(path, original)
        tally[state.split(":")[0]] += 1
        assert not state.startswith("broken"), state
        for tmp in folder.glob(".~cf-*"):  # a killed writer cannot clean up its temp file; the book is intact
            tally["leftover temp files"] += 1
            tmp.unlink()
    return tally


def test_killed_workbook_write_leaves_old_or_new(tmp_path: Path):
    tally = kill_writes(tmp_path, kills=3)
    assert tally["broken"] == 0 and tally["old"] + tally["new"] == 3
