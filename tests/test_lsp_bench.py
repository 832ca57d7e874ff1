"""The latency benchmark runs end to end against the real server (figures themselves are not judged)."""

from __future__ import annotations

from codefusion.server.cli.lsp_bench import measure, percentile, report


def test_percentile():
    assert percentile([5, 1, 3], 50) == 3 and percentile([1, 2, 3, 4, 100], 95) == 100


def test_bench_through_the_server(tiny_model_dir):
    figures = measure(str(tiny_model_dir), device="cpu", requests=2, k=5)
    assert figures["requests"] == 2 and figures["p50_ms"] > 0 and figures["p95_ms"] >= figures["p50_ms"]
    assert "p50" in report(figures) and "p95" in report(figures)
    # from spawn: the initialize answer, then the first items (served before or once everything is loaded)
    assert 0 < figures["initialize_ms"] < figures["first_items_ms"]
    assert "first items" in report(figures)
    assert figures["status"]["options"]["debounceMs"] == 150  # the defaults a user gets, not debounce 0
    # the completions asked once loaded (the 2 timed and a warm-up), and how many the model wrote where counted
    assert figures["completions"] == 3
    assert figures["model_runs"] is None or 0 <= figures["model_runs"] <= 3
    assert figures["model_ranks"] is not None and 0 <= figures["model_ranks"] <= 3
    assert "completions asked" in report(figures)
