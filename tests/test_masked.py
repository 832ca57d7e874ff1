"""The masked kernel: forward process, loss, sampler (schedules, blocks, editing, seeding, cancelling),
syntax-repair remasking, and a model folder of this kind served through the pipeline."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from codefusion.model.modelfile import save_model_dir
from codefusion.model.networks import MaskedDiffusionNet
from codefusion.model.noise.masked import (
    CommitSchedule,
    LossWeighting,
    MaskedDiffusion,
    SamplingCancelled,
    commit_counts,
    finish_written,
    least_sure,
    sample_masked,
    token_logp,
)
from codefusion.model.noise.repair import error_spans, positions_to_remask
from codefusion.model.pipeline import DEFAULT_STEPS, CodeFusionPipeline, MaskedSampling
from codefusion.model.tokenizer import CodeTokenizer
from tiny_model import CF_PAIRS, cf_batch, cf_tokenizer, tiny_cfg


@pytest.fixture(scope="module")
def tok() -> CodeTokenizer:
    return cf_tokenizer()


def train_tiny(tok: CodeTokenizer, kernel: MaskedDiffusion, steps: int = 500):
    """A tiny masked model trained with `kernel` to recover the six CF rules from their prompts."""
    torch.manual_seed(0)
    cfg = tiny_cfg(tok, d_model=64, d_ff=128, denoiser_layers=2)
    net = MaskedDiffusionNet(cfg)
    batch = cf_batch(tok, cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = kernel.training_losses(net, batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    return net, cfg, batch


@pytest.fixture(scope="module")
def overfit(tok):
    return train_tiny(tok, MaskedDiffusion())


def test_antithetic_rates_cover_the_unit_interval_and_mask_at_that_rate():
    kernel = MaskedDiffusion()
    t = kernel.sample_t(8, torch.device("cpu"))
    assert t.min() >= kernel.eps and t.max() <= 1
    high = MaskedDiffusion(eps=0.5).sample_t(64, torch.device("cpu"))  # --mask-rate-min 0.5
    assert high.min() >= 0.5 and high.max() <= 1 and high.max() - high.min() > 0.45
    with pytest.raises(ValueError, match="lowest training masking rate"):
        MaskedDiffusion(eps=1.0)
    assert sorted((t * 8).floor().long().tolist()) == list(range(8))  # one rate in each eighth
    code = torch.ones((2, 4000), dtype=torch.long)
    x, masked = kernel.q_sample(code, torch.tensor([0.1, 0.9]), mask_id=99)
    assert torch.equal(x == 99, masked)
    rates = masked.float().mean(-1)
    assert abs(rates[0] - 0.1) < 0.03 and abs(rates[1] - 0.9) < 0.03


def test_loss_counts_only_masked_positions_and_weights_by_inverse_rate(tok, monkeypatch):
    torch.manual_seed(1)
    cfg = tiny_cfg(tok)
    net = MaskedDiffusionNet(cfg)
    batch = cf_batch(tok, cfg)
    for weighting in LossWeighting:
        kernel = MaskedDiffusion(weighting=weighting)
        monkeypatch.setattr(kernel, "sample_t", lambda n, device: torch.full((n,), 0.5))
        torch.manual_seed(2)
        losses = kernel.training_losses(net, batch)
        assert torch.isfinite(losses["loss"])
        if weighting is LossWeighting.UNWEIGHTED:
            assert losses["loss"].item() == pytest.approx(losses["masked_ce"].item())
        else:  # CE/t summed over masked positions, averaged over all: at t = 0.5, ≈ 2 · share masked · CE
            assert losses["loss"].item() == pytest.approx(losses["masked_ce"].item(), rel=0.35)
    monkeypatch.undo()


def test_commit_counts_sum_to_the_masked_tokens_for_both_schedules():
    n = torch.tensor([16, 7, 0])
    for schedule in CommitSchedule:
        counts = commit_counts(n, 5, schedule)
        assert counts.shape == (3, 5) and torch.equal(counts.sum(-1), n) and (counts >= 0).all()
    cosine = commit_counts(torch.tensor([40]), 8, CommitSchedule.COSINE)[0]
    assert cosine[0] < cosine[-1]  # few tokens first, the rest at the end


def test_tiny_model_recovers_every_rule_greedily(tok, overfit):
    net, cfg, batch = overfit
    out = sample_masked(net, prompt=batch.prompt, prompt_pad=batch.prompt_pad, k=2, length=batch.code.shape[1],
                        steps=batch.code.shape[1], temperature=0.0)
    tokens = out.tokens.view(len(CF_PAIRS), 2, -1)
    for i, (_, code) in enumerate(CF_PAIRS):
        assert tok.decode(tokens[i, 0].tolist()) == tok.decode(tok.encode_code(code))
    assert (out.scores <= 0).all()


def test_blocks_and_cosine_schedules_fill_every_position(tok, overfit):
    net, cfg, batch = overfit
    for kw in ({"block_length": 3}, {"schedule": CommitSchedule.COSINE}):
        out = sample_masked(net, prompt=batch.prompt, prompt_pad=batch.prompt_pad, k=1,
                            length=batch.code.shape[1], steps=6, temperature=0.7, **kw)
        assert not (out.tokens == net.mask_id).any()


def test_threshold_decoding_commits_what_it_is_sure_of_and_stops_early(tok, overfit):
    net, cfg, batch = overfit
    length = batch.code.shape[1]
    fixed = sample_masked(net, prompt=batch.prompt, prompt_pad=batch.prompt_pad, k=2, length=length,
                          steps=length, temperature=0.0)
    sure = sample_masked(net, prompt=batch.prompt, prompt_pad=batch.prompt_pad, k=2, length=length,
                         steps=length, temperature=0.0, threshold=0.9)
    assert fixed.steps == length and 1 <= sure.steps < length  # the fitted model is sure of most positions at once
    assert [tok.decode(r) for r in sure.tokens.tolist()] == [tok.decode(r) for r in fixed.tokens.tolist()]
    capped = sample_masked(net, prompt=batch.prompt, prompt_pad=batch.prompt_pad, k=2, length=length, steps=2,
                           temperature=0.7, threshold=1.0)  # nothing clears 1.0: the linear counts finish by the cap
    assert capped.steps <= 2 and not (capped.tokens == net.mask_id).any()
    with pytest.raises(ValueError, match="threshold"):
        sample_masked(net, prompt=batch.prompt, prompt_pad=batch.prompt_pad, k=1, length=length, steps=2,
                      threshold=0.0)


def test_a_written_code_ends_the_row(tok):
    m, eos, pad = 99, 1, 0
    x = torch.tensor([[5, eos, m, m], [m, eos, m, m], [5, 6, 7, m], [5, m, pad, m]])
    assert finish_written(x, m, eos, pad).tolist() == [[5, eos, pad, pad], [m, eos, m, m], [5, 6, 7, m],
                                                       [5, m, pad, m]]


def test_sampling_is_seeded_per_prompt_and_cancellable(tok, overfit):
    _, cfg, batch = overfit
    torch.manual_seed(4)
    net = MaskedDiffusionNet(cfg).eval()  # untrained: every draw is up to the noise
    length = batch.code.shape[1]

    def run(rows, seed):
        return sample_masked(net, prompt=batch.prompt[rows], prompt_pad=batch.prompt_pad[rows], k=3, length=length,
                             steps=4, temperature=1.0, seed=seed).tokens

    both = run(slice(0, 2), seed=5)
    assert torch.equal(both, run(slice(0, 2), seed=5))
    assert torch.equal(run(slice(0, 1), seed=5), both[:3])  # the first prompt's draws do not depend on the batch
    assert not torch.equal(run(slice(0, 2), seed=6), both)
    assert len({tuple(r) for r in both[:3].tolist()}) > 1  # the k candidates differ
    with pytest.raises(SamplingCancelled):
        sample_masked(net, prompt=batch.prompt, prompt_pad=batch.prompt_pad, k=1, length=length, steps=4,
                      should_stop=lambda: True)


def test_editing_keeps_the_unmasked_tokens(tok, overfit):
    net, cfg, batch = overfit
    init = batch.code[:2].clone()
    remask = torch.zeros_like(init, dtype=torch.bool)
    remask[:, 1] = True
    out = sample_masked(net, prompt=batch.prompt[:2], prompt_pad=batch.prompt_pad[:2], k=1, length=init.shape[1],
                        steps=1, temperature=0.0, init=init, remask=remask)
    assert torch.equal(out.tokens[:, 0], init[:, 0]) and torch.equal(out.tokens[:, 2:], init[:, 2:])
    assert torch.equal(out.tokens, init)  # the model refills what it learned
    with pytest.raises(ValueError):
        sample_masked(net, prompt=batch.prompt[:2], prompt_pad=batch.prompt_pad[:2], k=1, length=init.shape[1],
                      steps=1, init=init)


@pytest.mark.parametrize("lang,code,blamed", [
    ("python", "def f(x:\n    return x", "(x:"),
    ("python", "x = [1, 2", "[1, 2"),
    ("bash", "for f in *.txt; do echo $f", "do"),
    ("cf", "GreaterThan(5", "5"),
])
def test_error_spans_point_at_the_broken_part(lang, code, blamed):
    spans = error_spans(lang, code)
    assert spans, "a broken code must blame something"
    text = "".join(code[a:b] for a, b in spans)
    assert any(ch in text for ch in blamed) or any(a <= code.find(blamed) + len(blamed) for a, _ in spans)
    assert error_spans(lang, {"python": "x = 1", "bash": "ls -l", "cf": "GreaterThan(5)"}[lang]) == []


def test_positions_to_remask_widen_by_one_token():
    offsets = [(0, 3), (3, 4), (4, 8), (8, 9), (9, 12)]
    assert positions_to_remask(offsets, [(4, 6)]) == [1, 2, 3]
    assert positions_to_remask(offsets, [(12, 12)]) == [3, 4]  # zero width at the end: the last token
    assert positions_to_remask(offsets, [], widen=2) == []


def test_a_masked_model_folder_serves_parsing_candidates_and_repairs(tok, overfit, tmp_path):
    net, cfg, batch = overfit
    save_model_dir(tmp_path / "m", net, cfg, tok, kind="masked")
    (tmp_path / "m" / "sampler.json").write_text('{"steps": 8, "temperature": 0.0, "repair_rounds": 2}')
    pipe = CodeFusionPipeline.from_dir(tmp_path / "m", device="cpu")
    assert pipe.kind == "masked" and pipe.masked_sampling.steps == 8
    samples = pipe.sample([p for p, _ in CF_PAIRS], "cf", k=2)
    assert [s[0].text for s in samples] == [tok.decode(tok.encode_code(c)) for _, c in CF_PAIRS]
    stats = pipe.repair_stats
    assert stats["sampled"] == 12 and stats["parsed_raw"] <= stats["parsed_repaired"] <= 12
    (tmp_path / "m" / "sampler.json").write_text('{"steps": 8, "threshold": 0.9, "temperature": 0.0}')
    sure = CodeFusionPipeline.from_dir(tmp_path / "m", device="cpu")
    assert sure.masked_sampling.threshold == 0.9 and sure.sampler_settings()["threshold"] == 0.9
    assert [s[0].text for s in sure.sample([p for p, _ in CF_PAIRS], "cf", k=2)] == [s[0].text for s in samples]
    (tmp_path / "m" / "sampler.json").write_text('{"steps": "many", "bogus": 1}')
    from codefusion.model.modelfile import ModelLoadError

    with pytest.raises(ModelLoadError, match="sampler"):
        CodeFusionPipeline.from_dir(tmp_path / "m", device="cpu")
    (tmp_path / "m" / "sampler.json").write_text('{"schedule": "spiral"}')
    with pytest.raises(ModelLoadError, match="sampler"):
        CodeFusionPipeline.from_dir(tmp_path / "m", device="cpu")


def test_token_logp_prefers_the_learned_code_and_least_sure_picks_its_share(tok, overfit):
    net, cfg, batch = overfit
    right = batch.code[:2]
    wrong = batch.code[[1, 0]]  # each prompt with the other's code
    prompt, pad = batch.prompt[:2], batch.prompt_pad[:2]
    lp_right = token_logp(net, prompt=prompt, prompt_pad=pad, codes=right)
    lp_wrong = token_logp(net, prompt=prompt, prompt_pad=pad, codes=wrong)
    assert (lp_right.mean(-1) > lp_wrong.mean(-1)).all()
    assert torch.equal(lp_right, token_logp(net, prompt=prompt, prompt_pad=pad, codes=right))  # seeded
    chosen = least_sure(lp_wrong, wrong, 0.5, cfg.pad_id)
    in_code = [len(tok.decode(r.tolist())) for r in wrong]
    assert all(chosen[i].sum() >= 1 for i in range(2)) and all(n > 0 for n in in_code)
    assert not least_sure(lp_wrong, wrong, 0.0, cfg.pad_id).any()
    # the chosen tokens are the least likely ones among the code's
    ends = wrong == cfg.pad_id
    in_span = (ends.long().cumsum(-1) - ends.long()) == 0
    for i in range(2):
        assert lp_wrong[i][chosen[i]].max() <= lp_wrong[i][in_span[i] & ~chosen[i]].min()


def test_a_time_conditioned_model_reads_the_masking_rate(tok):
    torch.manual_seed(3)
    cfg = tiny_cfg(tok, time_conditioning=True)
    net = MaskedDiffusionNet(cfg)
    batch = cf_batch(tok, cfg)
    memory = net.encode(batch.prompt, batch.prompt_pad)
    x = torch.full_like(batch.code, net.mask_id)
    low, high = (net(x, memory, batch.prompt_pad, torch.full((len(x),), t)) for t in (0.1, 0.9))
    assert not torch.allclose(low, high)  # the rate changes the prediction
    losses = MaskedDiffusion().training_losses(net, batch)
    losses["loss"].backward()
    assert net.time is not None and net.time[0].weight.grad is not None
    net.eval()
    out = sample_masked(net, prompt=batch.prompt, prompt_pad=batch.prompt_pad, k=1, length=batch.code.shape[1],
                        steps=3)
    assert not (out.tokens == net.mask_id).any()
    assert MaskedDiffusionNet(tiny_cfg(tok)).time is None


def test_shipped_model_dir_finds_each_kernel_by_its_config(tmp_path, monkeypatch):
    from codefusion.model import pipeline

    for name, kind in (("codefusion", "diffusion"), ("codefusion-masked", "masked"), ("ar-baseline", "ar")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(f'{{"kind": "{kind}"}}')
    monkeypatch.setattr(pipeline, "DEFAULT_MODEL_DIR", tmp_path / "codefusion")
    monkeypatch.setattr(pipeline, "MASKED_MODEL_DIR", tmp_path / "codefusion-masked")
    monkeypatch.setattr(pipeline, "BASELINE_MODEL_DIR", tmp_path / "ar-baseline")
    assert pipeline.shipped_model_dir("gaussian") == tmp_path / "codefusion"
    assert pipeline.shipped_model_dir("masked") == tmp_path / "codefusion-masked"
    assert pipeline.shipped_model_dir("ar") == tmp_path / "ar-baseline"
    (tmp_path / "codefusion" / "config.json").write_text('{"kind": "masked"}')  # the served one may be masked
    assert pipeline.shipped_model_dir("masked") == tmp_path / "codefusion"
    with pytest.raises(FileNotFoundError, match="no shipped gaussian model"):
        pipeline.shipped_model_dir("gaussian")


def test_a_masked_model_edits_examples_and_judges_them(tok, overfit, tmp_path):
    """Seeding with the masked kernel: start=0 keeps each example, start=100 rewrites all of it under the prompt;
    code_ce (the model as judge) prefers a prompt's own rule; the engine loads the folder's example index."""
    import json

    from codefusion.server.engine import Engine, EngineNotReady

    net, cfg, batch = overfit
    save_model_dir(tmp_path / "m", net, cfg, tok, kind="masked")
    (tmp_path / "m" / "sampler.json").write_text('{"temperature": 0.0, "repair_rounds": 0}')
    pipe = CodeFusionPipeline.from_dir(tmp_path / "m", device="cpu")
    prompt, code = CF_PAIRS[0]
    other = CF_PAIRS[1][1]
    kept = pipe.sample([prompt], "cf", k=2, init_codes=[[other]], start=0, steps=1)[0]
    assert [s.text for s in kept] == [other, other]
    rewritten = pipe.sample([prompt], "cf", k=2, init_codes=[[other]], start=100, steps=8)[0]
    assert rewritten[0].text == code  # every token remasked: the model writes the prompt's own rule
    with pytest.raises(ValueError, match="per cent"):
        pipe.sample([prompt], "cf", k=1, init_codes=[[other]], start=101)
    ce = pipe.code_ce(prompt, [code, other], "cf", step=0)
    assert len(ce) == 2 and ce[0] < ce[1]
    assert ce == pipe.code_ce(prompt, [code, other], "cf", step=0)  # seeded: the values compare the codes

    with (tmp_path / "m" / "examples.jsonl").open("w") as f:
        for p, c in CF_PAIRS[1:]:
            f.write(json.dumps({"lang": "cf", "prompt": p, "code": c}) + "\n")
    (tmp_path / "m" / "seeding.json").write_text(json.dumps({"start": {"cf": 50}, "steps": 2, "keep_examples": True}))
    engine = Engine(tmp_path / "m", device="cpu")
    engine.load()
    assert engine.status()["seededLanguages"] == ["cf"] and engine.status()["examples"] == "loaded"
    samples = engine.sample_batch(["less than 30"], "cf", k=2)[0]
    assert any(s.unedited for s in samples) and any(s.seed is not None and not s.unedited for s in samples)
    (tmp_path / "m" / "seeding.json").write_text(json.dumps({"start": {"cf": 150}}))
    with pytest.raises(EngineNotReady, match="seeding.json.*per cent"):
        Engine(tmp_path / "m", device="cpu").load()


def test_a_folder_hands_languages_to_a_masked_model_beside_it(tok, overfit, tmp_path):
    """languages.json: the Gaussian folder serves CF from the masked folder beside it (the shipped layout:
    models/codefusion hands Python and Bash to models/codefusion-masked); seeding.json's start is read per
    language by the kernel that serves it; a broken file or a missing folder is a clear error."""
    import json

    from codefusion.model.networks import CodeFusionNet
    from codefusion.server.engine import Engine, EngineNotReady

    net, cfg, _ = overfit
    save_model_dir(tmp_path / "masked", net, cfg, tok, kind="masked")
    (tmp_path / "masked" / "sampler.json").write_text('{"temperature": 0.0}')
    torch.manual_seed(0)
    gaussian = CodeFusionNet(tiny_cfg(tok, d_model=64, d_ff=128)).eval()
    save_model_dir(tmp_path / "main", gaussian, gaussian.cfg, tok)
    prompts = [p for p, _ in CF_PAIRS]
    rules = [tok.decode(tok.encode_code(c)) for _, c in CF_PAIRS]
    alone = Engine(tmp_path / "main", device="cpu").generate_batch(prompts, "cf", k=1)
    assert [c[0].text if c else None for c in alone] != rules  # the random Gaussian net does not know them

    (tmp_path / "main" / "languages.json").write_text(json.dumps({"cf": "masked"}))
    engine = Engine(tmp_path / "main", device="cpu")
    assert [c[0].text for c in engine.generate_batch(prompts, "cf", k=1)] == rules
    status = engine.status()
    assert status["languageModels"] == {"cf": {"path": str(tmp_path / "masked"), "kind": "masked"}}
    # what a request that names no steps samples with (codefusion eval records it): the masked folder's settings
    assert engine.sampler("cf")["kernel"] == "masked" and engine.sampler("cf")["temperature"] == 0.0
    assert engine.sampler("cf")["steps"] == MaskedSampling().steps
    assert engine.sampler("python") == {"kernel": "diffusion", "steps": DEFAULT_STEPS}
    assert status["parameters"] == sum(p.numel() for m in (net, gaussian) for p in m.parameters())

    from codefusion.server.cli.doctor import check_model

    served = [c for c in check_model(tmp_path / "main", "cpu") if c.name == "language models"]
    assert len(served) == 1 and served[0].ok and f"cf by {tmp_path / 'masked'} (masked" in served[0].detail

    (tmp_path / "main" / "examples.jsonl").write_text(
        "".join(json.dumps({"lang": "cf", "prompt": p, "code": c}) + "\n" for p, c in CF_PAIRS))
    (tmp_path / "main" / "seeding.json").write_text(json.dumps({"start": {"python": 300, "cf": 150}}))
    with pytest.raises(EngineNotReady, match="cf: for a masked model 'start' is the per cent"):
        Engine(tmp_path / "main", device="cpu").load()  # python's 300 is a Gaussian step: fine
    (tmp_path / "main" / "seeding.json").unlink()

    for bad, why in (({"sql": "masked"}, "unknown language 'sql'"), ({"cf": "../masked"}, "name of a model folder"),
                     ({"cf": "nowhere"}, "no model folder"), (["cf"], "expected")):
        (tmp_path / "main" / "languages.json").write_text(json.dumps(bad))
        with pytest.raises(EngineNotReady, match=f"languages.json.*{why}"):
            Engine(tmp_path / "main", device="cpu").load()
    assert not next(c for c in check_model(tmp_path / "main", "cpu") if c.name == "language models").ok


def examples_as_they_are(folder, tok, overfit) -> None:
    """A masked model folder that serves its CF examples (all rules but the first) as they are: start 0."""
    import json

    net, cfg, _ = overfit
    save_model_dir(folder, net, cfg, tok, kind="masked")
    (folder / "examples.jsonl").write_text(
        "".join(json.dumps({"lang": "cf", "prompt": p, "code": c}) + "\n" for p, c in CF_PAIRS[1:]))
    (folder / "seeding.json").write_text(json.dumps({"start": {"cf": 0}, "steps": 1}))


def test_a_masked_model_at_start_0_serves_the_examples_without_running(tok, overfit, tmp_path, monkeypatch):
    """0 % remasked: each edit is its example — what the sampler gives (checked), served without running it."""
    from codefusion.server.engine import Engine

    examples_as_they_are(tmp_path / "m", tok, overfit)
    engine = Engine(tmp_path / "m", device="cpu", oversample=1)  # no top-up batch (it samples from noise)
    engine.load()
    pipe = engine._pipeline("cf")
    prompt, examples = "values less than 30", [c for _, c in CF_PAIRS[1:]]
    nearest = [r.code for r in engine._seeds.nearest(prompt, "cf", 2)]
    cycled = [nearest[j % len(nearest)] for j in range(2)]  # k candidates, from the examples in turn
    ran = pipe.sample([prompt], "cf", k=2, init_codes=[nearest], start=0, steps=1)[0]
    assert [s.text for s in ran] == cycled and set(nearest) <= set(examples)

    def no_model(*args, **kwargs):
        raise AssertionError("the sampler ran for examples served as they are")

    monkeypatch.setattr(pipe, "sample", no_model)
    samples = engine.sample_batch([prompt], "cf", k=2)[0]
    assert [s.text for s in samples] == cycled and all(s.seed == s.text for s in samples)


def held(monkeypatch: pytest.MonkeyPatch, cls: type, method: str) -> threading.Event:
    """`cls.method(self, model_dir)` waits for the returned gate to be set (60 s at most), then runs."""
    gate, real = threading.Event(), getattr(cls, method)

    def waiting(self, model_dir):
        assert gate.wait(60)
        real(self, model_dir)

    monkeypatch.setattr(cls, method, waiting)
    return gate


def test_examples_served_as_they_are_answer_before_the_weights_load(tok, overfit, tmp_path, monkeypatch):
    """load(examples_later=True) with a masked model at start 0 and an index that loads in a second: the index
    loads before the weights (no torch needed) and answers that language in nearness order meanwhile, uncached;
    once the weights are in, the model serves as before."""
    import threading
    import time

    from codefusion.server.engine import Engine

    examples_as_they_are(tmp_path / "m", tok, overfit)
    gate = held(monkeypatch, Engine, "_load_main")
    engine = Engine(tmp_path / "m", device="cpu", oversample=1)
    loader = threading.Thread(target=lambda: engine.load(examples_later=True), daemon=True)
    loader.start()
    deadline = time.monotonic() + 60
    while engine.status()["examples"] != "loaded" and time.monotonic() < deadline:
        time.sleep(0.01)
    status = engine.status()
    assert status["examples"] == "loaded" and status["state"] == "loading" and not engine.serving
    assert engine.answers("cf") and not engine.answers("python")  # python is not seeded here: it waits
    served = engine.generate("values less than 30", "cf", k=2)
    assert served and all(c.seed == c.text for c in served)  # the examples themselves
    assert engine.status()["exampleAnswers"] == 1 and engine.generations == 0  # no model ran
    gate.set()
    loader.join(60)
    assert engine.status()["state"] == "ready"
    again = engine.generate("values less than 30", "cf", k=2)  # not the uncached answer above: the engine's own
    assert again and engine.generations == 1 and engine.status()["exampleAnswers"] == 1


def test_examples_that_must_be_embedded_first_load_after_the_weights_and_the_first_request_waits_for_them(
        tok, overfit, tmp_path, monkeypatch):
    """load(examples_later=True) with a masked model at start 0 and an index that must first embed its example
    prompts (minutes: seeding.quick_to_load is False): the weights first, so the model alone can answer; the
    index then loads at once (no grace for a first answer) and a request waits for it (EXAMPLES_WAIT_S at most,
    then the model alone answers; cancellable)."""
    import threading
    import time

    from codefusion.model.examples import seeding
    from codefusion.model.pipeline import SamplingCancelled
    from codefusion.server import engine as engine_module
    from codefusion.server.engine import Engine

    examples_as_they_are(tmp_path / "m", tok, overfit)
    monkeypatch.setattr(seeding, "quick_to_load", lambda model_dir: False)
    monkeypatch.setattr(engine_module, "EXAMPLES_GRACE_S", 600)  # were it waiting for a first answer, it would hang
    gate = held(monkeypatch, Engine, "_load_examples")

    def loading_engine() -> Engine:
        gate.clear()
        engine = Engine(tmp_path / "m", device="cpu", oversample=1)
        threading.Thread(target=lambda: engine.load(examples_later=True), daemon=True).start()
        deadline = time.monotonic() + 60
        while engine.status()["examples"] != "loading" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert engine.status()["examples"] == "loading" and engine.serving  # at once, not after a first answer
        return engine

    prompt = "values less than 30"
    engine = loading_engine()
    answers: list = []
    asking = threading.Thread(target=lambda: answers.append(engine.generate(prompt, "cf", k=2)))
    asking.start()
    asking.join(0.5)
    assert asking.is_alive() and not answers  # waits for the index instead of running the model alone
    gate.set()
    asking.join(60)
    assert answers[0] and all(c.seed == c.text for c in answers[0])  # the examples themselves
    assert engine.status()["examples"] == "loaded"

    monkeypatch.setattr(engine_module, "EXAMPLES_WAIT_S", 0.2)
    engine = loading_engine()
    before = engine.generations
    alone = engine.generate(prompt, "cf", k=2)  # the index is still loading after 0.2 s: the model alone
    assert engine.generations == before + 1 and all(c.seed is None for c in alone)  # the sampler ran, no examples
    with pytest.raises(SamplingCancelled):
        engine.generate("values above 90", "cf", k=2, should_stop=lambda: True)
    gate.set()


def test_the_main_model_loads_after_the_examples_another_folder_serves(tok, overfit, tmp_path, monkeypatch):
    """load(examples_later=True) where languages.json hands a language to a masked folder that serves its examples as
    they are (the shipped layout: Python and Bash): that language answers before the main folder's own model has
    loaded; a request for a language the main model serves waits for it; a main model that fails to load fails the
    engine with its reason."""
    import json
    import threading
    import time

    from codefusion.model.networks import CodeFusionNet
    from codefusion.server.engine import Engine, EngineNotReady

    examples_as_they_are(tmp_path / "masked", tok, overfit)
    torch.manual_seed(0)
    gaussian = CodeFusionNet(tiny_cfg(tok, d_model=64, d_ff=128)).eval()
    save_model_dir(tmp_path / "main", gaussian, gaussian.cfg, tok)
    (tmp_path / "main" / "languages.json").write_text(json.dumps({"cf": "masked"}))
    (tmp_path / "main" / "examples.jsonl").write_text((tmp_path / "masked" / "examples.jsonl").read_text())
    (tmp_path / "main" / "seeding.json").write_text(json.dumps({"start": {"cf": 0}, "steps": 1}))
    gate, real = threading.Event(), CodeFusionPipeline.from_dir.__func__

    def held_main(cls, model_dir, *args, **kwargs):
        if Path(model_dir) == tmp_path / "main":
            assert gate.wait(60)
        return real(cls, model_dir, *args, **kwargs)

    monkeypatch.setattr(CodeFusionPipeline, "from_dir", classmethod(held_main))
    engine = Engine(tmp_path / "main", device="cpu", oversample=1)
    loader = threading.Thread(target=lambda: engine.load(examples_later=True), daemon=True)
    loader.start()
    deadline = time.monotonic() + 60
    while not engine.serving and time.monotonic() < deadline:
        time.sleep(0.01)
    served = engine.generate("values less than 30", "cf", k=2)  # answered while the main model is held
    status = engine.status()
    assert served and all(c.seed == c.text for c in served)
    assert status["mainModel"] == "waiting" and status["examples"] == "loaded" and status["state"] == "loading"
    answers: list = []
    asking = threading.Thread(target=lambda: answers.append(engine.generate("values above 90", "python", k=1,
                                                                            steps=2)))
    asking.start()
    asking.join(0.5)
    assert asking.is_alive() and not answers  # python is the main model's: it waits for it
    gate.set()
    asking.join(60)
    loader.join(60)
    assert answers and engine.status()["mainModel"] == "loaded" and engine.status()["state"] == "ready"

    def broken_main(cls, model_dir, *args, **kwargs):
        if Path(model_dir) == tmp_path / "main":
            raise RuntimeError("weights unreadable")
        return real(cls, model_dir, *args, **kwargs)

    monkeypatch.setattr(CodeFusionPipeline, "from_dir", classmethod(broken_main))
    engine = Engine(tmp_path / "main", device="cpu")
    with pytest.raises(EngineNotReady, match="weights unreadable"):
        engine.load(examples_later=True)
    with pytest.raises(EngineNotReady, match="weights unreadable"):
        engine.generate("values above 90", "python", k=1)
