"""Plot the dev loss of masked-kernel runs (scripts/dev_loss.py's rows): per language, the mean code-token
cross-entropy against training steps, one line per run (the run is the folder above snapshots/), each
language's best step marked — the curve that per-language early stopping reads. With --rate, the CE at one
masking rate instead of the mean (0.9: nearly everything masked, the sampler's first steps, where it writes a
code from the prompt alone; 0.15: filling a few gaps).

    python scripts/plot_dev_loss.py [--input docs/experiments/dev_loss_masked.jsonl] [--out docs/experiments/dev_loss_masked.png]
                                    [--rate 0.9]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from codefusion.model.config import LANGUAGES  # noqa: E402
from plot_learning_curve import finish, run_name  # noqa: E402  (scripts/ is on the path when this runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", type=Path, default=Path("docs/experiments/dev_loss_masked.jsonl"))
    p.add_argument("--out", type=Path, default=Path("docs/experiments/dev_loss_masked.png"))
    p.add_argument("--rate", default=None, help="plot the CE at this masking rate (a key of the rows, e.g. 0.9), "
                                                  "not the mean over rates")
    args = p.parse_args()
    key = args.rate or "mean"
    rows = [json.loads(line) for line in args.input.read_text().splitlines() if line.strip()]
    curves: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for r in rows:
        if (r.get("split", "dev") != "dev" or r.get("prompts", "own") != "own" or r.get("kind") != "masked"
                or r.get("step") is None or (r.get("bound") and key == "mean")):  # a bound's mean is another grid's
            continue
        for lang in LANGUAGES:
            if key in r.get(lang, {}):
                curves[lang, run_name(r["model"])][int(r["step"])] = r[lang][key]["code_ce"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, lang in zip(axes, LANGUAGES, strict=True):
        for (curve_lang, run), points in sorted(curves.items()):
            if curve_lang != lang:
                continue
            steps = sorted(points)
            line, = ax.plot(steps, [points[s] for s in steps], marker="o", markersize=3, label=run)
            best = min(steps, key=lambda s: points[s])
            ax.plot([best], [points[best]], marker="*", markersize=12, color=line.get_color())
        ax.set_title(f"{lang}: dev code-token CE (nats)")
    what = f"at masking rate {args.rate}" if args.rate else "mean over rates 0.15–0.9"
    finish(fig, axes, f"masked CE, {what}", args.out)


if __name__ == "__main__":
    main()
