"""Per-language early stopping on dev loss: the stopper's rule, its saved state, the live batch shares, and a
real `codefusion train finetune --early-stop-patience` run of a tiny masked model on the project's data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from codefusion.model.training.corpus import Example, batch_stream
from codefusion.model.training.early_stop import STATE_FILE, EarlyStopper, seed_history
from tiny_model import cf_tokenizer, tiny_cfg


def test_a_language_not_better_for_patience_evaluations_keeps_only_the_floor_of_its_share(tmp_path):
    shares = {"python": 0.2, "bash": 0.7, "cf": 0.1}
    kept: list[tuple[str, int]] = []
    stopper = EarlyStopper(tmp_path, shares, patience=2, floor=0.1,
                           keep_best=lambda lang, step: kept.append((lang, step)))
    stopper.update(1000, {"python": 5.0, "bash": 5.0, "cf": 2.0})
    out = stopper.update(2000, {"python": 4.9, "bash": 4.8, "cf": 2.1})
    assert out["improved"] == ["python", "bash"] and out["stopped"] == []
    out = stopper.update(3000, {"python": 5.1, "bash": 4.7, "cf": 2.2})
    assert out["stopped"] == ["cf"]  # 2.1 and 2.2 after its best of 2.0: two evaluations without a gain
    assert shares == {"python": 0.2, "bash": 0.7, "cf": pytest.approx(0.01)}  # changed in place, the others kept
    assert kept == [("python", 1000), ("bash", 1000), ("cf", 1000), ("python", 2000), ("bash", 2000), ("bash", 3000)]
    # a later gain does not restart a stopped language, and the stop is not announced twice
    assert stopper.update(4000, {"python": 5.2, "bash": 4.6, "cf": 1.9})["stopped"] == ["python"]
    assert stopper.langs["cf"].best_step == 4000 and stopper.langs["cf"].stopped_at == 3000

    # the state is saved: a resumed run starts with the lowered shares and the same bests
    again = {"python": 0.2, "bash": 0.7, "cf": 0.1}
    resumed = EarlyStopper(tmp_path, again, patience=2, floor=0.1)
    assert again == {"python": pytest.approx(0.02), "bash": 0.7, "cf": pytest.approx(0.01)}
    assert resumed.langs["bash"].best == 4.6 and resumed.langs["bash"].stale == 0


def test_seeding_the_state_from_an_earlier_curve(tmp_path):
    curve = [{"step": 1000, "python": 5.3, "bash": 5.1, "cf": 2.15},
             {"step": 2000, "python": 5.2, "bash": 5.0, "cf": 2.16},
             {"step": 3000, "python": 5.5, "bash": 4.9, "cf": 2.2}, {"step": 4000, "python": 5.0, "bash": 4.5}]
    state = seed_history(tmp_path, curve, patience=2)
    assert state["cf"] == {"best": 2.15, "best_step": 1000, "stale": 2, "stopped_at": 3000}
    assert state["python"]["best_step"] == 4000 and state["python"]["stopped_at"] is None
    shares = {"python": 0.2, "bash": 0.7, "cf": 0.1}
    EarlyStopper(tmp_path, shares, patience=2, floor=0.0)
    assert shares["cf"] == 0.0 and json.loads((tmp_path / STATE_FILE).read_text())["cf"]["stopped_at"] == 3000


def test_bad_settings_fail_before_training(tmp_path):
    with pytest.raises(ValueError, match="patience"):
        EarlyStopper(tmp_path, {"python": 1.0}, patience=0)
    with pytest.raises(ValueError, match="floor"):
        EarlyStopper(tmp_path, {"python": 1.0}, patience=1, floor=1.5)


def test_the_batch_stream_reads_the_shares_at_every_draw():
    tok = cf_tokenizer()
    cfg = tiny_cfg(tok, code_len={"python": 8, "bash": 12, "cf": 16})
    by_lang = {lang: [Example(lang, [5, 6], [7, 8]) for _ in range(4)] for lang in ("python", "bash", "cf")}
    shares = {"python": 1.0, "bash": 1.0, "cf": 1.0}
    stream = batch_stream(by_lang, cfg, batch_size=2, seed=0, lang_weights=shares)
    lengths = {8: "python", 12: "bash", 16: "cf"}
    before = Counter(lengths[next(stream).code.shape[1]] for _ in range(90))
    assert set(before) == {"python", "bash", "cf"}
    shares["cf"] = 0.0
    after = Counter(lengths[next(stream).code.shape[1]] for _ in range(90))
    assert after["cf"] == 0 and after["python"] > 0 and after["bash"] > 0


def _train(tmp_path, *extra: str, model: tuple[str, str] = ("--kernel", "masked")) -> subprocess.CompletedProcess:
    tok = cf_tokenizer()
    tok.save(tmp_path / "tok.json")
    cmd = [sys.executable, "-m", "codefusion.model.training.cli", "finetune", "--run", str(tmp_path / "run"),
           *model, "--preset", "tiny", "--tokenizer", str(tmp_path / "tok.json"), "--batch", "4",
           "--threads", "1", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.parametrize("model", [("--kernel", "masked"), ("--arch", "ar")], ids=["masked", "ar"])
def test_a_real_run_measures_dev_loss_keeps_each_language_best_and_ends_when_all_stopped(tmp_path, model):
    proc = _train(tmp_path, "--steps", "40", "--eval-every", "2", "--checkpoint-every", "2", "--early-stop-patience",
                  "1", "--dev-loss-n", "40", "--no-sample-eval", model=model)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    evals = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "dev" in r]
    assert evals[0]["dev"]["early_stop"]["improved"] == ["python", "bash", "cf"]
    assert set(evals[0]["dev"]["early_stop"]["dev_loss"]) == {"python", "bash", "cf"}
    assert all(v > 0 for v in evals[0]["dev"]["early_stop"]["dev_loss"].values())
    state = json.loads((run / STATE_FILE).read_text())
    for lang, st in state.items():
        best = run / "snapshots" / f"best-{lang}"
        assert json.loads((best / "training.json").read_text())["step"] == st["best_step"]
    step = json.loads((run / "checkpoint" / "state.json").read_text())["step"]
    if all(st["stopped_at"] is not None for st in state.values()):  # patience 1 on noisy tiny losses: usually
        assert step == evals[-1]["step"] < 40 and evals[-1]["dev"]["stop_training"]
    else:
        assert step == 40


def test_early_stopping_needs_evaluations_aligned_with_checkpoints(tmp_path):
    proc = _train(tmp_path, "--steps", "4", "--eval-every", "3", "--checkpoint-every", "2",
                  "--early-stop-patience", "1")
    assert proc.returncode == 2 and "multiple of --checkpoint-every" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_the_conditioning_diagnostic_swaps_only_the_prompts():
    from codefusion.model.evaluation.dev_loss import with_prompts

    tok = cf_tokenizer()
    cfg = tiny_cfg(tok)
    examples = [Example("cf", tok.encode_prompt(p, "cf", cfg.max_prompt_len), tok.encode_code(c))
                for p, c in (("greater than 500", "GreaterThan(500)"), ("blank cells", "Blanks()"),
                             ("mark duplicates", "Duplicate()"))]
    assert with_prompts(examples, "own", tok, cfg) is examples
    shuffled = with_prompts(examples, "shuffled", tok, cfg)
    assert [e.prompt for e in shuffled] == [examples[1].prompt, examples[2].prompt, examples[0].prompt]
    assert [e.code for e in shuffled] == [e.code for e in examples]
    empty = with_prompts(examples, "empty", tok, cfg)
    assert {tuple(e.prompt) for e in empty} == {tuple(tok.encode_prompt("", "cf", cfg.max_prompt_len))}
    with pytest.raises(ValueError, match="prompts must be one of"):
        with_prompts(examples, "reversed", tok, cfg)


def test_a_resume_that_changes_the_recipe_is_refused_unless_meant_and_each_start_is_recorded(tmp_path):
    base = ("--steps", "2", "--eval-every", "0", "--checkpoint-every", "2", "--no-sample-eval")
    first = _train(tmp_path, *base)
    assert first.returncode == 0, first.stderr[-3000:]
    run = tmp_path / "run"
    state = (run / "checkpoint" / "state.json").read_text()
    changed = _train(tmp_path, "--steps", "4", "--eval-every", "0", "--checkpoint-every", "2", "--no-sample-eval",
                     "--mask-rate-min", "0.5", "--pretrain-mix", "0.5")
    assert changed.returncode != 0
    assert "different recipe" in changed.stderr and "mask_rate_min 0.001 → 0.5" in changed.stderr
    assert "pretrain_mix 0.0 → 0.5" in changed.stderr
    assert (run / "checkpoint" / "state.json").read_text() == state  # refused before any work
    forked = _train(tmp_path, "--steps", "4", "--eval-every", "0", "--checkpoint-every", "2", "--no-sample-eval",
                    "--mask-rate-min", "0.5", "--recipe-change")
    assert forked.returncode == 0, forked.stderr[-3000:]
    starts = [json.loads(line) for line in (run / "run_args.jsonl").read_text().splitlines()]
    assert [s["step"] for s in starts] == [0, 2]
    assert [s["recipe"]["mask_rate_min"] for s in starts] == [0.001, 0.5]
    assert starts[0]["recipe"]["kernel"] == "masked" and starts[0]["recipe"]["lang_weights"]["cf"] == 0.25
    assert json.loads((run / "checkpoint" / "state.json").read_text())["step"] == 4
    recorded = (run / "run_args.jsonl").read_text()
    last = json.loads(recorded.splitlines()[-1])
    resume = ("--steps", "6", "--eval-every", "0", "--checkpoint-every", "2", "--no-sample-eval",
              "--mask-rate-min", "0.5")
    for gone, refused in (({"block_prob": 0.0, "extra_replace": False}, False), ({"extra_replace": True}, True)):
        # flags a since-removed experiment recorded: off, they change nothing; on, this code cannot honour them
        start = {**last, "recipe": {**last["recipe"], **gone}}
        (run / "run_args.jsonl").write_text(recorded + json.dumps(start) + "\n")
        proc = _train(tmp_path, *resume)
        assert (proc.returncode != 0) == refused, proc.stderr[-3000:]
    assert "extra_replace True → (not in this code)" in proc.stderr and "git tag" in proc.stderr
    (run / "run_args.jsonl").write_text(recorded)
    with (run / "run_args.jsonl").open("a") as f:
        f.write("{half a line\n")
    broken = _train(tmp_path, "--steps", "8", "--eval-every", "0", "--checkpoint-every", "2", "--no-sample-eval",
                    "--mask-rate-min", "0.5")
    assert broken.returncode != 0 and "not a recorded start" in broken.stderr and "Traceback" not in broken.stderr
