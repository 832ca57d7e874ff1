"""The same-size autoregressive baseline: the same encoder E and tokenizer, a causal transformer decoder."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig
from .networks import Encoder, MemoryKV, attention_mask, decoder_layer_step, memory_kv
from .noise.gaussian import Batch, SampleOutput, SamplingCancelled


class ARNet(nn.Module):
    """E plus a causal decoder whose layer count is set so the parameter count matches the diffusion model."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.max_code_len + 1, cfg.d_model)
        layer = nn.TransformerDecoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.layers = nn.TransformerDecoder(layer, cfg.denoiser_layers + cfg.decoder_layers)
        self.norm = nn.LayerNorm(cfg.d_model)

    def encode(self, prompt: Tensor, prompt_pad: Tensor) -> Tensor:
        return self.encoder(prompt, prompt_pad)  # (B, P, C)

    def logits(self, inp: Tensor, memory: Tensor, memory_pad: Tensor) -> Tensor:
        """inp (B, S) starting with the language tag -> next-token logits (B, S, V)."""
        s = inp.shape[1]
        h = self.tok(inp) + self.pos(torch.arange(s, device=inp.device))  # (B, S, C)
        causal = torch.triu(torch.full((s, s), float("-inf"), device=inp.device), diagonal=1)
        h = self.layers(h, memory, tgt_mask=causal, memory_key_padding_mask=memory_pad)
        return self.norm(h) @ self.tok.weight.t() / math.sqrt(self.cfg.d_model)  # (B, S, V), tied

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- inference ---------------------------------------------------------------------------------------

    def next_token_logits(self, inp: Tensor, memory: Tensor, memory_pad: Tensor) -> Tensor:
        """logits(...)[:, -1] without projecting every position onto the vocabulary, (B, V)."""
        s = inp.shape[1]
        h = self.tok(inp) + self.pos(torch.arange(s, device=inp.device))  # (B, S, C)
        causal = torch.triu(torch.full((s, s), float("-inf"), device=inp.device, dtype=h.dtype), diagonal=1)
        h = self.layers(h, memory, tgt_mask=causal, memory_key_padding_mask=memory_pad)
        return self.norm(h[:, -1]) @ self.tok.weight.t() / math.sqrt(self.cfg.d_model)  # (B, V)

    def next_token_logits_cached(self, token: Tensor, position: int, kv: MemoryKV, mask: Tensor,
                                 past: list[tuple[Tensor, Tensor]] | None
                                 ) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """One step with a self-attention key/value cache: token (B,) at `position` -> logits (B, V), cache."""
        h = (self.tok(token) + self.pos.weight[position])[:, None, :]  # (B, 1, C)
        cache = []
        for i, layer in enumerate(self.layers.layers):
            h, layer_cache = decoder_layer_step(layer, h, kv[i], mask, None if past is None else past[i])
            cache.append(layer_cache)
        return self.norm(h[:, 0]) @ self.tok.weight.t() / math.sqrt(self.cfg.d_model), cache  # (B, V)


class ARObjective(nn.Module):
    """forward(batch) -> {"loss"}: next-token cross-entropy on the code (the trainer's contract)."""

    def __init__(self, net: ARNet):
        super().__init__()
        self.net = net

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        ce, scored = token_ce(self.net, batch)
        mean = ce[scored].mean()
        return {"ce": mean, "loss": mean}


def token_ce(net: ARNet, batch: Batch) -> tuple[Tensor, Tensor]:
    """Teacher-forced next-token cross-entropy of each code position (B, L) and which positions count: the
    code and its <eos>, not the padding after it."""
    memory = net.encode(batch.prompt, batch.prompt_pad)
    bos = batch.prompt[:, :1]  # the language tag starts the code too
    inp = torch.cat([bos, batch.code[:, :-1]], dim=1)  # (B, L)
    logits = net.logits(inp, memory, batch.prompt_pad)
    eos = (batch.code == net.cfg.eos_id).long()
    scored = ((eos.cumsum(1) - eos) == 0) & (batch.code != net.cfg.pad_id)
    ce = F.cross_entropy(logits.float().transpose(1, 2), batch.code, reduction="none")  # (B, L)
    return ce, scored


def _finish(seqs: list[list[int]], scores: list[float], length: int, pad: int, device) -> SampleOutput:
    tokens = torch.full((len(seqs), length), pad, dtype=torch.long, device=device)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = torch.tensor(s[:length], dtype=torch.long)
    return SampleOutput(tokens=tokens, scores=torch.tensor(scores))


@torch.inference_mode()
def ar_sample(net: ARNet, *, prompt: Tensor, prompt_pad: Tensor, k: int, length: int, seed: int = 0,
              temperature: float = 0.8, top_p: float = 0.95, kv_cache: bool = False,
              should_stop: Callable[[], bool] | None = None) -> SampleOutput:
    """k temperature/top-p samples per prompt, as one batch (prompt-major).

    Without kv_cache every step runs the decoder over the whole prefix (the baseline as trained and
    evaluated); with it each step runs only the newest position, with the same result.
    """
    cfg = net.cfg
    gen = torch.Generator(device=prompt.device).manual_seed(seed)
    encoded = net.encode(prompt, prompt_pad)  # (B, P, C)
    memory = encoded.repeat_interleave(k, 0)
    mpad = prompt_pad.repeat_interleave(k, 0)
    kv = memory_kv(net.layers, encoded, k) if kv_cache else []
    mask = attention_mask(prompt_pad).repeat_interleave(k, 0)
    past: list[tuple[Tensor, Tensor]] | None = None
    seq = prompt[:, :1].repeat_interleave(k, 0)  # (N, 1)
    logp_sum = torch.zeros(seq.shape[0], device=prompt.device)
    n_tok = torch.zeros_like(logp_sum)
    done = torch.zeros(seq.shape[0], dtype=torch.bool, device=prompt.device)
    for position in range(length):
        if should_stop is not None and should_stop():
            raise SamplingCancelled("sampling cancelled")
        if kv_cache:
            logits, past = net.next_token_logits_cached(seq[:, -1], position, kv, mask, past)
        else:
            logits = net.next_token_logits(seq, memory, mpad)
        logits = logits.float()  # (N, V)
        logp = logits.log_softmax(-1)
        probs = (logits / temperature).softmax(-1)
        sp, si = probs.sort(-1, descending=True)
        sp[(sp.cumsum(-1) - sp) > top_p] = 0  # nucleus
        nxt = si.gather(-1, torch.multinomial(sp, 1, generator=gen))  # (N, 1)
        nxt[done] = cfg.pad_id
        logp_sum += torch.where(done, 0.0, logp.gather(-1, nxt).squeeze(-1))
        n_tok += (~done).float()
        done |= nxt.squeeze(-1) == cfg.eos_id
        seq = torch.cat([seq, nxt], 1)
        if done.all():
            break
    seqs = [s[1:].tolist() for s in seq]
    return _finish(seqs, (logp_sum / n_tok.clamp(min=1)).tolist(), length, cfg.pad_id, prompt.device)


@torch.inference_mode()
def ar_beam_search(net: ARNet, *, prompt: Tensor, prompt_pad: Tensor, k: int, length: int,
                   should_stop: Callable[[], bool] | None = None) -> SampleOutput:
    """Top-k beams for each prompt (beam width k), scored by mean log-probability."""
    cfg = net.cfg
    all_seqs, all_scores = [], []
    for b in range(prompt.shape[0]):
        memory = net.encode(prompt[b: b + 1], prompt_pad[b: b + 1])
        beams: list[tuple[list[int], float]] = [([int(prompt[b, 0])], 0.0)]
        finished: list[tuple[list[int], float]] = []
        for _ in range(length):
            if should_stop is not None and should_stop():
                raise SamplingCancelled("sampling cancelled")
            inp = torch.tensor([s for s, _ in beams], device=prompt.device)
            logp = net.next_token_logits(inp, memory.expand(len(beams), -1, -1),
                                         prompt_pad[b: b + 1].expand(len(beams), -1))
            logp = logp.float().log_softmax(-1)  # (beams, V)
            total = torch.tensor([s for _, s in beams], device=prompt.device)[:, None] + logp
            top = total.flatten().topk(min(2 * k, total.numel()))
            beams = []
            for val, idx in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                src, tok = divmod(idx, logp.shape[1])
                seq = [*inp[src].tolist(), tok]
                (finished if tok == cfg.eos_id else beams).append((seq, val))
                if len(beams) == k:
                    break
            if len(finished) >= k or not beams:
                break
        finished.extend(beams)
        ranked = sorted(finished, key=lambda sv: sv[1] / max(len(sv[0]) - 1, 1), reverse=True)[:k]
        while len(ranked) < k:
            ranked.append(ranked[-1])
        for seq, score in ranked:
            all_seqs.append(seq[1:])
            all_scores.append(score / max(len(seq) - 1, 1))
    return _finish(all_seqs, all_scores, length, cfg.pad_id, prompt.device)
