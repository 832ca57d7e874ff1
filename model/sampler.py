"""Samplers: start from noise, run N only for a few respaced steps, then D and H once at the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .config import X0Parameterization
from .diffusion import NoiseSchedule
from .networks import CodeFusionNet


class SamplingCancelled(RuntimeError):
    """Raised between denoising steps when the caller asks to stop."""


class DDIMScheduler:
    """DDIM over a respaced subset of the T training steps; eta=0 is deterministic, eta=1 is DDPM-like."""

    def __init__(self, *, schedule: NoiseSchedule, eta: float = 0.0, spacing_power: float = 1.0,
                 end_at_zero: bool = True):
        self.schedule = schedule
        self.eta = eta
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


def guided(cond: Tensor, uncond: Tensor, weight: float) -> Tensor:
    """Classifier-free guidance on logits (…, V): log p(·|prompt) + weight · (log p(·|prompt) − log p(·))."""
    c = cond.log_softmax(-1)
    return c + weight * (c - uncond.log_softmax(-1))


@dataclass
class SampleOutput:
    tokens: Tensor  # (B, L) argmax tokens
    scores: Tensor  # (B,) mean log-probability of the chosen tokens up to the first <eos>/<pad>


@torch.inference_mode()
def sample_codes(net: CodeFusionNet, scheduler: DDIMScheduler, *, prompt: Tensor, prompt_pad: Tensor,
                 k: int, length: int, steps: int, seed: int = 0, clamp: bool = False,
                 should_stop: Callable[[], bool] | None = None, init: Tensor | None = None,
                 start: int | None = None, per_candidate: bool = False, guess: Tensor | None = None,
                 guidance: float = 0.0, empty_prompt: tuple[Tensor, Tensor] | None = None) -> SampleOutput:
    """k candidates for each of the B prompts, as one batch of B·k; returns (B·k, L) tokens, prompt-major.

    guess (B·k, L) token ids: the first step's self-conditioning input (N's "previous estimate of x₀") is
    their embedding instead of zeros, so each candidate is denoised as a revision of its guess.

    per_candidate: `prompt` holds B·k rows, one encoder input per candidate (retrieval context: each
    candidate reads its own example), prompt-major.

    init (B·k, L) token ids, with start: SDEdit-style editing. Each candidate starts from its init code
    noised to step `start` (q_sample) instead of from pure noise, and is denoised from there under the
    prompt: the lower `start`, the more of the init code survives.

    guidance > 0, with empty_prompt (B rows of the language tag alone and their padding): classifier-free
    guidance — every step's token log-probabilities (N's, and D+H's at the end) become
    cond + guidance · (cond − uncond), uncond read under the empty prompt; for models trained with prompt
    dropout (GaussianDiffusion's prompt_dropout). Costs a second N pass per step.
    """
    cfg = net.cfg
    device = prompt.device
    dtype = net.head_scale.dtype
    if per_candidate and prompt.shape[0] % k:
        raise ValueError(f"per_candidate needs B·k prompt rows, got {prompt.shape[0]} for k={k}")
    n_prompts = prompt.shape[0] // k if per_candidate else prompt.shape[0]
    memory = net.encode(prompt, prompt_pad)  # (B, P, C) or (B·k, P, C), once per request
    # prompt K/V per layer, tables: once per request
    ctx = net.request_context(memory, prompt_pad, 1 if per_candidate else k)
    uctx = None
    if guidance:
        if empty_prompt is None or per_candidate:
            raise ValueError("guidance needs empty_prompt and one encoder input per prompt")
        if cfg.x0_parameterization is not X0Parameterization.EXPECTED_EMBEDDING:
            raise ValueError("guidance needs a model whose denoiser predicts tokens (expected_embedding)")
        uctx = net.request_context(net.encode(*empty_prompt), empty_prompt[1], k)
    # Noise is seeded per prompt, so a prompt gets the same candidates whatever batch it is sampled in.
    x = torch.cat([torch.randn((k, length, cfg.d_embed), device=device, dtype=dtype,
                               generator=torch.Generator(device=device).manual_seed(seed))
                   for _ in range(n_prompts)])  # (N, L, E)
    gen = torch.Generator(device=device).manual_seed(seed + 1)  # for eta > 0
    scheduler.set_timesteps(steps, start if init is not None else None)
    if init is not None:
        if init.shape != x.shape[:2]:
            raise ValueError(f"init must be (B·k, L) = {tuple(x.shape[:2])}, got {tuple(init.shape)}")
        t0 = torch.full((x.shape[0],), scheduler.timesteps[0], device=device)
        x = scheduler.schedule.q_sample(net.embed_code(init.to(device)), t0, x).to(dtype)
    conds = net.timestep_conditions(torch.tensor(scheduler.timesteps, device=device))  # (S, 1, 1, C)
    x0_hat = None
    if guess is not None:
        if guess.shape != x.shape[:2]:
            raise ValueError(f"guess must be (B·k, L) = {tuple(x.shape[:2])}, got {tuple(guess.shape)}")
        x0_hat = net.embed_code(guess.to(device)).to(dtype)
    for i in range(len(scheduler.timesteps)):
        if should_stop is not None and should_stop():
            raise SamplingCancelled("sampling cancelled")
        x0_prev = x0_hat
        x0_hat, logits = net.denoise_cached(x, conds[i], ctx, x0_prev)  # (N, L, E)
        if uctx is not None:
            uncond = net.denoise_cached(x, conds[i], uctx, x0_prev)[1]  # (N, L, V)
            assert logits is not None and uncond is not None  # expected_embedding, checked above
            logits = guided(logits, uncond, guidance)
            x0_hat = logits.softmax(-1) @ ctx.table
        if clamp:  # clamping trick: snap x̂₀ to the nearest token embedding
            ids = logits.argmax(-1) if logits is not None else torch.cdist(x0_hat, ctx.table[None]).argmin(-1)
            x0_hat = ctx.table[ids]
        x = scheduler.step(x0_hat, i, x, gen)
    assert x0_hat is not None
    logp = net.decode_cached(x0_hat, ctx).float().log_softmax(-1)  # (N, L, V), D and H once
    if uctx is not None:
        logp = guided(logp, net.decode_cached(x0_hat, uctx).float(), guidance).log_softmax(-1)
    best, tokens = logp.max(-1)  # (N, L)
    stop = (tokens == cfg.eos_id) | (tokens == cfg.pad_id)
    # positions up to and including the first <eos>/<pad>
    keep = (stop.long().cumsum(-1) - stop.long()) == 0  # (N, L)
    scores = (best * keep).sum(-1) / keep.sum(-1).clamp(min=1)
    return SampleOutput(tokens=tokens, scores=scores)
