"""Plot the edit run's dev loss (its metrics.jsonl rows with `edit_dev_loss`, or docs/experiments/
edit_run_dev_loss.jsonl): per language, the masked cross-entropy of 150 dev pairs reading the nearest example,
none ("alone") and their own twin, against training steps, with the shipped masked model's own figures (the
run's step-0 snapshot with the copy head's gate closed: scripts/edit_dev_loss.py --vocab-only) as dashed lines.

    python scripts/plot_edit_dev_loss.py [--input docs/experiments/edit_run_dev_loss.jsonl]
                                         [--out docs/experiments/edit_run_dev_loss.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LANGS = ("python", "bash")
READS = {"nearest": "the nearest example", "alone": "no example", "twin": "its own twin (copying)"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", type=Path, default=Path("docs/experiments/edit_run_dev_loss.jsonl"))
    p.add_argument("--out", type=Path, default=Path("docs/experiments/edit_run_dev_loss.png"))
    args = p.parse_args()
    rows = [json.loads(line) for line in args.input.read_text().splitlines() if line.strip()]
    curve = sorted((r for r in rows if "step" in r and "edit_dev_loss" in r.get("dev", {})), key=lambda r: r["step"])
    shipped = next((r["edit_dev_loss"] for r in rows if r.get("vocab_only")), None)
    if not curve:
        raise SystemExit(f"{args.input}: no rows with a step and dev.edit_dev_loss")
    fig, axes = plt.subplots(1, len(LANGS), figsize=(10, 4), sharey=False)
    for ax, lang in zip(axes, LANGS, strict=True):
        steps = [r["step"] for r in curve]
        for i, (read, label) in enumerate(READS.items()):
            color = f"C{i}"
            ax.plot(steps, [r["dev"]["edit_dev_loss"][lang][read] for r in curve], "o-", color=color, label=label)
            if shipped is not None and read != "twin":
                ax.axhline(shipped[lang][read], color=color, linestyle="--", linewidth=1,
                           label=f"shipped masked model, {label}")
        ax.set_title(lang)
        ax.set_xlabel("training steps (batch 32)")
        ax.set_ylabel("masked CE, 150 dev pairs (nats)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
