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

from codefusion.server import prompts
from codefusion.server.cli import probe
from codefusion.server.engine import Engine
from codefusion.server.seeded import mentioned

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
    print(json.dumps({"variant": args.variant, **probe.all_rates(engine)}))


if __name__ == "__main__":
    main()
