"""The engine (no LSP): cache, cancellation, load errors; and the CLIs on top (ranking: test_ranking.py)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from codefusion.model.pipeline import SamplingCancelled
from codefusion.model.validate import validate
from codefusion.server.cli import doctor
from codefusion.server.cli import generate as cli_generate
from codefusion.server.cli.main import build_parser
from codefusion.server.engine import Engine, EngineNotReady, EngineState


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path) -> Engine:
    e = Engine(tiny_model_dir, device="cpu")
    e.load()
    return e


def test_generate_and_status(engine: Engine, tiny_model_dir: Path):
    got = engine.generate("list all files", "bash", k=3, steps=4)
    assert 1 <= len(got) <= 3 and [c.rank for c in got] == list(range(1, len(got) + 1))
    assert all(got[i].score >= got[i + 1].score for i in range(len(got) - 1))
    assert all(validate("bash", c.text) for c in got)  # only candidates that parse are served
    status = engine.status()
    assert status["state"] == "ready" and status["modelPath"] == str(tiny_model_dir)
    assert status["parameters"] > 0 and status["lastLatencyMs"] > 0


def test_cache_and_determinism(engine: Engine):
    first = engine.generate("sort the list x", "python", k=3, steps=4, seed=7)
    before = engine.generations
    assert engine.generate("  sort the list x ", "python", k=3, steps=4, seed=7) == first
    assert engine.generations == before and engine.cached("sort the list x", "python", k=3, steps=4, seed=7)
    fresh = Engine(engine.model_dir, device="cpu")
    assert fresh.generate("sort the list x", "python", k=3, steps=4, seed=7) == first  # lazy load, same seed


def test_batch_keeps_order(engine: Engine):
    prompts = ["print hello world", "sort the list x", "print hello world"]
    batch = engine.generate_batch(prompts, "python", k=2, steps=3, seed=1)
    assert len(batch) == 3 and batch[0] == batch[2]  # a repeated prompt is sampled once
    assert batch[1] == engine.generate("sort the list x", "python", k=2, steps=3, seed=1)  # now cached


def test_should_stop_cancels_sampling(engine: Engine):
    stop = threading.Event()
    stop.set()
    with pytest.raises(SamplingCancelled):
        engine.generate("mark duplicate values", "cf", k=2, steps=50, seed=3, should_stop=stop.is_set)


def test_bad_arguments(engine: Engine):
    with pytest.raises(ValueError, match="language"):
        engine.generate("x", "rust")
    with pytest.raises(ValueError):
        engine.generate("x", "python", k=0)


def test_broken_model_dir_names_the_problem(tmp_path: Path):
    e = Engine(tmp_path / "nope", device="cpu")
    with pytest.raises(EngineNotReady, match="nope"):
        e.load()
    assert e.state is EngineState.FAILED and "nope" in (e.status()["error"] or "")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(EngineNotReady, match="tokenizer|safetensors|weights"):
        Engine(tmp_path / "half").load()


# --- codefusion generate ------------------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    return int(args._module and __import__(args._module, fromlist=["run"]).run(args))


def test_generate_cli_contract(tiny_model_dir: Path, tmp_path: Path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [{"id": "a", "prompt": "list all files"}, {"id": 2, "prompt": "show disk usage"}]
    inp.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    flags = ["--k", "3", "--steps", "3", "--model", str(tiny_model_dir), "--device", "cpu", "--batch-size=1"]
    code = run_cli("generate", "--lang", "bash", *flags, "--input", str(inp), "--output", str(out))
    assert code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["a", 2]
    for line in lines:
        assert 1 <= len(line["candidates"]) <= 3 and len(set(line["candidates"])) == len(line["candidates"])


def test_generate_cli_rejects_bad_lines(tiny_model_dir: Path, tmp_path: Path, capsys):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": 1, "prompt": "ok"}\n{"id": 2}\n')
    code = run_cli("generate", "--lang", "python", "--input", str(inp), "--output", str(tmp_path / "o.jsonl"))
    assert code == 2 and "in.jsonl:2" in capsys.readouterr().err
    with pytest.raises(cli_generate.InputError, match=":1: not JSON"):
        inp.write_text("{oops\n")
        cli_generate.read_prompts(inp)


# --- codefusion doctor --------------------------------------------------------------------------------


def test_doctor_ok_and_broken(tiny_model_dir: Path, tmp_path: Path, capsys):
    assert run_cli("doctor", "--model", str(tiny_model_dir), "--device", "cpu") == 0
    assert "[ok  ] model loads" in capsys.readouterr().out
    assert run_cli("doctor", "--model", str(tmp_path / "missing")) == 1
    out = capsys.readouterr().out
    assert "[FAIL] weights" in out and "fix:" in out
    assert doctor.Check("x", True, "d").ok
