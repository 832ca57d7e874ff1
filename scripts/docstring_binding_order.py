"""Which names an example's variables take under a docstring, and in what order (docs/experiments.md,
2026-12-07): the docstring probes' pass@1 / 3 / 5 with Prompt.engine_names replaced.

- `shipped` (0.8.1): the function's parameters in signature order, then the other names the docstring mentions;
- `mentioned` (0.8.0): only the names the docstring mentions, in the order the code has them;
- `mentioned-first`: those, then the parameters it does not mention.

Usage: .venv/bin/python scripts/docstring_binding_order.py {shipped,mentioned,mentioned-first}
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from codefusion.server import prompts
from codefusion.server.cli import probe
from codefusion.server.engine import Engine
from codefusion.server.seeded import mentioned

PROBES = ("docstring_probe", "docstring_probe_fresh", "docstring_probe_typed", "docstring_probe_blind2",
          "docstring_probe_heldout")
SHIPPED = prompts.Prompt.engine_names
VARIANTS: dict[str, Callable[[prompts.Prompt], tuple[str, ...]]] = {
    "shipped": SHIPPED.fget,  # type: ignore[dict-item]
    "mentioned": lambda p: tuple(mentioned(p.names, p.text)),
    "mentioned-first": lambda p: tuple(dict.fromkeys((*mentioned(p.names, p.text), *p.params))),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variant", choices=VARIANTS)
    args = parser.parse_args()
    prompts.Prompt.engine_names = property(VARIANTS[args.variant])  # type: ignore[assignment,method-assign]
    engine = Engine(None, seeding=True)
    engine.load()
    out: dict[str, object] = {"variant": args.variant}
    for name in PROBES:
        path = Path(probe.PROBE).with_name(f"{name}.jsonl")
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        firsts = []
        for row in rows:
            ok = [probe.passes(row["stub"], c, row["test"]) for c in probe.candidates_for(engine, row["stub"], 5)]
            firsts.append(next((i + 1 for i, good in enumerate(ok) if good), None))
        out[name] = [round(100 * sum(1 for f in firsts if f and f <= k) / len(rows), 1) for k in (1, 3, 5)]
        print(name, out[name], flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
