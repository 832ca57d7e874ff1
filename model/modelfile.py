"""Model folders: config.json + model.safetensors + tokenizer.json. No pickle anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .config import LANGUAGES, ModelConfig
from .tokenizer import CodeTokenizer

if TYPE_CHECKING:  # torch loads with the weights, not with the folder's JSON: the example index reads these
    import torch
    from torch import nn

CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE = "config.json", "model.safetensors", "tokenizer.json"
# A folder may hand some languages to another model folder beside it: {"python": "codefusion-masked", ...}.
LANGUAGES_FILE = "languages.json"


class ModelLoadError(RuntimeError):
    """A model folder is missing a file or holds one that does not fit; the message names it."""


def save_model_dir(out: Path, net: nn.Module, cfg: ModelConfig, tokenizer: CodeTokenizer, *,
                   half: bool = True, kind: str = "diffusion", meta: dict | None = None) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu()
             for k, v in net.state_dict().items()}
    save_file(state, str(out / WEIGHTS_FILE), metadata={"kind": kind})
    cfg_dict = {"kind": kind, **cfg.to_dict()}
    (out / CONFIG_FILE).write_text(json.dumps(cfg_dict, indent=2) + "\n")
    tokenizer.save(out / TOKENIZER_FILE)
    if meta:
        (out / "training.json").write_text(json.dumps(meta, indent=2) + "\n")


def read_config(model_dir: Path) -> tuple[str, ModelConfig]:
    path = Path(model_dir) / CONFIG_FILE
    if not Path(model_dir).is_dir():
        raise ModelLoadError(f"model folder not found: {model_dir}")
    if not path.is_file():
        raise ModelLoadError(f"model config not found: {path}")
    try:
        d = json.loads(path.read_text())
        kind = d.pop("kind", "diffusion")
        return kind, ModelConfig.from_dict(d)
    except (ValueError, TypeError) as exc:
        raise ModelLoadError(f"bad model config {path}: {exc}") from exc


def read_language_models(model_dir: Path) -> dict[str, Path]:
    """The languages this folder hands to another model folder beside it (LANGUAGES_FILE), as {lang: folder};
    {} without the file. Names are plain folder names in the same parent (no paths): a broken file or a
    missing folder raises ModelLoadError naming it."""
    path = Path(model_dir) / LANGUAGES_FILE
    if not path.is_file():
        return {}
    try:
        routes = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from exc
    if not isinstance(routes, dict):
        raise ModelLoadError(f"{path}: expected {{language: model folder beside this one}}")
    out = {}
    for lang, name in routes.items():
        if lang not in LANGUAGES:
            raise ModelLoadError(f"{path}: unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
        if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
            raise ModelLoadError(f"{path}: {lang}: expected the name of a model folder beside this one, got {name!r}")
        folder = Path(model_dir).parent / name
        if not (folder / CONFIG_FILE).is_file():
            raise ModelLoadError(f"{path}: {lang}: no model folder {folder}")
        out[lang] = folder
    return out


def load_tokenizer(model_dir: Path, cfg: ModelConfig) -> CodeTokenizer:
    path = Path(model_dir) / TOKENIZER_FILE
    if not path.is_file():
        raise ModelLoadError(f"tokenizer not found: {path}")
    try:
        tok = CodeTokenizer.load(path)
    except Exception as exc:  # tokenizers raises its own exception types
        raise ModelLoadError(f"bad tokenizer {path}: {exc}") from exc
    if tok.vocab_size != cfg.vocab_size or tok.pad_id != cfg.pad_id or tok.eos_id != cfg.eos_id:
        raise ModelLoadError(f"tokenizer {path} does not match the config (vocab {tok.vocab_size} vs "
                             f"{cfg.vocab_size})")
    return tok


# Position tables that may grow when a model is initialised from a smaller one (a longer encoder input set by
# --config-overrides): the old rows are kept and the new ones repeat them.
GROWABLE = ("encoder.pos.weight",)
# Modules an edit model adds to a masked one: initialising from a folder without them (grow) keeps their fresh
# values (a zero segment embedding, a copy head whose gate starts mostly closed).
ADDED_MODULES = ("encoder.segment.", "copy.")


def load_weights(model_dir: Path, net: nn.Module, grow: bool = False) -> None:
    """Load a folder's weights into net; with grow (initialising a new run), GROWABLE tables shorter than net's
    are extended and ADDED_MODULES the folder lacks keep net's own values."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(model_dir) / WEIGHTS_FILE
    if not path.is_file():
        raise ModelLoadError(f"weights not found: {path}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"corrupt weights {path}: {exc}") from exc
    own = net.state_dict()
    for key in GROWABLE if grow else ():
        if key in state and key in own and state[key].shape[0] < own[key].shape[0] \
                and state[key].shape[1:] == own[key].shape[1:]:
            reps = -(-own[key].shape[0] // state[key].shape[0])
            state[key] = state[key].repeat(reps, *([1] * (state[key].dim() - 1)))[: own[key].shape[0]]
    missing = sorted(k for k in set(own) - set(state) if not (grow and k.startswith(ADDED_MODULES)))
    bad_shape = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or bad_shape:
        raise ModelLoadError(f"weights {path} do not fit the config: missing {missing[:5]}, "
                             f"wrong shape {bad_shape[:5]}")
    net.load_state_dict({**own, **{k: v.to(own[k].dtype) for k, v in state.items() if k in own}})


def resolve_device(device: str) -> torch.device:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError("device 'cuda' was asked for but no CUDA GPU is available (use device 'auto' or 'cpu')")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ModelLoadError(f"unknown device {device!r}: use auto, cpu or cuda")
    return torch.device(device)
