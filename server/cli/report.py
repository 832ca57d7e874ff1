"""What `codefusion eval` prints and writes: the terminal table, docs/results.md and the steps plot."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..engine import LANGS

REPO = Path(__file__).resolve().parents[2]
TOP_KS = (1, 3, 5)
SYSTEM_LABELS = {
    "diffusion": "CodeFusion (diffusion)",
    "seeded": "CodeFusion, example-seeded (as served)",
    "examples": "Nearest examples as they are (no model)",
    "slots": "Nearest examples + slot rewrite (no model)",
    "ar": "AR, sampling (T 0.8, top-p 0.95)",
    "ar-beam": "AR, beam search",
    "retrieval": "TF-IDF retrieval",
}
PRIMARY = {"python": "bleu", "bash": "template_match", "cf": "execution_match"}  # for curves and summaries
METRIC_LABELS = {
    "exact_match": "exact match",
    "bleu": "BLEU-4",
    "token_f1": "token F1",
    "template_match": "template match",
    "token_match": "token match",
    "execution_match": "execution match",
    "rule_match": "rule match",
}


def plot_steps_curve(points: Sequence[dict[str, Any]], path: Path, k: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for lang in LANGS:
        pts = [p for p in points if p["lang"] == lang]
        if not pts:
            continue
        xs = [p["steps"] for p in pts]
        label = f"{lang} ({METRIC_LABELS[pts[0]['metric']]})"
        (line,) = axes[0].plot(xs, [p["top1"] for p in pts], marker="o", label=f"{label} top-1")
        axes[0].plot(xs, [p[f"top{k}"] for p in pts], marker="s", linestyle="--", color=line.get_color(),
                     label=f"{label} top-{k}")
        lat = [(p["steps"], p["latency_ms_median"]) for p in pts if p.get("latency_ms_median") is not None]
        if lat:
            axes[1].plot([x for x, _ in lat], [y for _, y in lat], marker="o", color=line.get_color(), label=lang)
    steps = sorted({p["steps"] for p in points})
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(steps, [str(s) for s in steps])
        ax.set_xlabel("denoising steps")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("score on dev subsample (0–100)")
    axes[1].set_ylabel(f"median latency per request (ms, {k} candidates)")
    sizes = ", ".join(f"{lang} {n}" for lang, n in {p["lang"]: p["prompts"] for p in points}.items())
    fig.suptitle(f"CodeFusion: quality and latency vs denoising steps (dev subsamples: {sizes} prompts)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- tables ---------------------------------------------------------------------------------------------


def _topk_cell(values: dict[str, float]) -> str:
    return " / ".join(f"{values[f'top{n}']:.1f}" for n in TOP_KS if f"top{n}" in values)


def text_table(results: Sequence[dict[str, Any]]) -> str:
    """A plain table for the terminal: one line per run."""
    lines = []
    for r in results:
        if "error" in r:
            lines.append(f"{r['lang']:<7} {r['system']:<10} not run: {r['error']}")
            continue
        ks = "/".join(str(n) for n in TOP_KS if n <= r["k"])
        scores = "  ".join(f"{METRIC_LABELS[name]} {_topk_cell(v)}" for name, v in r["metrics"].items())
        lines.append(
            f"{r['lang']:<7} {r['system']:<10} n={r['prompts']:<5} top-{ks}: {scores}  "
            f"valid raw {r['validity_raw']:.1f}% served {r['validity_served']:.1f}%  "
            f"distinct {r['distinct_served']:.2f}  edit {r['edit_distance']:.1f}  {r['ms_per_prompt']:.0f} ms/prompt"
        )
    return "\n".join(lines)


def markdown_report(results: Sequence[dict[str, Any]], curve: Sequence[dict[str, Any]] | None,
                    seconds: float | None = None) -> str:
    """docs/results.md: per language, every system side by side, with the command of each row."""
    today = dt.date.today().isoformat()
    models = sorted({(r["system"], r["model"]) for r in results if r.get("model")})
    took = f" in {seconds / 60:.1f} minutes on {os.cpu_count()} CPU cores" if seconds else ""
    threads = "/".join(sorted({str(r["threads"]) for r in results if "threads" in r})) or "?"
    out = [
        "# Results on the development split",
        "",
        f"Measured {today} by `make eval` (`codefusion eval --all --steps-curve`){took}. Every figure is",
        "measured on the dev split (10% of each training file, grouped by ID, never trained on); a",
        "subsample, where one is used, is a fixed-seed random subset and says so in its heading.",
        "Models: " + "; ".join(f"{SYSTEM_LABELS[s]}: `{_shown_path(m)}`" for s, m in models) + ".",
        "",
        "- Scores are top-1 / top-3 / top-5: the best of the first k served candidates, averaged over prompts",
        "  (0–100). Served = what the engine returns: k samples drawn (k more when those do not give k",
        "  distinct ones that parse), those that do not parse dropped, duplicates (after normalisation)",
        "  dropped, ranked by the model's score. Retrieval: the 2k nearest training pairs, filtered the same way.",
        "- Python: *exact match* after normalisation (AST round trip); *BLEU-4* on code tokens, sentence-level",
        "  with smoothing (NLTK method 1); *token F1*: bag-of-code-tokens F1, not CodeBLEU (no syntax or",
        "  data-flow matching). Bash: NL2Bash *template match* (utilities, flags and operators kept, other",
        "  arguments → a placeholder; templates equal) and *token match* (overlap of those kept tokens over",
        "  the larger count). CF: *execution match* (same highlighted cells, our executor) and *rule match*.",
        "- *Valid raw*: share of all raw samples (before filtering) that parse; *valid served*: share of served",
        "  candidates that parse. *Distinct*: served candidates per prompt (of at most k); *edit*: mean",
        "  pairwise token edit distance among them. *ms/prompt*: sampling time per prompt, batches of 8",
        f"  prompts, {threads} CPU thread(s) per evaluation process (retrieval: lookup time).",
        "",
    ]
    for lang in LANGS:
        rows = [r for r in results if r["lang"] == lang]
        if not rows:
            continue
        done = [r for r in rows if "error" not in r]
        first = done[0] if done else rows[0]
        n = first.get("prompts", "?")
        total = first.get("prompts_in_split", "?")
        sub = f", subsample of {n} of {total} prompts (seed {first.get('seed')})" if n != total else f", {n} prompts"
        out += [f"## {lang}{sub}", ""]
        names = list(done[0]["metrics"]) if done else []
        header = ["system", *(f"{METRIC_LABELS[n]} top-1/3/5" for n in names)]
        if lang == "python":
            header.append("corpus BLEU top-1")
        header += ["valid raw %", "valid served %", "distinct", "edit", "ms/prompt", "command"]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for r in rows:
            if "error" in r:
                out.append(f"| {r['label']} | not run: {r['error']} |")
                continue
            cells = [r["label"], *(_topk_cell(r["metrics"][n]) for n in names)]
            if lang == "python":
                cells.append(f"{r['corpus_bleu_top1']:.1f}")
            cells += [f"{r['validity_raw']:.1f}", f"{r['validity_served']:.1f}", f"{r['distinct_served']:.2f}",
                      f"{r['edit_distance']:.1f}", f"{r['ms_per_prompt']:.0f}", f"`{r['command']}`"]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        if lang == "cf" and done and "execution_fallbacks" in done[0]:
            out += [f"Execution match ran our CF executor on each example's `Data` column; "
                    f"{done[0]['execution_fallbacks']} of {n} examples have no cells (or an unparsable reference)",
                    "and are judged by normalised rule match instead. Colour scales, data bars and icon sets match",
                    "only the same visual.", ""]
        out += _comparison(lang, done)
    if curve:
        k = max(int(key[3:]) for key in curve[0] if key.startswith("top"))
        out += [
            "## Denoising steps vs quality and latency",
            "",
            "Diffusion model on fixed-seed dev subsamples ("
            + ", ".join(f"{lang} {n}" for lang, n in {p["lang"]: p["prompts"] for p in curve}.items())
            + " prompts). Latency:",
            f"median wall time of one request ({k} candidates, one prompt, all cores) over a few prompts.",
            "",
            "![steps vs quality](steps_vs_quality.png)",
            "",
            f"| language | metric | steps | top-1 | top-{k} | median ms |",
            "|---|---|---|---|---|---|",
        ]
        for p in curve:
            lat = p.get("latency_ms_median")
            out.append(f"| {p['lang']} | {METRIC_LABELS[p['metric']]} | {p['steps']} | {p['top1']:.1f} | "
                       f"{p[f'top{k}']:.1f} | {'-' if lat is None else f'{lat:.0f}'} |")
        out.append("")
    return "\n".join(out)


def _shown_path(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return path


def _comparison(lang: str, rows: Sequence[dict[str, Any]]) -> list[str]:
    """One measured sentence: diffusion against the same-size AR model on the primary metric."""
    by = {r["system"]: r for r in rows}
    if "diffusion" not in by:
        return []
    metric = PRIMARY[lang]
    d = by["diffusion"]["metrics"][metric]
    parts = []
    for system in ("ar", "ar-beam", "retrieval"):
        if system in by:
            o = by[system]["metrics"][metric]
            parts.append(", ".join(
                f"top-{n} {d[f'top{n}']:.1f} vs {o[f'top{n}']:.1f}" for n in (1, 5) if f"top{n}" in d
            ) + f" ({SYSTEM_LABELS[system]})")
    if not parts:
        return []
    return [f"Diffusion vs baselines on {METRIC_LABELS[metric]}: " + "; ".join(parts) + ".", ""]
