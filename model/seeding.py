"""Example seeding: start the sampler from the training examples nearest to a prompt (SDEdit-style).

A model folder may carry `seeding.json` and `examples.jsonl`. For the languages listed in seeding.json,
each of the k candidates starts from one of the k training examples whose prompts are nearest to the
request's prompt (TF-IDF), noised to step `start`, and is denoised under the request's prompt for
`steps` steps. The start step is tuned on the development split per model: the better the model, the
more noise it can take and the more it rewrites the example.

seeding.json: {"start": {"python": 30, "bash": 30}, "steps": 1, "examples": "examples.jsonl"}
examples.jsonl: one {"lang": ..., "prompt": ..., "code": ...} object per line (training split only).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import ModelLoadError
from .config import LANGUAGES
from .retrieval import Retrieved, TfidfRetriever

SEEDING_FILE = "seeding.json"


@dataclass(frozen=True)
class SeedingConfig:
    start: dict[str, int] = field(default_factory=dict)  # language -> start step; others: pure noise
    steps: int = 1
    examples: str = "examples.jsonl"

    @classmethod
    def from_dict(cls, raw: object, where: Path) -> SeedingConfig:
        if not isinstance(raw, dict):
            raise ModelLoadError(f"{where}: expected a JSON object")
        start, steps, examples = raw.get("start", {}), raw.get("steps", 1), raw.get("examples", "examples.jsonl")
        if not isinstance(start, dict) or any(
            lang not in LANGUAGES or isinstance(t, bool) or not isinstance(t, int) or t < 0 for lang, t in start.items()
        ):
            raise ModelLoadError(f"{where}: 'start' must map languages {LANGUAGES} to non-negative steps")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ModelLoadError(f"{where}: 'steps' must be a positive integer")
        if not isinstance(examples, str) or "/" in examples or "\\" in examples or examples.startswith("."):
            raise ModelLoadError(f"{where}: 'examples' must be a file name inside the model folder")
        return cls(dict(start), steps, examples)


class ExampleSeeds:
    """The examples a model folder ships for seeding, with a retriever per language."""

    def __init__(self, config: SeedingConfig, pairs: dict[str, list[tuple[str, str]]]):
        self.config = config
        self.prompts = {lang: [p for p, _ in rows] for lang, rows in pairs.items()}
        self.retrievers = {
            lang: TfidfRetriever([p for p, _ in rows], [c for _, c in rows]) for lang, rows in pairs.items() if rows
        }

    @classmethod
    def from_dir(cls, model_dir: str | Path) -> ExampleSeeds | None:
        """The folder's seeds, or None when it has no seeding.json. Broken files raise ModelLoadError."""
        path = Path(model_dir) / SEEDING_FILE
        if not path.is_file():
            return None
        try:
            config = SeedingConfig.from_dict(json.loads(path.read_text(encoding="utf-8")), path)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"cannot read {path}: {exc}") from exc
        examples = Path(model_dir) / config.examples
        pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
        try:
            with examples.open(encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    row = json.loads(line)
                    if not isinstance(row, dict) or row.get("lang") not in LANGUAGES or not all(
                        isinstance(row.get(key), str) for key in ("prompt", "code")
                    ):
                        raise ModelLoadError(f"{examples}:{n}: expected {{lang, prompt, code}} with a known lang")
                    pairs[row["lang"]].append((row["prompt"], row["code"]))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"cannot read {examples} (named in {path}): {exc}") from exc
        return cls(config, dict(pairs))

    def start_for(self, lang: str) -> int | None:
        """The start step for a language, or None when its candidates start from pure noise."""
        return self.config.start.get(lang) if lang in self.retrievers else None

    def nearest(self, prompt: str, lang: str, k: int) -> list[Retrieved]:
        """The codes of the k training examples nearest to the prompt (best first); [] when none shares a word."""
        found = self.retrievers[lang].retrieve(prompt, k)
        return [r for r in found if r.score > 0]

    def nearest_pairs(self, prompt: str, lang: str, k: int) -> list[tuple[Retrieved, str]]:
        """nearest(), each with its example's prompt (what an example_context model reads beside the code)."""
        return [(r, self.prompts[lang][r.index]) for r in self.nearest(prompt, lang, k)]

    @staticmethod
    def write(model_dir: str | Path, config: SeedingConfig, pairs: Iterable[tuple[str, str, str]]) -> int:
        """Write seeding.json and the examples file; pairs are (lang, prompt, code). Returns the count."""
        model_dir = Path(model_dir)
        n = 0
        with (model_dir / config.examples).open("w", encoding="utf-8") as f:
            for lang, prompt, code in pairs:
                f.write(json.dumps({"lang": lang, "prompt": prompt, "code": code}, ensure_ascii=False) + "\n")
                n += 1
        body = {"start": config.start, "steps": config.steps, "examples": config.examples}
        (model_dir / SEEDING_FILE).write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        return n


def main(argv: list[str] | None = None) -> int:
    """Write a model folder's seeding files from the training split (never dev): how the shipped ones are made."""
    import argparse

    from .data import load_pairs

    p = argparse.ArgumentParser(prog="python -m codefusion.model.seeding", description=main.__doc__)
    p.add_argument("model_dir", type=Path)
    p.add_argument("--start", action="append", default=[], metavar="LANG=STEP",
                   help="seed LANG's candidates, noised to STEP (repeatable); languages not named start from noise")
    p.add_argument("--steps", type=int, default=1, help="denoising steps from the start step")
    args = p.parse_args(argv)
    start = {}
    for item in args.start:
        lang, _, step = item.partition("=")
        if lang not in LANGUAGES or not step.isdigit():
            p.error(f"--start expects LANG=STEP with LANG in {LANGUAGES}, got {item!r}")
        start[lang] = int(step)
    config = SeedingConfig(start, args.steps)
    rows = ((lang, pair.prompt, pair.code) for lang in LANGUAGES for pair in load_pairs(lang, "train")[0])
    n = ExampleSeeds.write(args.model_dir, config, rows)
    print(f"wrote {n} training examples and {SEEDING_FILE} to {args.model_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
