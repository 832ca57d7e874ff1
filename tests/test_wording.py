"""scripts/check_wording.py (run by `make lint`): numbered work periods are found, other uses of the words not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_wording.py"


S, SIT = " session", " sitting"  # kept apart, so that this file does not fail the check itself


def test_numbered_work_periods_fail_the_check(tmp_path: Path):
    bad = tmp_path / "notes.md"
    first, third = f"Trained on in the ninth{S}.", f"As the Twenty-Second{SIT.title()} found, and the 3rd{S}."
    bad.write_text(f"{first}\nok line\n{third}\n")
    good = tmp_path / "server.py"
    good.write_text("# a session of the editor, its sessions' logs; a sitting duck\n")
    run = subprocess.run([sys.executable, str(SCRIPT), str(bad), str(good)], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stdout.splitlines() == [f"{bad}:1: {first}", f"{bad}:3: {third}"]
    assert subprocess.run([sys.executable, str(SCRIPT), str(good)], capture_output=True).returncode == 0
