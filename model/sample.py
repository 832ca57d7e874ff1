"""What a sampler returns per candidate, and which models read a retrieved example: torch-free, so that the
example index can answer (server/engine.py) before the model's weights have loaded."""

from __future__ import annotations

from dataclasses import dataclass

from .config import ModelConfig


@dataclass(frozen=True)
class Sample:
    text: str
    score: float  # the model's mean log-probability of its tokens (0.0 for an unedited example: no model)
    tokens: list[int]
    seed: str | None = None  # the training example it started from (example seeding), else None
    unedited: bool = False  # the seed example itself, offered beside the model's edit of it (not a sample)
    example_score: float | None = None  # the seed example's score: its nearness to the prompt (0..1]


def is_edit_model(kind: str, config: ModelConfig) -> bool:
    """A masked model with a copy head and the 4 input segments reads a retrieved example (sample_edits)."""
    return kind == "masked" and config.copy_head and config.input_segments >= 4
