"""The masked kernel initialised from the AR baseline (model/training/from_ar.py)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import pytest
import torch
from codefusion.model.ar_baseline import ARNet
from codefusion.model.modelfile import save_model_dir
from codefusion.model.networks import MaskedDiffusionNet, future_mask
from codefusion.model.noise.masked import MaskedDiffusion, sample_masked
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.training.cli import DiffusionObjective, masked_schedule, stream_seed
from codefusion.model.training.corpus import batch_stream
from codefusion.model.training.from_ar import init_masked_from_ar, masked_config_from_ar
from codefusion.model.training.trainer import Trainer, TrainerConfig
from tiny_model import CF_PAIRS, cf_batch, cf_examples, cf_tokenizer, tiny_cfg


@pytest.fixture(scope="module")
def tok():
    return cf_tokenizer()


@pytest.fixture(scope="module")
def ar(tok):
    torch.manual_seed(0)
    return ARNet(tiny_cfg(tok, d_model=32, denoiser_layers=2, decoder_layers=1)).eval()


def test_under_a_causal_mask_the_adapted_net_computes_the_ar_logits(tok, ar):
    cfg = masked_config_from_ar(ar.cfg)
    assert cfg.masked_shift and cfg.denoiser_layers == 3 and cfg.decoder_layers == 0
    net = MaskedDiffusionNet(cfg).eval()
    batch = cf_batch(tok, ar.cfg)
    init_masked_from_ar(net, ar, [int(batch.prompt[0, 0])])  # the CF tag: every row of the batch starts with it
    with torch.no_grad():
        memory = ar.encode(batch.prompt, batch.prompt_pad)
        want = ar.logits(torch.cat([batch.prompt[:, :1], batch.code[:, :-1]], 1), memory, batch.prompt_pad)
        x = net.embed(batch.code)  # (B, L+1, C): start, then the code
        h = net.denoiser.inp(x) + net.denoiser.pos.weight[: x.shape[1]]
        causal = torch.triu(torch.full((x.shape[1],) * 2, float("-inf")), diagonal=1)
        h = net.denoiser.layers(h, net.encode(batch.prompt, batch.prompt_pad), tgt_mask=causal,
                                memory_key_padding_mask=batch.prompt_pad)
        got = net.project(net.denoiser.out(net.denoiser.norm(h)))
        annealed_start = net(batch.code, net.encode(batch.prompt, batch.prompt_pad), batch.prompt_pad, future_share=0.0)
    assert got.shape == want.shape == (len(CF_PAIRS), batch.code.shape[1], ar.cfg.vocab_size)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(annealed_start, want, atol=1e-4, rtol=1e-4)  # the causal anneal's first step


def test_the_future_mask_hides_only_later_positions_and_opens_with_the_share():
    assert future_mask(6, 1.0, torch.device("cpu")) is None
    torch.testing.assert_close(future_mask(6, 0.0, torch.device("cpu")), torch.ones(6, 6, dtype=torch.bool).triu(1))
    torch.manual_seed(0)
    half = future_mask(200, 0.5, torch.device("cpu"))
    assert not half.tril().any()  # earlier positions and the position itself: always visible
    assert 0.45 < half.float().sum() / (200 * 199 / 2) < 0.55


def test_the_causal_anneal_opens_linearly_then_stays_full():
    kernel = MaskedDiffusion(causal_anneal_steps=100)
    shares = []
    for step in (0, 25, 100, 5000):
        kernel.set_step(step)
        shares.append(kernel.future_share())
    assert shares == [0.0, 0.25, 1.0, 1.0]
    assert MaskedDiffusion().future_share() == 1.0
    with pytest.raises(ValueError, match="causal_anneal_steps"):
        MaskedDiffusion(causal_anneal_steps=-1)


def test_the_adaptation_refuses_a_net_of_another_shape(tok, ar):
    with pytest.raises(ValueError, match="masked_config_from_ar"):
        init_masked_from_ar(MaskedDiffusionNet(tiny_cfg(tok)), ar, [3])


def test_a_shifted_net_trains_and_samples_every_position(tok, ar):
    net = MaskedDiffusionNet(masked_config_from_ar(ar.cfg))
    init_masked_from_ar(net, ar, [3, 4, 5])
    batch = cf_batch(tok, ar.cfg)
    logits = net(batch.code, net.encode(batch.prompt, batch.prompt_pad), batch.prompt_pad)
    assert logits.shape == (len(CF_PAIRS), batch.code.shape[1], ar.cfg.vocab_size)
    logits.sum().backward()
    assert net.start.grad is not None and net.start.grad.abs().sum() > 0
    net.eval()
    out = sample_masked(net, prompt=batch.prompt, prompt_pad=batch.prompt_pad, k=2, length=batch.code.shape[1],
                        steps=4, seed=0)
    assert out.tokens.shape == (2 * len(CF_PAIRS), batch.code.shape[1]) and (out.tokens != net.mask_id).all()


def test_finetune_from_an_ar_folder_trains_a_shifted_masked_model_that_serves(tmp_path, tok, ar):
    save_model_dir(tmp_path / "ar", ar, ar.cfg, tok, half=False, kind="ar")
    cmd = [sys.executable, "-m", "codefusion.model.training.cli", "finetune", "--run", str(tmp_path / "run"),
           "--kernel", "masked", "--init", str(tmp_path / "ar"), "--steps", "2", "--batch", "4", "--threads", "1",
           "--eval-every", "0", "--checkpoint-every", "2", "--causal-anneal", "2", "--snapshot-every", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "initialised from the AR baseline" in proc.stderr + proc.stdout
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["kind"] == "masked" and config["masked_shift"] is True and config["denoiser_layers"] == 3
    snapshots = tmp_path / "run" / "snapshots"
    assert sorted(p.name for p in snapshots.iterdir()) == ["step-0", "step-2"]  # the adapted, untrained weights first
    assert json.loads((snapshots / "step-0" / "training.json").read_text())["step"] == 0
    pipe = CodeFusionPipeline.from_dir(tmp_path / "run" / "model", device="cpu")
    samples = pipe.sample([CF_PAIRS[0][0]], "cf", k=3, seed=0)
    assert pipe.kind == "masked" and len(samples) == 1 and len(samples[0]) == 3
    resumed = subprocess.run([*cmd[:11], "4", *cmd[12:]], capture_output=True, text=True, timeout=600,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    out = resumed.stderr + resumed.stdout
    assert "resumed at step 2" in out  # and it draws new batches and masks, not the run's first ones again:
    assert f"batch streams and noise seeded {stream_seed(0, 2)} (seed 0, resumed at step 2)" in out
    refused = subprocess.run([*cmd[:5], str(tmp_path / "run2"), *cmd[6:], "--config-overrides", '{"dropout": 0}'],
                             capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert refused.returncode != 0 and "takes its shape" in refused.stderr
    assert not (tmp_path / "run2" / "checkpoint").exists()
    ar_cmd = [*cmd[:5], str(tmp_path / "run3"), "--arch", "ar", "--steps", "1", "--causal-anneal", "5"]
    not_masked = subprocess.run(ar_cmd, capture_output=True, text=True, timeout=600,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert not_masked.returncode != 0 and "masked kernel only" in not_masked.stderr
    bad_rate = subprocess.run([*cmd[:5], str(tmp_path / "run4"), *cmd[6:], "--mask-rate-min", "1.5"],
                              capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert bad_rate.returncode != 0 and "--mask-rate-min must be in (0, 1)" in bad_rate.stderr
    assert not (tmp_path / "run4" / "checkpoint").exists()
    bad_anneal = subprocess.run([*cmd[:5], str(tmp_path / "run5"), *cmd[6:], "--causal-anneal", "-3"],
                                capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert bad_anneal.returncode != 0 and "--causal-anneal must be ≥ 0" in bad_anneal.stderr


def test_the_trainer_tells_the_anneal_its_step_and_a_resumed_run_continues_it(tmp_path, tok, ar):
    net = MaskedDiffusionNet(masked_config_from_ar(ar.cfg))
    init_masked_from_ar(net, ar, [3])
    objective = DiffusionObjective(net, MaskedDiffusion(causal_anneal_steps=4))
    hook = masked_schedule(objective)
    seen: list[int] = []
    batch = cf_batch(tok, ar.cfg)

    def record(step: int) -> None:
        seen.append(step)
        assert hook is not None
        hook(step)

    def trainer(steps: int) -> Trainer:
        return Trainer(module=objective, batches=itertools.repeat(batch), run_dir=tmp_path / "run", on_step=record,
                       config=TrainerConfig(max_steps=steps, warmup_steps=1, log_every=1, checkpoint_every=3,
                                            eval_every=0))

    trainer(3).train()
    resumed = trainer(5)
    assert resumed.try_resume() and resumed.state.step == 3
    resumed.train()
    assert seen == [0, 1, 2, 3, 4]
    assert objective.diffusion.future_share() == 1.0  # step 4 of a 4-step anneal: full attention from here on
    assert masked_schedule(DiffusionObjective(net, MaskedDiffusion())) is not None
    assert masked_schedule(ar) is None


def test_each_resume_draws_other_batches_than_the_run_s_start(tok, ar):
    examples = cf_examples(tok, ar.cfg)

    def first_batches(seed: int) -> list[list[list[int]]]:
        stream = batch_stream({"cf": examples}, ar.cfg, batch_size=2, seed=seed, lang_weights={})
        return [next(stream).code.tolist() for _ in range(4)]

    assert stream_seed(0, 0) == 0 and first_batches(stream_seed(0, 0)) == first_batches(0)  # a fresh run as before
    seeds = {stream_seed(0, step) for step in (0, 250, 500)} | {stream_seed(1, 250)}
    assert len(seeds) == 4
    assert first_batches(stream_seed(0, 250)) != first_batches(0)
    assert first_batches(stream_seed(0, 250)) != first_batches(stream_seed(0, 500))
