"""Average the weights of several model folders of one run (checkpoint averaging): a new model folder whose every
tensor is the mean of the folders' (in float32, saved as fp16 like every shipped model), with the first folder's
config.json and tokenizer.json, and a training.json naming the sources.

Usage: .venv/bin/python scripts/average_weights.py OUT_DIR MODEL_DIR MODEL_DIR [...]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

WEIGHTS = "model.safetensors"


def average(folders: list[Path], out: Path) -> dict:
    """Write the averaged folder; raises ValueError when the folders' configs or tensors differ."""
    if len(folders) < 2:
        raise ValueError("averaging needs at least two model folders")
    configs = [json.loads((f / "config.json").read_text()) for f in folders]
    if any(c != configs[0] for c in configs[1:]):
        raise ValueError("the folders' config.json differ: they are not snapshots of one model")
    total = {name: t.float() for name, t in load_file(str(folders[0] / WEIGHTS)).items()}
    for folder in folders[1:]:
        tensors = load_file(str(folder / WEIGHTS))
        if tensors.keys() != total.keys():
            raise ValueError(f"{folder} holds other tensors than {folders[0]}")
        for name, t in tensors.items():
            if t.shape != total[name].shape:
                raise ValueError(f"{folder}: {name} is {tuple(t.shape)}, not {tuple(total[name].shape)}")
            total[name] += t.float()
    out.mkdir(parents=True, exist_ok=True)
    save_file({name: (t / len(folders)).half().contiguous() for name, t in total.items()}, str(out / WEIGHTS))
    for name in ("config.json", "tokenizer.json"):
        shutil.copyfile(folders[0] / name, out / name)
    steps = []
    for folder in folders:
        meta = folder / "training.json"
        steps.append(json.loads(meta.read_text()).get("step") if meta.is_file() else None)
    info = {"averaged": [str(f) for f in folders], "steps": steps}
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("models", nargs="+", type=Path)
    args = p.parse_args()
    try:
        info = average(args.models, args.out)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"average_weights: {e}") from e
    print(json.dumps(info))


if __name__ == "__main__":
    main()
