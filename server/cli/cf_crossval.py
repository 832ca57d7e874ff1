"""`codefusion cf crossval`: a CF dev figure over the whole training split, every row scored once by a
system that did not see it.

The rows of data/cf.train.json (its train and dev splits together) go into k folds by a hash of their
`ID`. Each fold is answered by the parts of the served CF system that need no training, built from the
other folds only: the nearest examples (TF-IDF + MiniLM with the shipped seeding.json's weight, the prompt's
literals moved into their code), ranked as the engine ranks them, then ranked by `cf_ranking` (the wording
reader's rules first, rules that pick all or none of the cells last) exactly as `codefusion cf suggest` does,
on the row's own cells. Scored by execution match (model/evaluation/metrics.py), top-1/3/5, each a mean with
a 95 % bootstrap interval over ID groups, overall and per kind of rule the reference asks for.

Not in it: the diffusion model's edits and rescoring of the examples. Retraining it without each fold is
k trainings (hours each on a 2-core CPU), so the cross-validated figure is for the wording reader + the
examples; `--dev` puts it beside the 66 dev prompts answered by the same parts (train split as examples)
and, with `--served`, by the served system (the model + the wording), which trained on the train split only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("text", "combined", "blanks", "errors", "comparison", "top/bottom", "other")
TOP_NS = (1, 3, 5)
Generate = Callable[[str, int], list[tuple[str, float]]]


def fold_of(example_id: str, folds: int) -> int:
    """The fold of a row: a hash of its ID, so rows of one ID always share a fold."""
    return int(hashlib.sha256(f"cf-fold:{example_id}".encode()).hexdigest(), 16) % folds


def kind_of(reference: str) -> str:
    """The kind of rule a reference asks for (its top node); "other" also for one that does not parse."""
    from codefusion.model.cf import CFSyntaxError, parse_rule
    from codefusion.model.cf.rules import And, Between, CellState, Compare, Not, Or, Rank, State, TextTest

    try:
        rule = parse_rule(reference)
    except CFSyntaxError:
        return "other"
    if isinstance(rule, TextTest):
        return "text"
    if isinstance(rule, And | Or | Not):
        return "combined"
    if isinstance(rule, State):
        return "blanks" if rule.kind is CellState.BLANKS else "errors"
    if isinstance(rule, Compare | Between):
        return "comparison"
    if isinstance(rule, Rank):
        return "top/bottom"
    return "other"


def bootstrap_interval(groups: Sequence[Sequence[float]], resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float, float]:
    """Mean over all values and its 95 % percentile-bootstrap interval, resampling whole groups (IDs)."""
    flat = [v for g in groups for v in g]
    if not flat:
        return float("nan"), float("nan"), float("nan")
    rng = random.Random(seed)
    sums = [(sum(g), len(g)) for g in groups]
    means = []
    for _ in range(resamples):
        picked = [sums[rng.randrange(len(sums))] for _ in sums]
        means.append(sum(s for s, _ in picked) / sum(n for _, n in picked))
    means.sort()
    return sum(flat) / len(flat), means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


@dataclass(frozen=True)
class Scored:
    id: str
    prompt: str
    reference: str
    kind: str
    served: list[str]
    rank: int | None  # 1-based rank of the first served rule that highlights the reference's cells

    def hit(self, n: int) -> float:
        return 100.0 if self.rank is not None and self.rank <= n else 0.0


def cf_pairs() -> list[Any]:
    """Every usable CF row (train and dev splits)."""
    from codefusion.model.training.data import load_pairs

    return load_pairs("cf", "train")[0] + load_pairs("cf", "dev")[0]


class Embedder:
    """MiniLM sentence embeddings of every prompt, computed once (None when MiniLM is not installed)."""

    def __init__(self, prompts: Sequence[str]):
        from codefusion.model.examples.minilm import MiniLMUnavailable, SentenceEncoder

        try:
            self.encoder: Any = SentenceEncoder()
        except MiniLMUnavailable:
            self.encoder = None
            self.table: dict[str, Any] = {}
            return
        unique = list(dict.fromkeys(prompts))
        vectors = self.encoder.embed(unique)
        self.table = dict(zip(unique, vectors, strict=True))

    def __call__(self, prompt: str) -> Any:
        if prompt not in self.table:
            self.table[prompt] = self.encoder.embed([prompt])[0]
        return self.table[prompt]


def examples_generate(examples: Sequence[Any], embedder: Embedder | None) -> Generate:
    """The nearest of `examples` to a prompt as the served engine finds and ranks them (no model)."""
    import numpy as np
    from codefusion.model.examples.seeding import ExampleSeeds, SeedingConfig
    from codefusion.model.pipeline import DEFAULT_MODEL_DIR, Sample
    from codefusion.server.ranking import rank_candidates

    config = SeedingConfig.read(DEFAULT_MODEL_DIR) or SeedingConfig(slots=True)
    pairs = {"cf": [(p.prompt, p.code) for p in examples]}
    semantic = None
    if embedder is not None and embedder.encoder is not None and config.semantic:
        semantic = ({"cf": np.stack([embedder(p.prompt) for p in examples])}, embedder)
    seeds = ExampleSeeds(config, pairs, semantic)

    def generate(prompt: str, k: int) -> list[tuple[str, float]]:
        rows = [Sample(r.code, r.score, []) for r in seeds.nearest(prompt, "cf", k)]
        return [(c.text, c.score) for c in rank_candidates("cf", rows, k)]

    return generate


def no_model(prompt: str, k: int) -> list[tuple[str, float]]:
    return []


def score_row(pair: Any, generate: Generate, k: int, wording: bool) -> Scored:
    """One row answered as `codefusion cf suggest` answers it on the row's cells (or by `generate`'s order
    alone without `wording`), and where the reference's cells are first highlighted."""
    from codefusion.model.cf import CellBlock, parse_data_column
    from codefusion.model.evaluation.metrics import cf_execution_match
    from codefusion.server import cf_service

    if wording:
        values = parse_data_column(pair.data) if pair.data is not None else []
        block = CellBlock("Data", f"A2:A{len(values) + 1}", [f"A{i + 2}" for i in range(len(values))], values)
        served = [c.rule for c in cf_service.suggest_block(block, pair.prompt, k, generate).candidates]
    else:
        served = [text for text, _ in generate(pair.prompt, k)][:k]
    rank = next((i for i, rule in enumerate(served, 1) if cf_execution_match(rule, pair.code, pair.data)), None)
    return Scored(pair.id, pair.prompt, pair.code, kind_of(pair.code), served, rank)


SYSTEMS = {  # name -> (uses the examples, ranked by cf_ranking with the wording)
    "wording + examples": (True, True),
    "examples alone": (True, False),
    "wording alone": (False, True),
}


def cross_validate(pairs: Sequence[Any], folds: int, k: int, systems: Sequence[str] = tuple(SYSTEMS),
                   embed: bool = True) -> dict[str, list[Scored]]:
    """Every row scored once per system, by a system built from the other folds' rows."""
    embedder = Embedder([p.prompt for p in pairs]) if embed else None
    out: dict[str, list[Scored]] = {name: [] for name in systems}
    for fold in range(folds):
        held = [p for p in pairs if fold_of(p.id, folds) == fold]
        generate = examples_generate([p for p in pairs if fold_of(p.id, folds) != fold], embedder)
        for name in systems:
            uses_examples, wording = SYSTEMS[name]
            out[name] += [score_row(p, generate if uses_examples else no_model, k, wording) for p in held]
    return out


def figures(scored: Sequence[Scored], resamples: int = 2000) -> dict[str, Any]:
    """Top-n execution match (mean, 95 % low, high) overall and per kind, with the row counts."""
    def block(rows: Sequence[Scored]) -> dict[str, Any]:
        by_id: dict[str, list[Scored]] = {}
        for r in rows:
            by_id.setdefault(r.id, []).append(r)
        tops = {f"top{n}": [round(x, 1) for x in bootstrap_interval(
            [[r.hit(n) for r in g] for g in by_id.values()], resamples)] for n in TOP_NS}
        return {"rows": len(rows), **tops}

    return {"all": block(scored), **{kind: block([r for r in scored if r.kind == kind])
                                     for kind in KINDS if any(r.kind == kind for r in scored)}}


def table(results: dict[str, dict[str, Any]], title: str) -> str:
    lines = [title, "| system | rows | top-1 [95 % interval] | top-3 | top-5 |", "| --- | --- | --- | --- | --- |"]
    for name, fig in results.items():
        for part, f in fig.items():
            label = name if part == "all" else f"  {part}"
            cells = [f"{f[f'top{n}'][0]:.1f} [{f[f'top{n}'][1]:.1f}, {f[f'top{n}'][2]:.1f}]" for n in TOP_NS]
            lines.append(f"| {label} | {f['rows']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--folds", type=int, default=10, help="number of folds (default 10)")
    parser.add_argument("--k", type=int, default=5, help="suggestions per prompt (default 5)")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    parser.add_argument("--dev", action="store_true",
                        help="also the 66 dev prompts, answered from the train split's examples")
    parser.add_argument("--served", action="store_true",
                        help="with --dev: also the served system (the model + the wording) on the dev prompts")
    parser.add_argument("--model", default=None, help="model directory for --served (default: the shipped model)")
    parser.add_argument("--misses", default=None, metavar="KIND",
                        help="list the cross-validated rows of this kind (or 'all') that wording + examples "
                             "misses at top-1")
    parser.add_argument("--json", dest="json_out", type=Path, default=None, help="write the figures here")


def run(args: argparse.Namespace) -> int:
    from codefusion.model.training.data import load_pairs

    if args.folds < 2 or args.k < 1:
        print("codefusion cf crossval: --folds must be at least 2 and --k positive")
        return 2
    pairs = cf_pairs()
    scored = cross_validate(pairs, args.folds, args.k)
    results = {name: figures(rows, args.resamples) for name, rows in scored.items()}
    print(table(results, f"CF execution match %, {args.folds}-fold cross-validation over {len(pairs)} rows "
                         f"(grouped by ID; 95 % bootstrap intervals)"))
    out: dict[str, Any] = {"folds": args.folds, "k": args.k, "rows": len(pairs), "crossval": results}
    if args.misses:
        for r in scored["wording + examples"]:
            if r.rank != 1 and args.misses in ("all", r.kind):
                print(f"miss@1 {r.prompt!r}: expected {r.reference}, served {r.served[:3]}")
    if args.dev:
        train, dev = load_pairs("cf", "train")[0], load_pairs("cf", "dev")[0]
        embedder = Embedder([p.prompt for p in train + dev])
        generate = examples_generate(train, embedder)
        dev_scored = {name: [score_row(p, generate if SYSTEMS[name][0] else no_model, args.k, SYSTEMS[name][1])
                             for p in dev] for name in SYSTEMS}
        if args.served:
            from .cf import engine_generate

            served = engine_generate(args.model)
            dev_scored["served (model + wording)"] = [score_row(p, served, args.k, True) for p in dev]
        dev_results = {name: figures(rows, args.resamples) for name, rows in dev_scored.items()}
        print()
        print(table(dev_results, f"CF execution match %, the {len(dev)} dev prompts (examples: the train split)"))
        out["dev"] = dev_results
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0
