"""Small real models for tests: built and trained here in seconds, saved like a shipped model."""

from __future__ import annotations

from pathlib import Path

import torch
from codefusion.model.config import ModelConfig, preset
from codefusion.model.modelfile import save_model_dir
from codefusion.model.networks import CodeFusionNet
from codefusion.model.noise.gaussian import Batch, GaussianDiffusion, NoiseSchedule
from codefusion.model.tokenizer import CodeTokenizer
from codefusion.model.training.corpus import Example, collate

TINY_PAIRS: list[tuple[str, str, str]] = [
    ("cf", "highlight cells greater than 500", "GreaterThan(500)"),
    ("cf", "mark duplicate values", "Duplicate()"),
    ("python", "print hello world", "print('hello world')"),
    ("python", "sort the list x", "x.sort()"),
    ("bash", "list all files", "ls -la"),
    ("bash", "show disk usage", "du -sh ."),
]


def make_tiny_model(out_dir: str | Path, *, train_steps: int = 0, seed: int = 0, **overrides) -> Path:
    """Write a tiny diffusion model folder (config.json, model.safetensors, tokenizer.json).

    With train_steps > 0 it is first fitted to TINY_PAIRS (a few hundred steps recover them exactly).
    overrides: ModelConfig fields (e.g. max_prompt_len=96).
    """
    out = Path(out_dir)
    torch.manual_seed(seed)
    texts = [t for _, a, b in TINY_PAIRS for t in (a, b)] * 10
    tok = CodeTokenizer.train(texts, 300)
    cfg = preset("tiny", vocab_size=tok.vocab_size, d_model=64, d_ff=128, pad_id=tok.pad_id, eos_id=tok.eos_id,
                 code_len={"python": 16, "bash": 16, "cf": 16}, **overrides)
    net = CodeFusionNet(cfg)
    if train_steps:
        diffusion = GaussianDiffusion(schedule=NoiseSchedule(steps=cfg.diffusion_steps))
        opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
        batches = {lang: collate([Example(lang, tok.encode_prompt(a, lang, cfg.max_prompt_len), tok.encode_code(b))
                                  for l2, a, b in TINY_PAIRS if l2 == lang], cfg, cfg.code_len[lang], False)
                   for lang in ("python", "bash", "cf")}
        for step in range(train_steps):
            loss = diffusion.training_losses(net, list(batches.values())[step % 3])["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    save_model_dir(out, net, cfg, tok, half=False)
    return out


# --- six CF rules for the kernels' unit tests (tests/test_model.py, tests/test_masked.py) ---------------

CF_PAIRS = [("greater than 500", "GreaterThan(500)"), ("less than 30", "LessThan(30)"),
            ("mark duplicates", "Duplicate()"), ("blank cells", "Blanks()"),
            ("text contains FB", "TextContains(FB)"), ("between 4 and 8", "Between(4,8)")]


def cf_tokenizer() -> CodeTokenizer:
    """A 300-token BPE fitted to CF_PAIRS (and digits)."""
    return CodeTokenizer.train([t for p in CF_PAIRS for t in p] * 20 + ["x = 1234567890"], 300)


def tiny_cfg(tok: CodeTokenizer, **kw) -> ModelConfig:
    return preset("tiny", vocab_size=tok.vocab_size, pad_id=tok.pad_id, eos_id=tok.eos_id, **kw)


def cf_batch(tok: CodeTokenizer, cfg: ModelConfig) -> Batch:
    """One batch of the six CF pairs."""
    return collate(cf_examples(tok, cfg), cfg, cfg.code_len["cf"], cpd=False)


def cf_examples(tok: CodeTokenizer, cfg: ModelConfig) -> list[Example]:
    """The six CF pairs as training examples."""
    return [Example("cf", tok.encode_prompt(a, "cf", cfg.max_prompt_len), tok.encode_code(b)) for a, b in CF_PAIRS]
