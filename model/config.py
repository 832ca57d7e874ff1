"""Model configuration: one dataclass for every size, saved as JSON beside every checkpoint."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

LANGUAGES: tuple[str, ...] = ("python", "bash", "cf")


class X0Parameterization(StrEnum):
    """How the denoiser N produces x̂₀."""

    REGRESS = "regress"  # N outputs x̂₀ directly in embedding space
    EXPECTED_EMBEDDING = "expected_embedding"  # N outputs token logits; x̂₀ = softmax(logits) @ L


@dataclass
class ModelConfig:
    vocab_size: int = 4096
    d_model: int = 256
    n_heads: int = 4
    d_ff: int = 1024
    encoder_layers: int = 3
    denoiser_layers: int = 4
    decoder_layers: int = 2
    d_embed: int = 64  # dimension of the code embedding L, where noise is added
    # Per-dimension scale of L. Below 1 the tokens stop being readable from x_t at lower noise, so more of
    # the T steps teach something (at 1.0 and 64 dimensions they are readable up to t ≈ 0.65 T).
    embed_scale: float = 1.0
    dropout: float = 0.1
    max_prompt_len: int = 64
    # Code length per language: CF rules are short, Python the longest.
    code_len: dict[str, int] = field(default_factory=lambda: {"python": 48, "bash": 48, "cf": 16})
    diffusion_steps: int = 1200
    schedule_offset: float = 1e-4  # the s of the sqrt schedule
    x0_parameterization: X0Parameterization = X0Parameterization.EXPECTED_EMBEDDING
    self_conditioning: bool = True
    # Retrieval context: the encoder reads `<lang> prompt <lang> example prompt <lang> example code` for a
    # nearest training example (each candidate its own), so N and D can copy and edit instead of generating
    # from nothing (model/training/context.py). Such models want max_prompt_len ≥ 128.
    example_context: bool = False
    # Example guess: N's self-conditioning input ("its previous estimate of x₀") is, for half the training
    # pairs, the code of a nearest other training example, so at inference a retrieved example can be given
    # as the first guess and the model revises it under the prompt (position-aligned: copying is local).
    example_guess: bool = False
    # Pretrained prompt reading: > 0 appends up to this many all-MiniLM-L6-v2 WordPiece tokens of the prompt
    # (frozen; model/examples/minilm.py) after our own BPE tokens, within max_prompt_len. 0: our own encoder only.
    minilm_prompt_len: int = 0
    # Masked kernel only: whether N also reads the masking rate t (MDLM shows it is not needed).
    time_conditioning: bool = False
    pad_id: int = 0
    eos_id: int = 1

    @property
    def max_code_len(self) -> int:
        return max(self.code_len.values())

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["x0_parameterization"] = self.x0_parameterization.value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        d = dict(d)
        if "x0_parameterization" in d:
            d["x0_parameterization"] = X0Parameterization(d["x0_parameterization"])
        return cls(**d)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> ModelConfig:
        return cls.from_dict(json.loads(path.read_text()))


# Named sizes. "small" is what we ship (trainable on 2 CPU cores); "paper-75m" is the paper's size.
PRESETS: dict[str, dict] = {
    "tiny": dict(vocab_size=512, d_model=32, n_heads=2, d_ff=64, encoder_layers=1, denoiser_layers=1,
                 decoder_layers=1, d_embed=16, dropout=0.0, code_len={"python": 16, "bash": 16, "cf": 8}),
    "small": dict(),
    "paper-75m": dict(d_model=512, n_heads=8, d_ff=1536, encoder_layers=4, denoiser_layers=10,
                      decoder_layers=6, d_embed=128, vocab_size=16000,
                      code_len={"python": 128, "bash": 64, "cf": 32}),
}


def preset(name: str, **overrides) -> ModelConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return ModelConfig(**{**PRESETS[name], **overrides})
