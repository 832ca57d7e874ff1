"""`codefusion bench --quick` runs end to end on tiny models and writes the figures (their values are not judged)."""

from __future__ import annotations

import json

from codefusion.model.pipeline import DEFAULT_STEPS
from codefusion.server.cli.main import main


def test_quick_bench_writes_json_and_markdown(tiny_model_dir, tiny_baseline_dir, tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--model", str(tiny_model_dir), "--baseline-model", str(tiny_baseline_dir),
            "--out", str(out)]
    assert main(argv) == 0
    figures = json.loads(out.read_text())
    assert figures["errors"] == []
    assert {"date", "machine", "models", "plan", "load", "in_process", "ratios", "engine", "lsp"} <= set(figures)
    assert figures["machine"]["nproc"] >= 1 and figures["machine"]["torch"]
    methods = {(r["method"], r["precision"]) for r in figures["in_process"]}
    assert {("diffusion", "fp32"), ("diffusion", "int8"), ("sample", "fp32"), ("sample-kv", "fp32"),
            ("beam", "fp32")} <= methods
    for row in figures["in_process"] + figures["engine"] + figures["lsp"]:
        assert row["p50_ms"] > 0 and row["p95_ms"] >= row["p50_ms"]
    assert all(r["ar_sample_over_diffusion"] > 0 for r in figures["ratios"])
    lsp = figures["lsp"][0]
    assert lsp["initialize_ms"] > 0 and lsp["ready_ms"] >= lsp["initialize_ms"] and lsp["rss_mb"] > 0
    assert 0 <= figures["int8_token_agreement"] <= 1
    opt = {(r["method"], r["steps"]) for r in figures["optimisations"]}
    assert opt == {(m, s) for m in ("naive", "optimised") for s in (DEFAULT_STEPS, 10)}
    assert all(r["p50_ms"] > 0 for r in figures["optimisations"])
    assert all(0 <= r["top_up_share"] <= 1 for r in figures["engine"])
    assert {r["lang"] for r in figures["engine"]} == {"python", "cf"}  # CF as served is timed too
    md = out.with_suffix(".md").read_text()
    assert "| diffusion |" in md and "| naive |" in md
    assert "p50" in capsys.readouterr().out


def test_bench_never_fails_on_a_missing_model(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--model", str(tmp_path / "nothing"), "--no-lsp", "--out", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["errors"] and not [r for r in figures["in_process"] if r["method"] == "diffusion"]
