"""Variants of the Python slot rewrite measured against the shipped one (docs/experiments.md, 2026-12-07).

The shipped rule (slots.code_value, 0.8.1): a quoted value put where the example's code has a name is a
string literal (`'fooxyzbar'.lower()`), unless it is a short identifier or follows a word like "list"; a
`backticked` value that reads as no Python expression is one too. The variants replace it:

- `bare`: 0.8.0's rule, the value put in as it is (`list(key=value.items())` for 'key=value');
- `skip`: an occurrence left as it was unless the quoted value is an identifier;
- `quote-all`: every quoted value a string literal, `backticked` ones always code;
- `unquote`: the shipped rule, and a `backticked` identifier that replaces a whole string literal's inside
  takes the quotes' place too (`ast.literal_eval(s)` for `ast.literal_eval('1,2')`);
- `pairing-oracle`: not a system but a ceiling: the nearest example under every pairing of the request's
  slots with the example's (up to 4 slots), the best by sentence BLEU against the reference.

Each system runs `codefusion eval --lang python --system slots` in process with the variant patched in.

Usage: .venv/bin/python scripts/slot_variants.py {bare,skip,unquote,pairing-oracle} [--out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable

from codefusion.model.examples import seeding, slots

CodeValue = Callable[[slots.Slot], "str | None"]
SHIPPED: CodeValue = slots.code_value

# what a request's slot becomes where the example's code has a name (slots.code_value; None: left as it was)
VARIANTS: dict[str, CodeValue] = {
    "bare": lambda y: y.value,
    "skip": lambda y: y.value if y.name or y.kind == "number" or y.value.isidentifier() else None,
    "quote-all": lambda y: y.value if y.name or y.kind == "number" else repr(y.value),
    "unquote": SHIPPED,
}


def unquoting(transfer: Callable[..., str]) -> Callable[..., str]:
    """A `backticked` identifier that replaced a whole string literal's inside loses the quotes around it."""
    def variant(code: str, example_prompt: str, prompt: str, lang: str = "") -> str:
        out = transfer(code, example_prompt, prompt, lang)
        for slot in slots.prompt_slots(prompt):
            if lang == "python" and slot.name and slot.value.isidentifier():
                for quote in ("'", '"'):
                    literal = f"{quote}{slot.value}{quote}"
                    if literal in out and literal not in code:
                        out = out.replace(literal, slot.value)
        return out
    return variant


def pairing_oracle() -> dict[str, float]:
    """Sentence BLEU of the nearest example as served and of the best of its slot pairings, whole dev split."""
    from codefusion.model.evaluation.metrics import sentence_bleu
    from codefusion.model.training.data import load_pairs
    from codefusion.server.engine import default_model_dir

    seeds = seeding.ExampleSeeds.from_dir(default_model_dir())
    assert seeds is not None
    pair_up = slots._pair_up
    n, default_sum, best_sum, with_variants = 0, 0.0, 0.0, 0
    for pair in load_pairs("python", "dev")[0]:
        found = seeds.nearest(pair.prompt, "python", 1)
        if not found:
            continue
        code = seeds.retrievers["python"].codes[found[0].index]
        example_prompt = seeds.prompts["python"][found[0].index]
        chosen: list[tuple[slots.Slot, slots.Slot]] = []

        def capture(a: list[slots.Slot], b: list[slots.Slot], chosen: list = chosen) -> list:
            chosen += pair_up(a, b)
            return chosen

        slots._pair_up = capture
        try:
            outs = [slots.transfer(code, example_prompt, pair.prompt, "python")]
            if 2 <= len(chosen) <= 4:
                olds, news = [x for x, _ in chosen], [y for _, y in chosen]
                for perm in itertools.permutations(news):
                    slots._pair_up = lambda a, b, perm=perm, olds=olds: list(zip(olds, perm, strict=True))
                    outs.append(slots.transfer(code, example_prompt, pair.prompt, "python"))
        finally:
            slots._pair_up = pair_up
        outs = list(dict.fromkeys(outs))
        scores = [sentence_bleu(o, pair.code) for o in outs]
        n += 1
        with_variants += len(outs) > 1
        default_sum += scores[0]
        best_sum += max(scores)
    scale = 100 if best_sum <= n else 1
    return {"prompts": n, "with_variants": with_variants, "as_served": round(scale * default_sum / n, 2),
            "oracle": round(scale * best_sum / n, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variant", choices=(*VARIANTS, "pairing-oracle"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.variant == "pairing-oracle":
        print(json.dumps(pairing_oracle()))
        return
    slots.code_value = VARIANTS[args.variant]  # type: ignore[assignment]  # transfer reads it per call
    if args.variant == "unquote":
        seeding.transfer = unquoting(slots.transfer)  # type: ignore[assignment]  # ExampleSeeds._moved's
    from codefusion.server.cli.main import main as cli

    cli(["eval", "--lang", "python", "--system", "slots", "--out", args.out or f"/tmp/slots-{args.variant}.json"])


if __name__ == "__main__":
    main()
