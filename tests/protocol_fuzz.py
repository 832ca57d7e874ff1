"""Protocol fuzzing: hypothesis strategies for what a broken or hostile client may send, and a runner that
sends each case to the real server over stdio and checks that it lives and answers every request.

Used by `test_fuzz_protocol.py` (a few hundred cases in `make test`) and `stress/` (thousands).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonrpc_raw import DEAD, RawServer, dumps, frame, is_answer

FAST = {"device": "cpu", "debounceMs": 0, "numCandidates": 1, "steps": 2}
RESET = {"numCandidates": 1, "steps": 2, "maxTokens": None, "seed": 0, "debounceMs": 0,
         "enabledLanguages": ["python", "bash"]}
DOC_URIS = ["file:///w/fuzz.py", "file:///w/fuzz.sh", "file:///w/emoji.py"]
DOCS = {
    "file:///w/fuzz.py": ("python", "import os\n\ndef main():\n    # list the files\n    \n"),
    "file:///w/fuzz.sh": ("shellscript", "#!/bin/bash\n# count lines\n\n"),
    "file:///w/emoji.py": ("python", "x = '😀😀'\n# make a list 😀 of squares\n\n"),
}
FUZZ_URIS = ["file:///w/scratch.py", "file:///w/scratch.sh", "file:///w/%F0%9F%98%80.py", "untitled:1"]
METHODS = [
    "textDocument/completion", "textDocument/inlineCompletion", "textDocument/codeAction",
    "codeAction/resolve", "workspace/executeCommand",
]
COMMANDS = ["codefusion.status", "codefusion.cf.suggest", "codefusion.cf.apply", "codefusion.nope", ""]
NOTIFICATIONS = [
    "textDocument/didOpen", "textDocument/didChange", "textDocument/didClose",
    "workspace/didChangeConfiguration", "$/cancelRequest", "$/setTrace", "$/unknown", "unknown/notification",
]
# Options the fuzzer may set: not modelPath/device (a reload is a fault test) nor slow sampling settings.
SAFE_OPTION_KEYS = ["numCandidates", "seed", "enabledLanguages", "debounceMs", "colour", "steps", "maxTokens"]

# --- values -------------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(["", "\ud800", "\udfff x", "file:///etc/passwd", "😀", "\x00"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
near = st.integers(0, 5)  # where the prompts are: most positions land on or near them
lines = st.one_of(near, near, near, st.integers(-3, 2**33), st.sampled_from([2**31 - 1, 2**31, -(2**31)]))
# On the blank line under each DOCS prompt, on the comment itself, inside a surrogate pair, past the end.
PROMPT_POSITIONS = st.sampled_from([(4, 4), (4, 0), (3, 8), (2, 0), (1, 3), (2, 1), (0, 6), (1, 99)])
texts = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["# print hello\n\n", "def f():\n    \"\"\"Add two numbers.\"\"\"\n", "# a \ud800 b\n\n",
                     "# " + "x" * 5000 + "\n\n", "\r\n# crlf\r\n\r\n", "😀" * 50 + "\n# q\n"]),
)


def position(line: int, character: int) -> dict[str, int]:
    return {"line": line, "character": character}


def rng(line: int, character: int, line2: int, character2: int) -> dict[str, Any]:
    return {"start": position(line, character), "end": position(line2, character2)}


def template(method: str, uri: str, line: int, character: int, command: str, workbook: str) -> Any:
    """Well-formed params for one request; the mutations below break them."""
    doc = {"uri": uri}
    if method in ("textDocument/completion", "textDocument/inlineCompletion"):
        params: dict[str, Any] = {"textDocument": doc, "position": position(line, character)}
        if method.endswith("inlineCompletion"):
            params["context"] = {"triggerKind": 1}
        return params
    if method == "textDocument/codeAction":
        return {"textDocument": doc, "range": rng(line, character, line, character),
                "context": {"diagnostics": []}}
    if method == "codeAction/resolve":
        return {"title": "Generate", "kind": "refactor.rewrite.codefusion",
                "data": {"uri": uri, "line": line, "version": 1, "index": character}}
    args: Any = None
    if command == "codefusion.cf.suggest":
        args = [{"uri": workbook, "sheet": "Sales", "range": "A2:A7", "description": "above 500", "k": line}]
    elif command == "codefusion.cf.apply":
        args = [{"uri": workbook, "range": "A2:A7", "rule": "GreaterThan(500)", "style": "fill=#FFC7CE"}]
    return {"command": command, "arguments": args}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path inside a JSON value."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += paths(item, (*prefix, i))
    return out


def mutate(value: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return copy


# --- cases --------------------------------------------------------------------------------------------


@dataclass
class Case:
    kind: str
    data: bytes
    expect: list[Any] = field(default_factory=list)  # request ids that must be answered
    pad: int = 0  # bytes the frame claims beyond its body (sent as spaces afterwards)
    resync: bool = False  # framing may be broken: end the line, then ping until answered


@st.composite
def request_cases(draw: st.DrawFn, workbook: str) -> Case:
    method = draw(st.sampled_from(METHODS))
    uri = draw(st.sampled_from(DOC_URIS + FUZZ_URIS + ["", "file:///no/such.py", "%%%", "file:///w/a.py?x#y"]))
    line, character = draw(st.one_of(PROMPT_POSITIONS, st.tuples(lines, lines)))
    params = template(method, uri, line, character, draw(st.sampled_from(COMMANDS)), workbook)
    how = draw(st.sampled_from(["keep", "keep", "replace", "replace", "delete", "whole", "omit"]))
    where = paths(params)
    omit = how == "omit"
    if how in ("replace", "delete") and where:
        path = draw(st.sampled_from(where))
        params = mutate(params, path, draw(json_values), delete=how == "delete")
    elif how == "whole":
        params = draw(json_values)
    msg_id = draw(st.one_of(st.integers(1, 2**53), st.text(min_size=1, max_size=10)))
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if not omit:
        message["params"] = params
    return Case(f"request {method}", frame(dumps(message)), expect=[msg_id])


@st.composite
def notification_cases(draw: st.DrawFn) -> Case:
    method = draw(st.sampled_from(NOTIFICATIONS))
    uri = draw(st.sampled_from(FUZZ_URIS))
    if method == "textDocument/didOpen":
        params: Any = {"textDocument": {"uri": uri, "languageId": draw(st.sampled_from(["python", "shellscript",
                       "bash", "plaintext", ""])), "version": draw(lines), "text": draw(texts)}}
    elif method == "textDocument/didChange":
        change: dict[str, Any] = {"text": draw(texts)}
        if draw(st.booleans()):
            change["range"] = rng(draw(lines), draw(lines), draw(lines), draw(lines))
        params = {"textDocument": {"uri": uri, "version": draw(lines)}, "contentChanges": [change]}
    elif method == "textDocument/didClose":
        params = {"textDocument": {"uri": uri}}
    elif method == "workspace/didChangeConfiguration":
        keys = draw(st.lists(st.sampled_from(SAFE_OPTION_KEYS), max_size=3))
        settings_: dict[str, Any] = {}
        for key in keys:  # slow settings only out of range (rejected), so sampling stays fast
            settings_[key] = draw(json_values if key not in ("steps", "maxTokens", "numCandidates")
                                  else st.sampled_from([0, -1, 10**9, "5", None, 1.5]))
        params = {"settings": {"codefusion": settings_}}
    elif method == "$/cancelRequest":
        params = {"id": draw(st.one_of(st.integers(), st.text(max_size=5)))}
    else:
        params = draw(json_values)
    if draw(st.integers(0, 4)) == 0:
        params = draw(json_values)
    return Case(f"notification {method}", frame(dumps({"jsonrpc": "2.0", "method": method, "params": params})))


@st.composite
def frame_cases(draw: st.DrawFn) -> Case:
    """Broken framing and broken JSON: the server must skip it and keep reading."""
    body = draw(st.one_of(
        st.binary(max_size=64),
        st.sampled_from([b"{", b"[]", b"[1,2]", b"null", b"42", b'"x"', b"{}", b'{"jsonrpc":"2.0"}',
                         b'{"jsonrpc":"1.0","id":1,"method":"x"}', b'{"id":2,"method":"shutdown"}',
                         b'{"jsonrpc":"2.0","id":null,"method":"textDocument/completion"}',
                         b'{"jsonrpc":"2.0","method":"$/cancelRequest"}', b"\xff\xfe{}", b"{\"a\": NaN}",
                         b'{"jsonrpc":"2.0","id":{"a":1},"method":"workspace/executeCommand"}',
                         b'{"jsonrpc":"2.0","id":3,"result":null}', b'{"jsonrpc":"2.0","id":4,"error":{}}']),
        json_values.map(lambda v: json.dumps(v).encode()),
    ))
    header = draw(st.sampled_from(["ok", "ok", "none", "lower", "lf", "junk", "content-type", "twice", "nan",
                                   "short", "long", "zero"]))
    n = len(body)
    heads = {
        "ok": b"Content-Length: %d\r\n\r\n" % n, "none": b"\r\n", "lower": b"content-length: %d\r\n\r\n" % n,
        "lf": b"Content-Length: %d\n\n" % n, "junk": b"X-Junk: \xff\r\nContent-Length: %d\r\n\r\n" % n,
        "content-type": b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" % n,
        "twice": b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n" % n, "nan": b"Content-Length: abc\r\n\r\n",
        "short": b"Content-Length: %d\r\n\r\n" % max(1, n // 2), "long": b"Content-Length: %d\r\n\r\n" % (n + 17),
        "zero": b"Content-Length: 0\r\n\r\n",
    }
    return Case(f"frame {header}", heads[header] + body, pad=17 if header == "long" else 0, resync=True)


def cases(workbook: str) -> st.SearchStrategy[Case]:
    return st.one_of(request_cases(workbook), request_cases(workbook), notification_cases(), frame_cases())


# --- running ------------------------------------------------------------------------------------------


@dataclass
class Figures:
    cases: int = 0
    requests: int = 0
    results: int = 0
    with_items: int = 0  # results carrying completion items or code actions
    errors: Counter[int] = field(default_factory=Counter)  # JSON-RPC error code -> count
    crashes: int = 0
    unanswered: int = 0
    resyncs: int = 0  # pings eaten by a broken frame before the server answered again
    failures: list[str] = field(default_factory=list)

    def line(self, area: str) -> str:
        errors = sum(self.errors.values())
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(self.errors.items()))
        return (f"{area}: cases tried {self.cases}, requests {self.requests}, results {self.results} "
                f"({self.with_items} with items), "
                f"errors returned {errors} ({codes}), unanswered {self.unanswered}, crashes {self.crashes}")


def start_server(model_dir: str) -> RawServer:
    server = RawServer()
    server.initialize(modelPath=model_dir, **FAST)
    status = server.wait_loaded()
    assert status["state"] == "ready", status
    for uri, (language, text) in DOCS.items():
        server.open(uri, text, language)
    return server


def run_case(server: RawServer, case: Case, figures: Figures, timeout: float = 300.0) -> None:
    figures.cases += 1
    server.write(case.data + b" " * case.pad)
    for msg_id in case.expect:
        figures.requests += 1
        reply = server.wait(msg_id, timeout)
        if reply == DEAD:
            figures.crashes += 1
        elif not is_answer(reply):
            figures.unanswered += 1
            figures.failures.append(f"{case.kind}: {reply!r} for {case.data[:300]!r}")
        elif isinstance(reply, dict) and "error" in reply:
            figures.errors[reply["error"]["code"]] += 1
        else:
            figures.results += 1
            result = reply.get("result") if isinstance(reply, dict) else None
            figures.with_items += bool(isinstance(result, dict) and result.get("items")
                                       or isinstance(result, list) and result)
    if case.kind == "notification workspace/didChangeConfiguration":  # back to fast, all languages on
        server.notify("workspace/didChangeConfiguration", {"settings": {"codefusion": RESET}})
    if case.resync:
        for wait in (5, 10, 30, 120):  # short first: a ping eaten by the broken frame is never answered
            server.write(b"\r\n")  # ends a line the broken frame left open; a blank line is a no-op
            if server.ping(timeout=wait):
                break
            figures.resyncs += 1
        else:
            figures.unanswered += 1
            figures.failures.append(f"{case.kind}: no answer after it: {case.data[:300]!r}")
    if not server.alive():
        figures.crashes += 1
        figures.failures.append(f"{case.kind}: server died: {case.data[:300]!r}\n{server.stderr_text()[-3000:]}")


def fuzz(server: RawServer, workbook: str, examples: int, figures: Figures) -> None:
    """Send `examples` generated cases (a fixed, derandomized sequence) and tally what came back."""

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],  # no shrinking: a dead server fails every retry
              suppress_health_check=list(HealthCheck))
    @given(case=cases(workbook))
    def one(case: Case) -> None:
        if figures.crashes:
            return
        run_case(server, case, figures)

    one()

