"""Reading the `Data` column of data/cf.train.json into cell values."""

from __future__ import annotations

import ast
import re
from typing import Any

_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# one `[index, value, ...]` row of a (possibly truncated) literal: value is a quoted string or a bare token
_ROW = re.compile(r"""\[\s*(-?\d+)\s*,\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^,\]\[]*)""")


def cell_value(raw: Any) -> Any:
    """A data cell as Excel would hold it: numeric strings become numbers, '' becomes None (blank)."""
    if isinstance(raw, str):
        text = raw.strip()
        if text == "":
            return None
        if _NUMERIC.fullmatch(text):
            number = float(text)
            integral = number == int(number) and not any(ch in text for ch in ".eE")
            return int(number) if integral else number
        return raw
    return raw


def _rows(data_field: Any) -> list[Any]:
    if isinstance(data_field, list):
        return data_field
    try:
        rows = ast.literal_eval(data_field)
        if isinstance(rows, list):
            return rows
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    rows = []  # truncated or otherwise broken: recover every complete leading `[i, value` pair
    for m in _ROW.finditer(str(data_field)):
        token = m.group(2).strip()
        try:
            value = ast.literal_eval(token) if token[:1] in "'\"" else token
        except (ValueError, SyntaxError):
            value = token.strip("'\"")
        rows.append([int(m.group(1)), value])
    return rows


def parse_data_column(data_field: Any) -> list[Any]:
    """The cell values of a `Data` field (a list, or its Python-literal text, possibly truncated).

    The header row `['Index', 'Value', ...]` is dropped; each row contributes its first value column.
    """
    values = []
    for row in _rows(data_field):
        if not isinstance(row, list | tuple) or len(row) < 2:
            continue
        if not isinstance(row[0], int) or isinstance(row[0], bool):
            continue  # the header row
        values.append(cell_value(row[1]))
    return values
