"""The user-facing edges of the `codefusion` command and the server entry points (issue 21): --version from
package metadata, --help without torch, `complete` for one prompt, `doctor --json`, `python -m
codefusion.server` and `codefusion-lsp --stdio` speaking LSP."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonrpc_raw import RawServer

CLI = [sys.executable, "-m", "codefusion.server.cli.main"]


def cli(*argv: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *argv], input=stdin, capture_output=True, text=True, timeout=300, cwd=cwd)


def test_version_is_the_package_metadata(tmp_path: Path):
    done = cli("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.split() == ["codefusion", importlib.metadata.version("codefusion-lsp")]


def test_the_newest_changelog_release_is_the_version():
    """CHANGELOG.md's first `## [X.Y.Z] - DATE` is pyproject's version: a release bumps both."""
    import re
    import tomllib

    root = Path(__file__).resolve().parents[1]
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d\d-\d\d$", (root / "CHANGELOG.md").read_text(), re.M)
    assert releases and releases[0] == declared, (releases[:2], declared)


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
    assert [h.split(". ", 1)[1] for h in heads] == \
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


# --- debounce: only what the client triggered automatically waits for typing to pause ------------------


def test_invoked_requests_are_not_debounced(tiny_model_dir: Path):
    debounce_s = 2.0
    server = RawServer([sys.executable, "-m", "codefusion.server.lsp.fast_start"])
    try:
        server.initialize(modelPath=str(tiny_model_dir), device="cpu", debounceMs=int(debounce_s * 1000),
                          numCandidates=2, steps=2)
        assert server.wait_loaded()["state"] == "ready"
        seconds = {}
        for n, (method, context) in enumerate([
                ("textDocument/completion", {"triggerKind": 1}),  # Invoked
                ("textDocument/inlineCompletion", {"triggerKind": 1}),  # Invoked
                ("textDocument/completion", {"triggerKind": 2, "triggerCharacter": "\n"}),  # typing
                ("textDocument/inlineCompletion", {"triggerKind": 2})]):  # Automatic
            uri = f"file:///work/debounce{n}.sh"  # a new prompt each time: nothing cached
            server.open(uri, f"# list the files in directory number {n}\n", "shellscript")
            start = time.perf_counter()
            reply = server.request(method, {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 0},
                                            "context": context})
            assert isinstance(reply, dict) and "result" in reply, reply
            seconds[method, context["triggerKind"]] = time.perf_counter() - start
        invoked = [s for (_, kind), s in seconds.items() if kind == 1]
        automatic = [s for (_, kind), s in seconds.items() if kind == 2]
        assert min(automatic) >= debounce_s, seconds
        assert max(invoked) < debounce_s, seconds
    finally:
        server.close()


# --- the weights first, then the example index: served from the model alone in between ------------------

# The server with the example index waiting for the first answer however long it takes (not EXAMPLES_GRACE_S),
# so that what it does before that answer is deterministic.
PATIENT_INDEX_SERVER = [sys.executable, "-c", "import codefusion.server.engine as engine\n"
                        "engine.EXAMPLES_GRACE_S = 600\n"
                        "from codefusion.server.lsp.fast_start import main\nraise SystemExit(main())"]


def with_example_index(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the tiny model with an example index: two bash examples, seeded from step 2."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "examples.jsonl").write_text("\n".join(json.dumps({"lang": "bash", "prompt": p, "code": c}) for p, c in
                                                    [("list all files", "ls -la"), ("count lines", "wc -l f")]))
    (model / "seeding.json").write_text(json.dumps({"examples": "examples.jsonl", "start": {"bash": 2}}))
    return model


def poll(read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool],
         timeout: float = 120.0) -> dict[str, Any]:
    """read() until done(value) or the timeout; the last value."""
    deadline = time.monotonic() + timeout
    while not done(value := read()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def test_engine_serves_its_first_answer_before_loading_examples(tiny_model_dir: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch):
    import threading

    from codefusion.server import engine as engine_module
    from codefusion.server.engine import Engine

    monkeypatch.setattr(engine_module, "EXAMPLES_GRACE_S", 600)  # only the first answer starts the index load
    engine = Engine(with_example_index(tiny_model_dir, tmp_path), device="cpu")
    gate, inside = threading.Event(), threading.Event()
    real = Engine._load_examples

    def slow_examples(self: Engine, model_dir: Path) -> None:
        inside.set()
        assert gate.wait(60)
        real(self, model_dir)

    monkeypatch.setattr(Engine, "_load_examples", slow_examples)
    loader = threading.Thread(target=lambda: engine.load(examples_later=True))
    loader.start()
    before = poll(engine.status, lambda s: s["serving"] or s["state"] == "failed")
    assert before["state"] == "loading" and before["serving"] and before["examples"] == "waiting"
    assert before["seededLanguages"] == [] and not inside.is_set()
    first = engine.generate("list all files", "bash", k=2, steps=2)
    assert first and all(c.seed is None for c in first)  # from the model alone
    assert inside.wait(60)  # the answer let the index load
    during = engine.status()
    assert during["state"] == "loading" and during["serving"] and during["examples"] == "loading"
    gate.set()
    loader.join(60)
    after = engine.status()
    assert after["state"] == "ready" and after["examples"] == "loaded" and after["seededLanguages"] == ["bash"]
    again = engine.generate("list all files", "bash", k=2, steps=2)
    assert any(c.seed for c in again)  # the cache of the model-only answer was dropped


def test_server_answers_the_first_completion_while_the_example_index_waits(tiny_model_dir: Path, tmp_path: Path):
    server = RawServer(PATIENT_INDEX_SERVER)
    try:
        server.initialize(modelPath=str(with_example_index(tiny_model_dir, tmp_path)), device="cpu",
                          numCandidates=2, steps=2)
        status = poll(server.status, lambda s: s["serving"] or s["state"] == "failed")
        assert status["state"] == "loading" and status["serving"] and status["examples"] == "waiting", status
        uri = "file:///work/first.sh"
        server.open(uri, "# list all files\n", "shellscript")
        reply = server.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                           "position": {"line": 1, "character": 0},
                                                           "context": {"triggerKind": 1}})
        assert isinstance(reply, dict) and reply.get("result"), reply
        assert reply["result"]["items"]  # the model alone's (this tiny random model's parse only by chance)
        after = server.wait_loaded()  # the answer, not the 600 s, let the index load
        assert after["state"] == "ready" and after["examples"] == "loaded" and after["seededLanguages"] == ["bash"]
    finally:
        assert server.close() == 0


def test_a_broken_example_index_leaves_the_model_serving(tiny_model_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    from codefusion.server import engine as engine_module
    from codefusion.server.engine import Engine

    model = with_example_index(tiny_model_dir, tmp_path)
    (model / "examples.jsonl").write_text("not json\n")
    monkeypatch.setattr(engine_module, "EXAMPLES_GRACE_S", 0.01)  # no request comes: the index loads regardless
    engine = Engine(model, device="cpu")
    engine.load(examples_later=True)
    status = engine.status()
    assert status["state"] == "ready" and status["examples"].startswith("failed: ModelLoadError")
    assert engine.generate("list all files", "bash", k=2, steps=2)
    with pytest.raises(Exception, match="cannot read"):  # loaded at once (the CLI), it is an error
        Engine(model, device="cpu").load()


def test_a_function_stub_gets_its_body_as_the_editor_serves_it(shipped_model_dir: Path, tmp_path: Path):
    """`generate` and `complete` given a `def` and its docstring serve the body (the function's parameters,
    a value returned), as the language server does at the body line; a plain prompt in the same file is
    answered as before."""
    stub = 'def last_item(xs):\n    """Return the last element of the list xs."""\n'
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"id": "stub", "prompt": stub}) + "\n"
                    + json.dumps({"id": "plain", "prompt": "get the last element of list `xs`"}) + "\n")
    done = cli("generate", "--lang", "python", "--input", str(rows), "--output", str(tmp_path / "out.jsonl"))
    assert done.returncode == 0, done.stderr
    out = {r["id"]: r["candidates"] for r in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines())}
    assert out["stub"][0] == "return xs[(-1)]" and all("xs" in c for c in out["stub"])  # the parameter read
    assert out["plain"] and not out["plain"][0].startswith("return")
    answer = json.loads(cli("complete", "--lang", "python", "--json", "-", stdin=stub).stdout)
    assert answer["candidates"][0]["text"] == out["stub"][0]
    systems = {}
    for system in ("examples", "slots"):  # no model: looked up by the docstring; bodies only with the rules
        path = tmp_path / f"{system}.jsonl"
        assert cli("generate", "--lang", "python", "--system", system, "--input", str(rows),
                   "--output", str(path)).returncode == 0
        systems[system] = json.loads(path.read_text().splitlines()[0])["candidates"]
    assert not any(c.startswith("return") or "xs" in c for c in systems["examples"])  # exactly as they are
    assert systems["slots"][0] == "return xs[(-1)]"
