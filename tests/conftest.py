"""Shared fixtures: keep them generic (models, paths), feature-specific ones live beside their tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED_MODEL_DIR = REPO / "models" / "codefusion"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model folder fitted to tiny_model.TINY_PAIRS for 300 steps (built once per session, ~7 s): loads
    like the real one, writes those codes for their prompts (served candidates must parse) and near-garbage
    for other prompts."""
    from tiny_model import make_tiny_model

    return Path(make_tiny_model(tmp_path_factory.mktemp("tiny-model"), train_steps=300))


@pytest.fixture(scope="session")
def tiny_random_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained model folder: its judgements (e.g. of examples) are arbitrary, not those of nearness."""
    from tiny_model import make_tiny_model

    return Path(make_tiny_model(tmp_path_factory.mktemp("tiny-random-model")))


@pytest.fixture(scope="session")
def tiny_baseline_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random AR baseline with the tiny model's config and tokenizer (built once per session)."""
    from codefusion.model.ar_baseline import ARNet
    from codefusion.model.modelfile import load_tokenizer, read_config, save_model_dir

    _, cfg = read_config(tiny_model_dir)
    out = tmp_path_factory.mktemp("tiny-ar")
    save_model_dir(out, ARNet(cfg).eval(), cfg, load_tokenizer(tiny_model_dir, cfg), half=False, kind="ar")
    return out


@pytest.fixture(scope="session")
def shipped_model_dir() -> Path:
    """The shipped model; tests that judge output quality skip (saying why) while it is not there yet."""
    if not (SHIPPED_MODEL_DIR / "model.safetensors").is_file():
        pytest.skip(f"shipped model not present yet ({SHIPPED_MODEL_DIR}/model.safetensors)")
    return SHIPPED_MODEL_DIR


@pytest.fixture(scope="session", autouse=True)
def example_embeddings_cache() -> Path:
    """The shipped folder's example embeddings, cached before any test (the first time on a machine: ~1-3 min on
    one core), in the per-user cache that the server processes tests start inherit through CODEFUSION_CACHE:
    they then load at once instead of each computing them."""
    from codefusion.model.examples.seeding import CACHE_ENV, ExampleSeeds, cache_dir
    from codefusion.model.modelfile import ModelLoadError

    os.environ[CACHE_ENV] = str(cache_dir())  # stable across runs, so repeated runs reuse it
    try:
        ExampleSeeds.from_dir(SHIPPED_MODEL_DIR)  # computes and caches them, as a server's first load does
    except ModelLoadError:  # a broken shipped folder: the tests that load it say so
        pass
    return cache_dir()
