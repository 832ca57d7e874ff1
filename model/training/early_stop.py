"""Per-language early stopping on dev loss, for a multilingual run whose languages overfit at different times.

At each evaluation the run's dev loss is measured per language (`evaluation.dev_loss`, the same figures as
`scripts/dev_loss.py`). A language whose loss is the best so far has the weights of that step kept in
RUN/snapshots/best-LANG; a language that has not improved for `patience` evaluations is stopped: its share
of the batches is multiplied by `floor` (not zero, so the model does not forget it), and the other languages
take the freed share. The state lives in RUN/early_stop.json, so a resumed run keeps it; the file may be
seeded with an earlier curve (`seed_history`) when the option is turned on in the middle of a run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import LANGUAGES
from .data import log

STATE_FILE = "early_stop.json"


@dataclass
class LanguageState:
    best: float = float("inf")
    best_step: int = -1
    stale: int = 0  # evaluations since the best
    stopped_at: int | None = None  # the step at which its share was lowered

    def observe(self, loss: float, step: int, patience: int) -> str | None:
        """One evaluation's loss: "improved" (a new best), "stopped" (just now: `patience` evaluations without
        one), else None. A stopped language stays stopped, whatever comes later."""
        if loss < self.best:
            self.best, self.best_step, self.stale = loss, step, 0
            return "improved"
        self.stale += 1
        if self.stale >= patience and self.stopped_at is None:
            self.stopped_at = step
            return "stopped"
        return None


@dataclass
class EarlyStopper:
    """Reads each evaluation's per-language loss; lowers in place the share of `weights` of stopped languages."""

    run_dir: Path
    weights: dict[str, float]  # the live batch shares (batch_stream reads them at every draw)
    patience: int
    floor: float = 0.1
    keep_best: Callable[[str, int], None] | None = None  # called when a language reaches a new best
    langs: dict[str, LanguageState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise ValueError(f"early-stop patience must be ≥ 1 evaluation, got {self.patience}")
        if not 0.0 <= self.floor <= 1.0:
            raise ValueError(f"early-stop floor must be in [0, 1], got {self.floor}")
        self.base = dict(self.weights)
        path = self.run_dir / STATE_FILE
        saved = json.loads(path.read_text()) if path.is_file() else {}
        for lang in LANGUAGES:
            self.langs[lang] = LanguageState(**saved.get(lang, {}))
        self.apply()
        if saved:
            log("early stopping resumed: best dev loss " + json.dumps(
                {lang: [st.best, st.best_step] for lang, st in self.langs.items() if st.best_step >= 0})
                + "; batch shares " + json.dumps(self.shares()))

    def shares(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in self.weights.items()}

    def all_stopped(self) -> bool:
        """Every language that has been measured has stopped (one never measured does not hold the run)."""
        measured = [st for st in self.langs.values() if st.best_step >= 0]
        return bool(measured) and all(st.stopped_at is not None for st in measured)

    def apply(self) -> None:
        for lang, st in self.langs.items():
            if lang in self.weights:
                self.weights[lang] = self.base[lang] * (self.floor if st.stopped_at is not None else 1.0)

    def save(self) -> None:
        state = {lang: vars(st) for lang, st in self.langs.items()}
        tmp = self.run_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=1) + "\n")
        tmp.replace(self.run_dir / STATE_FILE)

    def update(self, step: int, losses: dict[str, float]) -> dict:
        """One evaluation's losses; returns what changed (logged with the evaluation)."""
        improved, stopped = [], []
        for lang, loss in losses.items():
            change = self.langs[lang].observe(loss, step, self.patience)
            if change == "improved":
                improved.append(lang)
                if self.keep_best is not None:
                    self.keep_best(lang, step)
            elif change == "stopped":
                stopped.append(lang)
        if stopped:
            self.apply()
            log(f"early stopping: {', '.join(stopped)} not better for {self.patience} evaluations; batch shares now "
                + json.dumps(self.shares()))
        self.save()
        return {"dev_loss": losses, "improved": improved, "stopped": stopped, "weights": self.shares()}


def seed_history(run_dir: Path, curve: list[dict], patience: int) -> dict:
    """Write RUN/early_stop.json from an earlier per-language curve: rows {"step": N, "LANG": loss, ...} in step
    order (e.g. scripts/dev_loss.py's figures for the run's snapshots). Returns the state written."""
    state = {lang: LanguageState() for lang in LANGUAGES}
    for row in sorted(curve, key=lambda r: r["step"]):
        for lang in LANGUAGES:
            if lang in row:
                state[lang].observe(row[lang], row["step"], patience)
    out = {lang: vars(st) for lang, st in state.items()}
    (run_dir / STATE_FILE).write_text(json.dumps(out, indent=1) + "\n")
    return out


def copy_best(run_dir: Path) -> Callable[[str, int], None]:
    """keep_best for a run whose latest export (RUN/model) is the evaluated step's weights."""
    def keep(lang: str, step: int) -> None:
        target = run_dir / "snapshots" / f"best-{lang}"
        shutil.copytree(run_dir / "model", target, dirs_exist_ok=True)
    return keep
