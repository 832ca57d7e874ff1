"""`codefusion bench --quick` runs end to end on tiny models and writes the figures (their values are not judged)."""

from __future__ import annotations

import json

import pytest
from codefusion.model.pipeline import DEFAULT_STEPS
from codefusion.server.cli.main import main


@pytest.fixture(scope="module")
def tiny_masked_dir(tiny_model_dir, tmp_path_factory):
    """A random masked-kernel model with the tiny model's config and tokenizer, syntax repair on."""
    from codefusion.model.modelfile import load_tokenizer, read_config, save_model_dir
    from codefusion.model.networks import MaskedDiffusionNet

    _, cfg = read_config(tiny_model_dir)
    out = tmp_path_factory.mktemp("tiny-masked")
    save_model_dir(out, MaskedDiffusionNet(cfg).eval(), cfg, load_tokenizer(tiny_model_dir, cfg), half=False,
                   kind="masked")
    (out / "sampler.json").write_text('{"steps": 4, "repair_rounds": 1}')
    return out


def test_quick_bench_writes_json_and_markdown(tiny_model_dir, tiny_masked_dir, tiny_baseline_dir, tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--model", str(tiny_model_dir), "--masked-model", str(tiny_masked_dir),
            "--baseline-model", str(tiny_baseline_dir), "--out", str(out)]
    assert main(argv) == 0
    figures = json.loads(out.read_text())
    assert figures["errors"] == []
    assert {"date", "machine", "models", "plan", "load", "in_process", "ratios", "engine", "lsp"} <= set(figures)
    assert figures["machine"]["nproc"] >= 1 and figures["machine"]["torch"]
    methods = {(r["method"], r["precision"]) for r in figures["in_process"]}
    assert {("diffusion", "fp32"), ("diffusion", "int8"), ("masked", "fp32"), ("masked", "int8"), ("sample", "fp32"),
            ("sample-kv", "fp32"), ("beam", "fp32")} <= methods
    assert {r["steps"] for r in figures["in_process"] if r["method"] == "masked"} == {4}  # its sampler.json's
    assert figures["plan"]["masked_steps"] == 4 and figures["plan"]["masked_repair_rounds"] == 1
    for row in figures["in_process"] + figures["engine"] + figures["lsp"]:
        assert row["p50_ms"] > 0 and row["p95_ms"] >= row["p50_ms"]
    assert all(r["ar_sample_over_diffusion"] > 0 for r in figures["ratios"])
    assert {r["kernel"] for r in figures["ratios"]} == {"diffusion", "masked"}  # AR ÷ each kernel, same run
    assert figures["headline"]["masked_in_process_fp32_p50_ms"] > 0
    assert figures["headline"]["ar_sample_kv_over_masked_fp32"] > 0
    lsp = figures["lsp"][0]
    assert lsp["initialize_ms"] > 0 and lsp["ready_ms"] >= lsp["initialize_ms"] and lsp["rss_mb"] > 0
    assert 0 <= figures["int8_token_agreement"] <= 1
    opt = {(r["method"], r["steps"]) for r in figures["optimisations"]}
    assert opt == {(m, s) for m in ("naive", "optimised") for s in (DEFAULT_STEPS, 10)}
    assert all(r["p50_ms"] > 0 for r in figures["optimisations"])
    assert all(0 <= r["top_up_share"] <= 1 for r in figures["engine"])
    assert {r["lang"] for r in figures["engine"]} == {"python", "cf"}  # CF as served is timed too
    md = out.with_suffix(".md").read_text()
    assert "| diffusion |" in md and "| masked |" in md and "| masked (4) |" in md and "| naive |" in md
    assert "p50" in capsys.readouterr().out


def test_bench_never_fails_on_a_missing_model(tmp_path):
    out = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--model", str(tmp_path / "nothing"), "--masked-model", str(tmp_path / "none"),
            "--no-lsp", "--out", str(out)]
    assert main(argv) == 0
    figures = json.loads(out.read_text())
    assert figures["errors"] and not [r for r in figures["in_process"] if r["method"] == "diffusion"]
