"""Evaluation metrics: pure functions of candidate and reference text (no torch).

Scores of one candidate are on a 0–100 scale (matches are 0 or 100); `top_k` turns per-candidate
scores into the paper's top-k figure: the mean over prompts of the best score among the first k.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..validate import normalize, parser_for, validate

# --- code tokens ----------------------------------------------------------------------------------

_CODE_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|\S")


def code_tokens(code: str) -> list[str]:
    """Identifiers, numbers and single punctuation characters (string contents split likewise)."""
    return _CODE_TOKEN.findall(code)


# --- BLEU-4 ---------------------------------------------------------------------------------------


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _bleu_counts(cand: Sequence[str], ref: Sequence[str], max_n: int) -> tuple[list[int], list[int]]:
    matches, totals = [], []
    for n in range(1, max_n + 1):
        c, r = _ngrams(cand, n), _ngrams(ref, n)
        matches.append(sum(min(count, r[g]) for g, count in c.items()))
        totals.append(sum(c.values()))
    return matches, totals


def _brevity_penalty(cand_len: int, ref_len: int) -> float:
    if cand_len == 0:
        return 0.0
    return 1.0 if cand_len > ref_len else math.exp(1 - ref_len / cand_len)


def sentence_bleu(candidate: str, reference: str, max_n: int = 4) -> float:
    """Smoothed sentence BLEU-4 (0–100) on code tokens; identical strings score 100.

    Smoothing as NLTK's method 1 (Chen & Cherry 2014): an n-gram order with no match counts
    0.1 matches instead of 0. An order the candidate has no n-grams of (a snippet shorter than n
    tokens) is left out of the geometric mean; the brevity penalty still charges short candidates.
    """
    cand, ref = code_tokens(candidate), code_tokens(reference)
    if not cand or not ref:
        return 100.0 if cand == ref else 0.0
    matches, totals = _bleu_counts(cand, ref, max_n)
    logs = [math.log((m or 0.1) / t) for m, t in zip(matches, totals, strict=True) if t]
    return 100.0 * _brevity_penalty(len(cand), len(ref)) * math.exp(sum(logs) / len(logs))


def corpus_bleu(candidates: Sequence[str], references: Sequence[str], max_n: int = 4) -> float:
    """Corpus BLEU-4 (0–100) on code tokens, unsmoothed; an n-gram order no candidate has is skipped."""
    matches, totals = [0] * max_n, [0] * max_n
    cand_len = ref_len = 0
    for candidate, reference in zip(candidates, references, strict=True):
        cand, ref = code_tokens(candidate), code_tokens(reference)
        sent_matches, sent_totals = _bleu_counts(cand, ref, max_n)
        matches = [a + b for a, b in zip(matches, sent_matches, strict=True)]
        totals = [a + b for a, b in zip(totals, sent_totals, strict=True)]
        cand_len, ref_len = cand_len + len(cand), ref_len + len(ref)
    if cand_len == 0:
        return 100.0 if ref_len == 0 else 0.0
    log_p = 0.0
    for m, t in zip(matches, totals, strict=True):
        if t == 0:
            continue  # no candidate n-grams of this order (as in sentence_bleu)
        if m == 0:
            return 0.0
        log_p += math.log(m / t)
    return 100.0 * _brevity_penalty(cand_len, ref_len) * math.exp(log_p / max_n)


# --- Python ----------------------------------------------------------------------------------------


def exact_match(lang: str, candidate: str, reference: str) -> bool:
    """Equal after normalisation (Python: AST round trip when the code parses; else whitespace)."""
    return normalize(lang, candidate) == normalize(lang, reference)


def token_f1(candidate: str, reference: str) -> float:
    """Bag-of-code-tokens F1 (0–100), as SQuAD's token F1: multiset overlap, ignoring order.

    Not CodeBLEU: there is no syntax-tree or data-flow matching here.
    """
    cand, ref = Counter(code_tokens(candidate)), Counter(code_tokens(reference))
    if not cand or not ref:
        return 100.0 if cand == ref else 0.0
    overlap = sum((cand & ref).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / sum(cand.values()), overlap / sum(ref.values())
    return 100.0 * 2 * precision * recall / (precision + recall)


# --- Bash (NL2Bash) --------------------------------------------------------------------------------

PLACEHOLDER = "ARG"
# Utilities that run another utility given as an argument (`sudo rm`, `xargs grep`, `find -exec cp`).
_WRAPPERS = {"sudo", "xargs", "nohup", "nice", "time", "env", "watch", "timeout", "exec", "command",
             "builtin", "parallel", "ionice", "stdbuf", "strace", "sshpass", "su", "screen", "tmux"}
_EXEC_FLAGS = {"-exec", "-execdir", "-ok", "-okdir"}
_EXEC_KEEP = {"{}", "\\;", ";", "+", "';'", '";"'}
# Common utilities (as NL2Bash's list): only consulted to find the utility a wrapper runs.
UTILITIES = frozenset("""
alias awk base64 basename bash bc bunzip2 bzcat bzip2 cal cat cd chgrp chmod chown cksum clear column comm
cp cpio crontab curl cut date dc dd df diff dig dirname du echo egrep env exit expr false fgrep file find
fold gawk git grep groups gunzip gzip head history hostname id ifconfig join kill killall less ln locate
ls lsof md5sum mkdir mktemp more mount mv nawk nl nohup od paste perl pgrep php ping pkill printf ps pwd
python python3 read readlink rename rev rm rmdir rsync ruby scp sed seq sh sha1sum sha256sum shred sleep
sort split ssh stat tac tail tar tee test touch tr tree true uname uniq unzip wc wget which whoami xargs
xxd yes zcat zip
""".split())
# Argument-like nodes: replaced as a whole by the placeholder (unless they run a command inside).
_ARGUMENT_NODES = {"word", "string", "raw_string", "concatenation", "number", "simple_expansion", "expansion",
                   "ansi_c_string", "translated_string", "array", "variable_name", "heredoc_body",
                   "string_content", "special_variable_name", "arithmetic_expansion", "extglob_pattern",
                   "regex", "heredoc_content", "heredoc_end", "heredoc_start"}
_KEEP_NAMED_LEAVES = {"file_descriptor", "test_operator"}
_SUBSTITUTIONS = {"command_substitution", "process_substitution"}


def _text(node: Any) -> str:
    return node.text.decode("utf-8", "replace")


def _substitutions(node: Any) -> list[Any]:
    """The outermost command/process substitutions inside an argument node."""
    found, stack = [], list(reversed(node.children))
    while stack:
        n = stack.pop()
        if n.type in _SUBSTITUTIONS:
            found.append(n)
        else:
            stack.extend(reversed(n.children))
    return found


def _argument_template(node: Any, out: list[str]) -> None:
    subs = _substitutions(node)
    if not subs:
        out.append(PLACEHOLDER)
    for sub in subs:
        _template(sub, out)


def _flag_template(text: str) -> str:
    name, eq, _ = text.partition("=")
    return f"{name}={PLACEHOLDER}" if eq else text


def _command_template(node: Any, out: list[str]) -> None:
    expect_utility = False  # after a wrapper or -exec: the next known utility word is a utility
    in_exec = False
    for child in node.children:
        if child.type == "command_name":
            utility = _text(child)
            out.append(utility)
            expect_utility = utility.rsplit("/", 1)[-1] in _WRAPPERS
        elif child.type == "variable_assignment":
            out.extend([PLACEHOLDER, "=", PLACEHOLDER])
        elif child.type in ("file_redirect", "herestring_redirect", "heredoc_redirect"):
            _template(child, out)
        elif child.type == "comment":
            continue
        elif child.type in _SUBSTITUTIONS:
            _template(child, out)
        elif not child.is_named:
            out.append(child.type)
        else:
            text = _text(child)
            if in_exec and text in _EXEC_KEEP:
                out.append(text)
                in_exec = text not in ("\\;", ";", "+", "';'", '";"')
            elif text.startswith("-") and len(text) > 1 and child.type in ("word", "concatenation", "number"):
                out.append(_flag_template(text))
                if text in _EXEC_FLAGS:
                    in_exec, expect_utility = True, True
            elif expect_utility and child.type == "word" and text.rsplit("/", 1)[-1] in UTILITIES:
                out.append(text)
                expect_utility = text in _WRAPPERS
            else:
                _argument_template(child, out)


def _template(node: Any, out: list[str]) -> None:
    if node.type == "command":
        _command_template(node, out)
    elif node.type == "comment":
        return
    elif node.type == "file_redirect":
        # `2>&1`: a descriptor number after a dup operator is part of the operator, not an argument
        dup = any(c.type in (">&", "<&") for c in node.children if not c.is_named)
        for child in node.children:
            if child.type == "number" and dup:
                out.append(_text(child))
            else:
                _template(child, out)
    elif not node.is_named:
        out.append(node.type)
    elif node.type in _KEEP_NAMED_LEAVES:
        out.append(_text(node))
    elif node.type in _ARGUMENT_NODES:
        _argument_template(node, out)
    elif not node.children:
        out.append(PLACEHOLDER)
    else:
        for child in node.children:
            _template(child, out)


def bash_template(code: str) -> list[str]:
    """NL2Bash template: utilities, flags and operators kept, every other argument → `ARG`.

    Parsed with tree-sitter-bash (commands that do not parse keep what the error-tolerant tree
    recovers). `find . -name "*.py" -exec rm {} \\;` → `find ARG -name ARG -exec rm {} \\;`.
    """
    out: list[str] = []
    if code.strip():
        _template(parser_for("bash").parse(code.strip().encode()).root_node, out)
    return out


def template_match(candidate: str, reference: str) -> bool:
    """NL2Bash template accuracy: the two templates are identical."""
    return bash_template(candidate) == bash_template(reference)


def token_match(candidate: str, reference: str) -> float:
    """NL2Bash token-match score (0–100): overlap of the templates' closed-vocabulary tokens.

    Utilities, flags and operators (template tokens other than `ARG`) as multisets; the overlap is
    divided by the larger of the two counts, so both missing and extra tokens cost.
    """
    cand = Counter(t for t in bash_template(candidate) if t != PLACEHOLDER)
    ref = Counter(t for t in bash_template(reference) if t != PLACEHOLDER)
    size = max(sum(cand.values()), sum(ref.values()))
    if size == 0:
        return 100.0 if candidate.strip() and reference.strip() else 0.0
    return 100.0 * sum((cand & ref).values()) / size


# --- CF (Excel conditional formatting) -------------------------------------------------------------


def cf_rule_match(candidate: str, reference: str) -> bool:
    """Equal after parsing and canonical printing (names' case, spacing, quoting normalised)."""
    return normalize("cf", candidate) == normalize("cf", reference)


def cf_executable(reference: str, data: Any) -> bool:
    """Whether execution match can execute: the reference parses and the Data column has cells."""
    from ..cf import CFSyntaxError, parse_data_column, parse_rule

    try:
        parse_rule(reference)
    except CFSyntaxError:
        return False
    return bool(parse_data_column(data)) if data is not None else False


def cf_execution_match(candidate: str, reference: str, data: Any) -> bool:
    """Both rules highlight exactly the same cells of the example's `Data` column (our CF executor).

    A candidate that does not parse never matches. When the reference does not parse or the column
    is empty there is nothing to execute on, and the normalised rule match decides. Colour scales,
    data bars and icon sets paint every number rather than pick cells, so they match only the same
    kind of visual (a `LessThan` that happens to cover every number is not a colour scale).
    """
    from ..cf import CFSyntaxError, evaluate_rule, parse_data_column, parse_rule
    from ..cf.rules import Scale

    try:
        cand_rule = parse_rule(candidate)
    except CFSyntaxError:
        return False
    if not cf_executable(reference, data):
        return cf_rule_match(candidate, reference)
    ref_rule = parse_rule(reference)
    if isinstance(cand_rule, Scale) or isinstance(ref_rule, Scale):
        return cand_rule == ref_rule
    values = parse_data_column(data)
    return evaluate_rule(cand_rule, values) == evaluate_rule(ref_rule, values)


# --- validity, diversity, top-k ---------------------------------------------------------------------


def validity(lang: str, candidates: Sequence[str]) -> float:
    """Share (0–100) of candidates that parse; 0 for none."""
    if not candidates:
        return 0.0
    return 100.0 * sum(validate(lang, c) for c in candidates) / len(candidates)


def token_edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class Diversity:
    distinct: int  # distinct candidates after normalisation
    edit_distance: float  # mean pairwise token edit distance (0 for fewer than two candidates)


def diversity(lang: str, candidates: Sequence[str]) -> Diversity:
    """How different the k candidates of one prompt are from one another."""
    distinct = len({normalize(lang, c) for c in candidates})
    tokens = [code_tokens(c) for c in candidates]
    pairs = [(i, j) for i in range(len(tokens)) for j in range(i + 1, len(tokens))]
    if not pairs:
        return Diversity(distinct, 0.0)
    total = sum(token_edit_distance(tokens[i], tokens[j]) for i, j in pairs)
    return Diversity(distinct, total / len(pairs))


def top_k(scores: Sequence[Sequence[float]], k: int) -> float:
    """Mean over prompts of the best score among each prompt's first k candidates (none → 0)."""
    if not scores:
        return 0.0
    return sum(max(s[:k], default=0.0) for s in scores) / len(scores)
