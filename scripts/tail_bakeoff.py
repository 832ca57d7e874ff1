"""Where do the model's edits belong in a longer list? (issues 37 and 38.) On the dev split, the examples + slot
rewrite as served fill the first `--head` places; after them come either the next examples + slots (places
head+1 … n) or the model's edits of the first `--head` examples as served (the masked kernel remasking each
example's `start` % least-sure tokens under the request's prompt and refilling them in `steps` steps; SDEdit),
deduplicated against the head, then the next examples. Each list is scored with the language's main metric
(Python BLEU-4, Bash template match) at top-1 … n, with 95 % paired-bootstrap intervals of the model's tail
against the examples' tail; the sampler's milliseconds per prompt (one thread, batch of `--head` per prompt)
are printed beside. The answer is where the dev-chosen ranking serves the model's edits.

Usage: .venv/bin/python scripts/tail_bakeoff.py --lang python [--grid 30:2,30:4,50:4] [--head 5] [--n 10]
         [--limit N --seed S] [--out docs/experiments/tail_bakeoff.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from codefusion.model.evaluation import metrics as m
from codefusion.model.pipeline import DEFAULT_MODEL_DIR, Sample
from codefusion.model.training.data import load_pairs
from codefusion.server.cli.eval_runs import example_finder, language_metrics, subsample
from codefusion.server.cli.report import PRIMARY
from codefusion.server.engine import Engine
from codefusion.server.ranking import rank_candidates

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired_bootstrap import best_of_first, paired  # noqa: E402


def tail_list(lang: str, head: list[str], tail: list[str], rest: list[str], n: int) -> list[str]:
    """head, then tail's candidates not already listed, then rest's, up to n (normalised duplicates dropped)."""
    from codefusion.model.validate import normalize, validate

    out: list[str] = []
    seen: set[str] = set()
    for text in (*head, *tail, *rest):
        key = normalize(lang, text)
        if key in seen or not text.strip() or not validate(lang, text):
            continue
        seen.add(key)
        out.append(text)
        if len(out) == n:
            break
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lang", required=True, choices=["python", "bash"])
    p.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    p.add_argument("--grid", default="30:2,30:4,50:4", help="start:steps pairs, comma-separated")
    p.add_argument("--head", type=int, default=5)
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--novel-templates", action="store_true",
                   help="Bash: only the dev rows whose template is in no training row")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--resamples", type=int, default=2000)
    args = p.parse_args()
    torch.set_num_threads(1)
    lang, head, n = args.lang, args.head, args.n
    dev = load_pairs(lang, "dev")[0]
    if args.novel_templates:
        seen = {tuple(m.bash_template(x.code)) for x in load_pairs("bash", "train")[0]}
        dev = [x for x in dev if tuple(m.bash_template(x.code)) not in seen]
    pairs = subsample(dev, args.limit, args.seed)
    scorer = language_metrics(lang)[PRIMARY[lang]]
    find = example_finder(args.model_dir, lang, 2 * n, True)
    served = [[c.text for c in rank_candidates(lang, [Sample(r.code, r.score, []) for r in find(x.prompt)], n)]
              for x in pairs]
    pipe = Engine(args.model_dir, device="cpu")._pipeline(lang)
    tops = sorted({1, 3, head, head + 1, head + 2, n})
    base = [[scorer(c, pair) for c in row] for row, pair in zip(served, pairs, strict=True)]
    date = time.strftime("%Y-%m-%d")

    def report(name: str, rows: list[list[str]], ms: float | None, extra: dict | None = None) -> list[list[float]]:
        scores = [[scorer(c, pair) for c in row] for row, pair in zip(rows, pairs, strict=True)]
        row = {"date": date, "lang": lang, "metric": PRIMARY[lang], "system": name, "prompts": len(pairs),
               "limit": args.limit, "seed": args.seed, "ms_per_prompt": ms, **(extra or {}),
               **{f"top{t}": round(m.top_k(scores, t), 2) for t in tops}}
        if name != "slots":
            for t in tops[tops.index(head) + 1:]:
                row[f"vs_slots_top{t}"] = paired(best_of_first(scores, t), best_of_first(base, t), args.resamples)
        print(json.dumps(row), flush=True)
        if args.out:
            with args.out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        return scores

    report("slots", served, None)
    for spec in args.grid.split(","):
        start, steps = (int(v) for v in spec.split(":"))
        edits: list[list[str]] = []
        changed = 0
        t0 = time.perf_counter()
        for pair, row in zip(pairs, served, strict=True):
            codes = row[:head]
            if not codes:
                edits.append([])
                continue
            out = pipe.sample([pair.prompt], lang, k=len(codes), steps=steps, seed=args.seed, init_codes=[codes],
                              start=start)[0]
            edits.append([s.text for s in out])
            changed += sum(s.text.strip() != c.strip() for s, c in zip(out, codes, strict=True))
        ms = round(1000 * (time.perf_counter() - t0) / len(pairs), 1)
        lists = [tail_list(lang, row[:head], e, row[head:], n) for row, e in zip(served, edits, strict=True)]
        report(f"edits_after({start}%,{steps})", lists, ms, {"start": start, "steps": steps,
                                                             "edits_changed": changed})


if __name__ == "__main__":
    main()
