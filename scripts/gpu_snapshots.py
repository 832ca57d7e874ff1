"""A short fine-tuning run on a lent GPU that keeps the best snapshot by dev CE (how the fifth session ran).

Trains `python -m codefusion.model.training.cli finetune …` in a child process for MINUTES, copies every export
(each --checkpoint-every steps) to a snapshot folder, then scores the shipped model and each snapshot with
scripts/dev_loss.py on the GPU (200 dev pairs per language, < 1 s each) and writes the best one by mean CE
(over the three languages and five noise levels) to OUT, its weights split in two files (the device tool
returns files of ≤ 16 MB), with every snapshot's figures in OUT/devloss.jsonl and the logs.

MiniLM on the device: the device tool carries ≤ 64 MiB, so `--pack DIR` (run here) writes MiniLM's files
with only the word-embedding rows our data uses (fp16, ~26 MB); `--unpack DIR` (there) rebuilds a full
MiniLM folder from them (unused rows zero) and points CODEFUSION_MINILM_DIR at it.

Usage: python scripts/gpu_snapshots.py --pack .dev_gpu/minilm                      (here)
       OUT=… python scripts/gpu_snapshots.py --unpack .dev_gpu/minilm 3.0 128 250 [TRAIN ARGS …]   (there)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

MODEL_OVERRIDES = '{"max_prompt_len": 112, "minilm_prompt_len": 48}'


def pack(out: Path) -> None:
    from codefusion.model.examples.minilm import load_minilm_tokenizer, minilm_dir

    src, tok = minilm_dir(), load_minilm_tokenizer()
    used = {0, 100, 101, 102}
    for lang in ("python", "bash", "cf"):
        for row in json.loads(Path(f"data/{lang}.train.json").read_text()):
            used.update(i for v in row.values() if isinstance(v, str) for i in tok.encode(v).ids)
    state = load_file(str(src / "model.safetensors"))
    words = state.pop("embeddings.word_embeddings.weight")
    ids = torch.tensor(sorted(used))
    packed = {k: v.half().contiguous() for k, v in state.items() if v.is_floating_point()}
    packed.update({"pruned.word_rows": words[ids].half().contiguous(), "pruned.word_ids": ids,
                   "pruned.vocab": torch.tensor([words.shape[0]])})
    out.mkdir(parents=True, exist_ok=True)
    save_file(packed, str(out / "pruned.safetensors"))
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(src / name, out / name)
    print(f"packed MiniLM with {len(ids)} of {words.shape[0]} word rows into {out}")


def unpack(src: Path, dest: Path = Path("/tmp/minilm")) -> None:
    state = load_file(str(src / "pruned.safetensors"))
    rows, ids, vocab = state.pop("pruned.word_rows"), state.pop("pruned.word_ids"), int(state.pop("pruned.vocab")[0])
    table = torch.zeros(vocab, rows.shape[1])
    table[ids] = rows.float()
    dest.mkdir(parents=True, exist_ok=True)
    save_file({**{k: v.float() for k, v in state.items()}, "embeddings.word_embeddings.weight": table},
              str(dest / "model.safetensors"))
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(src / name, dest / name)
    os.environ["CODEFUSION_MINILM_DIR"] = str(dest)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--pack"]:
        pack(Path(argv[1]))
        return
    if argv[:1] == ["--unpack"]:
        unpack(Path(argv[1]))
        argv = argv[2:]
    minutes, batch, every, extra = (argv + ["6", "128", "750"])[:3] + [argv[3:]]
    out = Path(os.environ.get("OUT", "/tmp/out"))
    out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    run, snaps = Path("/tmp/run"), Path("/tmp/snaps")
    for d in (run, snaps):
        shutil.rmtree(d, ignore_errors=True)
    snaps.mkdir()
    cmd = [sys.executable, "-m", "codefusion.model.training.cli", "finetune", "--run", str(run),
           "--init", "models/codefusion",
           "--config-overrides", MODEL_OVERRIDES, "--minutes", minutes, "--batch", batch, "--lr", "5e-4",
           "--warmup", "200", "--eval-every", "0", "--checkpoint-every", every, "--threads", "8", "--seed", "11",
           *extra]
    env = dict(os.environ, TORCH_ALLOW_TF32_CUBLAS_OVERRIDE="1", PYTHONUNBUFFERED="1")
    with (out / "train.log").open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        seen: set[int] = set()
        while True:
            done = proc.poll() is not None
            snapshot(run, snaps, seen)
            if done:
                break
            time.sleep(3)
    print("training exited", proc.returncode, "snapshots", sorted(seen), flush=True)
    if (run / "metrics.jsonl").is_file():
        shutil.copy(run / "metrics.jsonl", out / "metrics.jsonl")
    if seen:  # the last one first, in case the scoring below runs out of time
        ship(snaps / f"{max(seen):06d}", out)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dev_loss import dev_loss

    results = []
    with (out / "devloss.jsonl").open("w") as f:
        for d in ["models/codefusion", *sorted(str(p) for p in snaps.iterdir())]:
            r = dev_loss(d, 200, device=device)
            r["mean_ce"] = round(sum(r[lang][t]["ce"] for lang in ("python", "bash", "cf") for t in r[lang]) / 15, 4)
            f.write(json.dumps(r) + "\n")
            results.append(r)
            print("dev", d, r["mean_ce"], flush=True)
    if len(results) > 1:
        best = min(results[1:], key=lambda r: r["mean_ce"])
        ship(Path(best["model"]), out)
        print("best", best["model"], best["mean_ce"], flush=True)


def snapshot(run: Path, snaps: Path, seen: set[int]) -> None:
    """Copy the run's latest export once per step (an export is replaced as a whole; retry on a race)."""
    try:
        step = json.loads((run / "model" / "training.json").read_text())["step"]
    except (OSError, ValueError, KeyError):
        return
    if step in seen:
        return
    try:
        shutil.copytree(run / "model", snaps / f"{step:06d}")
        seen.add(step)
    except OSError:
        shutil.rmtree(snaps / f"{step:06d}", ignore_errors=True)


def ship(model: Path, out: Path) -> None:
    """A model folder's weights in two halves (≤ 16 MB each), its config and training record."""
    state = load_file(str(model / "model.safetensors"))
    keys = sorted(state)
    for name, part in (("w1", keys[: len(keys) // 2]), ("w2", keys[len(keys) // 2 :])):
        save_file({k: state[k] for k in part}, str(out / f"{name}.safetensors"))
    for name in ("config.json", "training.json"):
        shutil.copy(model / name, out / name)


if __name__ == "__main__":
    main(sys.argv[1:])
