"""How much the prompt, and how much a retrieved example, tell the model about the code (dev split).

1. Prompt vs empty prompt: cross-entropy and accuracy of D+H over the *non-padding* gold tokens after one
   N pass on gold code noised to t (600, 1199), with the real prompt and with an empty one.
2. Position-aligned overlap of the gold code with its nearest training example (TF-IDF, top-1): the share
   of gold tokens that the example has at the same position, i.e. what an aligned copy (the example-guess
   experiment, git tag experiments-2026-11) could recover at best.

Usage: .venv/bin/python scripts/diagnose_conditioning.py MODEL_DIR [N_PROMPTS]
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import torch
import torch.nn.functional as F
from codefusion.model.examples.retrieval import TfidfRetriever
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.training.corpus import collate, pair_examples
from codefusion.model.training.data import load_pairs


@torch.inference_mode()
def prompt_vs_empty(pipe: CodeFusionPipeline, lang: str, n: int) -> dict:
    net, cfg, tok = pipe.net, pipe.config, pipe.tokenizer
    examples, _ = pair_examples(tok, cfg, load_pairs(lang, "dev")[0][:n])
    empty = [replace(e, prompt=tok.encode_prompt("", lang, cfg.max_prompt_len)) for e in examples]
    out = {}
    for name, rows in (("prompt", examples), ("empty", empty)):
        b = collate(rows, cfg, cfg.code_len[lang], cpd=False)
        keep = (b.code != cfg.pad_id).float()  # (B, L)
        for t_value in (600, 1199):
            t = torch.full((len(rows),), t_value)
            x0 = net.embed_code(b.code)
            x_t = pipe.schedule.q_sample(x0, t, torch.randn(x0.shape, generator=torch.Generator().manual_seed(t_value)))
            memory = net.encode(b.prompt, b.prompt_pad)
            x0_hat, _ = net.denoise(x_t, t, memory, b.prompt_pad)
            logits = net.head(net.decode(x0_hat, memory, b.prompt_pad))  # (B, L, V)
            ce = F.cross_entropy(logits.transpose(1, 2), b.code, reduction="none")
            acc = (logits.argmax(-1) == b.code).float()
            out[f"{name} t={t_value}"] = {"ce": round(float((ce * keep).sum() / keep.sum()), 2),
                                          "acc": round(100 * float((acc * keep).sum() / keep.sum()), 1)}
    return out


def aligned_overlap(pipe: CodeFusionPipeline, lang: str, n: int) -> float:
    tok, length = pipe.tokenizer, pipe.config.code_len[lang]
    retriever = TfidfRetriever.from_pairs(load_pairs(lang, "train")[0])
    same = total = 0
    for pair in load_pairs(lang, "dev")[0][:n]:
        gold = tok.encode_code(pair.code)[:length]
        near = tok.encode_code(retriever.retrieve(pair.prompt, 1)[0].code)[:length]
        same += sum(a == b for a, b in zip(gold, near, strict=False))
        total += len(gold)
    return round(100 * same / total, 1)


def main(argv: list[str]) -> None:
    pipe = CodeFusionPipeline.from_dir(argv[0], device="cpu")
    n = int(argv[1]) if len(argv) > 1 else 100
    for lang in ("python", "bash", "cf"):
        print(json.dumps({"lang": lang, "non_pad_tokens": prompt_vs_empty(pipe, lang, n),
                          "aligned_overlap_with_nearest_example_pct": aligned_overlap(pipe, lang, 2 * n)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
