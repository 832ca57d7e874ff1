"""The edit model: segmented encoder input, the copy head, its training data, and serving every Python/Bash
candidate as the model's edit of a nearest example with the user's names."""

from __future__ import annotations

import json
import random

import pytest
import torch
from codefusion.model.config import ModelConfig
from codefusion.model.examples.edit import (
    EditMix,
    EditPair,
    EditSource,
    code_names,
    compose,
    draw_input,
    edit_input,
    neighbour_table,
    twin_of,
)
from codefusion.model.modelfile import ModelLoadError, load_weights, save_model_dir
from codefusion.model.networks import MaskedDiffusionNet, segment_positions
from codefusion.model.noise.gaussian import Batch
from codefusion.model.noise.masked import MaskedDiffusion
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.tokenizer import CodeTokenizer
from codefusion.model.training.external import detokenize_python, load_external
from tiny_model import cf_tokenizer, tiny_cfg
from torch import Tensor


@pytest.fixture(scope="module")
def tok() -> CodeTokenizer:
    return cf_tokenizer()


def edit_cfg(tok: CodeTokenizer) -> ModelConfig:
    return tiny_cfg(tok, d_model=64, d_ff=128, denoiser_layers=2, copy_head=True, input_segments=4,
                    max_prompt_len=24, code_len={"python": 12, "bash": 12, "cf": 12})


def copy_batch(tok: CodeTokenizer, cfg: ModelConfig, rng: random.Random, n: int = 16) -> tuple[Batch, list[str]]:
    """Requests whose code is the retrieved example's code: a rule with a random number."""
    codes = [f"GreaterThan({rng.randint(100, 999)})" for _ in range(n)]
    inputs = [edit_input(tok, cfg, "cf", "like the example", (), EditSource("an example", c)) for c in codes]
    width = max(map(len, inputs))
    prompt = torch.full((n, width), cfg.pad_id)
    code = torch.full((n, cfg.code_len["cf"]), cfg.pad_id)
    for i, (row, c) in enumerate(zip(inputs, codes, strict=True)):
        prompt[i, : len(row)] = torch.tensor(row)
        ids = tok.encode_code(c)
        code[i, : len(ids)] = torch.tensor(ids)
    return Batch(prompt, prompt == cfg.pad_id, code), codes


@pytest.fixture(scope="module")
def copier(tok):
    """A tiny edit model trained to write the example it reads (numbers it never sees again at test time)."""
    torch.manual_seed(0)
    cfg = edit_cfg(tok)
    net = MaskedDiffusionNet(cfg)
    kernel, rng = MaskedDiffusion(), random.Random(0)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    for _ in range(300):
        batch, _ = copy_batch(tok, cfg, rng)
        loss = kernel.training_losses(net, batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval(), cfg


def test_segments_restart_their_positions_at_each_separator():
    tokens = torch.tensor([[5, 7, 1, 9, 1, 1, 8, 8, 8]])
    seg, pos = segment_positions(tokens, separator=1, segments=4, positions=64)
    assert seg.tolist() == [[0, 0, 1, 1, 2, 3, 3, 3, 3]]
    assert pos.tolist() == [[0, 1, 0, 1, 0, 0, 1, 2, 3]]
    seg, pos = segment_positions(tokens, separator=1, segments=2, positions=2)  # clamped to the tables
    assert seg.max() == 1 and pos.max() == 1


def test_the_copy_head_gives_a_distribution_and_points_at_the_source(tok):
    torch.manual_seed(0)
    cfg = edit_cfg(tok)
    net = MaskedDiffusionNet(cfg).eval()
    source = torch.tensor([[3, 40, 41, 1, 1, 1, 42]])
    memory = net.encode(source, source == cfg.pad_id)
    x = torch.full((1, 6), net.mask_id)
    logp = net(x, memory, source == cfg.pad_id, source=source)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(1, 6), atol=1e-4)
    with pytest.raises(ValueError, match="copy head"):
        net(x, memory, source == cfg.pad_id)
    assert net.copy is not None
    with torch.no_grad():  # gate fully open: all the mass on the source's tokens
        net.copy.gate.bias.fill_(50.0)
        probs = net(x, memory, source == cfg.pad_id, source=source).exp()
    assert float(probs[..., source[0].unique()].sum(-1).min()) > 0.99


def test_an_edit_model_learns_to_copy_what_it_reads(tok, copier):
    net, cfg = copier
    rng = random.Random(123)  # numbers not drawn in training
    batch, codes = copy_batch(tok, cfg, rng, n=12)
    pipe = CodeFusionPipeline.from_parts(net, cfg, tok, "masked")
    pipe.masked_sampling.temperature = 0.0
    rows = pipe.sample_edits(["like the example"] * len(codes), "cf",
                             [[EditSource("an example", c)] for c in codes], k=1, steps=6)
    right = sum(r[0].text == c for r, c in zip(rows, codes, strict=True))
    assert right >= 9, [(r[0].text, c) for r, c in zip(rows, codes, strict=True)]


def test_a_masked_folder_initialises_an_edit_model_only_when_growing(tok, tmp_path):
    torch.manual_seed(0)
    plain_cfg = tiny_cfg(tok, d_model=64, d_ff=128, denoiser_layers=2, max_prompt_len=24,
                         code_len={"python": 12, "bash": 12, "cf": 12})
    plain = MaskedDiffusionNet(plain_cfg)
    save_model_dir(tmp_path / "m", plain, plain_cfg, tok, kind="masked")
    net = MaskedDiffusionNet(edit_cfg(tok))
    with pytest.raises(ModelLoadError, match="missing"):
        load_weights(tmp_path / "m", net)
    load_weights(tmp_path / "m", net, grow=True)
    torch.testing.assert_close(net.denoiser.out.weight, plain.denoiser.out.weight.half().float())  # fp16 folder
    assert net.encoder.segment is not None and not net.encoder.segment.weight.any()  # segment 0 reads as before


def test_edit_inputs_hold_prompt_names_and_example(tok):
    cfg = edit_cfg(tok)
    ids = edit_input(tok, cfg, "cf", "greater than 5", ["x"], EditSource("less than 30", "LessThan(30)"))
    assert ids[0] == tok.lang_ids["cf"] and ids.count(cfg.eos_id) == 3
    text = tok.tok.decode(ids, skip_special_tokens=False)
    assert text.index("greater") < text.index(" x") < text.index("less than") < text.index("LessThan(30)")
    alone = edit_input(tok, cfg, "cf", "greater than 5")
    assert alone[-3:] == [cfg.eos_id] * 3  # empty context and example: the trained "none" form


def test_training_draws_nearest_farther_or_no_example():
    pool = [([10], [20]), ([11], [21]), ([12], [22])]
    pair = EditPair("python", [3, 4], [5, 1], [[7], [8]], [0, 1, 2])
    rng = random.Random(0)
    seen = {"nearest": 0, "farther": 0, "none": 0}
    for _ in range(400):
        ids = draw_input(pair, pool, EditMix(0.5, 0.3, 0.5), rng, sep=1, comma=9)
        code = ids[len(ids) - ids[::-1].index(1):]
        seen["nearest" if code == [20] else "none" if not code else "farther"] += 1
        assert ids[:2] == [3, 4]
    assert 150 < seen["nearest"] < 250 and 80 < seen["farther"] < 160 and 40 < seen["none"] < 120
    assert compose([3], [7, 9, 8], ([10], [20]), 1) == [3, 1, 7, 9, 8, 1, 10, 1, 20]


def test_code_names_are_what_the_user_could_have_defined():
    assert code_names("python", "sum(xs) / len(xs)") == ["xs"]
    assert code_names("python", "os.path.join(dirname, f)") == ["os", "dirname", "f"]
    assert code_names("bash", 'echo "$HOME" ${name}') == ["HOME", "name"]


def test_neighbours_come_from_other_ids():
    near = neighbour_table(["sort a list", "sort the list x", "print hello"], ["1", "1", "2"],
                           ["sort a list"], ["1"])
    assert near == [[]] or all(i == 2 for i in near[0])
    near = neighbour_table(["sort a list", "sort the list x", "print hello"], ["1", "2", "3"],
                           ["sort a list"], ["9"])
    assert near[0][:2] == [0, 1]


def test_external_pairs_are_detokenized_deduplicated_and_kept_off_dev(tmp_path):
    assert detokenize_python("from django . conf import settings") == "from django.conf import settings"
    assert detokenize_python("x = f ( a , b [ 1 ] )") == "x = f(a, b[1])"
    assert detokenize_python("if x in ( 1 , 2 ) :") == "if x in (1, 2):"
    rows = [{"nl": "call f", "code": "f ( x )"}, {"nl": "call f", "code": "f ( x )"}, {"nl": "broken", "code": "f ( ("},
            {"nl": "", "code": "x"}]
    (tmp_path / "python.django.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs, stats = load_external(["django"], tmp_path)
    assert [p.code for p in pairs["python"]] == ["f(x)"]
    assert stats["django"] == {"read": 4, "kept": 1, "not_parsing": 1, "dev_overlap": 0, "repeated": 1, "bad": 1}
    with pytest.raises(ValueError, match="unknown external sources"):
        load_external(["stackoverflow"], tmp_path)


def test_the_engine_serves_the_edit_models_candidates_with_the_users_names(tok, copier, tmp_path, monkeypatch):
    """seeding.json `edit`: every candidate is the model's edit of a nearest example (the model runs for every
    request), the request's names reach the model's input, and the examples join as the fallback."""
    from codefusion.server.engine import Engine

    net, cfg = copier
    folder = tmp_path / "edit"
    save_model_dir(folder, net, cfg, tok, kind="masked")
    (folder / "sampler.json").write_text('{"temperature": 0.0, "steps": 6}')
    (folder / "examples.jsonl").write_text("".join(
        json.dumps({"lang": "cf", "prompt": p, "code": c}) + "\n"
        for p, c in [("greater than 500", "GreaterThan(500)"), ("greater than 700", "GreaterThan(700)")]))
    (folder / "seeding.json").write_text(json.dumps({"start": {"cf": 0}, "edit": ["cf"], "keep_examples": True,
                                                     "edits_first": True}))
    seen: list[list[int]] = []
    real = CodeFusionPipeline.sample_edits

    def spy(self, prompts, lang, examples, **kwargs):
        seen.extend(edit_input(self.tokenizer, self.config, lang, p, (kwargs.get("names") or [()])[0], ex)
                    for p, exs in zip(prompts, examples, strict=True) for ex in exs)
        return real(self, prompts, lang, examples, **kwargs)

    monkeypatch.setattr(CodeFusionPipeline, "sample_edits", spy)
    engine = Engine(folder, device="cpu")
    engine.load()
    got = engine.generate("greater than 500", "cf", k=2, names=["sales"])
    assert seen, "the model did not run"
    assert engine.status()["modelRuns"] == 1 and engine.status()["generations"] == 1
    assert any(tok.tok.decode(ids).count(" sales") for ids in seen)
    samples = engine.sample_batch(["greater than 500"], "cf", k=2)[0]
    assert [s.unedited for s in samples][:2] == [False, False] and any(s.unedited for s in samples)
    assert got and got[0].text.startswith("GreaterThan(")
    assert got == engine.generate("greater than 500", "cf", k=2, names=["sales"])  # cached with its names
    alone = Engine(folder, device="cpu", seeding=False).generate("greater than 500", "cf", k=1)
    assert isinstance(alone, list)  # the model alone reads no example (the "none" input); may not parse


def test_each_row_reads_an_example_from_its_own_sources_pool(tok):
    from codefusion.model.training.edit_data import EditCorpus, edit_stream

    cfg = edit_cfg(tok)
    pools = {"cf/codefusion": [([7], [8])], "cf/tldr": [([9], [10])]}
    pairs = {"cf": {"codefusion": [EditPair("cf", [tok.lang_ids["cf"], 20], [30, cfg.eos_id], [], [0])],
                    "tldr": [EditPair("cf", [tok.lang_ids["cf"], 21], [31, cfg.eos_id], [], [0])]}}
    corpus = EditCorpus(pools, pairs, {("cf", "codefusion"): "cf/codefusion", ("cf", "tldr"): "cf/tldr"})
    batch = next(edit_stream(corpus, tok, cfg, batch_size=64, seed=0, lang_weights={"cf": 1.0},
                             source_weights={"cf": {"codefusion": 0.5, "tldr": 0.5}}, mix=EditMix(1.0, 0.0, 0.0)))
    for prompt, code in zip(batch.prompt.tolist(), batch.code.tolist(), strict=True):
        assert (8 in prompt) == (code[0] == 30) and (10 in prompt) == (code[0] == 31)


def test_twin_renames_shared_words_in_prompt_and_code_and_hides_renamed_variables() -> None:
    """The copy curriculum's example: the words the prompt and code share renamed in both, consistently; a
    renamed variable the prompt does not hold is returned so the context can give it back."""
    prompt, code = "sort the list `items` by key 'age'", "sorted(items, key=lambda row: row['age'])"
    twins = [twin_of("python", prompt, code, random.Random(seed), ["alpha", "beta", "gamma"]) for seed in range(20)]
    changed = [t for t in twins if t is not None]
    assert changed, "twin_of never renamed anything"
    for t in changed:
        assert "sorted(" in t.code and "key=" in t.code  # builtins and keyword arguments stay
        for old in ("items", "age"):
            if old not in t.code:  # renamed in the code: renamed in the prompt too
                assert old not in t.prompt
        assert set(t.hidden) <= {"row"}
    assert any("row" in t.hidden for t in changed)
    bash = twin_of("bash", "find files named 'notes.txt'", "find . -name 'notes.txt'", random.Random(0),
                   ["report"])
    assert bash is None or bash.code.startswith("find ")  # the command itself is never renamed


def test_draw_input_reads_the_twin_with_its_hidden_names_as_context() -> None:
    pair = EditPair("python", [5, 6], [7, 8, 2], [[9]], [0], twin=([11], [12, 13]), twin_names=[[14]])
    got = draw_input(pair, [([21], [22])], EditMix(twin=1.0), random.Random(0), sep=2, comma=3)
    assert got == compose([5, 6], [14], ([11], [12, 13]), 2)


@pytest.mark.parametrize("copy_head", [True, False])
def test_the_head_on_chosen_positions_gives_those_positions_logits(tok, copy_head):
    """The sampler runs the head only on the positions still masked: the same logits as the whole head's."""
    torch.manual_seed(0)
    cfg = tiny_cfg(tok, d_model=64, d_ff=128, denoiser_layers=2, copy_head=copy_head, input_segments=4,
                   max_prompt_len=24, code_len={"python": 12, "bash": 12, "cf": 12})
    net = MaskedDiffusionNet(cfg).eval()
    source = torch.tensor([[3, 40, 41, 1, 1, 1, 42], [3, 50, 1, 1, 1, 51, 0]])
    pad = source == cfg.pad_id
    with torch.no_grad():
        ctx = net.request_context(net.encode(source, pad), pad, 2, source=source)
        x = torch.randint(5, 60, (4, 6))
        x[:, ::2] = net.mask_id
        r, c = (x == net.mask_id).nonzero(as_tuple=True)
        whole = net.forward_cached(x, ctx)
        chosen = net.forward_cached(x, ctx, at=(r, c))
    assert chosen.shape == (len(r), whole.shape[-1])
    assert torch.allclose(chosen, whole[r, c], atol=1e-5)


def test_anchored_edits_start_from_the_served_example_and_remask_only_a_share(tok, copier, tmp_path, monkeypatch):
    """seeding.json `edit_start`: each edit starts from its example as served, its least-sure tokens remasked
    (the sampler gets init + remask); a broken value fails at load naming the key."""
    from codefusion.model.examples.seeding import SeedingConfig
    from codefusion.model.modelfile import ModelLoadError
    from codefusion.server.engine import Engine

    net, cfg = copier
    folder = tmp_path / "anchored"
    save_model_dir(folder, net, cfg, tok, kind="masked")
    (folder / "sampler.json").write_text('{"temperature": 0.0, "steps": 4, "repair_rounds": 0}')
    (folder / "examples.jsonl").write_text(json.dumps({"lang": "cf", "prompt": "greater than 500",
                                                       "code": "GreaterThan(500)"}) + "\n")
    (folder / "seeding.json").write_text(json.dumps({"edit": ["cf"], "edit_start": {"cf": 30}, "keep_examples": True}))
    calls: list[dict] = []
    real = CodeFusionPipeline._sample_masked

    def spy(self, net, prompt, pad, lang, k, length, steps, seed, should_stop, init=None, start=None, keep=None):
        calls.append({"init": init, "start": start, "keep": keep})
        return real(self, net, prompt, pad, lang, k, length, steps, seed, should_stop, init, start, keep)

    monkeypatch.setattr(CodeFusionPipeline, "_sample_masked", spy)
    engine = Engine(folder, device="cpu")
    engine.load()
    samples = engine.sample_batch(["greater than 500"], "cf", k=2)[0]
    assert calls and calls[0]["start"] == 30
    first = tok.decode(calls[0]["init"][0].tolist())
    assert first == "GreaterThan(500)"  # the served example is where the edit starts
    assert calls[0]["keep"] is not None and bool(calls[0]["keep"][0].any())  # "500" is the user's: kept
    assert [s.unedited for s in samples][:2] == [False, False] and sum(s.unedited for s in samples) == 1
    for bad in ({"cf": 0}, {"python": 30}, {"cf": True}):
        with pytest.raises(ModelLoadError, match="edit_start"):
            SeedingConfig.from_dict({"edit": ["cf"], "edit_start": bad}, tmp_path / "seeding.json")


def test_the_aligned_pointer_copies_the_example_code_position_by_position(tok):
    """copy_align: position j's pointer favours the example code's j-th token (the last segment), so that an
    untrained head already copies an example in place; the bonus is learnt (align), and without copy_align the
    scores are the content's alone."""
    torch.manual_seed(0)
    cfg = tiny_cfg(tok, d_model=64, d_ff=128, denoiser_layers=2, copy_head=True, copy_align=True, input_segments=4,
                   max_prompt_len=24, code_len={"python": 12, "bash": 12, "cf": 12})
    net = MaskedDiffusionNet(cfg).eval()
    assert net.copy is not None and net.copy.align is not None
    example = [40, 41, 42, 43]
    source = torch.tensor([compose([3, 50, 51], [], ([52], example), cfg.eos_id)])
    pad = source == cfg.pad_id
    with torch.no_grad():
        net.copy.gate.bias.fill_(50.0)
        net.copy.align.fill_(50.0)
        memory = net.encode(source, pad)
        logp = net(torch.full((1, 4), net.mask_id), memory, pad, source=source)
        ctx = net.request_context(memory, pad, 1, source=source)
        x = torch.full((1, 4), net.mask_id)
        r, c = torch.tensor([0, 0]), torch.tensor([1, 3])
        chosen = net.forward_cached(x, ctx, at=(r, c))
    assert logp.argmax(-1)[0].tolist() == example
    assert chosen.argmax(-1).tolist() == [41, 43]
    plain = MaskedDiffusionNet(edit_cfg(tok))
    assert plain.copy is not None and plain.copy.align is None


def test_a_new_head_learns_at_its_own_rate(tmp_path):
    """TrainerConfig.lr_mult: the parameters whose name holds a key get lr × its value; the others lr."""
    import itertools

    from codefusion.model.training.trainer import Trainer, TrainerConfig

    class Two(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = torch.nn.Linear(2, 2)
            self.copy = torch.nn.Linear(2, 1)

        def forward(self, batch: Tensor) -> dict[str, Tensor]:
            return {"loss": self.copy(self.body(batch)).pow(2).mean()}

    torch.manual_seed(0)
    trainer = Trainer(module=Two(), batches=itertools.repeat(torch.ones(4, 2)), run_dir=tmp_path / "run",
                      config=TrainerConfig(lr=1e-3, max_steps=1, warmup_steps=0, eval_every=0,
                                           lr_mult={"copy.": 10.0}))
    trainer.train()
    rates = {tuple(p.shape): g["lr"] for g in trainer.opt.param_groups for p in g["params"]}
    assert rates[(1, 2)] == pytest.approx(10 * rates[(2, 2)]) and rates[(2, 2)] > 0


def test_an_anchored_edit_keeps_the_users_own_tokens():
    """users_tokens: a code token that the edit input's prompt or names segment holds is kept; the example's
    own tokens (the last segments) and padding are not."""
    from codefusion.model.examples.edit import users_tokens

    sep, pad_id = 1, 0
    inputs = torch.tensor([[3, 40, 41, sep, 42, sep, 50, sep, 60, 61, pad_id]])
    codes = torch.tensor([[60, 40, 61, 42, 50, pad_id]])
    got = users_tokens(codes, inputs, inputs == pad_id, sep)
    assert got.tolist() == [[False, True, False, True, False, False]]


def test_the_corrector_replaces_only_what_it_doubts_and_is_sure_of(tok, copier, tmp_path):
    """CodeFusionPipeline.correct: a code that differs from the example the model reads gets the example's
    tokens where the model doubts its own and is sure of another; with `sure` at 1 nothing changes; the
    result parses or is the code as it was; each sample's score is the code's mean log p."""
    net, cfg = copier
    folder = tmp_path / "corrector"
    save_model_dir(folder, net, cfg, tok, kind="masked")
    pipe = CodeFusionPipeline.from_dir(folder, device="cpu")
    example = EditSource("an example", "GreaterThan(456)")
    fixed = pipe.correct(["like the example"], "cf", [["GreaterThan(123)", "GreaterThan(456)"]], doubt=0.5,
                         sure=0.3, sources=[[example, example]])[0]
    assert [s.text for s in fixed] == ["GreaterThan(456)", "GreaterThan(456)"]
    assert fixed[1].score > fixed[0].score  # the model believes the example's code more than the other
    kept = pipe.correct(["like the example"], "cf", [["GreaterThan(123)"]], doubt=0.5, sure=1.0,
                        sources=[[example]])[0]
    assert [s.text for s in kept] == ["GreaterThan(123)"]
    users = pipe.correct(["like the example 123"], "cf", [["GreaterThan(123)"]], doubt=0.5, sure=0.3,
                         sources=[[example]])[0]
    assert users[0].text == "GreaterThan(123)"  # the prompt's own value is the user's: never replaced
    with pytest.raises(ValueError, match="doubt and sure"):
        pipe.correct(["x"], "cf", [["GreaterThan(1)"]], doubt=0.0, sure=0.5)
    with pytest.raises(ValueError, match="one entry per prompt"):
        pipe.correct(["x", "y"], "cf", [["GreaterThan(1)"]], doubt=0.1, sure=0.5)


def test_the_plain_mix_repeats_each_source_to_its_share():
    """external.weighted_mix: a uniform draw from a language's list meets the source shares (the AR
    baseline's data mix = the edit stream's); a weight for a source with no rows fails."""
    from collections import Counter

    from codefusion.model.training.data import Pair
    from codefusion.model.training.external import weighted_mix

    train = {"bash": [Pair(f"cf{i}", "bash", "p", "ls") for i in range(10)]}
    external = {"bash": [Pair(f"tldr-{i}", "bash", "p", "ls") for i in range(100)]
                + [Pair(f"eg-{i}", "bash", "p", "ls") for i in range(5)]}
    mixed = weighted_mix(train, external, {"bash": {"codefusion": 0.6, "tldr": 0.3, "eg": 0.1}})
    counts = Counter(p.id.split("-")[0] if "-" in p.id else "codefusion" for p in mixed["bash"])
    total = sum(counts.values())
    assert abs(counts["codefusion"] / total - 0.6) < 0.02 and abs(counts["tldr"] / total - 0.3) < 0.02
    assert abs(counts["eg"] / total - 0.1) < 0.02
    with pytest.raises(ValueError, match="no rows"):
        weighted_mix(train, external, {"bash": {"codefusion": 0.5, "cheat": 0.5}})
    assert weighted_mix(train, {}, {}) == train  # no weights: the pairs as they are


def test_edit_places_are_read_and_checked(tmp_path):
    """seeding.json `edit_places`: per edit language, how many of the k places the model's edits take; a
    language not under `edit`, a negative or non-integer count fails at load naming the key."""
    from codefusion.model.examples.seeding import SeedingConfig

    cfg = SeedingConfig.from_dict({"edit": ["bash"], "edit_places": {"bash": 2}}, tmp_path / "seeding.json")
    assert cfg.edit_places == {"bash": 2}
    for bad in ({"python": 1}, {"bash": -1}, {"bash": 1.5}, {"bash": True}, [1]):
        with pytest.raises(ModelLoadError, match="edit_places"):
            SeedingConfig.from_dict({"edit": ["bash"], "edit_places": bad}, tmp_path / "seeding.json")


def test_an_edit_model_not_told_to_edit_serves_the_judged_examples(tok, copier, tmp_path, monkeypatch):
    """A seeded language that seeding.json does not list under `edit` gets from an edit model what it gets from
    any masked model: its nearest examples as they are (start 0), judged by the model (`rerank`), no writing;
    with seeding off, the edit model writes alone."""
    from codefusion.server.engine import Engine

    net, cfg = copier
    folder = tmp_path / "edit-judge"
    save_model_dir(folder, net, cfg, tok, kind="masked")
    examples = ["GreaterThan(500)", "GreaterThan(700)", "LessThan(3)"]
    (folder / "examples.jsonl").write_text("".join(
        json.dumps({"lang": "cf", "prompt": p, "code": c}) + "\n"
        for p, c in zip(["greater than 500", "greater than 700", "less than 3"], examples, strict=True)))
    (folder / "seeding.json").write_text(json.dumps({"start": {"cf": 0}, "rerank": {"cf": 0.05}}))
    wrote: list[str] = []
    real = CodeFusionPipeline.sample_edits

    def spy(self, prompts, *args, **kwargs):
        wrote.extend(prompts)
        return real(self, prompts, *args, **kwargs)

    monkeypatch.setattr(CodeFusionPipeline, "sample_edits", spy)
    engine = Engine(folder, device="cpu")
    engine.load()
    got = engine.generate("greater than 600", "cf", k=2, worded=False)  # the model's path: no GreaterThan(600) read
    assert not wrote and {c.text for c in got} <= set(examples) and len(got) == 2
    assert engine.status()["modelRanks"] == 1 and engine.status()["modelRuns"] == 0
    Engine(folder, device="cpu", seeding=False).sample_batch(["greater than 600"], "cf", k=1)
    assert set(wrote) == {"greater than 600"}  # (a top-up batch may write again)
