"""The user-facing edges of the `codefusion` command and the server entry points (issue 21): --version from
package metadata, --help without torch, `complete` for one prompt, `doctor --json`, `python -m
codefusion.server` and `codefusion-lsp --stdio` speaking LSP."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonrpc_raw import RawServer

CLI = [sys.executable, "-m", "codefusion.server.cli.main"]


def cli(*argv: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *argv], input=stdin, capture_output=True, text=True, timeout=300, cwd=cwd)


def test_version_is_the_package_metadata(tmp_path: Path):
    done = cli("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.split() == ["codefusion", importlib.metadata.version("codefusion-lsp")]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["complete", "--help"], ["generate", "--help"]])
def test_help_imports_no_torch(argv: list[str]):
    code = (f"import sys\nfrom codefusion.server.cli.main import main\ntry:\n    main({argv!r})\n"
            "except SystemExit:\n    pass\nprint('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().endswith("NO-TORCH"), done.stderr
    assert "usage: codefusion" in done.stdout or done.stdout.startswith("codefusion ")


def test_help_lists_every_subcommand():
    from codefusion.server.cli.main import SUBCOMMANDS

    out = cli("--help").stdout
    assert all(name in out for name, _, _ in SUBCOMMANDS)


def test_complete_prints_numbered_candidates_and_json(tiny_model_dir: Path):
    flags = ["--lang", "bash", "--k", "3", "--model", str(tiny_model_dir), "--device", "cpu", "--steps", "2"]
    plain = cli("complete", *flags, "list all files")
    as_json = cli("complete", *flags, "--json", "list all files")
    from_stdin = cli("complete", *flags, "--json", "-", stdin="list all files\n")
    assert plain.returncode == as_json.returncode == from_stdin.returncode == 0, plain.stderr
    answer = json.loads(as_json.stdout)
    texts = [c["text"] for c in answer["candidates"]]
    assert answer["prompt"] == "list all files" and answer["lang"] == "bash"
    assert 1 <= len(texts) <= 3 and [c["rank"] for c in answer["candidates"]] == list(range(1, len(texts) + 1))
    assert json.loads(from_stdin.stdout) == answer  # same prompt, same seed: same candidates
    heads = [line for line in plain.stdout.splitlines() if line[:1].isdigit()]
    assert [h.split(".", 1)[0] for h in heads] == [str(n) for n in range(1, len(texts) + 1)]
    assert [h.split(". ", 1)[1].removesuffix("   (does not parse)") for h in heads] == \
        [t.splitlines()[0] if t else "" for t in texts]


def test_complete_refuses_an_empty_prompt():
    done = cli("complete", "--lang", "python", "-", stdin="  \n")
    assert done.returncode == 2 and "empty" in done.stderr


def test_doctor_json(tiny_model_dir: Path):
    done = cli("doctor", "--json", "--model", str(tiny_model_dir), "--device", "cpu")
    report = json.loads(done.stdout)
    assert report["checks"] and {"name", "ok", "detail", "fix", "required"} == set(report["checks"][0])
    broken = [c["name"] for c in report["checks"] if c["required"] and not c["ok"]]
    assert report["ok"] is (not broken) and done.returncode == (1 if broken else 0)
    assert any(c["name"] == "model loads" and c["ok"] for c in report["checks"])


def test_doctor_json_reports_a_missing_model(tmp_path: Path):
    done = cli("doctor", "--json", "--model", str(tmp_path / "nothing"), "--device", "cpu")
    report = json.loads(done.stdout)
    assert report["ok"] is False and done.returncode == 1
    assert any(not c["ok"] and c["required"] and c["fix"] for c in report["checks"])


@pytest.mark.parametrize("command", [[sys.executable, "-m", "codefusion.server"],
                                     [sys.executable, "-m", "codefusion.server.lsp.fast_start", "--stdio"]])
def test_server_entry_points_speak_lsp(command: list[str]):
    server = RawServer([*command, "--model", "/nonexistent"])
    try:
        result = server.initialize()
        assert result["serverInfo"] == {"name": "codefusion-lsp",
                                        "version": importlib.metadata.version("codefusion-lsp")}
        assert server.status()["state"] in ("loading", "failed", "not loaded")
    finally:
        assert server.close() == 0
