"""Denoising quality on the dev split at fixed noise levels, per language, for model folders: the sampler-free
learning curve (`codefusion.model.evaluation.dev_loss` says what is measured for each kernel). Used for the
pretraining ablations and the masked run's per-language curve in the model card.

Usage: .venv/bin/python scripts/dev_loss.py MODEL_DIR [MODEL_DIR ...] [--n 200] [--split dev|train]
       [--prompts own|empty|shuffled] [--bound] [--out FILE.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from codefusion.model.evaluation.dev_loss import PROMPTS
from codefusion.model.evaluation.dev_loss import dev_loss as measure
from codefusion.model.pipeline import CodeFusionPipeline


def dev_loss(model_dir: str, n: int, batch: int = 50, device: str = "cpu", split: str = "dev",
             prompts: str = "own", bound: bool = False) -> dict:
    pipe = CodeFusionPipeline.from_dir(model_dir, device=device)
    out: dict = {"model": model_dir}
    meta = Path(model_dir) / "training.json"
    if meta.is_file():
        out["step"] = json.loads(meta.read_text()).get("step")
    if pipe.kind == "masked":
        out["kind"] = "masked"
    out["split"] = split
    if prompts != "own":
        out["prompts"] = prompts
    if bound and pipe.kind == "masked":
        out["bound"] = True
    net = pipe.net.float()  # fp32 everywhere (a CUDA pipeline holds fp16 weights)
    return {**out, **measure(net, pipe.config, pipe.tokenizer, pipe.kind, n=n, batch=batch, split=split,
                             device=pipe.device, prompts=prompts, bound=bound)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--split", choices=["dev", "train"], default="dev",
                   help="the split to score (train: how much of the training pairs the model memorised)")
    p.add_argument("--prompts", choices=PROMPTS, default="own",
                   help="each code under its own prompt, an empty one, or another pair's (how much the prompt tells)")
    p.add_argument("--bound", action="store_true",
                   help="masked folders: rates 0.05 … 0.95, whose mean code_ce estimates the NLL bound per code token "
                   "(comparable with the AR baseline's figure)")
    p.add_argument("--out", type=Path, default=None, help="also append each line to this JSONL file")
    args = p.parse_args()
    torch.set_num_threads(1)
    for model_dir in args.models:
        line = json.dumps(dev_loss(model_dir, args.n, device=args.device, split=args.split,
                                  prompts=args.prompts, bound=args.bound))
        print(line, flush=True)
        if args.out:
            with args.out.open("a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
