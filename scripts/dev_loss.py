"""Denoising quality on the dev split at fixed noise levels: a sensitive, sampler-free comparison of models.

For each language (up to N dev pairs) and each t, noise the gold code with a fixed seed, run N once
(no self-conditioning), then D and H, and report the cross-entropy of H over the true tokens and the
token accuracy (padding included, as in training). Used for the pretraining ablation in the model card.
A masked-kernel folder: each gold code masked at the rates of MASK_GRID (fixed seed), the cross-entropy
and accuracy of the masked positions (its training loss without the 1/t weight; `code_ce`: of the masked
code tokens and <eos> only, not the padding), and "mean" over rates —
the masked run's learning curve on dev loss (per language, for early stopping).

Usage: .venv/bin/python scripts/dev_loss.py MODEL_DIR [MODEL_DIR ...] [--n 200] [--split dev|train] [--out FILE.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from codefusion.model.config import LANGUAGES
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.training.corpus import collate, pair_examples
from codefusion.model.training.data import load_pairs

T_GRID = (150, 300, 600, 900, 1199)
MASK_GRID = (0.15, 0.3, 0.5, 0.7, 0.9)


@torch.inference_mode()
def masked_dev_loss(pipe: CodeFusionPipeline, n: int, batch: int, split: str = "dev") -> dict:
    net, cfg = pipe.net.float(), pipe.config
    out: dict = {}
    for lang in LANGUAGES:
        examples, _ = pair_examples(pipe.tokenizer, cfg, load_pairs(lang, split)[0][:n])
        row: dict = {}
        for rate in MASK_GRID:
            gen = torch.Generator().manual_seed(int(rate * 1000))
            ce_sum, correct, count, code_ce, code_count = 0.0, 0, 0, 0.0, 0
            for i in range(0, len(examples), batch):
                b = collate(examples[i : i + batch], cfg, cfg.code_len[lang], cpd=False).to(pipe.device)
                masked = torch.rand(b.code.shape, generator=gen) < rate  # (B, L)
                in_code = (b.code == cfg.pad_id).long().cumsum(-1) == 0  # the code and its <eos>, not the padding
                x_t = torch.where(masked, net.mask_id, b.code)
                t = torch.full((b.code.shape[0],), rate)
                logits = net(x_t, net.encode(b.prompt, b.prompt_pad), b.prompt_pad, t).float()  # (B, L, V)
                ce = F.cross_entropy(logits.transpose(1, 2), b.code, reduction="none")  # (B, L)
                ce_sum += float(ce[masked].sum())
                correct += int((logits.argmax(-1) == b.code)[masked].sum())
                count += int(masked.sum())
                code_ce += float(ce[masked & in_code].sum())
                code_count += int((masked & in_code).sum())
            row[rate] = {"ce": round(ce_sum / count, 3), "acc": round(100 * correct / count, 1),
                         "code_ce": round(code_ce / max(code_count, 1), 3)}
        row["mean"] = {key: round(sum(r[key] for r in row.values()) / len(MASK_GRID), 3) for key in ("ce", "code_ce")}
        out[lang] = row
    return out


@torch.inference_mode()
def dev_loss(model_dir: str, n: int, batch: int = 50, device: str = "cpu", split: str = "dev") -> dict:
    pipe = CodeFusionPipeline.from_dir(model_dir, device=device)
    out: dict = {"model": model_dir}
    meta = Path(model_dir) / "training.json"
    if meta.is_file():
        out["step"] = json.loads(meta.read_text()).get("step")
    if pipe.kind == "masked":
        return {**out, "kind": "masked", "split": split, **masked_dev_loss(pipe, n, batch, split)}
    out["split"] = split
    net, cfg = pipe.net.float(), pipe.config  # fp32 everywhere (a CUDA pipeline holds fp16 weights)
    for lang in LANGUAGES:
        examples, _ = pair_examples(pipe.tokenizer, cfg, load_pairs(lang, split)[0][:n])
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
                x0_hat, _ = net.denoise(x_t, t, memory, b.prompt_pad)
                logits = net.head(net.decode(x0_hat, memory, b.prompt_pad))  # (B, L, V)
                ce_sum += float(F.cross_entropy(logits.transpose(1, 2), b.code, reduction="sum"))
                correct += int((logits.argmax(-1) == b.code).sum())
                count += b.code.numel()
            row[t_value] = {"ce": round(ce_sum / count, 3), "acc": round(100 * correct / count, 1)}
        out[lang] = row
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--split", choices=["dev", "train"], default="dev",
                   help="the split to score (train: how much of the training pairs the model memorised)")
    p.add_argument("--out", type=Path, default=None, help="also append each line to this JSONL file")
    args = p.parse_args()
    torch.set_num_threads(1)
    for model_dir in args.models:
        line = json.dumps(dev_loss(model_dir, args.n, device=args.device, split=args.split))
        print(line, flush=True)
        if args.out:
            with args.out.open("a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
