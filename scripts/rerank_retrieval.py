"""Can the diffusion model rerank retrieval? Dev sweep: the N training examples nearest to each dev prompt
(TF-IDF), reordered by the model's denoising cross-entropy of each example's code under the prompt (mean over
t = 300, 600, 900, fixed noise), by that minus the same under an empty prompt (PMI), and by PMI − 5 × the
TF-IDF similarity; top-1 / top-5 of each order against TF-IDF's own.

Usage: .venv/bin/python scripts/rerank_retrieval.py MODEL_DIR [N_PROMPTS] [N_EXAMPLES]
"""

from __future__ import annotations

import json
import sys

import torch
import torch.nn.functional as F
from codefusion.model.examples.retrieval import TfidfRetriever
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.training.data import load_pairs
from sweep_summary import K, summary  # scripts/sweep_summary.py

T_GRID = (300, 600, 900)


@torch.inference_mode()
def code_ce(pipe: CodeFusionPipeline, prompt: str, codes: list[str], lang: str) -> torch.Tensor:
    """(N,) mean cross-entropy per non-padding token of each code, denoised from t under the prompt."""
    net, cfg, tok = pipe.net, pipe.config, pipe.tokenizer
    length = cfg.code_len[lang]
    ids = torch.full((len(codes), length), cfg.pad_id, dtype=torch.long)
    for i, code in enumerate(codes):
        row = tok.encode_code(code)[:length]
        ids[i, : len(row)] = torch.tensor(row)
    p, pad = pipe._prompts([prompt] * len(codes), lang)
    memory = net.encode(p, pad)
    x0 = net.embed_code(ids)
    keep = (ids != cfg.pad_id).float()
    total = torch.zeros(len(codes))
    for t_value in T_GRID:
        t = torch.full((len(codes),), t_value)
        x_t = pipe.schedule.q_sample(x0, t, torch.randn(x0.shape, generator=torch.Generator().manual_seed(t_value)))
        x0_hat, _ = net.denoise(x_t, t, memory, pad)
        logits = net.head(net.decode(x0_hat, memory, pad))
        ce = F.cross_entropy(logits.transpose(1, 2), ids, reduction="none")  # (N, L)
        total += (ce * keep).sum(-1) / keep.sum(-1)
    return total / len(T_GRID)


def main(argv: list[str]) -> None:
    pipe = CodeFusionPipeline.from_dir(argv[0], device="cpu")
    n = int(argv[1]) if len(argv) > 1 else 40
    pool = int(argv[2]) if len(argv) > 2 else 20
    for lang in ("cf", "bash", "python"):
        retriever = TfidfRetriever.from_pairs(load_pairs(lang, "train")[0])
        pairs = load_pairs(lang, "dev")[0][:n]
        orders: dict[str, list[list[str]]] = {"tfidf": [], "model CE": [], "model PMI": [], "PMI - 5 sim": []}
        for pair in pairs:
            found = retriever.retrieve(pair.prompt, pool)
            codes = [r.code for r in found]
            cond, empty = code_ce(pipe, pair.prompt, codes, lang), code_ce(pipe, "", codes, lang)
            sims = torch.tensor([r.score for r in found])
            for name, key in (("tfidf", None), ("model CE", cond), ("model PMI", cond - empty),
                              ("PMI - 5 sim", cond - empty - 5 * sims)):
                order = range(len(codes)) if key is None else key.argsort().tolist()
                orders[name].append([codes[i] for i in list(order)[:K]])
        for name, per in orders.items():
            print(json.dumps({"lang": lang, "setting": name,
                              **summary(lang, per, pairs, [c for row in per for c in row])}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
