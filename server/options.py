"""Server options: a dataclass with defaults, filled from initializationOptions and configuration changes.

Accepted shapes: `{"codefusion": {...}}` or the flat `{...}`. Unknown keys and out-of-range or
mistyped values are reported as warnings and the previous value is kept; nothing here raises.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

LANGUAGES = ("python", "bash")
DEVICES = ("auto", "cpu", "cuda")
# Hard limits: a client cannot make one request sample an unbounded batch or length.
MAX_CANDIDATES = 20
MAX_STEPS = 1200  # the training T; more steps than that mean nothing
MAX_TOKENS = 512
MAX_PROMPT_CHARS = 2000
MAX_DEBOUNCE_MS = 5000


@dataclass
class ServerOptions:
    """Everything a client may configure; the defaults give a working server with no options at all."""

    numCandidates: int = 5  # camelCase: these are the client-facing keys
    steps: int | None = None  # None: the model's default number of denoising steps
    maxTokens: int | None = None
    device: str = "auto"
    modelPath: str = ""  # "" means the shipped model
    seed: int = 0
    enabledLanguages: list[str] = field(default_factory=lambda: list(LANGUAGES))
    debounceMs: int = 150
    seedFromExamples: bool = True  # start from the nearest training examples where the model seeds a language


# key -> (type, lower, upper, nullable); ranges are inclusive.
_INT_LIMITS: dict[str, tuple[int, int, bool]] = {
    "numCandidates": (1, MAX_CANDIDATES, False),
    "steps": (1, MAX_STEPS, True),
    "maxTokens": (1, MAX_TOKENS, True),
    "seed": (0, 2**31 - 1, False),
    "debounceMs": (0, MAX_DEBOUNCE_MS, False),
}
_ALIASES = {"enabled_languages": "enabledLanguages", "enabledlanguages": "enabledLanguages"}


def _check(key: str, value: Any) -> tuple[Any, str | None]:
    """(accepted value, None) or (None, warning) for one option."""
    if key in _INT_LIMITS:
        lo, hi, nullable = _INT_LIMITS[key]
        if value is None and nullable:
            return None, None
        if isinstance(value, bool) or not isinstance(value, int):
            return None, f"{key} must be an integer in [{lo}, {hi}], got {value!r}"
        if not lo <= value <= hi:
            return None, f"{key}={value} is out of range [{lo}, {hi}]"
        return value, None
    if key == "device":
        if value not in DEVICES:
            return None, f"device must be one of {', '.join(DEVICES)}, got {value!r}"
        return value, None
    if key == "seedFromExamples":
        if not isinstance(value, bool):
            return None, f"seedFromExamples must be true or false, got {value!r}"
        return value, None
    if key == "modelPath":
        if value is None:
            return "", None
        if not isinstance(value, str):
            return None, f"modelPath must be a string, got {value!r}"
        return value, None
    if key == "enabledLanguages":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, f"enabledLanguages must be a list of strings, got {value!r}"
        unknown = [v for v in value if v not in LANGUAGES]
        if unknown:
            return None, f"enabledLanguages: unknown language(s) {unknown}; known: {list(LANGUAGES)}"
        return list(value), None
    return None, f"unknown option {key!r}"


def update_options(options: ServerOptions, raw: Any) -> tuple[ServerOptions, list[str]]:
    """A copy of `options` updated from a client's settings object, plus warnings for what was ignored."""
    if raw is None:
        return options, []
    if not isinstance(raw, dict):
        return options, [f"options must be an object, got {type(raw).__name__}"]
    if isinstance(raw.get("codefusion"), dict):
        raw = raw["codefusion"]
    changes: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in raw.items():
        key = _ALIASES.get(key, key)
        accepted, warning = _check(key, value)
        if warning:
            warnings.append(
                f"{warning}; keeping {getattr(options, key, None)!r}" if hasattr(options, key) else warning
            )
        else:
            changes[key] = accepted
    return dataclasses.replace(options, **changes), warnings
