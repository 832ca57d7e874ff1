"""Previewing CF rules against a workbook and writing them into it safely.

Writing never touches the original until a complete, re-readable copy exists: the new workbook is saved
to a temporary file in the same folder, loaded back as a check, and moved over the original with
`os.replace`. The first write keeps `BOOK.xlsx.bak`. Any fault raises CFWorkbookError and leaves the
original byte-identical.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codefusion.model.cf.excel import CFStyle, parse_style, rule_to_openpyxl
from codefusion.model.cf.executor import evaluate_rule
from codefusion.model.cf.parser import parse_rule
from codefusion.model.cf.rules import Rule, format_rule
from openpyxl import load_workbook
from openpyxl.utils.cell import get_column_letter, range_boundaries

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted OOXML and legacy .xls are OLE files
_EXTENSIONS = {".xlsx", ".xlsm", ".xltx", ".xltm"}
MAX_CELLS = 1_000_000


class CFWorkbookError(Exception):
    """A workbook that cannot be read or safely written; the original file is unchanged."""


@dataclass(frozen=True)
class CellBlock:
    """The values of a range, row-major, with their addresses."""

    sheet: str
    cell_range: str
    addresses: list[str]
    values: list[Any]


@dataclass(frozen=True)
class Preview:
    rule: str  # canonical rule text
    count: int  # cells highlighted
    total: int  # cells in the range
    addresses: list[str] = field(default_factory=list)  # the first few highlighted cells


@dataclass(frozen=True)
class ApplyResult:
    path: str
    sheet: str
    cell_range: str
    rule: str  # canonical rule text
    kind: str  # Excel rule type written
    formula: list[str]
    backup: str | None  # the .bak made by this write, None when one already existed
    preview: Preview


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise CFWorkbookError(f"{path}: no such file")
    if not path.is_file():
        raise CFWorkbookError(f"{path}: not a file")
    if path.suffix.lower() == ".xls":
        raise CFWorkbookError(f"{path}: legacy .xls files are not supported; save it as .xlsx")
    if path.suffix.lower() not in _EXTENSIONS:
        raise CFWorkbookError(f"{path}: not an Excel workbook (.xlsx or .xlsm)")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == _OLE_MAGIC:
        raise CFWorkbookError(f"{path}: the workbook is encrypted (password-protected) or a legacy .xls")
    if not zipfile.is_zipfile(path):
        raise CFWorkbookError(f"{path}: not a valid .xlsx file (corrupt or another format)")


def lock_files(path: Path) -> list[Path]:
    """Lock files Excel (`~$name.xlsx`, long names lose two letters) or LibreOffice leave next to `path`."""
    names = {f"~${path.name}", f".~lock.{path.name}#"}
    if len(path.stem) > 2:
        names.add(f"~${path.name[2:]}")
    return [path.parent / n for n in sorted(names) if (path.parent / n).exists()]


def _check_writable(path: Path) -> None:
    locks = lock_files(path)
    if locks:
        raise CFWorkbookError(f"{path}: open in Excel or LibreOffice ({locks[0].name}); close it and retry")
    mode = path.stat().st_mode
    # the mode bits are checked too: root may write anything, but a read-only file was meant to stay so
    if not mode & stat.S_IWUSR or not os.access(path, os.W_OK):
        raise CFWorkbookError(f"{path}: the file is read-only")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise CFWorkbookError(f"{path.parent}: folder is not writable")


def _load(path: Path, **kwargs):
    _check_readable(path)
    try:
        return load_workbook(path, **kwargs)
    except Exception as exc:  # openpyxl raises many types for a damaged package
        raise CFWorkbookError(f"{path}: cannot read the workbook ({type(exc).__name__}: {exc})") from exc


def _close(wb) -> None:
    archive = getattr(wb, "vba_archive", None)  # keep_vba holds the source zip open
    if archive is not None:
        archive.close()


def _sheet(wb, sheet: str | None):
    if sheet is None:
        return wb.worksheets[0]
    if sheet not in wb.sheetnames:
        raise CFWorkbookError(f"no sheet {sheet!r}; sheets are {wb.sheetnames}")
    ws = wb[sheet]
    if not hasattr(ws, "conditional_formatting"):
        raise CFWorkbookError(f"{sheet!r} is a chart sheet, not a worksheet")
    return ws


def _bounds(cell_range: str) -> tuple[int, int, int, int]:
    try:
        min_col, min_row, max_col, max_row = range_boundaries(cell_range.replace("$", ""))
    except (ValueError, TypeError) as exc:
        raise CFWorkbookError(f"bad range {cell_range!r}: use A1 notation such as B2:B200") from exc
    if None in (min_col, min_row, max_col, max_row):
        raise CFWorkbookError(f"bad range {cell_range!r}: give both corners, such as B2:B200")
    assert min_col and min_row and max_col and max_row
    if (max_col - min_col + 1) * (max_row - min_row + 1) > MAX_CELLS:
        raise CFWorkbookError(f"range {cell_range!r} is larger than {MAX_CELLS} cells")
    return min_col, min_row, max_col, max_row


def _used_column(ws) -> str:
    """The first column holding data, from below its header (if any) to its last value."""
    for col in range(1, (ws.max_column or 0) + 1):
        rows = [r for r in range(1, (ws.max_row or 0) + 1) if ws.cell(r, col).value not in (None, "")]
        if not rows:
            continue
        first, last = rows[0], rows[-1]
        header = isinstance(ws.cell(first, col).value, str) and last > first
        letter = get_column_letter(col)
        return f"{letter}{first + 1 if header else first}:{letter}{last}"
    raise CFWorkbookError(f"sheet {ws.title!r} is empty; give a range")


def default_range(path: str | os.PathLike, sheet: str | None = None) -> tuple[str, str]:
    """(sheet, range) to use when none is given: the first sheet's first used data column."""
    wb = _load(Path(path), data_only=True)
    ws = _sheet(wb, sheet)
    return ws.title, _used_column(ws)


def read_range(path: str | os.PathLike, sheet: str | None, cell_range: str | None) -> CellBlock:
    """Cached cell values of a range (formulas give the value Excel last computed, or blank)."""
    wb = _load(Path(path), data_only=True)
    ws = _sheet(wb, sheet)
    cell_range = cell_range or _used_column(ws)
    min_col, min_row, max_col, max_row = _bounds(cell_range)
    addresses, values = [], []
    for row in ws.iter_rows(min_row=min_row, max_row=max_row, min_col=min_col, max_col=max_col):
        for cell in row:
            addresses.append(f"{get_column_letter(cell.column)}{cell.row}")
            values.append(cell.value)
    return CellBlock(ws.title, cell_range, addresses, values)


def preview_block(rule: Rule, block: CellBlock, limit: int = 10) -> Preview:
    """How many and which cells of `block` the rule highlights."""
    flags = evaluate_rule(rule, block.values)
    hits = [a for a, f in zip(block.addresses, flags, strict=True) if f]
    return Preview(format_rule(rule), len(hits), len(flags), hits[:limit])


def preview(path: str | os.PathLike, sheet: str | None, cell_range: str | None, rule_text: str,
            limit: int = 10) -> Preview:
    """Count and first addresses of the cells `rule_text` would highlight in the workbook."""
    rule = parse_rule(rule_text)
    return preview_block(rule, read_range(path, sheet, cell_range), limit)


def apply_rule_to_workbook(path: str | os.PathLike, sheet: str | None, cell_range: str | None, rule_text: str,
                           style: str | dict | CFStyle | None = None) -> ApplyResult:
    """Add the rule to `sheet!cell_range` of the workbook at `path`, safely (see the module docstring)."""
    path = Path(path)
    rule = parse_rule(rule_text)  # CFSyntaxError before anything is opened
    try:
        cf_style = parse_style(style)
    except ValueError as exc:
        raise CFWorkbookError(str(exc)) from exc
    _check_readable(path)
    _check_writable(path)
    original = path.read_bytes()
    block = read_range(path, sheet, cell_range)
    wb = _load(path, keep_vba=path.suffix.lower() in (".xlsm", ".xltm"), keep_links=True)
    ws = _sheet(wb, block.sheet)
    xl_rule = rule_to_openpyxl(rule, block.cell_range, cf_style)
    ws.conditional_formatting.add(block.cell_range, xl_rule)

    fd, tmp_name = tempfile.mkstemp(prefix=".~cf-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    backup = path.with_name(path.name + ".bak")
    made_backup = False
    try:
        wb.save(tmp)
        _close(load_workbook(tmp, keep_vba=True))  # the new file must read back before it replaces anything
        shutil.copymode(path, tmp)
        if path.read_bytes() != original:
            raise CFWorkbookError(f"{path}: changed by another program while writing; nothing written")
        if not backup.exists():
            shutil.copy2(path, backup)
            made_backup = True
        os.replace(tmp, path)
    except CFWorkbookError:
        raise
    except Exception as exc:
        raise CFWorkbookError(f"{path}: could not write the workbook ({type(exc).__name__}: {exc})") from exc
    finally:
        _close(wb)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return ApplyResult(str(path), block.sheet, block.cell_range, format_rule(rule), str(xl_rule.type),
                       list(xl_rule.formula or []), str(backup) if made_backup else None,
                       preview_block(rule, block))
