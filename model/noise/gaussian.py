"""The Gaussian noise process: sqrt schedule, q_sample and the training loss; and its DDIM sampler.

Both take the network as an argument. Sampling starts from noise, runs N only for a few respaced steps,
then D and H once at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..networks import CodeFusionNet


def sqrt_alpha_bar(t: Tensor, offset: float) -> Tensor:
    """Diffusion-LM's sqrt schedule ᾱ(t) = 1 - sqrt(t + s) for t in [0, 1]."""
    return 1 - torch.sqrt(t + offset)


class NoiseSchedule:
    """ᾱ_t for t = 0..T-1 (index 0 is the least noisy step), derived through betas capped at 0.999."""

    def __init__(self, *, steps: int, offset: float = 1e-4):
        self.steps = steps
        grid = torch.arange(steps + 1, dtype=torch.float64) / steps
        ab = sqrt_alpha_bar(grid, offset)
        betas = (1 - ab[1:] / ab[:-1]).clamp(max=0.999)
        self.alpha_bar = torch.cumprod(1 - betas, dim=0).float()  # (T,)

    def coefficients(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """sqrt(ᾱ_t), sqrt(1-ᾱ_t) shaped (B, 1, 1) for broadcasting over (B, L, E)."""
        ab = self.alpha_bar.to(t.device)[t]
        return ab.sqrt()[:, None, None], (1 - ab).sqrt()[:, None, None]

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, s = self.coefficients(t)
        return a * x0 + s * noise  # (B, L, E)


@dataclass
class Batch:
    prompt: Tensor  # (B, P) token ids
    prompt_pad: Tensor  # (B, P) True where padding
    code: Tensor  # (B, L) token ids, padded with <pad>
    noise_mask: Tensor | None = None  # (B, L) 1 where noise is added (CPD); None = everywhere

    def to(self, device: torch.device) -> Batch:
        return Batch(self.prompt.to(device), self.prompt_pad.to(device), self.code.to(device),
                     None if self.noise_mask is None else self.noise_mask.to(device))


class GaussianDiffusion:
    """Owns the schedule and the loss ‖x̂₀ − x₀‖² + ‖D(x̂₀) − L(y)‖² − log p(y | D(x̂₀)) − log p_N(y | x_t)."""

    def __init__(self, *, schedule: NoiseSchedule, self_conditioning: bool = True):
        self.schedule = schedule
        self.self_conditioning = self_conditioning

    def sample_timesteps(self, n: int, device: torch.device) -> Tensor:
        u = torch.rand(n, device=device)
        return (u * self.schedule.steps).long().clamp(max=self.schedule.steps - 1)  # (B,)

    def training_losses(self, net: CodeFusionNet, batch: Batch) -> dict[str, Tensor]:
        x0 = net.embed_code(batch.code)  # (B, L, E)
        t = self.sample_timesteps(x0.shape[0], x0.device)
        noise = torch.randn_like(x0)
        x_t = self.schedule.q_sample(x0, t, noise)
        weight = torch.ones_like(batch.code, dtype=x0.dtype)  # (B, L)
        if batch.noise_mask is not None:  # CPD: only identifier/keyword positions are noised and scored
            m = batch.noise_mask.to(x0.dtype)
            x_t = m[..., None] * x_t + (1 - m[..., None]) * x0
            weight = m
        denom = weight.sum().clamp(min=1.0)
        memory = net.encode(batch.prompt, batch.prompt_pad)  # (B, P, C)

        x0_prev = None
        if self.self_conditioning and torch.rand(()) < 0.5:
            with torch.no_grad():
                x0_prev = net.denoise(x_t, t, memory, batch.prompt_pad)[0].detach()
        x0_hat, denoiser_logits = net.denoise(x_t, t, memory, batch.prompt_pad, x0_prev)  # (B, L, E), (B, L, V)
        hidden = net.decode(x0_hat, memory, batch.prompt_pad)  # (B, L, E)
        logits = net.head(hidden)  # (B, L, V)

        def masked(per_pos: Tensor) -> Tensor:
            return (per_pos * weight).sum() / denom

        unit = net.cfg.embed_scale**2  # MSE in units of the embedding's per-dimension variance
        losses = {
            "x0_mse": masked(((x0_hat - x0) ** 2).mean(-1)) / unit,
            "decoder_mse": masked(((hidden - x0) ** 2).mean(-1)) / unit,
            "ce": masked(F.cross_entropy(logits.transpose(1, 2), batch.code, reduction="none")),
            "denoiser_ce": masked(F.cross_entropy(denoiser_logits.transpose(1, 2), batch.code, reduction="none")),
        }
        losses["loss"] = sum(losses.values(), torch.zeros((), device=x0.device))
        return losses


# --- sampling ----------------------------------------------------------------------------------------------


class SamplingCancelled(RuntimeError):
    """Raised between denoising steps when the caller asks to stop."""


class DDIMScheduler:
    """Deterministic DDIM (no noise added back) over a respaced subset of the T training steps."""

    def __init__(self, *, schedule: NoiseSchedule, spacing_power: float = 1.0, end_at_zero: bool = True):
        self.schedule = schedule
        self.spacing_power = spacing_power
        # end_at_zero=False stops one interval short of t = 0: the last x̂₀ comes from a noisy step. At t ≈ 0
        # N was trained on clean embeddings and trusts its input, so a blurred x̂₀ fed back there snaps to
        # whichever tokens lie nearest to the blur.
        self.end_at_zero = end_at_zero
        self.timesteps: list[int] = []

    def set_timesteps(self, n: int, start: int | None = None) -> None:
        """n steps from `start` (default T − 1, pure noise) down to 0."""
        if not 1 <= n <= self.schedule.steps:
            raise ValueError(f"steps must be in 1..{self.schedule.steps}, got {n}")
        top = self.schedule.steps - 1 if start is None else start
        if not 0 <= top < self.schedule.steps:
            raise ValueError(f"start must be in 0..{self.schedule.steps - 1}, got {start}")
        # power > 1 spends more of the steps at high noise, where the tokens are still being decided
        if self.end_at_zero:
            u = torch.linspace(0, 1, n, dtype=torch.float64)
        else:
            u = torch.linspace(0, 1, n + 1, dtype=torch.float64)[:n]
        grid = (top * (1 - u**self.spacing_power)).round().long()
        self.timesteps = [int(t) for t in grid]

    def step(self, x0_hat: Tensor, index: int, sample: Tensor) -> Tensor:
        """Move `sample` from timesteps[index] to timesteps[index + 1] (or to x̂₀ after the last)."""
        if index + 1 >= len(self.timesteps):
            return x0_hat
        ab = self.schedule.alpha_bar
        a_t, a_prev = ab[self.timesteps[index]], ab[self.timesteps[index + 1]]
        eps = (sample - a_t.sqrt() * x0_hat) / (1 - a_t).sqrt()  # (B, L, E)
        return a_prev.sqrt() * x0_hat + (1 - a_prev).clamp(min=0).sqrt() * eps


@dataclass
class SampleOutput:
    tokens: Tensor  # (B, L) argmax tokens
    scores: Tensor  # (B,) mean log-probability of the chosen tokens up to the first <eos>/<pad>


@torch.inference_mode()
def sample_codes(net: CodeFusionNet, scheduler: DDIMScheduler, *, prompt: Tensor, prompt_pad: Tensor,
                 k: int, length: int, steps: int, seed: int = 0, should_stop: Callable[[], bool] | None = None,
                 init: Tensor | None = None, start: int | None = None) -> SampleOutput:
    """k candidates for each of the B prompts, as one batch of B·k; returns (B·k, L) tokens, prompt-major.

    init (B·k, L) token ids, with start: SDEdit-style editing. Each candidate starts from its init code
    noised to step `start` (q_sample) instead of from pure noise, and is denoised from there under the
    prompt: the lower `start`, the more of the init code survives.
    """
    cfg = net.cfg
    device = prompt.device
    dtype = net.head_scale.dtype
    memory = net.encode(prompt, prompt_pad)  # (B, P, C), once per request
    ctx = net.request_context(memory, prompt_pad, k)  # prompt K/V per layer, tables: once per request
    # Noise is seeded per prompt, so a prompt gets the same candidates whatever batch it is sampled in.
    x = torch.cat([torch.randn((k, length, cfg.d_embed), device=device, dtype=dtype,
                               generator=torch.Generator(device=device).manual_seed(seed))
                   for _ in range(prompt.shape[0])])  # (N, L, E)
    scheduler.set_timesteps(steps, start if init is not None else None)
    if init is not None:
        if init.shape != x.shape[:2]:
            raise ValueError(f"init must be (B·k, L) = {tuple(x.shape[:2])}, got {tuple(init.shape)}")
        t0 = torch.full((x.shape[0],), scheduler.timesteps[0], device=device)
        x = scheduler.schedule.q_sample(net.embed_code(init.to(device)), t0, x).to(dtype)
    conds = net.timestep_conditions(torch.tensor(scheduler.timesteps, device=device))  # (S, 1, 1, C)
    x0_hat = None
    for i in range(len(scheduler.timesteps)):
        if should_stop is not None and should_stop():
            raise SamplingCancelled("sampling cancelled")
        x0_hat, _ = net.denoise_cached(x, conds[i], ctx, x0_hat)  # (N, L, E)
        x = scheduler.step(x0_hat, i, x)
    assert x0_hat is not None
    logp = net.decode_cached(x0_hat, ctx).float().log_softmax(-1)  # (N, L, V), D and H once
    best, tokens = logp.max(-1)  # (N, L)
    stop = (tokens == cfg.eos_id) | (tokens == cfg.pad_id)
    # positions up to and including the first <eos>/<pad>
    keep = (stop.long().cumsum(-1) - stop.long()) == 0  # (N, L)
    scores = (best * keep).sum(-1) / keep.sum(-1).clamp(min=1)
    return SampleOutput(tokens=tokens, scores=scores)
