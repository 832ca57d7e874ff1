"""Samplers: start from noise, run N only for a few respaced steps, then D and H once at the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .diffusion import NoiseSchedule
from .networks import CodeFusionNet


class SamplingCancelled(RuntimeError):
    """Raised between denoising steps when the caller asks to stop."""


class DDIMScheduler:
    """DDIM over a respaced subset of the T training steps; eta=0 is deterministic, eta=1 is DDPM-like."""

    def __init__(self, *, schedule: NoiseSchedule, eta: float = 0.0):
        self.schedule = schedule
        self.eta = eta
        self.timesteps: list[int] = []

    def set_timesteps(self, n: int) -> None:
        if not 1 <= n <= self.schedule.steps:
            raise ValueError(f"steps must be in 1..{self.schedule.steps}, got {n}")
        grid = torch.linspace(self.schedule.steps - 1, 0, n).round().long()
        self.timesteps = [int(t) for t in grid]

    def step(self, x0_hat: Tensor, index: int, sample: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Move `sample` from timesteps[index] to timesteps[index + 1] (or to x̂₀ after the last)."""
        if index + 1 >= len(self.timesteps):
            return x0_hat
        ab = self.schedule.alpha_bar
        a_t, a_prev = ab[self.timesteps[index]], ab[self.timesteps[index + 1]]
        eps = (sample - a_t.sqrt() * x0_hat) / (1 - a_t).sqrt()  # (B, L, E)
        sigma = self.eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).clamp(min=0).sqrt()
        direction = (1 - a_prev - sigma**2).clamp(min=0).sqrt() * eps
        out = a_prev.sqrt() * x0_hat + direction
        if self.eta > 0:
            noise = torch.randn(sample.shape, generator=generator, device=sample.device, dtype=sample.dtype)
            out = out + sigma * noise
        return out


@dataclass
class SampleOutput:
    tokens: Tensor  # (B, L) argmax tokens
    scores: Tensor  # (B,) mean log-probability of the chosen tokens up to the first <eos>/<pad>


@torch.inference_mode()
def sample_codes(net: CodeFusionNet, scheduler: DDIMScheduler, *, prompt: Tensor, prompt_pad: Tensor,
                 k: int, length: int, steps: int, seed: int = 0, clamp: bool = False,
                 should_stop: Callable[[], bool] | None = None) -> SampleOutput:
    """k candidates for each of the B prompts, as one batch of B·k; returns (B·k, L) tokens, prompt-major."""
    cfg = net.cfg
    device = prompt.device
    dtype = next(net.parameters()).dtype
    memory = net.encode(prompt, prompt_pad)  # (B, P, C), once per request
    memory = memory.repeat_interleave(k, dim=0)  # (B·k, P, C)
    memory_pad = prompt_pad.repeat_interleave(k, dim=0)
    n = memory.shape[0]
    # Noise is seeded per prompt, so a prompt gets the same candidates whatever batch it is sampled in.
    x = torch.cat([torch.randn((k, length, cfg.d_embed), device=device, dtype=dtype,
                               generator=torch.Generator(device=device).manual_seed(seed))
                   for _ in range(prompt.shape[0])])  # (N, L, E)
    gen = torch.Generator(device=device).manual_seed(seed + 1)  # for eta > 0
    scheduler.set_timesteps(steps)
    x0_hat = None
    table = net.embedding_table() if clamp else None
    for i, t in enumerate(scheduler.timesteps):
        if should_stop is not None and should_stop():
            raise SamplingCancelled("sampling cancelled")
        tt = torch.full((n,), t, device=device, dtype=torch.long)
        x0_hat, logits = net.denoise(x, tt, memory, memory_pad, x0_hat)  # (N, L, E)
        if table is not None:  # clamping trick: snap x̂₀ to the nearest token embedding
            ids = logits.argmax(-1) if logits is not None else torch.cdist(x0_hat, table[None]).argmin(-1)
            x0_hat = table[ids]
        x = scheduler.step(x0_hat, i, x, gen)
    assert x0_hat is not None
    logp = net.head(net.decode(x0_hat, memory, memory_pad)).float().log_softmax(-1)  # (N, L, V)
    best, tokens = logp.max(-1)  # (N, L)
    stop = (tokens == cfg.eos_id) | (tokens == cfg.pad_id)
    # positions up to and including the first <eos>/<pad>
    keep = (stop.long().cumsum(-1) - stop.long()) == 0  # (N, L)
    scores = (best * keep).sum(-1) / keep.sum(-1).clamp(min=1)
    return SampleOutput(tokens=tokens, scores=scores)
