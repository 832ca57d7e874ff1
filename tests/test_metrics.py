"""Evaluation metrics on hand-made cases with known answers, retrieval, and `codefusion eval` end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from codefusion.model.evaluation import metrics as m
from codefusion.model.examples.retrieval import TfidfRetriever
from codefusion.server.cli.main import main as cli_main

# --- BLEU, exact match, token F1 --------------------------------------------------------------------


@pytest.mark.parametrize("code", ["x = foo(1, 'a')", "ls", "GreaterThan(500)", "a.sort()\nprint(a)"])
def test_bleu_of_identical_strings_is_100(code: str):
    assert m.sentence_bleu(code, code) == pytest.approx(100.0)
    assert m.corpus_bleu([code, code], [code, code]) == pytest.approx(100.0)


def test_bleu_known_values():
    assert m.sentence_bleu("", "x = 1") == 0.0
    assert m.sentence_bleu("a b c d", "e f g h") < 5  # nothing in common: only smoothing left
    # 3 tokens, same length; unigrams 2/3, bigrams 1/2, trigrams 0 → 0.1 (smoothing), no 4-grams
    assert m.sentence_bleu("x = 2", "x = 1") == pytest.approx(100 * (2 / 3 * 1 / 2 * 0.1) ** (1 / 3))
    # a prefix of the reference: every n-gram matches, only the brevity penalty costs
    assert m.sentence_bleu("a b c d", "a b c d e f g h") == pytest.approx(100 * math.exp(1 - 8 / 4))
    assert m.corpus_bleu(["a b c d e"], ["a b c d x"]) == pytest.approx(
        100 * (4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** (1 / 4)
    )


def test_python_exact_match_normalises():
    assert m.exact_match("python", "x=[1,2]", "x = [1, 2]")
    assert m.exact_match("python", "print('a')", 'print("a")')  # AST round trip unifies quotes
    assert not m.exact_match("python", "x = [1, 2]", "x = [2, 1]")


def test_token_f1():
    assert m.token_f1("a = b", "a = b") == 100.0
    assert m.token_f1("b = a", "a = b") == 100.0  # a bag of tokens: order is ignored (not CodeBLEU)
    assert m.token_f1("a", "a = b") == pytest.approx(100 * 2 * 1 * (1 / 3) / (1 + 1 / 3))
    assert m.token_f1("c", "a = b") == 0.0


# --- Bash ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "template"),
    [
        ('find . -name "*.txt" -exec rm {} \\;', "find ARG -name ARG -exec rm {} \\;"),
        ("ls -la | grep foo > out.txt 2>&1", "ls -la | grep ARG > ARG 2 >& 1"),
        ("du --max-depth=1 /var | sort -rn", "du --max-depth=ARG ARG | sort -rn"),
        ("cat $(ls *.c) && echo \"$HOME\"", "cat $( ls ARG ) && echo ARG"),
        ("find . -print0 | xargs -0 -n 1 rm -f", "find ARG -print0 | xargs -0 -n ARG rm -f"),
        ("sudo chown -R me /srv", "sudo chown -R ARG ARG"),
    ],
)
def test_bash_template(code: str, template: str):
    assert " ".join(m.bash_template(code)) == template


def test_template_match_holds_and_fails():
    # same utilities, flags and operators; only the arguments differ → the template matches
    assert m.template_match("find /tmp -name '*.log' -mtime +7 | xargs rm", "find . -name \"*.py\" -mtime 2 | xargs rm")
    # a flag differs → no match; a utility differs → no match
    assert not m.template_match("ls -l /tmp", "ls -la /tmp")
    assert not m.template_match("head -n 5 f", "tail -n 5 f")
    assert not m.template_match("cat a | sort", "cat a | sort | uniq")


def test_token_match():
    assert m.token_match("ls -la /tmp", "ls -la /var") == 100.0
    assert m.token_match("ls -l /tmp", "ls -la /tmp") == pytest.approx(50.0)  # {ls} shared of {ls, -la}
    assert m.token_match("cat a | sort", "cat a | sort | uniq") == pytest.approx(100 * 3 / 5)
    assert m.token_match("", "ls") == 0.0


# --- CF -------------------------------------------------------------------------------------------------

DATA = [["Index", "Value"], [0, "1"], [1, "5"], [2, "6"], [3, "10"], [4, "apple"], [5, ""]]


def test_cf_execution_match_counts_different_rules_that_highlight_the_same_cells():
    assert m.cf_execution_match("GreaterThan(5)", "GreaterThanEqual(6)", DATA)  # 6 and 10 both ways
    assert m.cf_execution_match("top(2)", "GreaterThan(5)", DATA)
    assert not m.cf_rule_match("GreaterThan(5)", "GreaterThanEqual(6)")
    assert not m.cf_execution_match("GreaterThan(4)", "GreaterThanEqual(6)", DATA)  # 4 < 5 adds the 5
    assert not m.cf_execution_match("GreaterThan(5", "GreaterThan(5)", DATA)  # does not parse


def test_cf_execution_match_fallbacks():
    # no cells to execute on: the normalised rule decides
    assert m.cf_execution_match("greaterthan( 5 )", "GreaterThan(5)", [])
    assert not m.cf_execution_match("GreaterThan(6)", "GreaterThan(5)", None)
    # a colour scale paints every number; a comparison that covers them all is still not a scale
    assert not m.cf_execution_match("GreaterThan(0)", "ColorScale()", DATA)
    assert m.cf_execution_match("colorscale()", "ColorScale()", DATA)


def test_cf_rule_match_normalises():
    assert m.cf_rule_match("and(greaterThan(1), lessthan(5))", "AND(GreaterThan(1),LessThan(5))")
    assert not m.cf_rule_match("GreaterThan(1)", "LessThan(1)")


# --- validity, diversity, top-k ------------------------------------------------------------------------


def test_validity():
    assert m.validity("python", ["x = 1", "x = (", "def f(): pass", ""]) == 50.0
    assert m.validity("cf", ["GreaterThan(5)", "Nonsense(("]) == 50.0
    assert m.validity("bash", []) == 0.0


def test_diversity_of_identical_candidates_is_zero():
    d = m.diversity("python", ["x = 1"] * 5)
    assert d.distinct == 1 and d.edit_distance == 0.0
    d = m.diversity("python", ["x=1", "x = 1"])  # equal after normalisation, and token for token
    assert d.distinct == 1 and d.edit_distance == 0.0


def test_diversity_edit_distance():
    # tokens: [x, =, 1], [x, =, 2], [y, =, 2, +, 3]: distances 1, 3, 4 → mean 8/3
    d = m.diversity("python", ["x = 1", "x = 2", "y = 2 + 3"])
    assert d.distinct == 3 and d.edit_distance == pytest.approx(8 / 3)
    assert m.token_edit_distance(["a", "b", "c"], ["a", "c"]) == 1


def test_top_k():
    scores = [[0.0, 100.0, 0.0], [100.0], [], [0.0, 0.0, 0.0, 0.0, 100.0]]
    assert m.top_k(scores, 1) == 25.0
    assert m.top_k(scores, 3) == 50.0
    assert m.top_k(scores, 5) == 75.0
    assert m.top_k([], 5) == 0.0


# --- retrieval ------------------------------------------------------------------------------------------


def test_retrieval_returns_the_training_example_for_its_own_prompt():
    prompts = ["list all files in the current folder", "count lines in a file", "show disk usage of home",
               "delete all log files older than a week", "count words in a file"]
    codes = ["ls -la", "wc -l file", "du -sh ~", "find . -name '*.log' -mtime +7 -delete", "wc -w file"]
    r = TfidfRetriever(prompts, codes)
    for prompt, code in zip(prompts, codes, strict=True):
        got = r.retrieve(prompt, 3)
        assert got[0].code == code and got[0].score == pytest.approx(1.0)
        assert len(got) == 3 and got[0].score >= got[1].score >= got[2].score
    assert [x.code for x in r.retrieve("count lines", 2)] == ["wc -l file", "wc -w file"]
    assert len(r.retrieve("zzz unknown words", 5)) == 5  # nothing in common: still k candidates


def test_retrieval_on_the_real_training_split():
    from codefusion.model.training.data import load_pairs

    pairs, _ = load_pairs("cf", "train")
    r = TfidfRetriever.from_pairs(pairs)
    for pair in pairs[:20]:
        top = r.retrieve(pair.prompt, 5)
        assert top[0].score == pytest.approx(1.0)
        # identical prompts may carry different rules: the example's own rule is among the best ones
        best = [x.code for x in top if x.score == pytest.approx(1.0)]
        assert pair.code in best or len(best) == 5


# --- end to end --------------------------------------------------------------------------------------


def test_codefusion_eval_end_to_end(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "cf.json"
    rc = cli_main(["eval", "--lang", "cf", "--model", str(tiny_model_dir), "--limit", "3", "--steps", "2",
                   "--device", "cpu", "--out", str(out)])
    assert rc == 0
    assert "execution match" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["lang"] == "cf" and result["system"] == "diffusion" and result["prompts"] == 3
    assert set(result["metrics"]) == {"execution_match", "rule_match"}
    assert set(result["metrics"]["execution_match"]) == {"top1", "top3", "top5"}
    assert 0 <= result["validity_raw"] <= 100 and 3 * 5 <= result["raw_samples"] <= 3 * 5 * 2  # k, or k · oversample
    assert len(result["predictions"]) == 3 and all(len(p["served"]) <= 5 for p in result["predictions"])
    assert result["command"] == "codefusion eval --lang cf --steps 2 --limit 3 --seed 0"
    assert result["steps"] == 2 and result["sampler"]["kernel"] == "diffusion"  # the steps asked for; its kernel


def test_codefusion_eval_int8(tiny_model_dir: Path, tmp_path: Path):
    out = tmp_path / "bash-int8.json"
    assert cli_main(["eval", "--lang", "bash", "--model", str(tiny_model_dir), "--limit", "2", "--steps", "2",
                     "--device", "cpu", "--quantize", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["quantize"] is True and result["command"].endswith("--quantize") and result["prompts"] == 2


def test_codefusion_eval_records_a_sampler_only_for_the_diffusion_systems(tiny_baseline_dir: Path, tmp_path: Path):
    from codefusion.server.engine import Engine

    out = tmp_path / "ar.json"
    assert cli_main(["eval", "--lang", "cf", "--system", "ar", "--ar-model", str(tiny_baseline_dir), "--limit", "2",
                     "--device", "cpu", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["system"] == "ar" and "sampler" not in result and result["steps"] is None
    assert Engine(tiny_baseline_dir, device="cpu").sampler("cf") == {"kernel": "ar"}  # no denoising steps


def test_codefusion_eval_steps_curve_with_chosen_steps(tiny_model_dir: Path, tmp_path: Path):
    rc = cli_main(["eval", "--steps-curve", "--curve-steps", "1,3", "--curve-limit", "2", "--model",
                   str(tiny_model_dir), "--device", "cpu", "--docs", str(tmp_path), "--jobs", "1"])
    assert rc == 0
    points = json.loads((tmp_path / "steps_vs_quality.json").read_text())
    assert {(p["lang"], p["steps"]) for p in points} == {(lang, s) for lang in ("python", "bash", "cf") for s in (1, 3)}
    assert all(p["latency_ms_median"] > 0 for p in points)
    assert (tmp_path / "steps_vs_quality.png").read_bytes()[:4] == b"\x89PNG"
    for bad in ("0,2", "two"):
        with pytest.raises(SystemExit):
            cli_main(["eval", "--steps-curve", "--curve-steps", bad])


def test_codefusion_eval_retrieval_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "bash.json"
    assert cli_main(["eval", "--lang", "bash", "--baseline", "retrieval", "--limit", "20", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["prompts"] == 20 and result["subsample_seed"] == 0
    assert result["validity_served"] >= 90 and result["metrics"]["token_match"]["top5"] > 0
    assert cli_main(["eval", "--lang", "bash", "--k", "0"]) == 2
    assert cli_main(["eval"]) == 2
    assert cli_main(["eval", "--lang", "cf", "--model", str(tmp_path / "missing")]) == 1
    assert "cannot load the model" in capsys.readouterr().err


def test_subsample_is_nested_and_ordered():
    from codefusion.server.cli.eval_runs import subsample

    items = list(range(100))
    small, large = subsample(items, 10, 3), subsample(items, 30, 3)
    assert set(small) <= set(large) and small == sorted(small) and len(small) == 10
    assert subsample(items, 10, 3) == small and subsample(items, None, 3) == items


def test_report_tables_and_plot(tmp_path: Path):
    from codefusion.server.cli.report import markdown_report, plot_steps_curve, text_table

    def record(system: str, top1: float, top5: float) -> dict:
        return {"lang": "cf", "system": system, "label": system, "prompts": 10, "prompts_in_split": 66, "seed": 0,
                "k": 5, "model": None, "metrics": {"execution_match": {"top1": top1, "top3": top5, "top5": top5},
                                                   "rule_match": {"top1": 0.0, "top3": 0.0, "top5": 0.0}},
                "validity_raw": 90.0, "validity_served": 100.0, "distinct_served": 4.5, "edit_distance": 2.0,
                "ms_per_prompt": 12.0, "execution_fallbacks": 1, "command": f"codefusion eval --lang cf ({system})"}

    results = [record("diffusion", 30.0, 60.0), record("ar", 40.0, 50.0),
               {"lang": "cf", "system": "ar-beam", "label": "beam", "error": "model not loaded", "command": "x"}]
    curve = [{"lang": "cf", "metric": "execution_match", "steps": s, "prompts": 4, "top1": 10.0 * i, "top5": 20.0,
              "latency_ms_median": 5.0 * s} for i, s in enumerate((1, 10, 200))]
    md = markdown_report(results, curve, 60.0)
    assert "## cf, subsample of 10 of 66 prompts (seed 0)" in md
    assert "| diffusion | 30.0 / 60.0 / 60.0 |" in md and "not run: model not loaded" in md
    assert "top-1 30.0 vs 40.0, top-5 60.0 vs 50.0" in md and "`codefusion eval --lang cf (ar)`" in md
    assert "| cf | execution match | 200 | 20.0 | 20.0 | 1000 |" in md
    assert "execution match 30.0 / 60.0 / 60.0" in text_table(results)
    plot_steps_curve(curve, tmp_path / "curve.png", 5)
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_engine_sample_batch_is_what_generate_batch_serves(tiny_model_dir: Path):
    from codefusion.server.engine import Engine
    from codefusion.server.ranking import needs_top_up

    engine = Engine(tiny_model_dir, device="cpu")
    raw = engine.sample_batch(["list all files", "show disk usage"], "bash", k=3, steps=2, seed=5)
    # k samples first; k · oversample only where the first k did not give 3 distinct valid candidates
    for rows in raw:
        assert len(rows) == (3 * engine.oversample if needs_top_up("bash", rows[:3], 3) else 3)
    served = engine.generate_batch(["list all files", "show disk usage"], "bash", k=3, steps=2, seed=5)
    assert served == [engine.rank("bash", r, 3) for r in raw]
    with pytest.raises(ValueError):
        engine.sample_batch(["x"], "cobol")
