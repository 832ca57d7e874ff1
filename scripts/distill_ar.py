"""Sequence-level distillation data: the AR baseline's beam-search output for every training prompt, as extra
training pairs for the masked model (`codefusion train finetune --extra-pairs FILE`).

Parallel decoders suffer from the many different codes one prompt can have (a position predicted beside
another cannot know which of them its neighbour chose); training them on an AR teacher's single, more
deterministic output per prompt is the standard fix in non-autoregressive generation (Gu et al. 2018; Zhou
et al. 2020). Each line: {"lang", "prompt", "code", "teacher"}; `teacher` is false where no beam candidate
parsed and the reference was kept. Only the training split's prompts are used (never dev). Resumable: rerun
the same command and it continues after the prompts already written.

    python scripts/distill_ar.py models/ar-baseline runs/distill/ar.jsonl [--langs bash,python,cf] [--beams 3]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from codefusion.model.config import LANGUAGES
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.training.data import load_pairs
from codefusion.model.validate import validate


def done_counts(out: Path) -> dict[str, int]:
    """How many prompts of each language the output file already holds (written in order)."""
    counts = dict.fromkeys(LANGUAGES, 0)
    if out.is_file():
        for line in out.read_text(encoding="utf-8").splitlines():
            if line.strip():
                counts[json.loads(line)["lang"]] += 1
    return counts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("ar_model", type=Path, help="AR baseline model folder (the teacher)")
    p.add_argument("out", type=Path, help="JSONL to append to")
    p.add_argument("--langs", default=",".join(LANGUAGES))
    p.add_argument("--beams", type=int, default=3)
    p.add_argument("--batch", type=int, default=8, help="prompts per beam-search batch")
    args = p.parse_args()
    pipe = CodeFusionPipeline.from_dir(args.ar_model, device="cpu")
    if pipe.kind != "ar":
        raise SystemExit(f"{args.ar_model} is a {pipe.kind} model, not an AR baseline")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = done_counts(args.out)
    for lang in args.langs.split(","):
        pairs = load_pairs(lang, "train")[0]
        kept = 0
        for i in range(done[lang], len(pairs), args.batch):
            chunk = pairs[i: i + args.batch]
            beams = pipe.sample([q.prompt for q in chunk], lang, k=args.beams, method="beam")  # under inference_mode
            with args.out.open("a", encoding="utf-8") as f:
                for pair, cands in zip(chunk, beams, strict=True):
                    best = next((c.text for c in sorted(cands, key=lambda c: -c.score) if validate(lang, c.text)), None)
                    kept += best is not None
                    row = {"lang": lang, "prompt": pair.prompt, "code": best or pair.code, "teacher": best is not None}
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
            print(f"{lang}: {min(i + args.batch, len(pairs))}/{len(pairs)} (teacher kept {kept})", flush=True)


if __name__ == "__main__":
    main()
