"""Datasets: (NL, code) pairs with a dev split grouped by ID, and the pretraining corpora."""

from __future__ import annotations

import ast
import hashlib
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config import LANGUAGES

_CHECKOUT_DATA = Path(__file__).resolve().parents[2] / "data"
# the training data: data/ of a checkout; it is not in the wheel, so from an install it is ./data
DATA_DIR = _CHECKOUT_DATA if _CHECKOUT_DATA.is_dir() else Path("data")
DEV_PERCENT = 10


@dataclass(frozen=True)
class Pair:
    id: str
    lang: str
    prompt: str
    code: str
    data: str | None = None  # CF only: the example's cell column, as in the data file


def split_of(example_id: str) -> str:
    """Deterministic split by a hash of the group ID, so one question never sits on both sides."""
    h = int(hashlib.sha256(str(example_id).encode()).hexdigest(), 16)
    return "dev" if h % 100 < DEV_PERCENT else "train"


def clean_code(lang: str, code: str) -> str:
    return code.strip()


def load_pairs(lang: str, split: str, data_dir: Path = DATA_DIR) -> tuple[list[Pair], int]:
    """Return the pairs of one split and how many bad rows were skipped."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    rows = json.loads((data_dir / f"{lang}.train.json").read_text())
    pairs, skipped = [], 0
    for row in rows:
        prompt, code = row.get("NL Utterance"), row.get("Code")
        if not isinstance(prompt, str) or not prompt.strip() or not isinstance(code, str) or not code.strip():
            skipped += 1
            continue
        if split_of(row["ID"]) != split:
            continue
        pairs.append(Pair(str(row["ID"]), lang, " ".join(prompt.split()), clean_code(lang, code), row.get("Data")))
    return pairs, skipped


def load_snippets(lang: str, data_dir: Path = DATA_DIR, limit: int | None = None, seed: int = 0) -> list[str]:
    """Unlabeled code for pretraining: the shipped snippet files, or stdlib statements for Python."""
    if lang == "python":
        lines = python_stdlib_statements()
    else:
        raw = (data_dir / f"{lang}.snippets.txt").read_text(errors="replace").splitlines()
        lines = sorted({line.strip() for line in raw if 2 <= len(line.strip()) <= 300})
    random.Random(seed).shuffle(lines)
    return lines[:limit] if limit else lines


def python_stdlib_statements(min_chars: int = 8, max_chars: int = 160) -> list[str]:
    """Single-line statements from the standard library's own sources, deduplicated."""
    stdlib = Path(ast.__file__).parent
    seen: set[str] = set()
    for path in sorted(stdlib.rglob("*.py")):
        if any(part in ("test", "tests", "idle_test", "site-packages", "lib2to3") for part in path.parts):
            continue
        try:
            source = path.read_text()
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = source.splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, ast.stmt) or isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import,
                                                                   ast.ImportFrom, ast.Pass)):
                continue
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # docstrings
                continue
            if node.lineno != node.end_lineno:
                # compound statements: keep just the header line when it is short, e.g. `for x in y:`
                continue
            text = lines[node.lineno - 1].strip()
            if min_chars <= len(text) <= max_chars and not text.startswith(("#", "@")) and "'''" not in text:
                seen.add(text)
    return sorted(seen)


# --- continuous paragraph denoising: which tokens are identifiers or keywords -------------------------

_BASH_KEYWORDS = {"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
                  "in", "function", "select", "time", "export", "local", "declare", "return"}


def keyword_spans(lang: str, code: str) -> list[tuple[int, int]]:
    """Character spans of identifiers and keywords (what CPD pretraining noises)."""
    if lang == "cf":
        from ..cf import keyword_spans as cf_keyword_spans

        return cf_keyword_spans(code)
    from ..validate import parser_for  # tree-sitter, only needed for python/bash

    data = code.encode()
    tree = parser_for(lang).parse(data)
    spans: list[tuple[int, int]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        t = node.type
        is_ident = t in ("identifier", "variable_name", "command_name")
        is_keyword = not node.is_named and t.isalpha() and (lang == "python" or t in _BASH_KEYWORDS)
        if (is_ident or is_keyword) and node.end_byte > node.start_byte:
            spans.append((node.start_byte, node.end_byte))
    if len(data) != len(code):  # map byte offsets to character offsets
        char_at = [0] * (len(data) + 1)
        pos = 0
        for ci, ch in enumerate(code):
            for _ in range(len(ch.encode())):
                char_at[pos] = ci
                pos += 1
        char_at[len(data)] = len(code)
        spans = [(char_at[a], char_at[b]) for a, b in spans]
    return spans


def cpd_mask(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[bool]:
    """True for each token overlapping an identifier/keyword span."""
    return [any(a < e and s < b for s, e in spans) for a, b in offsets]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
