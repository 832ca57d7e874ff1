"""The lean inference paths compute what the training-time modules compute; int8 and fp16 pipelines run."""

from __future__ import annotations

import pytest
import torch
from codefusion.model.ar_baseline import ARNet, ar_sample
from codefusion.model.config import preset
from codefusion.model.networks import CodeFusionNet
from codefusion.model.pipeline import CodeFusionPipeline


def random_inputs(cfg, b: int = 2, p: int = 5, length: int = 8):
    prompt = torch.randint(3, cfg.vocab_size, (b, p))
    prompt[1, 3:] = cfg.pad_id  # a padded prompt: the cross-attention mask matters
    return prompt, prompt == cfg.pad_id, length


@torch.inference_mode()
def test_cached_denoise_and_decode_match_the_modules():
    torch.manual_seed(0)
    cfg = preset("tiny", vocab_size=64, d_model=32, n_heads=2)
    net = CodeFusionNet(cfg).eval()
    prompt, pad, length = random_inputs(cfg)
    k = 3
    memory = net.encode(prompt, pad)
    ctx = net.request_context(memory, pad, k)
    memory_k, pad_k = memory.repeat_interleave(k, 0), pad.repeat_interleave(k, 0)
    x_t = torch.randn(2 * k, length, cfg.d_embed)
    x0_prev = torch.randn(2 * k, length, cfg.d_embed)
    t = torch.tensor([700])
    want, want_logits = net.denoise(x_t, t.expand(2 * k), memory_k, pad_k, x0_prev)
    got, got_logits = net.denoise_cached(x_t, net.timestep_conditions(t)[0], ctx, x0_prev)
    assert want_logits is not None and got_logits is not None
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got_logits, want_logits, rtol=1e-4, atol=1e-4)
    head = net.head(net.decode(want, memory_k, pad_k))
    torch.testing.assert_close(net.decode_cached(want, ctx), head, rtol=1e-4, atol=1e-4)


@torch.inference_mode()
def test_ar_next_token_logits_with_and_without_cache_match_the_training_forward():
    torch.manual_seed(0)
    cfg = preset("tiny", vocab_size=64, d_model=32, n_heads=2)
    net = ARNet(cfg).eval()
    prompt, pad, length = random_inputs(cfg)
    memory = net.encode(prompt, pad)
    seq = torch.randint(3, cfg.vocab_size, (2, 6))
    want = net.logits(seq, memory, pad)[:, -1]
    torch.testing.assert_close(net.next_token_logits(seq, memory, pad), want, rtol=1e-4, atol=1e-4)
    a = ar_sample(net, prompt=prompt, prompt_pad=pad, k=3, length=length, seed=1)
    b = ar_sample(net, prompt=prompt, prompt_pad=pad, k=3, length=length, seed=1, kv_cache=True)
    assert torch.equal(a.tokens, b.tokens)
    torch.testing.assert_close(a.scores, b.scores, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("method", ["diffusion", "sample", "sample-kv", "beam"])
def test_int8_and_fp16_pipelines_sample(tiny_model_dir, tiny_baseline_dir, method):
    model_dir = tiny_model_dir if method == "diffusion" else tiny_baseline_dir
    int8 = CodeFusionPipeline.from_dir(model_dir, device="cpu", quantize=True)
    assert len(int8.sample(["print hello world"], "python", k=2, method=method)[0]) == 2
    fp16 = CodeFusionPipeline.from_dir(model_dir, device="cpu")
    fp16.net = fp16.net.half()  # the CUDA path's dtype, on the CPU
    assert len(fp16.sample(["print hello world"], "python", k=2, method=method)[0]) == 2
