"""Plot docs/learning_curve.jsonl (scripts/bakeoff.py's rows): the model alone's top-5 per language against
cumulative training steps, one line per kernel, the AR baseline's figure as a dashed line.

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
            curves[r["lang"], r["kind"]][int(r["step"])] = r["top5"]  # a later row for the same step wins
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, lang in zip(axes, METRIC, strict=True):
        for (curve_lang, kind), points in sorted(curves.items()):
            if curve_lang == lang:
                steps = sorted(points)
                ax.plot(steps, [points[s] for s in steps], marker="o",
                        label={"masked": "masked kernel", "diffusion": "Gaussian kernel"}.get(kind, kind))
        if lang in baselines:
            ax.axhline(baselines[lang], linestyle="--", color="grey", label="shipped AR baseline")
        ax.set_title(f"{lang}: {METRIC[lang]}")
        ax.set_xlabel("training steps (batch 32)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("dev, model alone")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
