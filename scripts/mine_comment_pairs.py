"""Mine (NL, Python) pairs from the standard library's sources: a `# comment` line and the statement under it.

A cheap test of whether more Python pairs help the model (the diagnosis of 2026-11-29: 2,077 pairs
limit Python). Kept: comments of ≥ 3 words that are not markers (TODO, XXX, noqa, type:, pragma), followed
by a single-line simple statement (< 100 characters) that parses; tests and site-packages are skipped;
duplicates dropped. The pairs are noisy (many comments explain a block, not the line). Output: JSONL of
{"lang": "python", "prompt", "code"} for `codefusion train finetune --extra-pairs`.

Usage: .venv/bin/python scripts/mine_comment_pairs.py OUT.jsonl
"""

from __future__ import annotations

import ast
import json
import sys
import sysconfig
from pathlib import Path

BLOCK_STARTS = ("#", "def ", "class ", "if ", "for ", "while ", "try", "else", "elif", "with ", "return",
                "import", "from", "@", "except", "finally", "raise", "assert", "del ", "pass", "break", "continue")
MARKERS = ("xxx", "todo", "noqa", "type:", "pragma", "fixme", "-*-", "!")


def mine(root: Path) -> list[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for path in sorted(root.rglob("*.py")):
        if {"test", "tests", "site-packages", "idlelib"} & set(path.parts):
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for above, line in zip(lines, lines[1:], strict=False):
            comment, code = above.strip(), line.strip()
            if not comment.startswith("# ") or not code or code.startswith(BLOCK_STARTS) or len(code) >= 100:
                continue
            nl = comment[2:].strip()
            if len(nl.split()) < 3 or nl.lower().startswith(MARKERS):
                continue
            try:
                ast.parse(code)
            except SyntaxError:
                continue
            if (nl, code) not in seen:
                seen.add((nl, code))
                out.append((nl, code))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    pairs = mine(Path(sysconfig.get_paths()["stdlib"]))
    with open(argv[0], "w", encoding="utf-8") as f:
        for nl, code in pairs:
            f.write(json.dumps({"lang": "python", "prompt": nl, "code": code}) + "\n")
    print(f"wrote {len(pairs)} pairs to {argv[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
