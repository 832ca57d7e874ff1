"""Unit tests of the CodeFusion model: shapes, schedule, losses, CPD masks, overfitting, determinism, I/O."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from codefusion.model.config import EXPERIMENTS_COMMIT, ModelConfig, preset
from codefusion.model.modelfile import ModelLoadError, save_model_dir
from codefusion.model.networks import CodeFusionNet
from codefusion.model.noise.gaussian import (
    Batch,
    DDIMScheduler,
    GaussianDiffusion,
    NoiseSchedule,
    SamplingCancelled,
    sample_codes,
)
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.tokenizer import CodeTokenizer
from codefusion.model.training.data import cpd_mask, keyword_spans, load_pairs, split_of
from tiny_model import CF_PAIRS, cf_batch, cf_tokenizer, tiny_cfg


@pytest.fixture(scope="module")
def tok() -> CodeTokenizer:
    return cf_tokenizer()


def test_tokenizer_round_trips_numbers_and_tags(tok):
    code = "x = 1234567890"
    ids = tok.encode_code(code)
    assert ids[-1] == tok.eos_id
    assert tok.decode(ids) == code
    digits = [tok.tok.id_to_token(i) for i in tok.encode_code("987")[:-1]]
    assert digits == ["9", "8", "7"]
    assert tok.encode_prompt("hi", "bash", 8)[0] == tok.lang_ids["bash"]


def test_network_shapes(tok):
    cfg = tiny_cfg(tok)
    net = CodeFusionNet(cfg)
    b, p, length = 3, 5, cfg.code_len["python"]
    prompt = torch.randint(3, cfg.vocab_size, (b, p))
    memory = net.encode(prompt, prompt == cfg.pad_id)
    assert memory.shape == (b, p, cfg.d_model)
    x_t = torch.randn(b, length, cfg.d_embed)
    x0, logits = net.denoise(x_t, torch.tensor([0, 5, 1199]), memory, prompt == cfg.pad_id)
    assert x0.shape == (b, length, cfg.d_embed)
    assert logits is not None and logits.shape == (b, length, cfg.vocab_size)
    hidden = net.decode(x0, memory, prompt == cfg.pad_id)
    assert hidden.shape == (b, length, cfg.d_embed)
    assert net.head(hidden).shape == (b, length, cfg.vocab_size)


def test_sqrt_schedule_properties():
    s = NoiseSchedule(steps=1200, offset=1e-4)
    ab = s.alpha_bar
    assert ab.shape == (1200,)
    assert torch.all(ab[1:] < ab[:-1]), "ᾱ must decrease with t"
    assert 0.95 < ab[0] < 1.0 and ab[-1] < 1e-3
    # the sqrt schedule adds noise fast at first: ᾱ at t=T/100 is already ~1 - sqrt(0.01)
    assert abs(float(ab[11]) - (1 - 0.1)) < 0.03
    x0, noise = torch.ones(2, 4, 3), torch.randn(2, 4, 3)
    xt = s.q_sample(x0, torch.tensor([0, 1199]), noise)
    assert torch.allclose(xt[1], noise[1], atol=0.05)


def test_each_loss_term_is_finite_and_trains(tok):
    cfg = tiny_cfg(tok)
    net = CodeFusionNet(cfg)
    diffusion = GaussianDiffusion(schedule=NoiseSchedule(steps=cfg.diffusion_steps))
    losses = diffusion.training_losses(net, cf_batch(tok, cfg))
    assert set(losses) == {"x0_mse", "decoder_mse", "ce", "denoiser_ce", "loss"}
    for name, value in losses.items():
        assert torch.isfinite(value) and value > 0, name
    assert torch.isclose(losses["loss"], sum(v for k, v in losses.items() if k != "loss"))
    losses["loss"].backward()
    assert net.decoder.out.weight.grad is not None and net.denoiser.blocks.inp.weight.grad is not None


def test_embed_scale_shrinks_the_code_embedding_but_not_the_logits(tok):
    # A smaller embed_scale makes tokens unreadable from x_t at lower noise; exact-match logits stay the same.
    torch.manual_seed(0)
    base = CodeFusionNet(tiny_cfg(tok))
    scaled = CodeFusionNet(tiny_cfg(tok, embed_scale=0.4))
    scaled.load_state_dict(base.state_dict())
    ids = torch.tensor([[3, 4, 5]])
    e0, e1 = base.embed_code(ids), scaled.embed_code(ids)
    assert torch.allclose(e1, 0.4 * e0, atol=1e-6)
    assert torch.allclose(e1.norm(dim=-1), torch.full((1, 3), 0.4 * base.cfg.d_embed**0.5), atol=1e-5)
    assert torch.allclose(base.head(e0), scaled.head(e1), atol=1e-4)
    assert ModelConfig.from_dict(scaled.cfg.to_dict()).embed_scale == 0.4


def test_cpd_noises_only_masked_positions(tok):
    cfg = tiny_cfg(tok)
    net = CodeFusionNet(cfg)
    seen = {}

    def spy(module, args):
        seen["x_t"] = args[0].detach().clone()

    net.denoiser.register_forward_pre_hook(spy)
    batch = cf_batch(tok, cfg)
    mask = torch.zeros_like(batch.code, dtype=torch.float32)
    mask[:, 0] = 1.0
    batch.noise_mask = mask
    GaussianDiffusion(schedule=NoiseSchedule(steps=cfg.diffusion_steps), self_conditioning=False).training_losses(
        net, batch)
    x0 = net.embed_code(batch.code)
    x_t = seen["x_t"][..., : cfg.d_embed]
    assert torch.allclose(x_t[:, 1:], x0[:, 1:].detach()), "unmasked tokens must stay clean"
    assert not torch.allclose(x_t[:, 0], x0[:, 0].detach())


@pytest.mark.parametrize("lang,code,noised,clean", [
    ("python", "total = compute(x) if x else 0", {"total", "compute", "x", "if", "else"}, {"=", "(", ")", "0"}),
    ("bash", "find . -name '*.py' | xargs wc -l", {"find", "xargs"}, {".", "-name", "|", "-l"}),
    ("cf", "AND(GreaterThan(5),LessThan(9))", {"AND", "GreaterThan", "LessThan"}, {"5", "9", "(", ","}),
])
def test_cpd_mask_touches_only_identifiers_and_keywords(lang, code, noised, clean):
    spans = keyword_spans(lang, code)
    words = {code[a:b] for a, b in spans}
    assert noised <= words and not (clean & words)
    offsets = [(0, 2), (len(code) - 1, len(code))]
    assert cpd_mask(offsets, [(0, 1)]) == [True, False]


def _overfit(tok: CodeTokenizer, steps: int = 300) -> tuple[CodeFusionNet, ModelConfig]:
    torch.manual_seed(0)
    cfg = tiny_cfg(tok, d_model=64, d_ff=128)
    net = CodeFusionNet(cfg)
    diffusion = GaussianDiffusion(schedule=NoiseSchedule(steps=cfg.diffusion_steps))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    batch = cf_batch(tok, cfg)
    for _ in range(steps):
        loss = diffusion.training_losses(net, batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval(), cfg


@pytest.fixture(scope="module")
def overfit(tok):
    return _overfit(tok)


def test_tiny_model_overfits_to_exact_recovery_through_the_sampler(tok, overfit):
    net, cfg = overfit
    pipe = CodeFusionPipeline.from_parts(net, cfg, tok)
    out = pipe.sample([a for a, _ in CF_PAIRS], "cf", k=2, steps=10, seed=3)
    assert [cands[0].text for cands in out] == [b for _, b in CF_PAIRS]
    assert all(c.score <= 0 for cands in out for c in cands)


def test_code_ce_prefers_the_code_the_model_learned_for_the_prompt(tok, overfit):
    net, cfg = overfit
    pipe = CodeFusionPipeline.from_parts(net, cfg, tok)
    codes = [b for _, b in CF_PAIRS]
    for prompt, gold in CF_PAIRS:
        ce = pipe.code_ce(prompt, codes, "cf", 600)
        assert len(ce) == len(codes) and min(ce) == ce[codes.index(gold)], (prompt, ce)
    # the same noise for every code, seeded: a code's value depends neither on the call nor on its neighbours
    ce = pipe.code_ce("less than 30", codes, "cf", 600)
    assert ce == pipe.code_ce("less than 30", codes, "cf", 600)
    assert pipe.code_ce("less than 30", codes[3:], "cf", 600) == pytest.approx(ce[3:], abs=1e-5)
    assert pipe.code_ce("less than 30", [], "cf", 100) == []
    for bad in (-1, cfg.diffusion_steps):
        with pytest.raises(ValueError, match="step must be"):
            pipe.code_ce("less than 30", codes, "cf", bad)
    with pytest.raises(ValueError, match="unknown language"):
        pipe.code_ce("less than 30", codes, "sql", 100)


def test_respaced_timesteps_with_and_without_the_final_clean_step():
    schedule = NoiseSchedule(steps=1200)
    sched = DDIMScheduler(schedule=schedule)
    sched.set_timesteps(4)
    assert sched.timesteps == [1199, 799, 400, 0]  # from pure noise down to t = 0
    short = DDIMScheduler(schedule=schedule, end_at_zero=False)
    short.set_timesteps(4)
    assert short.timesteps[0] == 1199 and short.timesteps[-1] == 300 and len(short.timesteps) == 4
    assert all(a > b for a, b in zip(short.timesteps, short.timesteps[1:], strict=False))
    steep = DDIMScheduler(schedule=schedule, spacing_power=3.0)
    steep.set_timesteps(4)
    assert steep.timesteps[1] > sched.timesteps[1]  # power > 1 stays longer at high noise
    with pytest.raises(ValueError):
        sched.set_timesteps(0)


def test_sampling_is_deterministic_per_seed_and_cancellable(tok, overfit):
    net, cfg = overfit
    sched = DDIMScheduler(schedule=NoiseSchedule(steps=cfg.diffusion_steps))
    prompt = torch.tensor([tok.encode_prompt("greater than 500", "cf", 16)])
    args = dict(prompt=prompt, prompt_pad=prompt == cfg.pad_id, k=3, length=8, steps=5)
    a = sample_codes(net, sched, seed=7, **args)
    b = sample_codes(net, sched, seed=7, **args)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.scores, b.scores)
    calls = []

    def stop_after_two() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(SamplingCancelled):
        sample_codes(net, sched, seed=7, should_stop=stop_after_two, **args)
    assert len(calls) == 3


def test_checkpoint_round_trip_and_clear_errors(tok, overfit, tmp_path):
    net, cfg = overfit
    save_model_dir(tmp_path / "m", net, cfg, tok, half=False)
    pipe = CodeFusionPipeline.from_dir(tmp_path / "m", device="cpu")
    for (a, p) in zip(net.state_dict().values(), pipe.net.state_dict().values(), strict=True):
        assert torch.equal(a, p)
    same = CodeFusionPipeline.from_parts(net, cfg, tok).sample(["less than 30"], "cf", k=2, seed=1)
    assert pipe.sample(["less than 30"], "cf", k=2, seed=1) == same

    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "m", broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match="model.safetensors"):
        CodeFusionPipeline.from_dir(broken, device="cpu")
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="weights not found"):
        CodeFusionPipeline.from_dir(broken, device="cpu")
    cfg_json = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg_json["vocab_size"] += 1
    shutil.copytree(tmp_path / "m", tmp_path / "mismatch")
    (tmp_path / "mismatch" / "config.json").write_text(json.dumps(cfg_json))
    with pytest.raises(ModelLoadError, match="tokenizer"):
        CodeFusionPipeline.from_dir(tmp_path / "mismatch", device="cpu")


def test_retired_experiment_keys_load_only_at_their_adopted_value(tok, overfit, tmp_path):
    """Model folders written before the unadopted experiments left the code still load; others name the tag."""
    net, cfg = overfit
    save_model_dir(tmp_path / "m", net, cfg, tok, half=False)
    path = tmp_path / "m" / "config.json"
    body = json.loads(path.read_text())
    legacy = {"x0_parameterization": "expected_embedding", "example_context": False, "example_guess": False,
              "minilm_prompt_len": 0}
    assert not set(legacy) & set(body)  # new folders do not write them
    path.write_text(json.dumps({**body, **legacy}))
    assert CodeFusionPipeline.from_dir(tmp_path / "m", device="cpu").config == cfg
    for key, value in (("x0_parameterization", "regress"), ("example_context", True), ("minilm_prompt_len", 48)):
        path.write_text(json.dumps({**body, key: value}))
        with pytest.raises(ModelLoadError, match=f"{key}.*commit {EXPERIMENTS_COMMIT}"):
            CodeFusionPipeline.from_dir(tmp_path / "m", device="cpu")
    with pytest.raises(ValueError, match="unknown config keys"):
        ModelConfig.from_dict({**cfg.to_dict(), "clamp": True})


def test_shipped_model_folders_still_load(shipped_model_dir):
    from codefusion.model.modelfile import read_config, read_language_models
    from codefusion.model.pipeline import BASELINE_MODEL_DIR, MASKED_MODEL_DIR

    for folder in (shipped_model_dir, BASELINE_MODEL_DIR):
        kind, cfg = read_config(folder)
        assert kind in ("diffusion", "ar") and cfg.self_conditioning
    # Python and Bash are served by the masked model beside it, CF by the Gaussian one
    assert read_language_models(shipped_model_dir) == {"python": MASKED_MODEL_DIR, "bash": MASKED_MODEL_DIR}
    assert read_config(MASKED_MODEL_DIR)[0] == "masked"


def test_shipped_weights_are_fp16_and_within_the_budget(shipped_model_dir):
    """All shipped weights (the models and the AR baseline) are fp16 safetensors, 64 MiB at most in total."""
    from safetensors import safe_open

    files = sorted(shipped_model_dir.parent.glob("*/*.safetensors"))
    assert {f.parent.name for f in files} >= {"codefusion", "codefusion-masked", "ar-baseline"}
    for f in files:
        with safe_open(str(f), "pt") as weights:
            assert all(weights.get_slice(k).get_dtype() == "F16" for k in weights.keys()), f
    assert sum(f.stat().st_size for f in files) <= 64 * 2**20


def test_fp16_weights_on_disk(tok, overfit, tmp_path):
    net, cfg = overfit
    save_model_dir(tmp_path / "m", net, cfg, tok)
    from safetensors.torch import load_file

    assert all(t.dtype == torch.float16 for t in load_file(str(tmp_path / "m" / "model.safetensors")).values()
               if t.is_floating_point())


def test_paper_size_config_runs_a_training_step():
    cfg = preset("paper-75m")
    net = CodeFusionNet(cfg)
    assert 60e6 < net.num_parameters() < 100e6
    diffusion = GaussianDiffusion(schedule=NoiseSchedule(steps=cfg.diffusion_steps))
    batch = Batch(prompt=torch.randint(3, 100, (2, 6)), prompt_pad=torch.zeros(2, 6, dtype=torch.bool),
                  code=torch.randint(3, 100, (2, cfg.code_len["cf"])))
    loss = diffusion.training_losses(net, batch)["loss"]
    loss.backward()
    assert torch.isfinite(loss)


def test_dev_split_is_grouped_by_id_and_deterministic():
    train, skipped = load_pairs("python", "train")
    dev, _ = load_pairs("python", "dev")
    assert {p.id for p in train}.isdisjoint({p.id for p in dev})
    assert 0.05 < len(dev) / (len(train) + len(dev)) < 0.15
    assert skipped > 0  # the data has null/empty utterances; they are counted, not crashed on
    assert all(split_of(p.id) == "dev" for p in dev)


def test_torchrun_two_process_gloo_smoke(tmp_path, tok):
    tok.save(tmp_path / "tok.json")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           # --run-dir: torchrun would take a bare --run as an abbreviation of its own --run-path
           "-m", "codefusion.model.training.cli", "finetune", "--run-dir", str(tmp_path / "run"), "--preset", "tiny",
           "--tokenizer", str(tmp_path / "tok.json"), "--steps", "3", "--batch", "4", "--eval-every", "0",
           "--checkpoint-every", "3"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 3
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()


def test_extra_pairs_file(tmp_path):
    from codefusion.model.training.corpus import load_extra_pairs

    good = tmp_path / "extra.jsonl"
    good.write_text('{"lang": "python", "prompt": "sort  the list", "code": "x.sort()"}\n'
                    '{"lang": "bash", "prompt": "list files", "code": "ls"}\n')
    pairs = load_extra_pairs(good)
    assert [(p.prompt, p.code) for p in pairs["python"]] == [("sort the list", "x.sort()")]
    assert len(pairs["bash"]) == 1 and pairs["cf"] == []
    for body, match in (('{"lang": "perl", "prompt": "a", "code": "b"}', "extra.jsonl:1"),
                        ('{"lang": "python", "prompt": "", "code": "b"}', "extra.jsonl:1"), ("{oops", "not JSON")):
        good.write_text(body + "\n")
        with pytest.raises(ValueError, match=match):
            load_extra_pairs(good)


def test_bad_init_or_extra_flags_are_refused_before_any_work(tmp_path):
    for flag, message in (("--init", "not a model folder"), ("--extra-pairs", "no such file")):
        proc = subprocess.run([sys.executable, "-m", "codefusion.model.training.cli", "finetune", "--run",
                               str(tmp_path / "run"), flag, str(tmp_path / "missing")],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "run").exists()
