"""Security guarantees (see SECURITY.md): no pickle, generated code never runs, no network, file access only
to what the client names, and limits that refuse absurd requests.

The dynamic checks run the real server process under a Python audit hook (tests/audited_server.py), which
logs, and for network and processes also refuses, what the server does.
"""

from __future__ import annotations

import ast
import json
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonrpc_raw import RawServer, is_error
from test_fuzz_protocol import make_workbook

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for d in ("model", "server") for p in (REPO / d).rglob("*.py"))
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


# --- static: the source ---------------------------------------------------------------------------------


def _calls(tree: ast.AST) -> Iterator[tuple[str, ast.Call]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield ast.unparse(node.func), node


def _const_kw(call: ast.Call, name: str) -> object:
    for kw in call.keywords:
        if kw.arg == name and isinstance(kw.value, ast.Constant):
            return kw.value.value
    return None


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_pickle_and_no_eval_in_source(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & PICKLE_MODULES, ast.unparse(node)
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in PICKLE_MODULES, ast.unparse(node)
            assert not (node.module == "torch" and any(a.name == "load" for a in node.names)), ast.unparse(node)
    for name, call in _calls(tree):
        where = f"{path.name}:{call.lineno}: {ast.unparse(call)[:100]}"
        if name == "torch.load" or name.endswith(".torch.load"):
            assert _const_kw(call, "weights_only") is True, where
        assert name not in ("eval", "exec", "compile", "__import__", "os.system", "os.popen"), where
        if name.endswith(("np.load", "numpy.load")):
            assert _const_kw(call, "allow_pickle") in (None, False), where


def test_the_scan_sees_what_it_forbids():
    bad = "import pickle\nimport torch\ntorch.load('w.pt')\neval('1')\n"
    tree = ast.parse(bad)
    assert any(isinstance(n, ast.Import) and n.names[0].name == "pickle" for n in ast.walk(tree))
    calls = dict(_calls(tree))
    assert "torch.load" in calls and _const_kw(calls["torch.load"], "weights_only") is None
    assert "eval" in calls


def test_weights_load_without_pickle(tiny_model_dir: Path, tmp_path: Path):
    """A pickle file named model.safetensors is refused, and loading it runs nothing."""
    import pickle  # only here, to build the hostile file

    class Boom:
        def __reduce__(self):
            return (Path(tmp_path / "PWNED").write_text, ("pickle ran",))

    model = tmp_path / "model"
    model.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (model / name).write_bytes((tiny_model_dir / name).read_bytes())
    (model / "model.safetensors").write_bytes(pickle.dumps(Boom()))
    from codefusion.model.pipeline import CodeFusionPipeline, ModelLoadError

    with pytest.raises(ModelLoadError, match="corrupt weights"):
        CodeFusionPipeline.from_dir(model, device="cpu")
    assert not (tmp_path / "PWNED").exists()


# --- dynamic: the real server under an audit hook -------------------------------------------------------

MARKER = f"codefusion-audit-{uuid.uuid4().hex[:8]}"


class Audited:
    def __init__(self, tmp: Path, model: Path) -> None:
        self.tmp, self.model = tmp, model
        self.pwned = tmp / "PWNED"
        self.log = tmp / "audit.jsonl"
        python = [f"open({str(self.pwned)!r}, 'w').write('{MARKER}')",
                  f"import os\nos.system('touch {self.pwned}')  # {MARKER}",
                  f"__import__('os').system('touch {self.pwned}')  # {MARKER}"]
        bash = [f"touch {self.pwned}  # {MARKER}", f"echo {MARKER} > {self.pwned}"]
        env = {"CODEFUSION_AUDIT_LOG": str(self.log), "CODEFUSION_AUDIT_MARKER": MARKER,
               "CODEFUSION_FAKE_MODEL": "fake-model",
               "CODEFUSION_FAKE_SAMPLES": json.dumps({"python": python, "bash": bash,
                                                      "cf": ["GreaterThan(500)", f"=CMD('{MARKER}')"]})}
        self.server = RawServer([sys.executable, str(Path(__file__).with_name("audited_server.py"))], env=env)

    def events(self, kind: str | None = None) -> list[dict]:
        rows = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [r for r in rows if kind is None or r["event"] == kind]


@pytest.fixture(scope="module")
def audited(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    a = Audited(tmp_path_factory.mktemp("audited"), tiny_model_dir)
    a.server.initialize(modelPath=str(tiny_model_dir), device="cpu", debounceMs=0, numCandidates=3, steps=2)
    assert a.server.wait_loaded()["state"] == "ready"
    yield a
    a.server.close()


def _session(server: RawServer, uri: str, line: int) -> list[dict]:
    """Completion, inline completion, code action (resolved): every way a candidate reaches the client."""
    where = {"textDocument": {"uri": uri}, "position": {"line": line, "character": 0}}
    replies = [server.request("textDocument/completion", where),
               server.request("textDocument/inlineCompletion", {**where, "context": {"triggerKind": 1}})]
    actions = server.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "context": {"diagnostics": []},
        "range": {"start": {"line": line - 1, "character": 2}, "end": {"line": line - 1, "character": 2}}})
    replies.append(actions)
    for action in actions.get("result") or [] if isinstance(actions, dict) else []:
        replies.append(server.request("codeAction/resolve", action))
    for reply in replies:
        assert isinstance(reply, dict) and "result" in reply, reply
    return replies


def test_generated_code_is_never_executed(audited: Audited):
    server = audited.server
    server.notify("workspace/didChangeConfiguration", {"settings": {"modelPath": str(audited.tmp / "fake-model")}})
    deadline_status = server.wait_loaded()
    assert deadline_status["state"] == "ready" and deadline_status["modelPath"].endswith("fake-model")
    server.open("file:///w/harm.py", "# write a file\n\n")
    server.open("file:///w/harm.sh", "# write a file\n\n", "shellscript")
    replies = _session(server, "file:///w/harm.py", 1) + _session(server, "file:///w/harm.sh", 1)
    book = make_workbook(audited.tmp / "harm.xlsx").as_uri()
    replies.append(server.request("workspace/executeCommand", {"command": "codefusion.cf.suggest", "arguments": [
        {"uri": book, "range": "A2:A7", "description": "write a file"}]}))
    assert MARKER in json.dumps(replies), "the harmful candidates did not reach the client"
    assert not audited.pwned.exists()
    # `exec` is raised by exec() and eval() of anything; `compile` events (ast.parse in validation) only parse
    assert audited.events("exec") == []
    assert [e for e in audited.events() if e["event"].startswith(("subprocess", "os."))] == []
    server.notify("workspace/didChangeConfiguration", {"settings": {"modelPath": str(audited.model)}})
    assert server.wait_loaded()["modelPath"] == str(audited.model)


def test_no_network_and_files_only_as_named(audited: Audited):
    server, tmp = audited.server, audited.tmp
    work = tmp / "workspace"
    work.mkdir()
    on_disk = work / "doc.py"
    on_disk.write_text("# this text is on disk only\n\n")
    book, other = make_workbook(work / "book.xlsx"), make_workbook(work / "other.xlsx")
    (work / "notes.txt").write_text("not a workbook")
    other_bytes = other.read_bytes()
    start = len(audited.events())

    server.open(on_disk.as_uri(), "# print hello\n\n")  # the client's text, not the file's
    _session(server, on_disk.as_uri(), 1)
    suggest = {"range": "A2:A7", "description": "above 500"}
    reply = server.request("workspace/executeCommand", {"command": "codefusion.cf.suggest",
                                                        "arguments": [{"uri": book.as_uri(), **suggest}]})
    assert "result" in reply, reply  # type: ignore[operator]
    reply = server.request("workspace/executeCommand", {"command": "codefusion.cf.apply", "arguments": [
        {"uri": book.as_uri(), "range": "A2:A7", "rule": "GreaterThan(500)"}]})
    assert "result" in reply, reply  # type: ignore[operator]
    refused = ["file:///etc/passwd", (work / "notes.txt").as_uri(), (work / "missing.xlsx").as_uri(),
               "file://evil.example.com/share/book.xlsx", "https://example.com/book.xlsx", "book.xlsx",
               "../book.xlsx", "file:book.xlsx"]
    for uri in refused:
        for command, extra in (("codefusion.cf.suggest", suggest), ("codefusion.cf.apply", {"rule": "Duplicate()"})):
            reply = server.request("workspace/executeCommand", {"command": command,
                                                                "arguments": [{"uri": uri, **extra}]})
            assert is_error(reply, -32602), (uri, reply)
    assert not (work / "missing.xlsx").exists()
    assert server.ping()

    events = audited.events()[start:]
    assert [e for e in events if e["event"] != "open"] == [], "network or process events"
    opened = {Path(e["detail"]["path"]).name for e in events
              if e["event"] == "open" and Path(e["detail"]["path"]).parent == work}
    written = {e["detail"]["path"] for e in events if e["event"] == "open" and e["detail"]["write"]}
    assert "doc.py" not in opened and "other.xlsx" not in opened and "notes.txt" not in opened
    assert "book.xlsx" in opened
    scratch = Path(tempfile.gettempdir())  # openpyxl's own scratch files (tempfile) while it saves

    def allowed(p: Path) -> bool:
        return p.parent == work and p.name.startswith(("book.xlsx", ".~cf-")) or scratch in (p, p.parent)

    assert all(allowed(Path(p)) for p in written), written
    assert {Path(p).name for p in written if Path(p).parent == work} >= {"book.xlsx.bak"}
    assert other.read_bytes() == other_bytes


def test_the_audit_hook_sees_what_it_forbids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The hook the dynamic tests rely on does log (and refuse) a connection, a process and an exec."""
    import importlib

    monkeypatch.setenv("CODEFUSION_AUDIT_LOG", str(tmp_path / "log.jsonl"))
    monkeypatch.setenv("CODEFUSION_AUDIT_MARKER", "m4rk")
    hook = importlib.import_module("audited_server")._hook
    with pytest.raises(PermissionError):
        hook("socket.connect", (None, ("192.0.2.1", 443)))
    with pytest.raises(PermissionError):
        hook("subprocess.Popen", ("touch", ["touch", "x"], None, None))
    hook("exec", (compile("'m4rk'", "<generated>", "eval"),))
    hook("exec", (compile("'other'", "<generated>", "eval"),))
    logged = [json.loads(line)["event"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert logged == ["socket.connect", "subprocess.Popen", "exec"]


def test_server_start_and_model_load_make_no_network_calls(audited: Audited):
    """The whole log, from interpreter start through model load and every request above."""
    network = [e for e in audited.events() if e["event"].startswith(("socket.", "urllib", "http"))]
    assert network == []


# --- limits ---------------------------------------------------------------------------------------------


def test_limits_reject_absurd_values():
    from codefusion.server.options import MAX_CANDIDATES, MAX_STEPS, MAX_TOKENS, ServerOptions, update_options

    defaults = ServerOptions()
    for key, value in [("numCandidates", MAX_CANDIDATES + 1), ("numCandidates", 10**12), ("steps", MAX_STEPS + 1),
                       ("steps", 0), ("maxTokens", MAX_TOKENS + 1), ("maxTokens", -5), ("debounceMs", 10**9),
                       ("numCandidates", True), ("steps", 1.5), ("maxTokens", "512")]:
        options, warnings = update_options(defaults, {key: value})
        assert getattr(options, key) == getattr(defaults, key) and warnings, (key, value)


def test_prompt_length_is_bounded():
    from codefusion.server.engine import MAX_PROMPT_CHARS, clean_prompt

    huge = "sort the list " * 1_000_000  # 14 MB
    assert len(clean_prompt(huge)) == MAX_PROMPT_CHARS
    assert clean_prompt("\ud800 x") == "? x"  # lone surrogates cannot reach the tokenizer
