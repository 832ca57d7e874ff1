"""`codefusion-lsp` under a Python audit hook, for test_security.py: `python tests/audited_server.py`.

Environment:
- CODEFUSION_AUDIT_LOG: a file; every network, process, file-open and code-execution event the server
  raises is written there as one JSON line. Network and process events are also refused (raised).
- CODEFUSION_FAKE_MODEL: a folder name; a model path ending in it loads a fake pipeline whose samples
  are the JSON list in CODEFUSION_FAKE_SAMPLES (code that would do harm if anything ran it).

The hook is installed before the server is imported, so it sees everything the server does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

_log = open(os.environ["CODEFUSION_AUDIT_LOG"], "a", buffering=1)  # opened before the hook: not logged
_MARKER = os.environ.get("CODEFUSION_AUDIT_MARKER", "")
_REFUSED = ("socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname",
            "socket.gethostbyaddr", "socket.sendto", "urllib.Request", "http.client.connect",
            "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "pty.spawn")


def _write(event: str, detail: Any) -> None:
    _log.write(json.dumps({"event": event, "detail": detail}, default=repr) + "\n")


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event.startswith(_REFUSED) or (event.startswith("socket.") and event != "socket.__new__"):
        _write(event, [repr(a)[:200] for a in args])
        if event.startswith(_REFUSED):
            raise PermissionError(f"audited server: {event} refused")
    elif event == "open":
        path, mode, flags = args
        write = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND))
        if isinstance(path, str | bytes):
            _write("open", {"path": os.fsdecode(path), "write": bool(write)})
    elif event in ("exec", "compile") and _MARKER:
        source = args[0]
        text = repr(getattr(source, "co_consts", source))
        if _MARKER in text:
            _write(event, text[:300])


def _fake_pipeline() -> None:
    """Make model paths ending in CODEFUSION_FAKE_MODEL load a pipeline that returns fixed samples."""
    from codefusion.model import pipeline

    name = os.environ.get("CODEFUSION_FAKE_MODEL")
    samples = json.loads(os.environ.get("CODEFUSION_FAKE_SAMPLES", "{}"))
    if not name:
        return
    real = pipeline.CodeFusionPipeline.from_dir.__func__  # type: ignore[attr-defined]

    class FakePipeline:
        device = "cpu"
        kind = "diffusion"
        edits = False  # not an edit model (CodeFusionPipeline.edits)
        runs = 0  # sampler calls (CodeFusionPipeline.runs: the engine's modelRuns)
        judged = 0  # calls that judged given codes (CodeFusionPipeline.judged: the engine's modelRanks)

        def num_parameters(self) -> int:
            return 0

        def sample(self, prompts: list[str], lang: str, *, k: int, **_: Any) -> list[list[pipeline.Sample]]:
            texts = samples.get(lang, ["pass"])
            self.runs += 1
            return [[pipeline.Sample(texts[i % len(texts)], -float(i), []) for i in range(k)] for _ in prompts]

    def from_dir(cls, model_dir: Any = None, device: str = "auto", quantize: bool = False) -> Any:
        if model_dir is not None and Path(model_dir).name == name:
            return FakePipeline()
        return real(cls, model_dir, device, quantize)

    pipeline.CodeFusionPipeline.from_dir = classmethod(from_dir)  # type: ignore[method-assign]
    from codefusion.model import modelfile

    real_config = modelfile.read_config

    def read_config(model_dir: Any) -> Any:  # the engine reads the folder's kind before its weights load
        if Path(model_dir).name == name:
            return FakePipeline.kind, None
        return real_config(model_dir)

    modelfile.read_config = read_config  # type: ignore[assignment]


if __name__ == "__main__":
    sys.addaudithook(_hook)
    _fake_pipeline()
    from codefusion.server.lsp.server import main

    sys.exit(main(sys.argv[1:]))
