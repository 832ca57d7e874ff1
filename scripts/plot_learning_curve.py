"""Plot docs/learning_curve.jsonl (scripts/bakeoff.py's rows): the model alone's top-5 per language against
cumulative training steps, one line per run (the kernels' bake-off runs by their kernel), the AR baseline's
figure as a dashed line.

    python scripts/plot_learning_curve.py [--input docs/learning_curve.jsonl] [--out docs/learning_curve.png]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

METRIC = {"python": "BLEU-4 top-5", "bash": "template match top-5", "cf": "execution match top-5"}


def run_name(model: str) -> str:
    """The training run a snapshot folder belongs to (the folder above snapshots/), else the folder's name."""
    parts = Path(model).parts
    return parts[parts.index("snapshots") - 1] if "snapshots" in parts else Path(model).name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", type=Path, default=Path("docs/learning_curve.jsonl"))
    p.add_argument("--out", type=Path, default=Path("docs/learning_curve.png"))
    args = p.parse_args()
    rows = [json.loads(line) for line in args.input.read_text().splitlines() if line.strip()]
    curves: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    baselines: dict[str, float] = {}
    for r in rows:
        if r["kind"] == "ar":
            baselines[r["lang"]] = r["top5"]
        elif r.get("step") is not None:
            run = run_name(r["model"])
            label = {"bakeoff-masked": "masked kernel", "bakeoff-gaussian": "Gaussian kernel"}.get(run, run)
            curves[r["lang"], label][int(r["step"])] = r["top5"]  # a later row for the same step wins
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, lang in zip(axes, METRIC, strict=True):
        for (curve_lang, label), points in sorted(curves.items()):
            if curve_lang == lang:
                steps = sorted(points)
                ax.plot(steps, [points[s] for s in steps], marker="o", label=label)
        if lang in baselines:
            ax.axhline(baselines[lang], linestyle="--", color="grey", label="shipped AR baseline")
        ax.set_title(f"{lang}: {METRIC[lang]}")
    finish(fig, axes, "dev, model alone", args.out)


def finish(fig, axes, ylabel: str, out: Path) -> None:
    """The plots' shared frame: steps on x, a grid, the legend on the first panel; saved to out."""
    for ax in axes:
        ax.set_xlabel("training steps (batch 32)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
