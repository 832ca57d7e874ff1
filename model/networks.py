"""The networks of CodeFusion: encoder E, denoiser N, decoder D, head H, code embedding L.

They know nothing of the noise process (see diffusion.py); N just maps (x_t, t, prompt) to x̂₀.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig, X0Parameterization


def sinusoidal(t: Tensor, dim: int) -> Tensor:
    """Timestep features, (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([args.sin(), args.cos()], dim=-1)


class Encoder(nn.Module):
    """E: transformer encoder over the NL prompt (first token is the language tag)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=cfg.pad_id)
        self.pos = nn.Embedding(cfg.max_prompt_len, cfg.d_model)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, cfg.encoder_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)

    def forward(self, prompt: Tensor, prompt_pad: Tensor) -> Tensor:
        pos = torch.arange(prompt.shape[1], device=prompt.device)
        h = self.tok(prompt) + self.pos(pos)  # (B, P, C)
        return self.norm(self.layers(h, src_key_padding_mask=prompt_pad))  # (B, P, C)


class CrossBlocks(nn.Module):
    """Bidirectional self-attention over the code positions plus cross-attention to the prompt."""

    def __init__(self, cfg: ModelConfig, n_layers: int, d_in: int, d_out: int):
        super().__init__()
        self.inp = nn.Linear(d_in, cfg.d_model)
        self.pos = nn.Embedding(cfg.max_code_len, cfg.d_model)
        layer = nn.TransformerDecoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.layers = nn.TransformerDecoder(layer, n_layers)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, d_out)

    def forward(self, x: Tensor, memory: Tensor, memory_pad: Tensor, cond: Tensor | None = None) -> Tensor:
        pos = torch.arange(x.shape[1], device=x.device)
        h = self.inp(x) + self.pos(pos)  # (B, L, C)
        if cond is not None:
            h = h + cond[:, None, :]  # timestep conditioning, (B, 1, C) broadcast
        h = self.layers(h, memory, memory_key_padding_mask=memory_pad)  # (B, L, C)
        return self.out(self.norm(h))  # (B, L, d_out)


class Denoiser(nn.Module):
    """N: (x_t, t, self-conditioning x̂₀, prompt states) -> x̂₀ (or token logits for x̂₀)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d_in = cfg.d_embed * (2 if cfg.self_conditioning else 1)
        self.time = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_model), nn.SiLU(), nn.Linear(cfg.d_model, cfg.d_model))
        self.blocks = CrossBlocks(cfg, cfg.denoiser_layers, d_in, cfg.d_embed)

    def forward(self, x_t: Tensor, t: Tensor, memory: Tensor, memory_pad: Tensor,
                x0_prev: Tensor | None = None) -> Tensor:
        if self.cfg.self_conditioning:
            x_t = torch.cat([x_t, torch.zeros_like(x_t) if x0_prev is None else x0_prev], dim=-1)  # (B, L, 2E)
        cond = self.time(sinusoidal(t, self.cfg.d_model))  # (B, C)
        return self.blocks(x_t, memory, memory_pad, cond)  # (B, L, E)


class CodeFusionNet(nn.Module):
    """E, N, D, H and L together. H is tied to L: logits are similarities to the code embeddings."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.denoiser = Denoiser(cfg)
        self.decoder = CrossBlocks(cfg, cfg.decoder_layers, cfg.d_embed, cfg.d_embed)
        self.code_embedding = nn.Embedding(cfg.vocab_size, cfg.d_embed)  # L
        self.head_scale = nn.Parameter(torch.tensor(4.0))
        self.denoiser_scale = nn.Parameter(torch.tensor(4.0))
        nn.init.normal_(self.code_embedding.weight, std=1.0)

    def embed_code(self, tokens: Tensor) -> Tensor:
        """L(y): unit-norm embeddings scaled to √E so each dimension has unit scale, (B, L) -> (B, L, E)."""
        return self.embedding_table()[tokens]

    def embedding_table(self) -> Tensor:
        w = self.code_embedding.weight  # (V, E)
        return F.normalize(w, dim=-1) * math.sqrt(self.cfg.d_embed)

    def encode(self, prompt: Tensor, prompt_pad: Tensor) -> Tensor:
        return self.encoder(prompt, prompt_pad)  # (B, P, C)

    def denoise(self, x_t: Tensor, t: Tensor, memory: Tensor, memory_pad: Tensor,
                x0_prev: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """N: returns x̂₀ (B, L, E) and, for the expected-embedding form, the token logits (B, L, V)."""
        out = self.denoiser(x_t, t, memory, memory_pad, x0_prev)  # (B, L, E)
        if self.cfg.x0_parameterization is X0Parameterization.EXPECTED_EMBEDDING:
            table = self.embedding_table()  # (V, E)
            logits = self.denoiser_scale * out @ table.t() / math.sqrt(self.cfg.d_embed)  # (B, L, V)
            return logits.softmax(-1) @ table, logits  # (B, L, E), (B, L, V)
        return out, None

    def decode(self, x0: Tensor, memory: Tensor, memory_pad: Tensor) -> Tensor:
        """D: x̂₀ -> hidden states in embedding space, (B, L, E)."""
        return self.decoder(x0, memory, memory_pad)

    def head(self, hidden: Tensor) -> Tensor:
        """H: hidden (B, L, E) -> vocabulary logits (B, L, V)."""
        return self.head_scale * hidden @ self.embedding_table().t() / math.sqrt(self.cfg.d_embed)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
