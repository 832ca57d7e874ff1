"""Plot docs/experiments/learning_curve.jsonl (scripts/bakeoff.py's rows): the model alone's top-5 per language against
cumulative training steps, one line per run (the kernels' bake-off runs by their kernel), the AR baseline's
figure as a dashed line (its last row per language). Rows imported from `codefusion eval` results
(`bakeoff.py --from-eval`: the whole Python split, 400 Bash prompts) say "larger samples" in the legend.

    python scripts/plot_learning_curve.py [--input docs/experiments/learning_curve.jsonl] [--out docs/experiments/learning_curve.png]
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
    p.add_argument("--input", type=Path, default=Path("docs/experiments/learning_curve.jsonl"))
    p.add_argument("--out", type=Path, default=Path("docs/experiments/learning_curve.png"))
    args = p.parse_args()
    rows = [json.loads(line) for line in args.input.read_text().splitlines() if line.strip()]
    curves: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    baselines: dict[str, tuple[float, str]] = {}
    larger: set[str] = set()  # the runs scored on the larger samples: drawn bold
    for r in rows:
        sample = " (larger samples)" if r.get("source") else ""  # `codefusion eval` rows: whole split / 400
        if r["kind"] == "ar":
            baselines[r["lang"]] = (r["top5"], sample)
        elif r.get("step") is not None:
            run = run_name(r["model"])
            label = {"bakeoff-masked": "masked kernel", "bakeoff-gaussian": "Gaussian kernel"}.get(run, run) + sample
            curves[r["lang"], label][int(r["step"])] = r["top5"]  # a later row for the same step wins
            if sample:
                larger.add(label)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    labels = sorted({label for _, label in curves})
    colours = {label: plt.get_cmap("tab20")(i % 20) for i, label in enumerate(labels)}  # one per run, all panels
    for ax, lang in zip(axes, METRIC, strict=True):
        for (curve_lang, label), points in sorted(curves.items()):
            if curve_lang == lang:
                steps = sorted(points)
                ax.plot(steps, [points[s] for s in steps], marker="o", label=label, color=colours[label],
                        linewidth=2.5 if label in larger else 1.2)
        if lang in baselines:
            value, sample = baselines[lang]
            ax.axhline(value, linestyle="--", color="grey", label=f"shipped AR baseline{sample}")
        ax.set_title(f"{lang}: {METRIC[lang]}")
    finish(fig, axes, "dev, model alone", args.out, legend_loc="below")


def finish(fig, axes, ylabel: str, out: Path, legend_loc: str = "best") -> None:
    """The plots' shared frame: steps on x, a grid, the first panel's legend (on it, or below); saved to out."""
    for ax in axes:
        ax.set_xlabel("training steps (batch 32)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    fig.tight_layout()
    if legend_loc == "below":  # many runs: one legend under the panels, out of the curves' way
        fig.legend(*axes[0].get_legend_handles_labels(), fontsize=8, loc="upper center", ncol=4,
                   bbox_to_anchor=(0.5, 0.0))
    else:
        axes[0].legend(fontsize=8, loc=legend_loc)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
