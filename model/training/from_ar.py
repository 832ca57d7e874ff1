"""A masked-kernel model initialised from the AR baseline: the adaptation production code-diffusion models use
(DiffuLLaMA, Dream, DiffuCoder start from an AR model rather than from scratch).

The AR baseline's decoder layers become N's, its encoder E stays E, its tied token embedding becomes the
masked net's (plus a [MASK] row), its positions and final norm carry over; N's extra input and output
projections start as the identity, the head's scale as the AR's 1/√d, the start vector as the mean of the
language tags the AR decoding starts from. With `masked_shift` the output at position j reads the tokens
before j exactly as the AR decoder did, so before any training the masked net with a causal attention mask
computes the AR's next-token logits; training then only has to teach it full attention and [MASK].
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from ..ar_baseline import ARNet
from ..config import ModelConfig
from ..networks import MaskedDiffusionNet


def masked_config_from_ar(cfg: ModelConfig) -> ModelConfig:
    """The masked net's config for an AR baseline's: N has all of the AR decoder's layers, shifted input."""
    return replace(cfg, denoiser_layers=cfg.denoiser_layers + cfg.decoder_layers, decoder_layers=0,
                   masked_shift=True, time_conditioning=False)


@torch.no_grad()
def init_masked_from_ar(net: MaskedDiffusionNet, ar: ARNet, start_ids: list[int]) -> None:
    """Copy the AR baseline's weights into a masked net built from masked_config_from_ar(ar.cfg), in place.
    start_ids: the token ids the AR decoding starts with (the language tags); the start vector is their mean."""
    if net.cfg != masked_config_from_ar(ar.cfg):
        raise ValueError("the masked net's config must be masked_config_from_ar(the AR baseline's config)")
    if not start_ids:
        raise ValueError("start_ids: at least one token id")
    net.encoder.load_state_dict(ar.encoder.state_dict())
    net.denoiser.layers.load_state_dict(ar.layers.state_dict())
    net.denoiser.norm.load_state_dict(ar.norm.state_dict())
    vocab = ar.cfg.vocab_size
    net.token_embedding.weight[:vocab] = ar.tok.weight
    net.token_embedding.weight[vocab] = ar.tok.weight.mean(0)  # [MASK]: no token in particular
    net.denoiser.pos.weight.copy_(ar.pos.weight)  # both max_code_len + 1 positions
    for linear in (net.denoiser.inp, net.denoiser.out):
        linear.weight.copy_(torch.eye(linear.weight.shape[0]))
        linear.bias.zero_()
    net.head_scale.fill_(1 / math.sqrt(ar.cfg.d_model))
    assert net.start is not None  # masked_shift
    net.start.copy_(ar.tok.weight[start_ids].mean(0))
