"""Fail when the project numbers its own work periods: an ordinal ("ninth", "9th", "twenty-second") before
"session" or "sitting".

Readers cannot use such numbers; dates, versions and commit hashes they can (`git show`). Run by `make lint`
over the repository's text files; `data/` (third-party corpora) and the files inside model folders are not
the project's own writing and are skipped.

    python scripts/check_wording.py [PATH ...]     # default: every file git knows of, tracked or new
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# every English ordinal ends in -st, -nd, -rd or -th: "first", "twenty-second", "third", "9th"
NUMBERED_PERIOD = re.compile(r"(th|st|nd|rd) (session|sitting)", re.IGNORECASE)
SKIPPED = ("data/", "models/codefusion/", "models/codefusion-masked/", "models/ar-baseline/")


def project_files(repo: Path = REPO) -> list[Path]:
    """The files git tracks or would track (ignored ones left out), less the skipped folders."""
    names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=repo,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    return [repo / n for n in names if not n.startswith(SKIPPED) and (repo / n).is_file()]


def numbered_periods(paths: list[Path]) -> list[tuple[Path, int, str]]:
    """(file, line number, line) for every line that numbers a work period; binary files are skipped."""
    found = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        lines = enumerate(text.splitlines(), 1)
        found += [(path, n, line.strip()) for n, line in lines if NUMBERED_PERIOD.search(line)]
    return found


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or project_files()
    found = numbered_periods(paths)
    for path, n, line in found:
        print(f"{path}:{n}: {line[:160]}")
    if found:
        print(f"{len(found)} line(s) number a work period: name its date, version or commit instead", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
