"""Retrieval context (example_context models): encoder layout, training neighbours, sampling, engine."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from codefusion.model.config import ModelConfig
from codefusion.model.examples.seeding import ExampleSeeds, SeedingConfig
from codefusion.model.modelfile import load_weights, read_config
from codefusion.model.networks import CodeFusionNet
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.tokenizer import CodeTokenizer
from codefusion.model.training.context import nearest_others
from codefusion.model.training.corpus import PLAIN_PROMPT_SHARE, Example, batch_stream, pair_examples
from codefusion.model.training.data import Pair
from codefusion.server.engine import Engine
from tiny_model import make_tiny_model

EXAMPLES = [
    ("bash", "list all files in the current directory", "ls -a"),
    ("bash", "count lines of every python file", "wc -l *.py"),
    ("bash", "print the working directory", "pwd"),
    ("python", "reverse the list x", "x[::-1]"),
]


@pytest.fixture(scope="module")
def context_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = make_tiny_model(tmp_path_factory.mktemp("ctx") / "model", example_context=True, max_prompt_len=96)
    ExampleSeeds.write(out, SeedingConfig({}, steps=1), EXAMPLES)  # no start step: context only
    return out


def test_encoder_input_holds_prompt_example_prompt_and_code(tiny_model_dir: Path):
    _, cfg = read_config(tiny_model_dir)
    tok = CodeTokenizer.load(tiny_model_dir / "tokenizer.json")
    tag = tok.lang_ids["bash"]
    ids = tok.encode_prompt_with_example("list all files", "bash", 96, ("show disk usage", "du -sh ."))
    assert ids[0] == tag and ids.count(tag) == 3
    assert tok.tok.decode(ids[1:ids.index(tag, 1)]) == "list all files"
    assert tok.tok.decode(ids[len(ids) - len(tok.tok.encode("du -sh .").ids):]) == "du -sh ."
    assert len(tok.encode_prompt_with_example("list " * 80, "bash", 50, ("p " * 80, "c " * 80))) == 50
    assert tok.encode_prompt_with_example("list files", "bash", 96, None) == tok.encode_prompt("list files", "bash", 96)


def test_training_neighbours_are_other_ids_with_distinct_codes():
    pairs = [Pair("1", "bash", "list all files", "ls"), Pair("1", "bash", "list every file", "ls -a"),
             Pair("2", "bash", "list all files here", "ls ."), Pair("3", "bash", "list all the files", "ls ."),
             Pair("4", "bash", "zzz", "pwd")]
    near = nearest_others(pairs, 3)
    assert near[0] == [2]  # pair 1 is the same ID, pair 3's code repeats pair 2's
    assert near[2][0] == 0 and sorted(near[2]) == [0, 1, 3]  # never itself; another ID may share its code
    assert near[4] == []  # shares no word with any other prompt


def test_batches_read_contexts_and_sometimes_the_plain_prompt(tiny_model_dir: Path):
    _, cfg = read_config(tiny_model_dir)
    cfg = ModelConfig.from_dict({**cfg.to_dict(), "example_context": True, "max_prompt_len": 96})
    tok = CodeTokenizer.load(tiny_model_dir / "tokenizer.json")
    pairs = [Pair(str(i), "bash", f"list files number {i}", f"ls {i}") for i in range(6)]
    examples, too_long = pair_examples(tok, cfg, pairs)
    assert too_long == 0 and all(e.contexts and len(e.contexts) == 5 for e in examples)
    tag = tok.lang_ids["bash"]
    stream = batch_stream({"bash": examples}, cfg, batch_size=6, seed=0, lang_weights={})
    rows = [row for _ in range(40) for row in next(stream).prompt.tolist()]
    with_example = sum(row.count(tag) == 3 for row in rows) / len(rows)
    assert 1 - PLAIN_PROMPT_SHARE - 0.1 < with_example < 1.0
    plain = Example("bash", [tag, 5], [1])  # no contexts: always the plain prompt
    alone = batch_stream({"bash": [plain]}, cfg, batch_size=1, seed=0, lang_weights={})
    assert next(alone).prompt.tolist() == [[tag, 5]]


def test_init_from_a_shorter_encoder_repeats_its_positions(tiny_model_dir: Path):
    _, cfg = read_config(tiny_model_dir)
    longer = CodeFusionNet(ModelConfig.from_dict({**cfg.to_dict(), "max_prompt_len": cfg.max_prompt_len * 2}))
    with pytest.raises(Exception, match="shape"):
        load_weights(tiny_model_dir, longer)
    load_weights(tiny_model_dir, longer, grow=True)
    small = CodeFusionNet(cfg)
    load_weights(tiny_model_dir, small)
    pos, old = longer.encoder.pos.weight, small.encoder.pos.weight
    assert torch.equal(pos[: len(old)], old) and torch.equal(pos[len(old):], old)


def test_each_candidate_reads_its_own_example(context_dir: Path, tiny_model_dir: Path):
    pipe = CodeFusionPipeline.from_dir(context_dir, device="cpu")
    examples = [("show disk usage", "du -sh ."), ("print the working directory", "pwd")]
    prompt, pad = pipe._prompts(["list files", "zzz"], "bash", [examples, []], k=3)
    assert prompt.shape[0] == 6 and torch.equal(prompt[0], prompt[2]) and not torch.equal(prompt[0], prompt[1])
    assert torch.equal(prompt[3], prompt[4])  # no examples: every candidate reads the prompt alone
    rows = pipe.sample(["list files", "zzz"], "bash", k=3, steps=2, contexts=[examples, []])
    again = pipe.sample(["list files"], "bash", k=3, steps=2, contexts=[examples])
    assert [s.tokens for s in rows[0]] == [s.tokens for s in again[0]]  # batch-independent and seeded
    alone = pipe.sample(["list files"], "bash", k=3, steps=2)
    assert [s.tokens for s in alone[0]] != [s.tokens for s in rows[0]]  # the example changes the candidates
    with pytest.raises(ValueError, match="contexts"):
        pipe.sample(["a", "b"], "bash", k=2, contexts=[examples])
    with pytest.raises(ValueError, match="example_context"):
        CodeFusionPipeline.from_dir(tiny_model_dir, device="cpu").sample(["a"], "bash", k=2, contexts=[examples])


def test_engine_serves_context_candidates_with_their_examples(context_dir: Path, tmp_path: Path):
    engine = Engine(context_dir, device="cpu", oversample=2)
    engine.load()
    assert engine.status()["seededLanguages"] == ["bash", "python"]
    near, plain = engine.sample_batch(["list all the files", "zzz qqq"], "bash", k=3)
    assert near and all(0 < s.score <= 1 for s in near[:3])
    assert {s.seed for s in near[:3]} <= {code for _, _, code in EXAMPLES}
    assert all(s.score <= 0 for s in plain)
    off = Engine(context_dir, device="cpu", oversample=1, seeding=False)
    off.load()
    assert off.status()["seededLanguages"] == [] and all(
        s.score <= 0 for s in off.sample_batch(["list all the files"], "bash", k=3)[0])
    # a context model whose folder ships no examples samples from the prompt alone
    bare = tmp_path / "bare"
    shutil.copytree(context_dir, bare)
    (bare / "seeding.json").unlink()
    alone = Engine(bare, device="cpu", oversample=1)
    alone.load()
    assert alone.status()["seededLanguages"] == [] and alone.sample_batch(["list files"], "bash", k=2)[0]


def test_seeded_and_context_together_start_from_the_example(context_dir: Path, tmp_path: Path):
    both = tmp_path / "both"
    shutil.copytree(context_dir, both)
    ExampleSeeds.write(both, SeedingConfig({"bash": 0}, steps=1), EXAMPLES)
    engine = Engine(both, device="cpu", oversample=1)
    engine.load()
    rows = engine.sample_batch(["list all files in the current directory"], "bash", k=2)[0]
    # the first candidate starts from (and reads) the nearest example, whose prompt is the request's own
    assert rows[0].seed == "ls -a" and rows[0].score == pytest.approx(1.0)
    assert rows[1].seed != "ls -a" and 0 < rows[1].score < 1


@pytest.fixture(scope="module")
def guess_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = make_tiny_model(tmp_path_factory.mktemp("guess") / "model", example_guess=True)
    ExampleSeeds.write(out, SeedingConfig({}, steps=1), EXAMPLES)
    return out


def test_guess_batches_and_loss_use_the_neighbours_code(tiny_model_dir: Path):
    from codefusion.model.noise.gaussian import GaussianDiffusion, NoiseSchedule
    from codefusion.model.training.corpus import GUESS_SHARE

    _, cfg = read_config(tiny_model_dir)
    cfg = ModelConfig.from_dict({**cfg.to_dict(), "example_guess": True})
    tok = CodeTokenizer.load(tiny_model_dir / "tokenizer.json")
    pairs = [Pair(str(i), "bash", f"list files number {i}", f"ls {i}") for i in range(6)]
    examples, _ = pair_examples(tok, cfg, pairs)
    assert all(e.guesses and e.contexts is None for e in examples)
    assert tok.decode(examples[0].guesses[0]) in {f"ls {i}" for i in range(1, 6)}  # never its own code
    stream = batch_stream({"bash": examples}, cfg, batch_size=6, seed=0, lang_weights={})
    batches = [next(stream) for _ in range(40)]
    share = sum(int(b.has_guess.sum()) for b in batches) / 240
    assert abs(share - GUESS_SHARE) < 0.1
    b = batches[0]
    assert all(tok.decode(row) != "" for row, on in zip(b.guess.tolist(), b.has_guess.tolist(), strict=True) if on)
    net = CodeFusionNet(cfg)
    diffusion = GaussianDiffusion(schedule=NoiseSchedule(steps=cfg.diffusion_steps))
    torch.manual_seed(0)
    with_guess = diffusion.training_losses(net, b)["loss"]
    torch.manual_seed(0)
    without = diffusion.training_losses(net, replace(b, guess=None, has_guess=None))["loss"]
    assert torch.isfinite(with_guess) and not torch.equal(with_guess, without)


def test_guess_changes_the_candidates_and_the_engine_gives_examples(guess_dir: Path):
    pipe = CodeFusionPipeline.from_dir(guess_dir, device="cpu")
    plain = pipe.sample(["list files"], "bash", k=3, steps=2)[0]
    guessed = pipe.sample(["list files"], "bash", k=3, steps=2, guess_codes=[["ls -a", "pwd"]])[0]
    assert [s.tokens for s in plain] != [s.tokens for s in guessed]
    with pytest.raises(ValueError, match="guess_codes"):
        pipe.sample(["a", "b"], "bash", k=2, guess_codes=[["ls"]])
    engine = Engine(guess_dir, device="cpu", oversample=1)
    engine.load()
    assert engine.status()["seededLanguages"] == ["bash", "python"]
    rows = engine.sample_batch(["list all files in the current directory"], "bash", k=2)[0]
    assert rows[0].seed == "ls -a" and rows[0].score == pytest.approx(1.0)


def test_example_start_training_denoises_the_neighbours_code_into_the_pairs(tiny_model_dir: Path):
    """--example-start: the guess rows' x_t is their neighbour's code (literals moved in) noised below T."""
    from codefusion.model.noise.gaussian import GaussianDiffusion, NoiseSchedule

    _, cfg = read_config(tiny_model_dir)  # a plain model: not example_guess
    tok = CodeTokenizer.load(tiny_model_dir / "tokenizer.json")
    pairs = [Pair(str(i), "bash", f"show the first {i} lines of 'f{i}.txt'", f"head -n {i} f{i}.txt")
             for i in range(1, 7)]
    examples, _ = pair_examples(tok, cfg, pairs, starts=True)
    # each start is a neighbour's code with this pair's literals: `head -n 1 f1.txt` for pair 1
    assert all(tok.decode(e.guesses[0]) == pairs[i].code for i, e in enumerate(examples))
    b = batch_stream({"bash": examples}, cfg, batch_size=6, seed=1, lang_weights={}).__next__()
    b = replace(b, guess=torch.randint(5, cfg.vocab_size, b.code.shape), has_guess=torch.ones(6, dtype=torch.bool))
    net = CodeFusionNet(cfg)
    seen = {}
    real = net.denoise

    def spy(x_t, t, *rest):
        seen.setdefault("x_t", x_t)
        seen.setdefault("t", t)
        return real(x_t, t, *rest)

    net.denoise = spy  # type: ignore[method-assign]
    diffusion = GaussianDiffusion(schedule=NoiseSchedule(steps=cfg.diffusion_steps), example_start=50)
    assert torch.isfinite(diffusion.training_losses(net, b)["loss"])
    assert int(seen["t"].max()) < 50
    scale, _ = diffusion.schedule.coefficients(seen["t"])
    to_guess = (seen["x_t"] - scale * net.embed_code(b.guess)).norm()
    to_code = (seen["x_t"] - scale * net.embed_code(b.code)).norm()
    assert to_guess < to_code  # noised from the neighbour's code, not the pair's own
