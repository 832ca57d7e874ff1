"""Where the shipped model folders are: package data `codefusion.models` (the repository's models/ folder,
mapped in pyproject.toml), found through importlib.resources, so that an installed wheel and a checkout
read the same files. Imports only the standard library."""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def models_dir() -> Path:
    """The folder holding codefusion/ (the served model) and, in a checkout, ar-baseline/."""
    try:
        return Path(str(importlib.resources.files("codefusion.models")))
    except ModuleNotFoundError:  # an editable install made before models/ became package data
        return Path(__file__).resolve().parents[1] / "models"
