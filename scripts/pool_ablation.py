"""Data ablation on the retrieval side (issue 38, item 1): does adding an external source's pairs to the
served example pool help? Each dev prompt's served candidates (the nearest examples with the slot rewrite,
ranked as served) are drawn from the shipped pool (models/codefusion/examples.jsonl) alone and with each
source of data/external/ added, then with all of them, and scored with the language's main metric, top-1 / 3 / 5.
TF-IDF nearness only (the MiniLM embeddings of 30k extra prompts are not shipped), so the pool's own row is
the baseline, not the served figure. Rows print as scored (and append to --out). With --novel-templates (Bash),
each pool is also scored on the dev rows whose command template no shipped example has: what a prompt unlike
the training split's gets (template match needs the whole template).

Usage: .venv/bin/python scripts/pool_ablation.py --lang bash|python [--novel-templates] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

from codefusion.model.evaluation import metrics as m
from codefusion.model.examples.seeding import ExampleSeeds, SeedingConfig
from codefusion.model.pipeline import DEFAULT_MODEL_DIR
from codefusion.model.sample import Sample
from codefusion.model.training.data import load_pairs
from codefusion.model.training.external import SOURCES, by_source, load_external
from codefusion.server.cli.eval_runs import language_metrics
from codefusion.server.cli.report import PRIMARY
from codefusion.server.ranking import rank_candidates


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lang", required=True, choices=["python", "bash"])
    p.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--novel-templates", action="store_true", help="Bash: also the dev rows of unseen templates")
    args = p.parse_args()
    lang, k = args.lang, args.k
    base: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for line in (args.model_dir / "examples.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        base[row["lang"]].append((row["prompt"], row["code"]))
    sources = [s for s, (source_lang, _) in SOURCES.items() if source_lang == lang]
    external, _ = load_external(sources)
    sourced = {s: [(p.prompt, p.code) for p in rows] for s, rows in by_source([], external.get(lang, [])).items()}
    dev = load_pairs(lang, "dev")[0]
    subsets = {"dev": dev}
    if args.novel_templates and lang == "bash":
        seen = {" ".join(m.bash_template(code)) for _, code in base[lang]}
        subsets["novel templates"] = [x for x in dev if " ".join(m.bash_template(x.code)) not in seen]
        outside = {" ".join(m.bash_template(code)) for rows in sourced.values() for _, code in rows}
        print(json.dumps({"novel_templates": len(subsets["novel templates"]), "of_dev": len(dev), "held_by_external":
                          sum(" ".join(m.bash_template(x.code)) in outside for x in subsets["novel templates"])}))
    scorer = language_metrics(lang)[PRIMARY[lang]]

    def run(name: str, extra: list[tuple[str, str]]) -> None:
        seeds = ExampleSeeds(SeedingConfig(slots=True), {**base, lang: base[lang] + extra})
        for subset, rows in subsets.items():
            scores = []
            for x in rows:
                found = seeds.nearest(x.prompt, lang, 2 * k)
                served = rank_candidates(lang, [Sample(r.code, r.score, []) for r in found], k)
                scores.append([scorer(c.text, x) for c in served])
            row = {"date": time.strftime("%Y-%m-%d"), "lang": lang, "metric": PRIMARY[lang], "pool": name,
                   "rows": len(base[lang]) + len(extra), "prompts": len(rows), "subset": subset, "retrieval": "tfidf",
                   **{f"top{n}": round(m.top_k(scores, n), 2) for n in (1, 3, 5)}}
            print(json.dumps(row), flush=True)
            if args.out:
                with args.out.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")

    run("shipped", [])
    for source in sources:
        run(f"+{source}", sourced[source])
    run("+all", [r for s in sources for r in sourced[s]])


if __name__ == "__main__":
    main()
