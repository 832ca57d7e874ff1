"""The networks of CodeFusion: encoder E, denoiser N, decoder D, head H, code embedding L.

They know nothing of the noise process (see noise/gaussian.py); N just maps (x_t, t, prompt) to x̂₀.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig


def sinusoidal(t: Tensor, dim: int) -> Tensor:
    """Timestep features, (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([args.sin(), args.cos()], dim=-1)


# --- inference path ---------------------------------------------------------------------------------
# The same weights as nn.TransformerDecoderLayer (norm_first, eval: no dropout), called directly: the
# prompt's cross-attention keys/values are computed once per request instead of once per step, and the
# per-call checks of nn.MultiheadAttention are skipped. Training keeps the nn.Module forward.

MemoryKV = list[tuple[Tensor, Tensor]]  # per layer: cross-attention keys and values, each (B, H, P, C/H)


def split_heads(x: Tensor, heads: int) -> Tensor:
    b, n, c = x.shape
    return x.view(b, n, heads, c // heads).transpose(1, 2)  # (B, H, n, C/H)


def merge_heads(x: Tensor) -> Tensor:
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)  # (B, n, C)


def memory_kv(layers: nn.TransformerDecoder, memory: Tensor, repeats: int = 1) -> MemoryKV:
    """Cross-attention keys/values of the prompt states for each layer, repeated for the k candidates."""
    out = []
    for layer in layers.layers:
        mha = layer.multihead_attn
        c = memory.shape[-1]
        k, v = F.linear(memory, mha.in_proj_weight[c:], mha.in_proj_bias[c:]).chunk(2, dim=-1)  # (B, P, C) each
        out.append((split_heads(k, mha.num_heads).repeat_interleave(repeats, 0),
                    split_heads(v, mha.num_heads).repeat_interleave(repeats, 0)))
    return out


def attention_mask(memory_pad: Tensor) -> Tensor:
    """Padding mask (B, P), True = pad, as a scaled_dot_product_attention mask: (B, 1, 1, P), True = attend."""
    return (~memory_pad)[:, None, None, :]


def decoder_layer_step(layer: nn.TransformerDecoderLayer, h: Tensor, kv: tuple[Tensor, Tensor], mask: Tensor,
                       past: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """One nn.TransformerDecoderLayer on h (B, n, C) with precomputed cross K/V.

    No self-attention mask: the code positions attend to each other (the denoiser), or `past` holds the
    keys/values of the earlier positions and h is the newest one (autoregressive decoding with a cache).
    Returns the new h and the self-attention keys/values including `past`.
    """
    sa, ca = layer.self_attn, layer.multihead_attn
    heads, c = sa.num_heads, h.shape[-1]
    q, k, v = (split_heads(z, heads) for z in F.linear(layer.norm1(h), sa.in_proj_weight, sa.in_proj_bias)
               .chunk(3, dim=-1))  # (B, H, n, C/H) each
    if past is not None:
        k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
    h = h + sa.out_proj(merge_heads(F.scaled_dot_product_attention(q, k, v)))
    q = split_heads(F.linear(layer.norm2(h), ca.in_proj_weight[:c], ca.in_proj_bias[:c]), heads)
    h = h + ca.out_proj(merge_heads(F.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask=mask)))
    h = h + layer.linear2(layer.activation(layer.linear1(layer.norm3(h))))  # (B, n, C)
    return h, (k, v)


def segment_positions(tokens: Tensor, separator: int, segments: int, positions: int) -> tuple[Tensor, Tensor]:
    """Each token's segment (how many separators are at or before it) and its position inside that segment,
    both (B, P); a separator opens the next segment. Clamped to the tables' sizes."""
    sep = tokens == separator  # (B, P)
    idx = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)  # (B, P)
    start = torch.cummax(torch.where(sep, idx, torch.zeros_like(idx)), dim=1).values  # (B, P)
    seg = sep.long().cumsum(1).clamp(max=segments - 1)
    return seg, (idx - start).clamp(max=positions - 1)


class Encoder(nn.Module):
    """E: transformer encoder over the NL prompt (first token is the language tag). With cfg.input_segments > 1
    the input is segments split by <eos> (edit models: prompt, context, an example's prompt and code), each
    counting its positions from 0 and marked by a segment embedding (zero at first: segment 0 reads as before)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=cfg.pad_id)
        self.pos = nn.Embedding(cfg.max_prompt_len, cfg.d_model)
        self.segment = nn.Embedding(cfg.input_segments, cfg.d_model) if cfg.input_segments > 1 else None
        if self.segment is not None:
            nn.init.zeros_(self.segment.weight)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, cfg.encoder_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)

    def forward(self, prompt: Tensor, prompt_pad: Tensor) -> Tensor:
        if self.segment is None:
            h = self.tok(prompt) + self.pos(torch.arange(prompt.shape[1], device=prompt.device))  # (B, P, C)
        else:
            seg, pos = segment_positions(prompt, self.cfg.eos_id, self.cfg.input_segments, self.cfg.max_prompt_len)
            h = self.tok(prompt) + self.pos(pos) + self.segment(seg)  # (B, P, C)
        return self.norm(self.layers(h, src_key_padding_mask=prompt_pad))  # (B, P, C)


ALIGN_INIT = 3.0  # the alignment's first bonus: e^3 ≈ 20 times the aligned example token's pointer weight


class CopyHead(nn.Module):
    """Pointer-generator output (See et al., 2017): each code position's distribution is a learned mix of the
    vocabulary head's and an attention over the encoder input's tokens, so a name, a value or a retrieved
    example's code is copied by pointing at it rather than learnt through the vocabulary."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.query = nn.Linear(cfg.d_model, cfg.d_model)
        self.key = nn.Linear(cfg.d_model, cfg.d_model)
        self.gate = nn.Linear(cfg.d_model, 1)
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, -1.0)  # starts mostly the vocabulary head the model was trained with
        self.align = nn.Parameter(torch.tensor(ALIGN_INIT)) if cfg.copy_align else None

    def keys(self, memory: Tensor) -> Tensor:
        return self.key(memory)  # (B, M, C)

    def example_positions(self, source: Tensor) -> Tensor | None:
        """Each source token's position in the example's code (the last segment), far away elsewhere: (B, M)."""
        if self.align is None:
            return None
        cfg = self.cfg
        seg, pos = segment_positions(source, cfg.eos_id, cfg.input_segments, cfg.max_prompt_len)
        return torch.where(seg == cfg.input_segments - 1, pos - 1, -1000).float()  # the separator is 0

    def alignment(self, code_positions: Tensor, example_positions: Tensor) -> Tensor:
        """The pointer's bonus for the example token at each code position: (..., L, 1) and (..., 1, M) ->
        (..., L, M), align · exp(−Δ²/2)."""
        assert self.align is not None
        return self.align * torch.exp(-0.5 * (code_positions - example_positions) ** 2)

    def mix(self, h: Tensor, vocab_logits: Tensor, keys: Tensor, source: Tensor, source_pad: Tensor,
            bias: Tensor | None = None) -> Tensor:
        """log of (1 − g)·softmax(vocab_logits) + g·copy, (B, L, V): log-probabilities, usable as logits.
        bias (B, L, M): added to the pointer's scores (the alignment)."""
        scores = self.query(h).float() @ keys.float().transpose(1, 2) / math.sqrt(h.shape[-1])  # (B, L, M)
        if bias is not None:
            scores = scores + bias
        attn = scores.masked_fill(source_pad[:, None, :], float("-inf")).softmax(-1)
        copy = torch.zeros_like(vocab_logits, dtype=torch.float32).scatter_add_(
            -1, source[:, None, :].expand(-1, h.shape[1], -1), attn)  # (B, L, V)
        g = torch.sigmoid(self.gate(h).float())  # (B, L, 1)
        p = (1 - g) * vocab_logits.float().softmax(-1) + g * copy
        return p.clamp(min=1e-12).log()


class CrossBlocks(nn.Module):
    """Bidirectional self-attention over the code positions plus cross-attention to the prompt."""

    def __init__(self, cfg: ModelConfig, n_layers: int, d_in: int, d_out: int, positions: int | None = None):
        super().__init__()
        self.inp = nn.Linear(d_in, cfg.d_model)
        self.pos = nn.Embedding(positions or cfg.max_code_len, cfg.d_model)
        layer = nn.TransformerDecoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.layers = nn.TransformerDecoder(layer, n_layers)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, d_out)

    def forward(self, x: Tensor, memory: Tensor, memory_pad: Tensor, cond: Tensor | None = None,
                self_mask: Tensor | None = None) -> Tensor:
        """self_mask: (L, L) bool, True = position i may not attend to j (None: full attention)."""
        pos = torch.arange(x.shape[1], device=x.device)
        h = self.inp(x) + self.pos(pos)  # (B, L, C)
        if cond is not None:
            h = h + cond[:, None, :]  # timestep conditioning, (B, 1, C) broadcast
        h = self.layers(h, memory, tgt_mask=self_mask, memory_key_padding_mask=memory_pad)  # (B, L, C)
        return self.out(self.norm(h))  # (B, L, d_out)

    def forward_cached(self, x: Tensor, kv: MemoryKV, mask: Tensor, cond: Tensor | None = None) -> Tensor:
        """forward() for inference, with the prompt's cross-attention K/V from memory_kv()."""
        h = self.inp(x) + self.pos.weight[: x.shape[1]]  # (B, L, C)
        if cond is not None:
            h = h + cond
        for layer, layer_kv in zip(self.layers.layers, kv, strict=True):
            h, _ = decoder_layer_step(layer, h, layer_kv, mask)
        return self.out(self.norm(h))  # (B, L, d_out)


class Denoiser(nn.Module):
    """N: (x_t, t, self-conditioning x̂₀, prompt states) -> a vector per position whose similarities to L are
    the token logits of x̂₀ (CodeFusionNet.denoise)."""

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
        """L(y): unit-norm embeddings scaled to √E·embed_scale (per-dimension scale), (B, L) -> (B, L, E)."""
        return self.embedding_table()[tokens]

    def embedding_table(self) -> Tensor:
        w = self.code_embedding.weight  # (V, E)
        return F.normalize(w, dim=-1) * (math.sqrt(self.cfg.d_embed) * self.cfg.embed_scale)

    @property
    def logit_divisor(self) -> float:
        """Similarity logits are divided by this, so an exact match scores scale·√E whatever embed_scale is."""
        return math.sqrt(self.cfg.d_embed) * self.cfg.embed_scale**2

    def encode(self, prompt: Tensor, prompt_pad: Tensor) -> Tensor:
        return self.encoder(prompt, prompt_pad)  # (B, P, C)

    def denoise(self, x_t: Tensor, t: Tensor, memory: Tensor, memory_pad: Tensor,
                x0_prev: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """N: x̂₀ = softmax(logits) @ L, the expected embedding (B, L, E), and N's token logits (B, L, V)."""
        out = self.denoiser(x_t, t, memory, memory_pad, x0_prev)  # (B, L, E)
        table = self.embedding_table()  # (V, E)
        logits = self.denoiser_scale * out @ table.t() / self.logit_divisor  # (B, L, V)
        return logits.softmax(-1) @ table, logits  # (B, L, E), (B, L, V)

    def decode(self, x0: Tensor, memory: Tensor, memory_pad: Tensor) -> Tensor:
        """D: x̂₀ -> hidden states in embedding space, (B, L, E)."""
        return self.decoder(x0, memory, memory_pad)

    def head(self, hidden: Tensor) -> Tensor:
        """H: hidden (B, L, E) -> vocabulary logits (B, L, V)."""
        return self.head_scale * hidden @ self.embedding_table().t() / self.logit_divisor

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- inference: per-request constants computed once, then a lean step -------------------------------

    def request_context(self, memory: Tensor, memory_pad: Tensor, k: int) -> RequestContext:
        """Everything the denoising steps of one request share, for k candidates per prompt."""
        table = self.embedding_table()  # (V, E)
        return RequestContext(
            denoiser_kv=memory_kv(self.denoiser.blocks.layers, memory, k),
            decoder_kv=memory_kv(self.decoder.layers, memory, k),
            mask=attention_mask(memory_pad).repeat_interleave(k, 0),  # (B·k, 1, 1, P)
            table=table,
            denoiser_logit_table=table.t() * (self.denoiser_scale / self.logit_divisor),  # (E, V)
            head_logit_table=table.t() * (self.head_scale / self.logit_divisor),  # (E, V)
        )

    def timestep_conditions(self, timesteps: Tensor) -> Tensor:
        """The denoiser's timestep conditioning for each sampling step, (S,) -> (S, 1, 1, C)."""
        features = sinusoidal(timesteps, self.cfg.d_model).to(self.head_scale.dtype)
        return self.denoiser.time(features)[:, None, None, :]

    def denoise_cached(self, x_t: Tensor, cond: Tensor, ctx: RequestContext,
                       x0_prev: Tensor | None) -> tuple[Tensor, Tensor]:
        """denoise() for inference: same result, with the request's constants from request_context()."""
        if self.cfg.self_conditioning:
            x_t = torch.cat([x_t, torch.zeros_like(x_t) if x0_prev is None else x0_prev], dim=-1)  # (N, L, 2E)
        out = self.denoiser.blocks.forward_cached(x_t, ctx.denoiser_kv, ctx.mask, cond)  # (N, L, E)
        logits = out @ ctx.denoiser_logit_table  # (N, L, V)
        return logits.softmax(-1) @ ctx.table, logits  # (N, L, E), (N, L, V)

    def decode_cached(self, x0: Tensor, ctx: RequestContext) -> Tensor:
        """head(decode()) for inference: vocabulary logits (N, L, V)."""
        return self.decoder.forward_cached(x0, ctx.decoder_kv, ctx.mask) @ ctx.head_logit_table


@dataclass
class RequestContext:
    """Per-request constants of sampling: prompt K/V per layer, the padding mask and the embedding table."""

    denoiser_kv: MemoryKV
    decoder_kv: MemoryKV
    mask: Tensor  # (N, 1, 1, P), True = attend
    table: Tensor  # (V, E)
    denoiser_logit_table: Tensor  # (E, V)
    head_logit_table: Tensor  # (E, V)


@dataclass
class CopySource:
    """The tokens a copy head points at, (N, P), their pointer keys (N, P, C) and padding (N, P), True = pad;
    with copy_align, each token's position in the example code (N, P)."""

    keys: Tensor
    tokens: Tensor
    pad: Tensor
    positions: Tensor | None = None

    def rows(self, r: Tensor) -> CopySource:
        return CopySource(self.keys[r], self.tokens[r], self.pad[r],
                          None if self.positions is None else self.positions[r])


@dataclass
class MaskedContext:
    """Per-request constants of the masked sampler: prompt K/V per layer, the padding mask, the copy source."""

    kv: MemoryKV
    mask: Tensor  # (N, 1, 1, P), True = attend
    copy: CopySource | None = None


def future_mask(n: int, share: float, device: torch.device) -> Tensor | None:
    """A self-attention mask (n, n), True = hidden, hiding each later position with probability 1 - share;
    None (full attention) when share >= 1. Earlier positions and the position itself are always visible."""
    if share >= 1.0:
        return None
    later = torch.ones(n, n, dtype=torch.bool, device=device).triu(diagonal=1)
    return later & (torch.rand(n, n, device=device) >= share)


class MaskedDiffusionNet(nn.Module):
    """E and N for the masked (absorbing-state) kernel: N reads code token ids, [MASK] among them, and
    returns vocabulary logits through a head tied to its token embedding. No decoder D, no noisy vectors.
    With cfg.masked_shift, N reads [start, x_0 … x_{L-1}] and position j's output is token j's logits."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.mask_id = cfg.vocab_size  # one row past the vocabulary: never predicted (SUBS)
        self.encoder = Encoder(cfg)
        self.token_embedding = nn.Embedding(cfg.vocab_size + 1, cfg.d_model)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.time = (nn.Sequential(nn.Linear(cfg.d_model, cfg.d_model), nn.SiLU(), nn.Linear(cfg.d_model, cfg.d_model))
                     if cfg.time_conditioning else None)
        shift = cfg.masked_shift
        self.start = nn.Parameter(torch.zeros(cfg.d_model)) if shift else None
        self.denoiser = CrossBlocks(cfg, cfg.denoiser_layers, cfg.d_model, cfg.d_model,
                                    positions=cfg.max_code_len + int(shift))
        self.head_scale = nn.Parameter(torch.tensor(1.0))  # tied head, as GPT-2; also the dtype probe
        self.copy = CopyHead(cfg) if cfg.copy_head else None

    def embed(self, tokens: Tensor) -> Tensor:
        """N's input: the tokens' embeddings (B, L, C), behind the start vector when shifted (B, L+1, C)."""
        e = self.token_embedding(tokens)
        if self.start is None:
            return e
        return torch.cat([self.start.to(e.dtype).expand(e.shape[0], 1, -1), e], dim=1)

    def project(self, h: Tensor, copy: CopySource | None = None, at: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """N's output (B, L or L+1, C) -> each code position's logits over the vocabulary (B, L, V); with a copy
        head, log-probabilities of the mix of the vocabulary and the pointer over `copy`'s tokens.
        at = (rows, columns), M positions: only those positions' logits, (M, V) (the sampler's masked ones)."""
        if self.start is not None:
            h = h[:, :-1]
        code_positions = torch.arange(h.shape[1], device=h.device, dtype=torch.float32)[None, :, None]  # (1, L, 1)
        if at is not None:
            r, c = at
            h = h[r, c][:, None]  # (M, 1, C)
            code_positions = c.float()[:, None, None]  # (M, 1, 1)
            copy = None if copy is None else copy.rows(r)
        logits = self.head_scale * h @ self.token_embedding.weight[: self.cfg.vocab_size].t()
        if self.copy is not None:
            if copy is None:
                raise ValueError("a model with a copy head needs the encoder input's tokens (source)")
            bias = None if copy.positions is None else self.copy.alignment(code_positions, copy.positions[:, None, :])
            logits = self.copy.mix(h, logits, copy.keys, copy.tokens, copy.pad, bias)
        return logits if at is None else logits[:, 0]

    def copy_source(self, memory: Tensor, source: Tensor | None, source_pad: Tensor, repeats: int = 1,
                    ) -> CopySource | None:
        """What the copy head points at: the encoder input's tokens and their keys (None without a copy head)."""
        if self.copy is None or source is None:
            return None
        positions = self.copy.example_positions(source)
        return CopySource(self.copy.keys(memory).repeat_interleave(repeats, 0),
                          source.repeat_interleave(repeats, 0), source_pad.repeat_interleave(repeats, 0),
                          None if positions is None else positions.repeat_interleave(repeats, 0))

    def encode(self, prompt: Tensor, prompt_pad: Tensor) -> Tensor:
        return self.encoder(prompt, prompt_pad)  # (B, P, C)

    def time_condition(self, t: Tensor) -> Tensor | None:
        """The masking rate's conditioning (B,) -> (B, C), or None for models without it."""
        if self.time is None:
            return None
        return self.time(sinusoidal(t * 1000, self.cfg.d_model).to(self.head_scale.dtype))

    def forward(self, tokens: Tensor, memory: Tensor, memory_pad: Tensor, t: Tensor | None = None,
                future_share: float = 1.0, source: Tensor | None = None) -> Tensor:
        """Logits over the vocabulary (without [MASK]) for every code position, (B, L) -> (B, L, V).
        future_share < 1 (training only): each position sees every earlier one and that share of the later
        ones, drawn at random per call (0: a causal mask, as the AR baseline; 1: full attention, as sampling).
        source (B, P): the encoder's input tokens, which a copy head points at."""
        cond = None if t is None else self.time_condition(t)
        x = self.embed(tokens)
        h = self.denoiser(x, memory, memory_pad, cond, future_mask(x.shape[1], future_share, x.device))
        return self.project(h, self.copy_source(memory, source, memory_pad))

    def request_context(self, memory: Tensor, memory_pad: Tensor, k: int,
                        source: Tensor | None = None) -> MaskedContext:
        """The prompt's cross-attention K/V per layer, its mask and the copy head's source, repeated for k
        candidates, once per request."""
        return MaskedContext(memory_kv(self.denoiser.layers, memory, k),
                             attention_mask(memory_pad).repeat_interleave(k, 0),
                             self.copy_source(memory, source, memory_pad, k))

    def forward_cached(self, tokens: Tensor, ctx: MaskedContext, cond: Tensor | None = None,
                       at: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """forward() for inference, with request_context()'s constants; cond (N, 1, C) or None. (N, L, V), or
        with at = (rows, columns) only those M positions' logits (M, V): the head then runs on them alone."""
        h = self.denoiser.forward_cached(self.embed(tokens), ctx.kv, ctx.mask, cond)
        return self.project(h, ctx.copy, at)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
