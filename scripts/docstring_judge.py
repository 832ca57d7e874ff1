"""The model's judging of docstring answers (docs/experiments.md, 2026-12-07): the five docstring probes'
pass@1 / 3 / 5 with the nearest example kept first (as shipped for Python) or all ten reordered by the judge
(`nokeep`), at the shipped judge weight or another (`MODE:W`, e.g. `nokeep:0.1`).

Usage: .venv/bin/python scripts/docstring_judge.py {keep,nokeep}[:W]
"""

from __future__ import annotations

import json
import sys

from codefusion.model.examples import seeding
from codefusion.server.cli import probe
from codefusion.server.engine import Engine


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
    print(json.dumps({"mode": sys.argv[1], **probe.all_rates(engine)}))


if __name__ == "__main__":
    main()
