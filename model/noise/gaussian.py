"""The Gaussian noise process: sqrt schedule, q_sample and the training loss; and its DDIM sampler.

Both take the network as an argument. Sampling starts from noise, runs N only for a few respaced steps,
then D and H once at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import X0Parameterization
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


class TimestepSampling(Enum):
    UNIFORM = "uniform"
    # t = T·u^(1/3): most draws at high noise, where the prompt decides the tokens (at low noise the
    # tokens can be read off x_t, which teaches little and makes multi-step sampling trust early mistakes)
    NOISY_BIASED = "noisy_biased"
    # half the draws uniform, half in the low-noise quarter [0, T/4): the regime that example seeding
    # (SDEdit from a nearest training example, model/examples/seeding.py) runs in
    LOW_MIXED = "low_mixed"


@dataclass
class Batch:
    prompt: Tensor  # (B, P) token ids
    prompt_pad: Tensor  # (B, P) True where padding
    code: Tensor  # (B, L) token ids, padded with <pad>
    noise_mask: Tensor | None = None  # (B, L) 1 where noise is added (CPD); None = everywhere
    guess: Tensor | None = None  # (B, L) token ids of an example's code, N's self-conditioning input (example_guess)
    has_guess: Tensor | None = None  # (B,) True for the rows that get their guess

    def to(self, device: torch.device) -> Batch:
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device)

        return Batch(self.prompt.to(device), self.prompt_pad.to(device), self.code.to(device),
                     move(self.noise_mask), move(self.guess), move(self.has_guess))


class GaussianDiffusion:
    """Owns the schedule and the loss ‖x̂₀ − x₀‖² + ‖D(x̂₀) − L(y)‖² − log p(y | D(x̂₀)) (+ N's own CE)."""

    def __init__(self, *, schedule: NoiseSchedule, self_conditioning: bool = True,
                 timestep_sampling: TimestepSampling = TimestepSampling.UNIFORM, denoiser_ce_weight: float = 1.0,
                 example_start: int = 0, pad_weight: float = 1.0, pad_id: int = 0, prompt_dropout: float = 0.0):
        """pad_weight < 1: length-aware training — the padding positions after a code's first <pad> count that
        much in every loss term (the first one, where the code ends, counts fully), so that the loss is not
        dominated by the padding of short codes; needs the vocabulary's pad_id.

        example_start > 0: SDEdit training — a batch's guess rows start from their guess (a nearest other
        example's code) noised to a step below example_start, and learn to denoise it into their own code,
        as example seeding serves; the guess is then not N's self-conditioning input.

        prompt_dropout > 0: that share of the rows sees only the prompt's language tag (the rest of the prompt
        is masked as padding), so that the model also learns p(code | language) and the sampler can apply
        classifier-free guidance (sample_codes' `guidance`)."""
        self.schedule = schedule
        self.example_start = example_start
        self.self_conditioning = self_conditioning
        self.timestep_sampling = timestep_sampling
        self.denoiser_ce_weight = denoiser_ce_weight
        if not 0 <= pad_weight <= 1:
            raise ValueError(f"pad_weight must be in [0, 1], got {pad_weight}")
        self.pad_weight, self.pad_id = pad_weight, pad_id
        if not 0 <= prompt_dropout < 1:
            raise ValueError(f"prompt_dropout must be in [0, 1), got {prompt_dropout}")
        self.prompt_dropout = prompt_dropout

    def sample_timesteps(self, n: int, device: torch.device) -> Tensor:
        u = torch.rand(n, device=device)
        if self.timestep_sampling is TimestepSampling.NOISY_BIASED:
            u = u.pow(1 / 3)
        elif self.timestep_sampling is TimestepSampling.LOW_MIXED:
            low = torch.rand(n, device=device) < 0.5
            u = torch.where(low, u / 4, u)
        return (u * self.schedule.steps).long().clamp(max=self.schedule.steps - 1)  # (B,)

    def training_losses(self, net: CodeFusionNet, batch: Batch) -> dict[str, Tensor]:
        x0 = net.embed_code(batch.code)  # (B, L, E)
        t = self.sample_timesteps(x0.shape[0], x0.device)
        noise = torch.randn_like(x0)
        starts = batch.has_guess if self.example_start and batch.guess is not None else None
        if starts is not None:
            t = torch.where(starts, t % self.example_start, t)  # (B,)
        x_t = self.schedule.q_sample(x0, t, noise)
        if starts is not None and batch.guess is not None:
            x_start = self.schedule.q_sample(net.embed_code(batch.guess).detach(), t, noise)  # (B, L, E)
            x_t = torch.where(starts[:, None, None], x_start, x_t)
        weight = torch.ones_like(batch.code, dtype=x0.dtype)  # (B, L)
        if self.pad_weight < 1:  # padding after the first <pad> (the code's end stays fully weighted)
            pad = (batch.code == self.pad_id).long()
            weight = torch.where((pad.cumsum(1) - pad) > 0, torch.full_like(weight, self.pad_weight), weight)
        if batch.noise_mask is not None:  # CPD: only identifier/keyword positions are noised and scored
            m = batch.noise_mask.to(x0.dtype)
            x_t = m[..., None] * x_t + (1 - m[..., None]) * x0
            weight = m
        denom = weight.sum().clamp(min=1.0)
        prompt_pad = batch.prompt_pad
        if self.prompt_dropout > 0:  # these rows read the language tag (position 0) alone: the empty prompt
            drop = torch.rand(prompt_pad.shape[0], device=x0.device) < self.prompt_dropout  # (B,)
            tail = torch.arange(prompt_pad.shape[1], device=x0.device) > 0  # (P,)
            prompt_pad = prompt_pad | (drop[:, None] & tail[None, :])  # (B, P)
        memory = net.encode(batch.prompt, prompt_pad)  # (B, P, C)

        x0_prev = None
        if self.self_conditioning and torch.rand(()) < 0.5:
            with torch.no_grad():
                x0_prev = net.denoise(x_t, t, memory, prompt_pad)[0].detach()
        if self.self_conditioning and starts is None and batch.guess is not None and batch.has_guess is not None:
            # example guess: these rows see a nearest other example's code as N's previous estimate
            guess = net.embed_code(batch.guess).detach()  # (B, L, E)
            base = torch.zeros_like(guess) if x0_prev is None else x0_prev
            x0_prev = torch.where(batch.has_guess[:, None, None], guess, base)
        x0_hat, denoiser_logits = net.denoise(x_t, t, memory, prompt_pad, x0_prev)  # (B, L, E)
        hidden = net.decode(x0_hat, memory, prompt_pad)  # (B, L, E)
        logits = net.head(hidden)  # (B, L, V)

        def masked(per_pos: Tensor) -> Tensor:
            return (per_pos * weight).sum() / denom

        unit = net.cfg.embed_scale**2  # MSE in units of the embedding's per-dimension variance
        losses = {
            "x0_mse": masked(((x0_hat - x0) ** 2).mean(-1)) / unit,
            "decoder_mse": masked(((hidden - x0) ** 2).mean(-1)) / unit,
            "ce": masked(F.cross_entropy(logits.transpose(1, 2), batch.code, reduction="none")),
        }
        if denoiser_logits is not None and self.denoiser_ce_weight > 0:
            ce_n = F.cross_entropy(denoiser_logits.transpose(1, 2), batch.code, reduction="none")
            losses["denoiser_ce"] = self.denoiser_ce_weight * masked(ce_n)
        losses["loss"] = sum(losses.values(), torch.zeros((), device=x0.device))
        return losses


# --- sampling ----------------------------------------------------------------------------------------------


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
