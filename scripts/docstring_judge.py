"""The model's judging of docstring answers (docs/experiments.md, 2026-12-07): the five docstring probes'
pass@1 / 3 / 5 with the nearest example kept first (as shipped for Python) or all ten reordered by the judge
(`nokeep`), at the shipped judge weight or another (`MODE:W`, e.g. `nokeep:0.1`).

Usage: .venv/bin/python scripts/docstring_judge.py {keep,nokeep}[:W]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from codefusion.model.examples import seeding
from codefusion.server.cli import probe
from codefusion.server.engine import Engine

PROBES = ("docstring_probe", "docstring_probe_fresh", "docstring_probe_typed", "docstring_probe_blind2",
          "docstring_probe_heldout")


def main() -> None:
    mode, _, weight = sys.argv[1].partition(":")
    if mode not in ("keep", "nokeep"):
        raise SystemExit(__doc__)
    if mode == "nokeep":
        seeding.ExampleSeeds._kept = lambda self, found, lang: 0  # type: ignore[method-assign]
    engine = Engine(None, seeding=True)
    engine.load()
    if weight:
        assert engine._seeds is not None
        engine._seeds.config.rerank["python"] = float(weight)
    out: dict[str, object] = {"mode": sys.argv[1]}
    for name in PROBES:
        path = Path(probe.PROBE).with_name(f"{name}.jsonl")
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        firsts = []
        for row in rows:
            ok = [probe.passes(row["stub"], c, row["test"]) for c in probe.candidates_for(engine, row["stub"], 5)]
            firsts.append(next((i + 1 for i, good in enumerate(ok) if good), None))
        out[name] = [round(100 * sum(1 for f in firsts if f and f <= k) / len(rows), 1) for k in (1, 3, 5)]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
