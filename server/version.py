"""The one version: the installed package's metadata (pyproject.toml's `version`). Standard library only."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _metadata_version

DISTRIBUTION = "codefusion-lsp"


def version() -> str:
    try:
        return _metadata_version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"
