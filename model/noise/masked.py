"""The masked (absorbing-state) kernel: forward process, loss and sampler, after MDLM and LLaDA.

Forward: each code token (padding after <eos> included, so the length is learned) is replaced by [MASK]
with probability t, t ~ U(ε, 1] drawn antithetically over the batch. Loss: cross-entropy of the masked
positions, weighted 1/t (the MDLM bound) or unweighted. The prompt is never masked (it is E's input).

Sampler: start all-masked (or from a code with some positions masked: editing, syntax repair), S steps;
each step predicts every masked position, draws a token per position with Gumbel noise (float64, seeded
per prompt) at temperature τ, and commits the most confident ones (low-confidence remasking), on a linear
or cosine schedule, optionally block by block left to right (semi-autoregressive).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import torch
import torch.nn.functional as F
from torch import Tensor

from ..networks import MaskedDiffusionNet
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


def commit_counts(n_masked: Tensor, steps: int, schedule: CommitSchedule) -> Tensor:
    """How many tokens each row commits at each step: (N,) -> (N, S), rows summing to n_masked."""
    s = torch.arange(steps + 1, dtype=torch.float64)
    if schedule is CommitSchedule.COSINE:
        left = torch.cos(math.pi / 2 * s / steps)  # share still masked after step s
    else:
        left = 1 - s / steps
    left[-1] = 0.0
    remaining = torch.ceil(n_masked.double()[:, None].cpu() * left[None])  # (N, S+1)
    return (remaining[:, :-1] - remaining[:, 1:]).long().to(n_masked.device)  # (N, S)


GUMBEL_TOP = 64  # tokens considered per position when sampling: the rest carry negligible mass at τ ≤ 1


def gumbel_choice(logits: Tensor, temperature: float, generators: list[torch.Generator], k: int) -> Tensor:
    """argmax(logits / τ + Gumbel) over each position's GUMBEL_TOP most likely tokens, the noise in float64
    drawn per prompt (rows i·k … i·k+k-1), so a prompt's draws do not depend on its batch: (N, L, V) -> (N, L)."""
    if temperature <= 0:
        return logits.argmax(-1)
    top, ids = logits.topk(min(GUMBEL_TOP, logits.shape[-1]), dim=-1)  # (N, L, G)
    n, length, g = top.shape
    u = torch.cat([torch.rand((k, length, g), generator=gen, dtype=torch.float64) for gen in generators])
    gumbel = -torch.log(-torch.log(u.clamp(min=1e-300)))  # (N, L, G)
    pick = (top.double() / temperature + gumbel.to(logits.device)).argmax(-1, keepdim=True)  # (N, L, 1)
    return ids.gather(-1, pick)[..., 0]


@torch.inference_mode()
def sample_masked(net: MaskedDiffusionNet, *, prompt: Tensor, prompt_pad: Tensor, k: int, length: int, steps: int,
                  seed: int = 0, temperature: float = 1.0, schedule: CommitSchedule = CommitSchedule.LINEAR,
                  block_length: int | None = None, end_confidence: float = 1.0,
                  init: Tensor | None = None, remask: Tensor | None = None,
                  should_stop: Callable[[], bool] | None = None) -> MaskedSampleOutput:
    """k candidates for each of the B prompts as one batch of B·k rows, prompt-major.

    init (B·k, L) token ids with remask (B·k, L) bool: start from init with only the remask positions masked
    (editing an example, syntax repair); otherwise all positions start masked.
    end_confidence ≤ 1 scales the confidence of <eos>/<pad> predictions, so that the end of a code is
    committed after its content rather than first (an early confident end truncates the code).
    block_length: positions are filled block by block, left to right, steps split evenly over the blocks.
    """
    cfg = net.cfg
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
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
    token_logp = torch.zeros((n, length), device=device)
    blocks = [(0, length)] if not block_length else [(a, min(a + block_length, length))
                                                     for a in range(0, length, block_length)]
    per_block = [steps // len(blocks) + (1 if b < steps % len(blocks) else 0) for b in range(len(blocks))]
    positions = torch.arange(length, device=device)
    for (lo, hi), block_steps in zip(blocks, per_block, strict=True):
        in_block = (positions >= lo) & (positions < hi)  # (L,)
        if block_steps == 0:
            block_steps = 1
        counts = commit_counts(((x == net.mask_id) & in_block).sum(-1), block_steps, schedule)  # (N, S_b)
        for s in range(block_steps):
            if should_stop is not None and should_stop():
                raise SamplingCancelled("sampling cancelled")
            masked = (x == net.mask_id) & in_block  # (N, L)
            if not masked.any():
                break
            cond = None
            rate_cond = net.time_condition((x == net.mask_id).float().mean(-1))  # (N, C), or None
            if rate_cond is not None:  # time-conditioned models read the share still masked
                cond = rate_cond[:, None, :]  # (N, 1, C)
            logits = net.forward_cached(x, ctx, cond).float()  # (N, L, V)
            logp = logits.log_softmax(-1)
            choice = gumbel_choice(logits, temperature, generators, k)  # (N, L)
            conf = logp.gather(-1, choice[..., None])[..., 0].exp()  # (N, L)
            if end_confidence != 1.0:
                ends = (choice == cfg.eos_id) | (choice == cfg.pad_id)
                conf = torch.where(ends, conf * end_confidence, conf)
            conf = torch.where(masked, conf, torch.full_like(conf, -1.0))
            order = conf.argsort(-1, descending=True)  # (N, L)
            rank = order.argsort(-1)  # each position's place in the order
            commit = masked & (rank < counts[:, s : s + 1])  # (N, L)
            x = torch.where(commit, choice, x)
            token_logp = torch.where(commit, logp.gather(-1, choice[..., None])[..., 0], token_logp)
    stop = (x == cfg.eos_id) | (x == cfg.pad_id)
    keep = (stop.long().cumsum(-1) - stop.long()) == 0  # up to and including the first end
    scores = (token_logp * keep).sum(-1) / keep.sum(-1).clamp(min=1)
    return MaskedSampleOutput(tokens=x, scores=scores, token_logp=token_logp)


@torch.inference_mode()
def token_logp(net: MaskedDiffusionNet, *, prompt: Tensor, prompt_pad: Tensor, codes: Tensor, seed: int = 0,
               per_prompt: int = 1) -> Tensor:
    """How sure the model is of each token of given codes under the prompt: log p of every token with a random
    half of the code masked, and then the other half (two passes), (N, L) -> (N, L).

    codes (B·per_prompt, L), prompt-major. The same halves for every row (seeded), so the values compare codes.
    Unmasked tokens are copied by the sampler, not predicted, so each token is scored while it is masked."""
    n, length = codes.shape
    memory = net.encode(prompt, prompt_pad)  # (B, P, C)
    ctx = net.request_context(memory, prompt_pad, per_prompt, source=prompt)
    half = torch.rand(length, generator=torch.Generator().manual_seed(seed)) < 0.5  # (L,)
    out = torch.zeros((n, length), device=codes.device)
    for part in (half, ~half):
        part = part.to(codes.device)
        x = torch.where(part[None], net.mask_id, codes)  # (N, L)
        cond = net.time_condition(torch.full((n,), float(part.float().mean()), device=codes.device))
        logits = net.forward_cached(x, ctx, None if cond is None else cond[:, None, :]).float()  # (N, L, V)
        logp = logits.log_softmax(-1).gather(-1, codes[..., None])[..., 0]  # (N, L)
        out = torch.where(part[None], logp, out)
    return out


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
