"""A small trainer: it knows only a module whose forward(batch) returns a dict with "loss"."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm


@dataclass
class TrainerConfig:
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_steps: int = 200
    max_steps: int = 100_000
    max_minutes: float = 60.0
    grad_clip: float = 1.0
    log_every: int = 25
    checkpoint_every: int = 250
    eval_every: int = 500
    min_lr_ratio: float = 0.1
    # parameters whose name holds a key learn at lr × its value (a new head beside trained weights: its scalars
    # move lr per step under Adam, too slowly at the trained weights' lr)
    lr_mult: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainState:
    step: int = 0
    elapsed_s: float = 0.0
    history: list[dict] = field(default_factory=list)


class Trainer:
    """AdamW, warmup + cosine decay, gradient clipping, resumable checkpoints, JSONL metrics."""

    def __init__(self, *, module: nn.Module, batches: Iterator, run_dir: Path, config: TrainerConfig,
                 on_eval: Callable[[int], dict] | None = None, on_checkpoint: Callable[[Path], None] | None = None,
                 on_step: Callable[[int], None] | None = None, is_main: bool = True):
        """on_step(step) runs before each step's forward pass (schedules that depend on the step)."""
        self.module, self.batches, self.run_dir, self.cfg = module, batches, run_dir, config
        self.on_eval, self.on_checkpoint, self.on_step, self.is_main = on_eval, on_checkpoint, on_step, is_main
        groups: dict[tuple[bool, float], list[nn.Parameter]] = {}  # (decayed, lr multiplier) -> parameters
        for n, p in module.named_parameters():
            mult = next((m for key, m in config.lr_mult.items() if key in n), 1.0)
            groups.setdefault((p.dim() >= 2, mult), []).append(p)
        order = sorted(groups, key=lambda g: (not g[0], g[1]))  # decayed first: older checkpoints' group order
        self.opt = torch.optim.AdamW([{"params": groups[g], "weight_decay": config.weight_decay if g[0] else 0.0,
                                       "lr_mult": g[1]} for g in order], lr=config.lr)
        self.inner = getattr(module, "module", module)  # unwrap DistributedDataParallel for checkpoints
        self.state = TrainState()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = run_dir / "metrics.jsonl"

    def lr_at(self, step: int, elapsed_s: float = 0.0) -> float:
        """Warmup, then cosine decay over whichever budget (steps or minutes) runs out first."""
        c = self.cfg
        if step < c.warmup_steps:
            return c.lr * (step + 1) / c.warmup_steps
        by_steps = (step - c.warmup_steps) / max(c.max_steps - c.warmup_steps, 1)
        progress = min(max(by_steps, elapsed_s / (c.max_minutes * 60)), 1.0)
        return c.lr * (c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))

    # --- checkpoints: safetensors for tensors, JSON for the rest --------------------------------------
    def save_checkpoint(self) -> None:
        if not self.is_main:
            return
        ckpt = self.run_dir / "checkpoint"
        ckpt.mkdir(exist_ok=True)
        params = dict(self.inner.named_parameters())
        index = {id(p): n for n, p in params.items()}
        opt_state = {}
        for p, st in self.opt.state.items():
            for key, val in st.items():
                if torch.is_tensor(val):
                    opt_state[f"{index[id(p)]}::{key}"] = val.detach().contiguous().cpu().reshape(val.shape)
        tmp = ckpt / "state.tmp"
        save_file({k: v.detach().contiguous().cpu() for k, v in self.inner.state_dict().items()},
                  str(ckpt / "module.safetensors.tmp"))
        save_file(opt_state, str(ckpt / "optimizer.safetensors.tmp"))
        tmp.write_text(json.dumps({"step": self.state.step, "elapsed_s": self.state.elapsed_s}))
        for name in ("module.safetensors", "optimizer.safetensors"):
            (ckpt / f"{name}.tmp").replace(ckpt / name)
        tmp.replace(ckpt / "state.json")
        if self.on_checkpoint is not None:
            self.on_checkpoint(ckpt)

    def try_resume(self) -> bool:
        ckpt = self.run_dir / "checkpoint"
        if not (ckpt / "state.json").is_file():
            return False
        self.inner.load_state_dict(load_file(str(ckpt / "module.safetensors")))
        params = dict(self.inner.named_parameters())
        for key, val in load_file(str(ckpt / "optimizer.safetensors")).items():
            name, slot = key.split("::")
            self.opt.state[params[name]][slot] = val
        st = json.loads((ckpt / "state.json").read_text())
        self.state.step, self.state.elapsed_s = st["step"], st["elapsed_s"]
        return True

    def log(self, record: dict) -> None:
        if self.is_main:
            with self.log_path.open("a") as f:
                f.write(json.dumps(record) + "\n")

    def train(self) -> TrainState:
        c, st = self.cfg, self.state
        self.module.train()
        start = time.time() - st.elapsed_s
        bar = tqdm(total=c.max_steps, initial=st.step, disable=not self.is_main, mininterval=10, dynamic_ncols=True)
        running: dict[str, float] = {}
        while st.step < c.max_steps and (time.time() - start) < c.max_minutes * 60:
            for g in self.opt.param_groups:
                g["lr"] = self.lr_at(st.step, time.time() - start) * g.get("lr_mult", 1.0)
            if self.on_step is not None:
                self.on_step(st.step)
            losses = self.module(next(self.batches))
            self.opt.zero_grad(set_to_none=True)
            losses["loss"].backward()
            gnorm = torch.nn.utils.clip_grad_norm_(self.module.parameters(), c.grad_clip)
            self.opt.step()
            st.step += 1
            for k, v in losses.items():
                running[k] = running.get(k, 0.0) + float(v.detach())
            running["grad_norm"] = running.get("grad_norm", 0.0) + float(gnorm)
            bar.update(1)
            if st.step % c.log_every == 0:
                st.elapsed_s = time.time() - start
                lr = round(self.lr_at(st.step, st.elapsed_s), 7)
                rec = {"step": st.step, "elapsed_s": round(st.elapsed_s, 1), "lr": lr,
                       **{k: round(v / c.log_every, 4) for k, v in running.items()}}
                running = {}
                self.log(rec)
                bar.set_postfix(loss=rec["loss"])
            if c.checkpoint_every and st.step % c.checkpoint_every == 0:  # 0: only at the end
                st.elapsed_s = time.time() - start
                self.save_checkpoint()
            if self.on_eval is not None and st.step % c.eval_every == 0 and self.is_main:
                self.module.eval()
                dev = self.on_eval(st.step)
                self.log({"step": st.step, "elapsed_s": round(time.time() - start, 1), "dev": dev})
                self.module.train()
                if dev.get("stop_training"):  # e.g. every language stopped improving on dev loss
                    break
        st.elapsed_s = time.time() - start
        self.save_checkpoint()
        bar.close()
        return st
