"""The edit model's dev loss (the same seeded masks the edit run logs every 500 steps) for model folders: the run's
start (its step-0 snapshot), an exported snapshot, or the shipped folder, so the learning curve has a point 0.

Usage: .venv/bin/python scripts/edit_dev_loss.py DIR [DIR ...] [--n 150] [--out FILE.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.training.edit_data import edit_dev_loss


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dirs", nargs="+", type=Path)
    p.add_argument("--n", type=int, default=150, help="dev pairs per language (the edit run logs 150)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--vocab-only", action="store_true",
                   help="close the copy head's gate: a step-0 snapshot then scores as the masked model it started from")
    args = p.parse_args()
    torch.set_num_threads(1)
    for d in args.dirs:
        pipe = CodeFusionPipeline.from_dir(d)
        if not pipe.config.copy_head:
            raise SystemExit(f"{d}: not an edit model (no copy head); its step-0 snapshot is the start")
        if args.vocab_only:
            with torch.no_grad():
                pipe.net.copy.gate.weight.zero_()
                pipe.net.copy.gate.bias.fill_(-40.0)  # sigmoid(−40) ≈ 4e-18: the vocabulary head alone
        row = {"model": str(d), "n": args.n, "vocab_only": args.vocab_only,
               "edit_dev_loss": edit_dev_loss(pipe.net, pipe.tokenizer, pipe.config, ["python", "bash"], n=args.n)}
        print(json.dumps(row))
        if args.out:
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
