"""The loss on held-out pairs (denoising at fixed noise levels; the AR baseline's next-token loss): a
sensitive, sampler-free measure of a model, per language. It is the learning curve's dev loss
(`scripts/dev_loss.py`) and what per-language early stopping reads during training
(`codefusion train finetune --early-stop-patience`).

Masked kernel: each gold code masked at the rates of MASK_GRID (fixed seed); the cross-entropy and accuracy
of the masked positions (its training loss without the 1/t weight) and `code_ce`, that of the masked code
tokens and <eos> only (not the padding); "mean" averages over the rates.
`prompts="empty"` or `"shuffled"` measures the same codes under an empty prompt or another pair's: the gap to
their own prompts is how much the model reads the prompt.
AR baseline: the teacher-forced cross-entropy of the code tokens and <eos> (`code_ce`; no noise levels).
Gaussian kernel: the gold code's embedding noised at each t of T_GRID (fixed seed), N run once (no
self-conditioning), then D and H; the cross-entropy of H over the true tokens and the token accuracy
(padding included, as in training).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from ..ar_baseline import ARNet, token_ce
from ..config import LANGUAGES, ModelConfig
from ..networks import CodeFusionNet, MaskedDiffusionNet
from ..noise.gaussian import Batch, NoiseSchedule
from ..tokenizer import CodeTokenizer
from ..training.corpus import Example, collate, pair_examples
from ..training.data import load_pairs

T_GRID = (150, 300, 600, 900, 1199)
MASK_GRID = (0.15, 0.3, 0.5, 0.7, 0.9)
# The masked kernel's bound on the negative log-likelihood per token is the integral over t of the mean CE
# of the masked tokens (MDLM): the mean over these midpoints estimates it, comparable with an AR model's CE.
BOUND_GRID = tuple(round(0.05 + 0.1 * i, 2) for i in range(10))


PROMPTS = ("own", "empty", "shuffled")  # each code under its own prompt, an empty one, another pair's


def with_prompts(examples: list[Example], prompts: str, tok: CodeTokenizer, cfg: ModelConfig) -> list[Example]:
    """The conditioning diagnostic: how much of the loss the prompt explains (own vs empty or shuffled)."""
    if prompts == "own" or not examples:
        return examples
    if prompts == "empty":
        return [replace(e, prompt=tok.encode_prompt("", e.lang, cfg.max_prompt_len)) for e in examples]
    if prompts == "shuffled":  # a fixed derangement: every code gets the prompt of the pair after it
        return [replace(e, prompt=examples[(i + 1) % len(examples)].prompt) for i, e in enumerate(examples)]
    raise ValueError(f"prompts must be one of {PROMPTS}, got {prompts!r}")


def dev_examples(tok: CodeTokenizer, cfg: ModelConfig, lang: str, n: int, split: str, prompts: str) -> list[Example]:
    """The first n pairs of a split that fit the language's code length, under the chosen prompts."""
    return with_prompts(pair_examples(tok, cfg, load_pairs(lang, split)[0][:n])[0], prompts, tok, cfg)


def batches(examples: list[Example], cfg: ModelConfig, lang: str, size: int, device: torch.device) -> Iterator[Batch]:
    """The examples in batches of `size`, each padded to the language's code length, on the device."""
    for i in range(0, len(examples), size):
        yield collate(examples[i : i + size], cfg, cfg.code_len[lang], cpd=False).to(device)


@torch.inference_mode()
def masked_dev_loss(net: MaskedDiffusionNet, cfg: ModelConfig, tok: CodeTokenizer, *, n: int, batch: int = 50,
                    split: str = "dev", device: torch.device | str = "cpu", prompts: str = "own",
                    rates: tuple[float, ...] = MASK_GRID) -> dict:
    device = torch.device(device)
    out: dict = {}
    for lang in LANGUAGES:
        examples = dev_examples(tok, cfg, lang, n, split, prompts)
        if not examples:  # every pair longer than the language's code length: nothing to measure
            continue
        row: dict = {}
        for rate in rates:
            gen = torch.Generator().manual_seed(int(rate * 1000))
            ce_sum, correct, count, code_ce, code_count = 0.0, 0, 0, 0.0, 0
            for b in batches(examples, cfg, lang, batch, device):
                masked = (torch.rand(b.code.shape, generator=gen) < rate).to(device)  # (B, L)
                in_code = (b.code == cfg.pad_id).long().cumsum(-1) == 0  # the code and its <eos>, not the padding
                x_t = torch.where(masked, net.mask_id, b.code)
                t = torch.full((b.code.shape[0],), rate, device=device)
                logits = net(x_t, net.encode(b.prompt, b.prompt_pad), b.prompt_pad, t).float()  # (B, L, V)
                ce = F.cross_entropy(logits.transpose(1, 2), b.code, reduction="none")  # (B, L)
                ce_sum += float(ce[masked].sum())
                correct += int((logits.argmax(-1) == b.code)[masked].sum())
                count += int(masked.sum())
                code_ce += float(ce[masked & in_code].sum())
                code_count += int((masked & in_code).sum())
            row[rate] = {"ce": round(ce_sum / max(count, 1), 3), "acc": round(100 * correct / max(count, 1), 1),
                         "code_ce": round(code_ce / max(code_count, 1), 3)}
        row["mean"] = {key: round(sum(r[key] for r in row.values()) / len(rates), 3) for key in ("ce", "code_ce")}
        out[lang] = row
    return out


@torch.inference_mode()
def gaussian_dev_loss(net: CodeFusionNet, cfg: ModelConfig, tok: CodeTokenizer, *, n: int, batch: int = 50,
                      split: str = "dev", device: torch.device | str = "cpu", prompts: str = "own") -> dict:
    device = torch.device(device)
    schedule = NoiseSchedule(steps=cfg.diffusion_steps, offset=cfg.schedule_offset)
    out: dict = {}
    for lang in LANGUAGES:
        examples = dev_examples(tok, cfg, lang, n, split, prompts)
        if not examples:
            continue
        row: dict = {}
        for t_value in T_GRID:
            gen = torch.Generator().manual_seed(t_value)
            ce_sum, correct, count = 0.0, 0, 0
            for b in batches(examples, cfg, lang, batch, device):
                x0 = net.embed_code(b.code)  # (B, L, E)
                t = torch.full((x0.shape[0],), t_value, device=x0.device)
                x_t = schedule.q_sample(x0, t, torch.randn(x0.shape, generator=gen).to(x0)).to(x0.dtype)
                memory = net.encode(b.prompt, b.prompt_pad)
                x0_hat, _ = net.denoise(x_t, t, memory, b.prompt_pad)
                logits = net.head(net.decode(x0_hat, memory, b.prompt_pad))  # (B, L, V)
                ce_sum += float(F.cross_entropy(logits.transpose(1, 2), b.code, reduction="sum"))
                correct += int((logits.argmax(-1) == b.code).sum())
                count += b.code.numel()
            row[t_value] = {"ce": round(ce_sum / count, 3), "acc": round(100 * correct / count, 1)}
        row["mean"] = {"ce": round(sum(r["ce"] for r in row.values()) / len(T_GRID), 3)}
        out[lang] = row
    return out


@torch.inference_mode()
def ar_dev_loss(net: ARNet, cfg: ModelConfig, tok: CodeTokenizer, *, n: int, batch: int = 50,
                split: str = "dev", device: torch.device | str = "cpu", prompts: str = "own") -> dict:
    device = torch.device(device)
    out: dict = {}
    for lang in LANGUAGES:
        examples = dev_examples(tok, cfg, lang, n, split, prompts)
        if not examples:
            continue
        total, count = 0.0, 0
        for b in batches(examples, cfg, lang, batch, device):
            ce, scored = token_ce(net, b)
            total += float(ce[scored].sum())
            count += int(scored.sum())
        out[lang] = {"mean": {"code_ce": round(total / max(count, 1), 3)}}
    return out


def dev_loss(net: nn.Module, cfg: ModelConfig, tok: CodeTokenizer, kind: str, *, n: int, batch: int = 50,
             split: str = "dev", device: torch.device | str = "cpu", prompts: str = "own", bound: bool = False) -> dict:
    """Per language, the loss at each noise level and their "mean" (see the module's text), in eval mode; a
    language none of whose first n pairs fits its code length is left out. bound: a masked model's rates are
    BOUND_GRID, so that its "mean" code_ce estimates its NLL bound per code token."""
    was_training = net.training
    net.eval()
    try:
        if isinstance(net, MaskedDiffusionNet):
            return masked_dev_loss(net, cfg, tok, n=n, batch=batch, split=split, device=device, prompts=prompts,
                                   rates=BOUND_GRID if bound else MASK_GRID)
        if isinstance(net, ARNet):
            return ar_dev_loss(net, cfg, tok, n=n, batch=batch, split=split, device=device, prompts=prompts)
        if isinstance(net, CodeFusionNet):
            return gaussian_dev_loss(net, cfg, tok, n=n, batch=batch, split=split, device=device, prompts=prompts)
        raise ValueError(f"a {kind!r} model folder holds a {type(net).__name__}")
    finally:
        net.train(was_training)


def headline(result: dict) -> dict[str, float]:
    """One number per language from dev_loss(): the masked kernel's and the AR baseline's code-token CE, the
    Gaussian's CE."""
    return {lang: row["mean"]["code_ce"] if "code_ce" in row["mean"] else row["mean"]["ce"]
            for lang, row in result.items() if lang in LANGUAGES}
