"""A synthetic CF probe: 30 comparison prompts whose rule is unambiguous ("highlight cells greater than 40"
→ GreaterThan(40); "mark values below 5" → LessThan(5); "cells equal to 12" → Equals(12)), served through
the engine, for seeding.json variants. The dev split has 66 CF prompts, too few to tell settings apart by
one or two prompts; this probe checks the one thing nearest-example retrieval gets wrong most visibly —
sentence similarity cannot tell "greater" from "less" — and how much the model's rescoring repairs it.
How seeding.json's `rerank_step` was chosen (docs/experiments.md).

Usage: .venv/bin/python scripts/cf_probe.py WEIGHT:STEP ...   (WEIGHT 0: no rescoring)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from codefusion.model.pipeline import DEFAULT_MODEL_DIR
from codefusion.model.validate import normalize
from codefusion.server.engine import Engine

NUMBERS = (5, 12, 40, 75, 300, 1000)
TEMPLATES = (("highlight cells greater than {n}", "GreaterThan({n})"),
             ("highlight cells less than {n}", "LessThan({n})"),
             ("color values above {n} in green", "GreaterThan({n})"),
             ("mark values below {n}", "LessThan({n})"),
             ("cells equal to {n}", "Equals({n})"))
CASES = [(prompt.format(n=n), rule.format(n=n)) for n in NUMBERS for prompt, rule in TEMPLATES]


def probe(model_dir: Path) -> dict[str, object]:
    engine = Engine(model_dir, device="cpu")
    engine.load()
    top1 = top5 = 0
    wrong = []
    for prompt, want in CASES:
        got = [normalize("cf", c.text) for c in engine.generate(prompt, "cf", k=5)]
        top1 += bool(got) and got[0] == normalize("cf", want)
        top5 += normalize("cf", want) in got
        if not got or got[0] != normalize("cf", want):
            wrong.append([prompt, got[:2]])
    return {"cases": len(CASES), "top1": top1, "top5": top5, "wrong_top1": wrong}


def main(settings: list[str]) -> None:
    shipped = DEFAULT_MODEL_DIR.resolve()
    base = json.loads((shipped / "seeding.json").read_text())
    for setting in settings or ["0:100"]:
        weight, step = setting.split(":")
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for f in shipped.iterdir():
                if f.name != "seeding.json":
                    (folder / f.name).symlink_to(f)
            config = {**base, "rerank": {"cf": float(weight)} if float(weight) else {}, "rerank_step": int(step)}
            (folder / "seeding.json").write_text(json.dumps(config))
            print(json.dumps({"setting": setting, **probe(folder)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
