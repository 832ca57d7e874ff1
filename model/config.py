"""Model configuration: one dataclass for every size, saved as JSON beside every checkpoint."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

LANGUAGES: tuple[str, ...] = ("python", "bash", "cf")

# Config keys of experiments that were measured and not adopted (docs/experiments.md), with the value every
# adopted model has. Older model folders still carry them; their code is at this commit of main.
EXPERIMENTS_COMMIT = "1c6da01"
RETIRED_KEYS: dict[str, object] = {
    "x0_parameterization": "expected_embedding",  # N outputs token logits; x̂₀ = softmax(logits) @ L
    "example_context": False,
    "example_guess": False,
    "minilm_prompt_len": 0,
}


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
    self_conditioning: bool = True
    # Masked kernel only: whether N also reads the masking rate t (MDLM shows it is not needed).
    time_conditioning: bool = False
    # Masked kernel only: N reads the code one position late, behind a learnt start vector, so that the output
    # at position j predicts token j from the positions before it as an AR decoder's does (the "shift" of the
    # AR-to-diffusion adaptations, DiffuLLaMA / Dream): set for a model initialised from the AR baseline.
    masked_shift: bool = False
    # Masked kernel, edit models: the encoder input is segments split by <eos> (the request's prompt, the names
    # the user's code defines, a retrieved example's prompt, its code), each with its own positions and a
    # segment embedding; 1 = the prompt alone. copy_head: N's output mixes the vocabulary with a pointer over
    # the encoder input's tokens (CopyHead), so an example's code and the prompt's names are copied directly.
    input_segments: int = 1
    copy_head: bool = False
    # copy_align: the pointer's score of the example code's token at the same position as the code position
    # gets a learnt bonus (CopyHead.align), so that copying an example starts aligned instead of being learnt
    # through attention from nothing (the pointer of a run without it found the gold token 10-16 % of the time)
    copy_align: bool = False
    pad_id: int = 0
    eos_id: int = 1

    @property
    def max_code_len(self) -> int:
        return max(self.code_len.values())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """The config of a dict (a config.json); retired experiment keys are accepted at their adopted value."""
        d = dict(d)
        for key, adopted in RETIRED_KEYS.items():
            if key in d and d.pop(key) != adopted:
                raise ValueError(f"{key!r} other than {adopted!r} is an experiment that was not adopted; its code "
                                 f"is at commit {EXPERIMENTS_COMMIT} (docs/experiments.md)")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
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
