"""The edit model's input: the request's prompt, the names the user's code defines, and one retrieved example.

An edit model (a masked-kernel model with cfg.input_segments = 4 and a copy head) reads one encoder input
of four segments split by <eos>:

    <lang> prompt <eos> context <eos> example prompt <eos> example code

`context` is the names the user's code already has (a function's parameters, names assigned or imported
above the comment), comma-separated; the example is one of the nearest training examples (its prompt and
code), or nothing, when the model writes alone. Each of the k candidates of a request reads its own
example, so different examples give different candidates.

Training draws, for every pair, the example from the pair's precomputed nearest training examples of
another ID (`neighbour_table`): the nearest, a farther one (so it learns when not to copy) or none (so it
still writes alone), and a context of some of the gold code's own names (so it learns to use them).
"""

from __future__ import annotations

import builtins
import io
import keyword
import random
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import ModelConfig
from ..tokenizer import CodeTokenizer

if TYPE_CHECKING:
    from torch import Tensor

CONTEXT_TOKENS = 16  # the context segment's length limit, in tokens
EXAMPLE_PROMPT_TOKENS = 24
NEIGHBOURS = 8  # nearest examples kept per training pair


@dataclass(frozen=True)
class EditSource:
    """One retrieved example an edit model reads: its prompt and code."""

    prompt: str
    code: str


def edit_input(tok: CodeTokenizer, cfg: ModelConfig, lang: str, prompt: str, names: Sequence[str] = (),
               example: EditSource | None = None) -> list[int]:
    """The encoder input's token ids for one candidate (see the module docstring)."""
    return compose(tok.encode_prompt(prompt, lang, cfg.max_prompt_len), context_ids(tok, names),
                   example_ids(tok, cfg, lang, example), cfg.eos_id)


def name_ids(tok: CodeTokenizer, name: str) -> list[int]:
    return tok.tok.encode(" " + name, add_special_tokens=False).ids


def join_names(names: Sequence[list[int]], comma: int) -> list[int]:
    """The context segment: each name's ids (with its leading space), comma-separated, cut to its length."""
    out: list[int] = []
    for i, name in enumerate(names):
        out += ([] if i == 0 else [comma]) + name
    return out[:CONTEXT_TOKENS]


def comma_id(tok: CodeTokenizer) -> int:
    return tok.tok.encode(",", add_special_tokens=False).ids[0]


def context_ids(tok: CodeTokenizer, names: Sequence[str]) -> list[int]:
    return join_names([name_ids(tok, n) for n in names if n], comma_id(tok))


def example_ids(tok: CodeTokenizer, cfg: ModelConfig, lang: str, example: EditSource | None,
                ) -> tuple[list[int], list[int]]:
    """(the example prompt's ids, its code's ids without <eos>), both cut to their segment's length."""
    if example is None:
        return [], []
    p = tok.tok.encode(example.prompt, add_special_tokens=False).ids[:EXAMPLE_PROMPT_TOKENS]
    return p, tok.encode_code(example.code)[:-1][: cfg.code_len[lang]]


def compose(prompt: list[int], context: list[int], example: tuple[list[int], list[int]], sep: int) -> list[int]:
    return [*prompt, sep, *context, sep, *example[0], sep, *example[1]]


def users_tokens(codes: Tensor, inputs: Tensor, pad: Tensor, sep: int) -> Tensor:
    """Which tokens of each code (N, L) also occur in its edit input's first two segments (`compose`; N, P; pad
    True at padding), the user's prompt and names: an anchored edit keeps them (the user's own values are what a
    model doubts most in an example, and what it must not replace)."""
    user = ((inputs == sep).long().cumsum(-1) < 2) & ~pad  # (N, P) before the second separator
    own = inputs.masked_fill(~user, -1)  # (N, P) the user's token ids, -1 elsewhere
    return (codes[:, :, None] == own[:, None, :]).any(-1)  # (N, L)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BUILTINS = set(dir(builtins)) | set(keyword.kwlist) | {"self", "cls"}


def code_names(lang: str, code: str) -> list[str]:
    """The names a code uses that a user's code could have defined (Python: NAME tokens that are not
    keywords, builtins or attributes; Bash: $variables), first occurrence order."""
    names: list[str] = []
    if lang == "python":
        try:
            toks = list(tokenize.generate_tokens(io.StringIO(code).readline))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            return []
        for i, t in enumerate(toks):
            after_dot = i > 0 and toks[i - 1].string == "."
            if t.type == tokenize.NAME and t.string not in _BUILTINS and not after_dot and t.string not in names:
                names.append(t.string)
    elif lang == "bash":
        for m in re.finditer(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", code):
            if m.group(1) not in names:
                names.append(m.group(1))
    return names


@dataclass
class EditPair:
    """A training pair with what its edit inputs are drawn from."""

    lang: str
    prompt: list[int]  # <lang> + prompt ids
    code: list[int]  # ends with <eos>
    names: list[list[int]]  # ids of each name the gold code uses (context candidates)
    neighbours: list[int]  # indices into the language's example pool, nearest first
    twin: tuple[list[int], list[int]] | None = None  # the pair itself renamed (copy curriculum; `twin_of`)
    twin_names: list[list[int]] | None = None  # the gold names the twin renamed and the prompt does not hold


@dataclass(frozen=True)
class EditMix:
    """How a training pair's example is drawn: the nearest, one of the others, or none."""

    nearest: float = 0.5
    farther: float = 0.3  # the rest: none
    context: float = 0.5  # the share of pairs that read some of their code's names as context
    twin: float = 0.0  # the share that reads its own twin (taken before the others: nearest, farther, none)


def draw_input(pair: EditPair, pool: Sequence[tuple[list[int], list[int]]], mix: EditMix, rng: random.Random,
               sep: int, comma: int) -> list[int]:
    """One training input for a pair: its prompt, a context drawn from its code's names, and an example."""
    if pair.twin is not None and rng.random() < mix.twin:
        # the twin's renamed variables reach the model only through the context: always give them there
        return compose(pair.prompt, join_names(pair.twin_names or [], comma), pair.twin, sep)
    u = rng.random()
    example: tuple[list[int], list[int]] = ([], [])
    if pair.neighbours and u < mix.nearest:
        example = pool[pair.neighbours[0]]
    elif len(pair.neighbours) > 1 and u < mix.nearest + mix.farther:
        example = pool[rng.choice(pair.neighbours[1:])]
    context: list[int] = []
    if pair.names and rng.random() < mix.context:
        context = join_names(rng.sample(pair.names, rng.randint(1, len(pair.names))), comma)
    return compose(pair.prompt, context, example, sep)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Twin:
    """A pair rewritten as a near-duplicate example: its words renamed consistently in prompt and code."""

    prompt: str
    code: str
    hidden: list[str]  # gold names renamed in the code that the prompt does not hold (given as context)


def twin_of(lang: str, prompt: str, code: str, rng: random.Random, vocabulary: Sequence[str]) -> Twin | None:
    """The copy curriculum's example for a pair: the pair itself with (a) the words and numbers its prompt and
    code share renamed in both, and (b, Python) some variables of its code renamed in the code only; None when
    nothing would change. The model reading it must copy the example's shape and take the user's words from
    the prompt and the context: the edit the server asks for, with a known answer."""
    prompt_words = set(_WORD.findall(prompt))
    first_words = {m.group(1) for m in re.finditer(r"(?:^|[|;&]\s*)([A-Za-z_][\w-]*)", code, re.M)}
    shared = [w for w in dict.fromkeys(_WORD.findall(code)) if w in prompt_words and w not in _BUILTINS
              and not (lang == "bash" and w in first_words)
              and (len(w) > 1 or w.isdigit() or re.search(f"[`'\"]{w}[`'\"]", prompt))]
    keywords = set(re.findall(r"[(,]\s*([A-Za-z_]\w*)\s*=(?!=)", code)) if lang == "python" else set()
    shared = [w for w in shared if w not in keywords and re.search(rf"(?<![\w.]){re.escape(w)}(?!\w)", code)]
    variables = [n for n in code_names(lang, code) if n not in prompt_words and n not in keywords] \
        if lang == "python" else []
    renames: dict[str, str] = {}
    for w in shared:
        if rng.random() < 0.8:
            renames[w] = str(rng.randint(0, 200)) if w[0].isdigit() else rng.choice(vocabulary)
    hidden = []
    for n in variables:
        if rng.random() < 0.5:
            renames[n] = rng.choice(vocabulary)
            hidden.append(n)
    renames = {k: v for k, v in renames.items() if k != v}
    if not renames:
        return None
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(renames, key=len, reverse=True))
                         + r")(?![\w])")
    swap = lambda text: pattern.sub(lambda m: renames[m.group(1)], text)  # noqa: E731
    return Twin(swap(prompt), swap(code), [n for n in hidden if n in renames])


def edit_pairs(tok: CodeTokenizer, cfg: ModelConfig, lang: str, pairs: Sequence[object],
               neighbours: list[list[int]], twins: bool = False, seed: int = 0) -> tuple[list[EditPair], int]:
    """Tokenised EditPairs of `Pair`s (anything with .prompt and .code) and their neighbour lists; pairs whose
    code is longer than the language's code length are counted, not kept. twins: each pair also gets its
    `twin_of` example (the copy curriculum)."""
    out, too_long = [], 0
    rng = random.Random(seed)
    vocabulary = sorted({n for p in pairs for n in code_names(lang, p.code)})[:20000] if twins else []  # type: ignore[attr-defined]
    for p, near in zip(pairs, neighbours, strict=True):
        code = tok.encode_code(p.code)  # type: ignore[attr-defined]
        if len(code) > cfg.code_len[lang]:
            too_long += 1
            continue
        names = [name_ids(tok, n) for n in code_names(lang, p.code)]  # type: ignore[attr-defined]
        pair = EditPair(lang, tok.encode_prompt(p.prompt, lang, cfg.max_prompt_len), code,  # type: ignore[attr-defined]
                        [n for n in names if n][:6], near)
        twin = twin_of(lang, p.prompt, p.code, rng, vocabulary) if vocabulary else None  # type: ignore[attr-defined]
        if twin is not None:
            pair.twin = example_ids(tok, cfg, lang, EditSource(twin.prompt, twin.code))
            pair.twin_names = [i for i in (name_ids(tok, n) for n in twin.hidden) if i][:4]
        out.append(pair)
    return out, too_long


def neighbour_table(pool_prompts: Sequence[str], pool_ids: Sequence[str], prompts: Sequence[str],
                    ids: Sequence[str], k: int = NEIGHBOURS) -> list[list[int]]:
    """For each prompt, the indices of its k nearest pool examples (TF-IDF, as the server's retriever without
    sentence embeddings) whose ID differs from its own: what an unseen request's nearest examples look like."""
    from .retrieval import TfidfRetriever

    retriever = TfidfRetriever(pool_prompts, [str(i) for i in range(len(pool_prompts))])
    out = []
    for prompt, own in zip(prompts, ids, strict=True):
        scores = retriever.similarities(prompt)
        order = scores.argsort()[::-1]
        near = [int(i) for i in order[: k + 8] if scores[i] > 0 and pool_ids[int(i)] != own][:k]
        out.append(near)
    return out
