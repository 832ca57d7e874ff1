"""Where would the model's own writing beat the examples? Two saved `codefusion eval` outputs on the same dev
prompts (the model alone, and as served) compared by how near each prompt's nearest example is: five equal
buckets of nearness, top-1 / top-5 of each system (docs/experiments.md, 2026-12-07: Bash, the served examples
win in every bucket).

Usage: .venv/bin/python scripts/nearness_buckets.py ALONE.json SERVED.json [--lang bash] [--buckets 5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from codefusion.model.evaluation import metrics as m
from codefusion.model.examples.seeding import ExampleSeeds
from codefusion.server.engine import default_model_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("alone", type=Path)
    parser.add_argument("served", type=Path)
    parser.add_argument("--lang", default="bash", choices=("bash", "python"))
    parser.add_argument("--buckets", type=int, default=5)
    args = parser.parse_args()
    score = m.template_match if args.lang == "bash" else m.sentence_bleu
    alone = {p["id"]: p for p in json.loads(args.alone.read_text())["predictions"]}
    served = {p["id"]: p for p in json.loads(args.served.read_text())["predictions"]}
    seeds = ExampleSeeds.from_dir(default_model_dir())
    assert seeds is not None
    rows = []
    for key, a in alone.items():
        near = seeds.nearest(a["prompt"], args.lang, 1)
        got = [[float(score(c, a["reference"])) for c in p["served"][:5]] for p in (a, served[key])]
        rows.append((near[0].score if near else 0.0, got))
    rows.sort(key=lambda r: r[0])
    size = -(-len(rows) // args.buckets)
    for start in range(0, len(rows), size):
        part = rows[start:start + size]
        figures = {name: (100 * sum(g[i][0] for _, g in part if g[i]) / len(part),
                          100 * sum(max(g[i], default=0.0) for _, g in part) / len(part))
                   for i, name in enumerate(("alone", "served"))}
        print(json.dumps({"nearness": [round(part[0][0], 2), round(part[-1][0], 2)], "prompts": len(part),
                          **{f"{name}_top1": round(t1, 1) for name, (t1, _) in figures.items()},
                          **{f"{name}_top5": round(t5, 1) for name, (_, t5) in figures.items()}}))


if __name__ == "__main__":
    main()
