"""The masked (absorbing-state) kernel: forward process, loss and sampler, after MDLM and LLaDA.

Forward: each code token (padding after <eos> included, so the length is learned) is replaced by [MASK]
with probability t, t ~ U(ε, 1] drawn antithetically over the batch. Loss: cross-entropy of the masked
positions, weighted 1/t (the MDLM bound) or unweighted. The prompt is never masked (it is E's input).

Sampler: start all-masked (or from a code with some positions masked: editing, syntax repair), S steps;
each step predicts every masked position, draws a token per position with Gumbel noise (float64, seeded
per prompt) at temperature τ, and commits the most confident ones (low-confidence remasking), on a linear
or cosine schedule, optionally block by block left to right (semi-autoregressive); with a confidence
threshold (Fast-dLLM), also every position at least that sure, S then being a cap. A row is done once nothing
is masked before its first end (the rest is never read), and later steps compute only the rows not done.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import torch
import torch.nn.functional as F
from torch import Tensor

from ..networks import MaskedContext, MaskedDiffusionNet
from .gaussian import Batch, SamplingCancelled  # one batch type and one cancellation for every kernel

MIN_RATE = 1e-3  # the lowest training masking rate by default: t ~ U(MIN_RATE, 1]


class LossWeighting(Enum):
    INVERSE_T = "inverse_t"  # the MDLM bound: CE / t, summed over masked positions, averaged over all
    UNWEIGHTED = "unweighted"  # mean CE of the masked positions


class CommitSchedule(Enum):
    LINEAR = "linear"  # the same number of tokens committed at every step
    COSINE = "cosine"  # few at first, more at the end (masked share after step s: cos(π/2 · s/S))


class MaskedDiffusion:
    """Owns the masking process and the loss; takes the network as an argument."""

    def __init__(self, *, weighting: LossWeighting = LossWeighting.INVERSE_T, eps: float = MIN_RATE,
                 causal_anneal_steps: int = 0):
        """causal_anneal_steps > 0: N's attention starts causal and opens to the later positions linearly over
        that many training steps (DiffuLLaMA's attention-mask annealing, for a net adapted from an AR model)."""
        if causal_anneal_steps < 0:
            raise ValueError(f"causal_anneal_steps must be >= 0, got {causal_anneal_steps}")
        if not 0 < eps < 1:
            raise ValueError(f"eps (the lowest training masking rate) must be in (0, 1), got {eps}")
        self.weighting, self.eps, self.causal_anneal_steps = weighting, eps, causal_anneal_steps
        self.step = 0  # the trainer's step, set through set_step()

    def set_step(self, step: int) -> None:
        self.step = step

    def future_share(self) -> float:
        """The share of later positions N sees at this training step (1.0 once any annealing is over)."""
        if self.causal_anneal_steps == 0:
            return 1.0
        return min(self.step / self.causal_anneal_steps, 1.0)

    def sample_t(self, n: int, device: torch.device) -> Tensor:
        """Antithetic masking rates in [eps, 1]: one uniform offset, evenly spaced over the batch."""
        u = (torch.rand((), device=device) + torch.arange(n, device=device) / n) % 1.0
        return self.eps + (1 - self.eps) * u  # (B,)

    def q_sample(self, code: Tensor, t: Tensor, mask_id: int) -> tuple[Tensor, Tensor]:
        """Mask each token with probability t of its row: (x_t, masked) both (B, L)."""
        masked = torch.rand(code.shape, device=code.device) < t[:, None]  # (B, L)
        return torch.where(masked, torch.full_like(code, mask_id), code), masked

    def training_losses(self, net: MaskedDiffusionNet, batch: Batch) -> dict[str, Tensor]:
        code = batch.code
        t = self.sample_t(code.shape[0], code.device)
        x_t, masked = self.q_sample(code, t, net.mask_id)
        memory = net.encode(batch.prompt, batch.prompt_pad)  # (B, P, C)
        logits = net(x_t, memory, batch.prompt_pad, t, future_share=self.future_share(),
                     source=batch.prompt)  # (B, L, V): a copy head points at the encoder input
        ce = F.cross_entropy(logits.float().transpose(1, 2), code, reduction="none")  # (B, L)
        m = masked.float()
        masked_ce = (ce * m).sum() / m.sum().clamp(min=1.0)
        if self.weighting is LossWeighting.INVERSE_T:
            loss = (ce * m / t[:, None]).sum() / code.numel()
        else:
            loss = masked_ce
        return {"loss": loss, "masked_ce": masked_ce.detach()}


@dataclass
class MaskedSampleOutput:
    tokens: Tensor  # (N, L)
    scores: Tensor  # (N,) mean log-probability of the committed tokens up to the first <eos>/<pad>
    token_logp: Tensor  # (N, L) log-probability of each token when it was committed (kept tokens: 0)
    steps: int = 0  # denoising steps run (network calls); the threshold schedule stops when nothing is masked


def commit_counts(n_masked: Tensor, steps: int, schedule: CommitSchedule) -> Tensor:
    """How many tokens each row commits at each step: (N,) -> (N, S), rows summing to n_masked.
    The threshold schedule's floor: the linear counts, so that a row is done within S steps."""
    s = torch.arange(steps + 1, dtype=torch.float64)
    if schedule is CommitSchedule.COSINE:
        left = torch.cos(math.pi / 2 * s / steps)  # share still masked after step s
    else:
        left = 1 - s / steps
    left[-1] = 0.0
    remaining = torch.ceil(n_masked.double()[:, None].cpu() * left[None])  # (N, S+1)
    return (remaining[:, :-1] - remaining[:, 1:]).long().to(n_masked.device)  # (N, S)


GUMBEL_TOP = 64  # tokens considered per position when sampling: the rest carry negligible mass at τ ≤ 1


def gumbel_noise(generators: list[torch.Generator], k: int, length: int, top: int) -> Tensor:
    """Gumbel noise in float64 for every row and position, drawn per prompt (rows i·k … i·k+k-1), so that a
    prompt's draws depend neither on its batch nor on which of its positions are still masked: (N, L, top)."""
    u = torch.cat([torch.rand((k, length, top), generator=gen, dtype=torch.float64) for gen in generators])
    return -torch.log(-torch.log(u.clamp(min=1e-300)))


def gumbel_choice(logits: Tensor, temperature: float, generators: list[torch.Generator], k: int) -> Tensor:
    """argmax(logits / τ + Gumbel) over each position's GUMBEL_TOP most likely tokens: (N, L, V) -> (N, L)."""
    if temperature <= 0:
        return logits.argmax(-1)
    g = min(GUMBEL_TOP, logits.shape[-1])
    return gumbel_pick(logits, temperature, gumbel_noise(generators, k, logits.shape[1], g).to(logits.device))


def gumbel_pick(logits: Tensor, temperature: float, noise: Tensor) -> Tensor:
    """argmax(logits / τ + noise) over each position's noise.shape[-1] most likely tokens: (..., V) -> (...)."""
    top, ids = logits.topk(noise.shape[-1], dim=-1)  # (..., G)
    pick = (top.double() / temperature + noise).argmax(-1, keepdim=True)  # (..., 1)
    return ids.gather(-1, pick)[..., 0]


def rows_of(ctx: MaskedContext, rows: Tensor) -> MaskedContext:
    """The request constants of some of the batch rows (the rows still writing)."""
    return MaskedContext([(k[rows], v[rows]) for k, v in ctx.kv], ctx.mask[rows],
                         None if ctx.copy is None else ctx.copy.rows(rows))


def commit_mask(order: Tensor, masked: Tensor, count: Tensor) -> Tensor:
    """Each row's `count` masked positions of highest `order` (at least one while any is masked); order and
    masked (N, L), count (N,)."""
    order = torch.where(masked, order, torch.full_like(order, -1.0))
    rank = order.argsort(-1, descending=True).argsort(-1)  # each position's place in its row's order
    return masked & (rank < count.clamp(min=1)[:, None])


def finish_written(x: Tensor, mask_id: int, eos_id: int, pad_id: int) -> Tensor:
    """Rows whose code is written — nothing masked before their first <eos>/<pad> — get <pad> at the masked
    positions after it: a code ends at its first end (decode, scores), so the model need not fill them. (N, L)."""
    end = (x == eos_id) | (x == pad_id)
    before_end = (end.long().cumsum(-1) - end.long()) == 0  # (N, L) positions up to the first end
    written = ~((x == mask_id) & before_end).any(-1, keepdim=True)  # (N, 1)
    return torch.where(written & (x == mask_id), pad_id, x)


@torch.inference_mode()
def sample_masked(net: MaskedDiffusionNet, *, prompt: Tensor, prompt_pad: Tensor, k: int, length: int, steps: int,
                  seed: int = 0, temperature: float = 1.0, schedule: CommitSchedule = CommitSchedule.LINEAR,
                  threshold: float | None = None, block_length: int | None = None, end_confidence: float = 1.0,
                  init: Tensor | None = None, remask: Tensor | None = None,
                  should_stop: Callable[[], bool] | None = None) -> MaskedSampleOutput:
    """k candidates for each of the B prompts as one batch of B·k rows, prompt-major.

    Each step predicts the masked positions and commits the most confident ones: `schedule`'s count per step
    (fixed-count decoding, `steps` steps), or with `threshold` (confidence-aware decoding, Fast-dLLM) every one
    whose confidence clears it, at least one per row and at least the schedule's count, so that `steps` is a
    cap; a row is done when nothing is masked, and a step computes only the rows still writing.
    init (B·k, L) token ids with remask (B·k, L) bool: start from init with only the remask positions masked
    (editing an example, syntax repair); otherwise all positions start masked.
    end_confidence ≤ 1 scales the confidence of <eos>/<pad> predictions, so that the end of a code is
    committed after its content rather than first (an early confident end truncates the code).
    block_length: positions are filled block by block, left to right, steps split evenly over the blocks.
    """
    cfg = net.cfg
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
    if threshold is not None and not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    device = prompt.device
    n_prompts = prompt.shape[0]
    n = n_prompts * k
    if init is None:
        x = torch.full((n, length), net.mask_id, dtype=torch.long, device=device)
    else:
        if remask is None or init.shape != (n, length) or remask.shape != (n, length):
            raise ValueError(f"init and remask must both be (B·k, L) = {(n, length)}")
        x = torch.where(remask.to(device), net.mask_id, init.to(device))
    memory = net.encode(prompt, prompt_pad)  # (B, P, C)
    ctx = net.request_context(memory, prompt_pad, k, source=prompt)
    generators = [torch.Generator().manual_seed(seed * 1_000_003 + i) for i in range(n_prompts)]
    g = min(GUMBEL_TOP, cfg.vocab_size)
    token_logp = torch.zeros((n, length), device=device)
    blocks = [(0, length)] if not block_length else [(a, min(a + block_length, length))
                                                     for a in range(0, length, block_length)]
    per_block = [steps // len(blocks) + (1 if b < steps % len(blocks) else 0) for b in range(len(blocks))]
    positions = torch.arange(length, device=device)
    ran = 0
    for (lo, hi), block_steps in zip(blocks, per_block, strict=True):
        in_block = (positions >= lo) & (positions < hi)  # (L,)
        block_steps = max(block_steps, 1)
        counts = commit_counts(((x == net.mask_id) & in_block).sum(-1), block_steps, schedule)  # (N, S_b)
        for s in range(block_steps):
            if should_stop is not None and should_stop():
                raise SamplingCancelled("sampling cancelled")
            x = finish_written(x, net.mask_id, cfg.eos_id, cfg.pad_id)
            masked = (x == net.mask_id) & in_block  # (N, L)
            rows = masked.any(-1).nonzero()[:, 0]  # (A,) the rows still writing
            if len(rows) == 0:
                break
            noise = gumbel_noise(generators, k, length, g) if temperature > 0 else None  # every row: seeded per prompt
            x_a, masked_a = x[rows], masked[rows]
            ctx_a = ctx if len(rows) == n else rows_of(ctx, rows)
            cond = None
            rate_cond = net.time_condition((x_a == net.mask_id).float().mean(-1))  # (A, C), or None
            if rate_cond is not None:  # time-conditioned models read the share still masked
                cond = rate_cond[:, None, :]  # (A, 1, C)
            r, c = masked_a.nonzero(as_tuple=True)  # the M positions still masked
            masked_logits = net.forward_cached(x_a, ctx_a, cond, at=(r, c)).float()  # (M, V): the head on these only
            ran += 1
            logp = masked_logits.log_softmax(-1)
            if noise is None:
                choice = masked_logits.argmax(-1)  # (M,)
            else:
                choice = gumbel_pick(masked_logits, temperature, noise[rows[r], c].to(device))
            chosen_logp = logp.gather(-1, choice[:, None])[:, 0]  # (M,)
            conf = chosen_logp.exp()
            if end_confidence != 1.0:
                ends = (choice == cfg.eos_id) | (choice == cfg.pad_id)
                conf = torch.where(ends, conf * end_confidence, conf)
            dense_conf = torch.full(masked_a.shape, -1.0, device=device)
            dense_conf[r, c] = conf
            commit = commit_mask(dense_conf, masked_a, counts[rows, s])  # (A, L)
            if threshold is not None:  # and every position the model is sure enough of
                commit |= masked_a & (dense_conf >= threshold)
            dense_choice = x_a.clone()
            dense_choice[r, c] = choice
            dense_logp = token_logp[rows]
            dense_logp[r, c] = torch.where(commit[r, c], chosen_logp, dense_logp[r, c])
            x[rows] = torch.where(commit, dense_choice, x_a)
            token_logp[rows] = dense_logp
    x = finish_written(x, net.mask_id, cfg.eos_id, cfg.pad_id)
    stop = (x == cfg.eos_id) | (x == cfg.pad_id)
    keep = (stop.long().cumsum(-1) - stop.long()) == 0  # up to and including the first end
    scores = (token_logp * keep).sum(-1) / keep.sum(-1).clamp(min=1)
    return MaskedSampleOutput(tokens=x, scores=scores, token_logp=token_logp, steps=ran)


@torch.inference_mode()
def token_logp(net: MaskedDiffusionNet, *, prompt: Tensor, prompt_pad: Tensor, codes: Tensor, seed: int = 0,
               per_prompt: int = 1, ctx: MaskedContext | None = None) -> Tensor:
    """How sure the model is of each token of given codes under the prompt: log p of every token with a random
    half of the code masked, and then the other half (two passes), (N, L) -> (N, L). Only each code's positions up
    to its end (through_end) are scored, the head running on those alone; the positions past it hold 0.

    codes (B·per_prompt, L), prompt-major. The same halves for every row (seeded), so the values compare codes.
    Unmasked tokens are copied by the sampler, not predicted, so each token is scored while it is masked."""
    n, length = codes.shape
    if ctx is None:
        ctx = net.request_context(net.encode(prompt, prompt_pad), prompt_pad, per_prompt, source=prompt)
    half = torch.rand(length, generator=torch.Generator().manual_seed(seed)) < 0.5  # (L,)
    in_code = through_end(codes, net.cfg.pad_id)  # (N, L)
    out = torch.zeros((n, length), device=codes.device)
    for part in (half, ~half):
        part = part.to(codes.device)
        x = torch.where(part[None], net.mask_id, codes)  # (N, L)
        cond = net.time_condition(torch.full((n,), float(part.float().mean()), device=codes.device))
        rows, cols = (part[None] & in_code).nonzero(as_tuple=True)  # the positions this pass scores
        at = (rows, cols)
        if not rows.numel():
            continue
        logits = net.forward_cached(x, ctx, None if cond is None else cond[:, None, :], at=at).float()  # (M, V)
        out[at] = logits.log_softmax(-1).gather(-1, codes[at][:, None])[:, 0]
    return out


@dataclass
class Correction:
    """correct_tokens' result: the corrected codes (N, L), which positions changed (N, L), and each code's mean
    log p of its own tokens before the change (N,; the user's kept tokens count as 0)."""

    tokens: Tensor
    changed: Tensor
    score: Tensor


def correct_tokens(net: MaskedDiffusionNet, *, prompt: Tensor, prompt_pad: Tensor, codes: Tensor, doubt: float,
                   sure: float, keep: Tensor | None = None, seed: int = 0, per_prompt: int = 1) -> Correction:
    """A one-shot corrector of given codes (N, L) under their prompts: the tokens the model doubts (p < doubt,
    each scored while masked: token_logp's two passes) are masked together and predicted in one more pass
    with the rest of the code in view; a token is replaced where the prediction is another token with
    p >= sure. Three forward passes in all, no sampling: with sure near 1 the code stays as it is. Positions
    past the code's end, `keep` (N, L: the user's own tokens) and predictions of <pad>, <eos> or the mask
    never change, so a code keeps its length."""
    if not 0 < doubt <= 1 or not 0 < sure <= 1:
        raise ValueError(f"doubt and sure are probabilities in (0, 1], got {doubt}, {sure}")
    cfg = net.cfg
    ctx = net.request_context(net.encode(prompt, prompt_pad), prompt_pad, per_prompt, source=prompt)
    logp = token_logp(net, prompt=prompt, prompt_pad=prompt_pad, codes=codes, seed=seed, per_prompt=per_prompt,
                      ctx=ctx)
    kept = torch.zeros_like(codes, dtype=torch.bool) if keep is None else keep.to(codes.device)  # (N, L)
    in_code = through_end(codes, cfg.pad_id) & (codes != cfg.pad_id)  # (N, L) the code's own tokens
    score = logp.masked_fill(kept | ~in_code, 0.0).sum(-1) / in_code.sum(-1).clamp(min=1)  # (N,)
    doubted = in_code & ~kept & (logp < math.log(doubt))  # (N, L)
    if not doubted.any():
        return Correction(codes, doubted, score)
    x = torch.where(doubted, net.mask_id, codes)
    cond = net.time_condition(doubted.float().mean(-1))
    probs = net.forward_cached(x, ctx, None if cond is None else cond[:, None, :]).float().softmax(-1)
    for never in (cfg.pad_id, cfg.eos_id, net.mask_id):
        if never < probs.shape[-1]:
            probs[..., never] = 0.0
    conf, best = probs.max(-1)  # (N, L)
    changed = doubted & (conf >= sure) & (best != codes)
    return Correction(torch.where(changed, best, codes), changed, score)


def through_end(codes: Tensor, pad_id: int) -> Tensor:
    """Each code's positions up to and including its first <pad> (where its length is decided): (N, L) bool."""
    ends = codes == pad_id
    return (ends.long().cumsum(-1) - ends.long()) == 0


def least_sure(logp: Tensor, codes: Tensor, share: float, pad_id: int) -> Tensor:
    """The `share` of each code's tokens (up to its end) the model is least sure of, as a (N, L) mask; positions
    past the end stay as they are."""
    in_code = through_end(codes, pad_id)
    n_remask = (in_code.sum(-1).float() * share).round().long()  # (N,)
    scored = torch.where(in_code, logp, torch.full_like(logp, float("inf")))
    rank = scored.argsort(-1).argsort(-1)  # 0 = least sure
    return in_code & (rank < n_remask[:, None])
