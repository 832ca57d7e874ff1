"""Dev sweep of sampler settings (steps, spacing power) on raw samples: how the shipped default is chosen.

For each language, the first N dev prompts, k = 5 raw samples each (no validation, no top-up), ranked by
the model's score: top-1 / top-5 of the language's main metric, share of samples that parse, distinct
samples per prompt and the wall time of the whole batch. One JSON line per setting on stdout.

Usage: .venv/bin/python scripts/pick_sampler.py MODEL_DIR [N_PROMPTS] [STEPS:POWER[:z|n] ...]
  e.g. scripts/pick_sampler.py models/codefusion 30 1:1 2:1 5:1:n 5:2:n 10:1:n
  (z: the last step is at t = 0, n: it stops one interval short of 0)
"""

from __future__ import annotations

import json
import sys
import time

from codefusion.model.noise.gaussian import DDIMScheduler, sample_codes
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.training.data import load_pairs
from sweep_summary import K, summary  # scripts/sweep_summary.py

DEFAULT_SETTINGS = ["1:1", "2:1", "5:1", "5:2", "10:1", "10:2", "20:2"]


def main(argv: list[str]) -> None:
    pipe = CodeFusionPipeline.from_dir(argv[0], device="cpu")
    n = int(argv[1]) if len(argv) > 1 else 30
    settings = [(s + ":z").split(":")[:3] for s in (argv[2:] or DEFAULT_SETTINGS)]
    for lang in ["cf", "bash", "python"]:
        pairs = load_pairs(lang, "dev")[0][:n]
        prompt, pad = pipe._prompts([x.prompt for x in pairs], lang)
        for steps, power, end in settings:
            scheduler = DDIMScheduler(schedule=pipe.schedule, spacing_power=float(power), end_at_zero=end == "z")
            start = time.perf_counter()
            out = sample_codes(pipe.net, scheduler, prompt=prompt, prompt_pad=pad, k=K,
                               length=pipe.config.code_len[lang], steps=int(steps))
            seconds = time.perf_counter() - start
            texts = [pipe.tokenizer.decode(r) for r in out.tokens.tolist()]
            model_scores = out.scores.tolist()
            per = []
            for i in range(len(pairs)):
                rows = sorted(range(i * K, (i + 1) * K), key=lambda r: -model_scores[r])
                per.append([texts[r] for r in rows])
            record = {"lang": lang, "steps": int(steps), "power": float(power), "end_at_zero": end == "z",
                      **summary(lang, per, pairs, texts), "seconds": round(seconds, 1)}
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
