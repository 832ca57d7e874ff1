"""Denoising quality on the dev split at fixed noise levels: a sensitive, sampler-free comparison of models.

For each language (up to N dev pairs) and each t, noise the gold code with a fixed seed, run N once
(no self-conditioning), then D and H, and report the cross-entropy of H over the true tokens and the
token accuracy (padding included, as in training). Used for the pretraining ablation in the model card.
Models with example_context read each dev prompt's nearest training example (as served, candidate 1),
and example_guess models get its code as N's self-conditioning input; `--no-context` gives them the
prompt alone.

Usage: .venv/bin/python scripts/dev_loss.py MODEL_DIR [MODEL_DIR ...] [--n 200]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import torch
import torch.nn.functional as F
from codefusion.model.config import LANGUAGES
from codefusion.model.examples.retrieval import TfidfRetriever
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.training.corpus import collate, pair_examples
from codefusion.model.training.data import load_pairs

T_GRID = (150, 300, 600, 900, 1199)


@torch.inference_mode()
def dev_loss(model_dir: str, n: int, batch: int = 50, context: bool = True, device: str = "cpu") -> dict:
    pipe = CodeFusionPipeline.from_dir(model_dir, device=device)
    net, cfg = pipe.net.float(), pipe.config  # fp32 everywhere (a CUDA pipeline holds fp16 weights)
    reads = context and (cfg.example_context or cfg.example_guess)
    out: dict = {"model": model_dir, "context": reads}
    # the examples come from the training split below, not from pair_examples' neighbours among dev pairs
    plain_cfg = replace(cfg, example_context=False, example_guess=False)
    for lang in LANGUAGES:
        dev = load_pairs(lang, "dev")[0][:n]
        examples, _ = pair_examples(pipe.tokenizer, plain_cfg, dev)
        if reads:
            examples = with_nearest_example(pipe, lang, dev, examples)
        row = {}
        for t_value in T_GRID:
            gen = torch.Generator().manual_seed(t_value)
            ce_sum, correct, count = 0.0, 0, 0
            for i in range(0, len(examples), batch):
                b = collate(examples[i : i + batch], cfg, cfg.code_len[lang], cpd=False).to(pipe.device)
                x0 = net.embed_code(b.code)  # (B, L, E)
                t = torch.full((x0.shape[0],), t_value)
                t = t.to(x0.device)
                x_t = pipe.schedule.q_sample(x0, t, torch.randn(x0.shape, generator=gen).to(x0)).to(x0.dtype)
                memory = net.encode(b.prompt, b.prompt_pad)
                guess = None if b.guess is None else net.embed_code(b.guess)  # (B, L, E)
                x0_hat, _ = net.denoise(x_t, t, memory, b.prompt_pad, guess)
                logits = net.head(net.decode(x0_hat, memory, b.prompt_pad))  # (B, L, V)
                ce_sum += float(F.cross_entropy(logits.transpose(1, 2), b.code, reduction="sum"))
                correct += int((logits.argmax(-1) == b.code).sum())
                count += b.code.numel()
            row[t_value] = {"ce": round(ce_sum / count, 3), "acc": round(100 * correct / count, 1)}
        out[lang] = row
    return out


def with_nearest_example(pipe: CodeFusionPipeline, lang: str, pairs: list, examples: list) -> list:
    """The examples reading their prompt's nearest training example: in the encoder input and/or as the guess."""
    train = load_pairs(lang, "train")[0]
    retriever = TfidfRetriever.from_pairs(train)
    kept = [p for p in pairs if len(pipe.tokenizer.encode_code(p.code)) <= pipe.config.code_len[lang]]
    out = []
    for pair, example in zip(kept, examples, strict=True):
        near = [r for r in retriever.retrieve(pair.prompt, 1) if r.score > 0]
        ex = (train[near[0].index].prompt, near[0].code) if near else None
        if pipe.config.example_context:
            example = replace(example, prompt=pipe.tokenizer.encode_prompt_with_example(
                pair.prompt, lang, pipe.config.max_prompt_len, ex))
        if pipe.config.example_guess:  # no example: the guess is <eos> alone
            example = replace(example, guess=pipe.tokenizer.encode_code(ex[1] if ex else ""))
        out.append(example)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--no-context", action="store_true", help="example_context models read the prompt alone")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    args = p.parse_args()
    for model_dir in args.models:
        print(json.dumps(dev_loss(model_dir, args.n, context=not args.no_context, device=args.device)), flush=True)


if __name__ == "__main__":
    main()
