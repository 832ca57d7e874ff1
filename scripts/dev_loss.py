"""Denoising quality on the dev split at fixed noise levels: a sensitive, sampler-free comparison of models.

For each language (up to N dev pairs) and each t, noise the gold code with a fixed seed, run N once
(no self-conditioning), then D and H, and report the cross-entropy of H over the true tokens and the
token accuracy (padding included, as in training). Used for the pretraining ablation in the model card.

Usage: .venv/bin/python scripts/dev_loss.py MODEL_DIR [MODEL_DIR ...] [--n 200]
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F
from codefusion.model.config import LANGUAGES
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.training.corpus import collate, pair_examples
from codefusion.model.training.data import load_pairs

T_GRID = (150, 300, 600, 900, 1199)


@torch.inference_mode()
def dev_loss(model_dir: str, n: int, batch: int = 50, device: str = "cpu") -> dict:
    pipe = CodeFusionPipeline.from_dir(model_dir, device=device)
    net, cfg = pipe.net.float(), pipe.config  # fp32 everywhere (a CUDA pipeline holds fp16 weights)
    out: dict = {"model": model_dir}
    for lang in LANGUAGES:
        examples, _ = pair_examples(pipe.tokenizer, cfg, load_pairs(lang, "dev")[0][:n])
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
    args = p.parse_args()
    for model_dir in args.models:
        print(json.dumps(dev_loss(model_dir, args.n, device=args.device)), flush=True)


if __name__ == "__main__":
    main()
