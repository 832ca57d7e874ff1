"""The README's CF example works as printed: same command, same workbook, same rules and cells in the same order."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_example() -> tuple[list[float], list[str], list[str]]:
    """(the amounts the README states, the `cf suggest` arguments, its printed output lines)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    values = re.search(r"ten amounts in B2:B11 \(([\d, ]+)\)", text)
    block = re.search(r"```sh\n\$ codefusion (cf suggest [^\n]+)\n(.*?)\n\$ codefusion cf apply", text, re.S)
    assert values and block, "the README's CF example moved: update this test with it"
    return [float(v) for v in values.group(1).split(",")], shlex.split(block.group(1)), block.group(2).splitlines()


def without_scores(lines: list[str]) -> list[str]:
    return [re.sub(r"\(score -?[\d.]+\)", "(score)", line) for line in lines]


def test_readme_cf_example_as_printed(tmp_path: Path, shipped_model_dir: Path):
    from openpyxl import Workbook

    values, args, printed = readme_example()
    wb = Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws.append(["Region", "Sales"])
    for i, v in enumerate(values):
        ws.append([f"R{i}", v])
    wb.save(tmp_path / "book.xlsx")
    run = subprocess.run([sys.executable, "-m", "codefusion.server.cli.main", *args, "--model", str(shipped_model_dir)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    out = without_scores(run.stdout.splitlines())
    # the range, the first rule, its cells and why it leads: exactly as printed
    assert out[:3] == without_scores(printed)[:3] and printed[1].startswith("1. GreaterThan(500) "), run.stdout
    # the model's other rules move with retraining (then update the README); rules that highlight all or
    # none of the cells come after those that pick some, each saying so
    rules = [i for i, line in enumerate(out) if re.match(r"\d+\. ", line)]
    blanket = [bool(re.search(r"highlights (0|10)/10 cells", out[i])) for i in rules[1:]]
    assert blanket == sorted(blanket), run.stdout
    assert all(out[i + 1].endswith("cells; ranked lower") for i, b in zip(rules[1:], blanket, strict=True) if b)
