"""Tokenised training examples and the batch stream the trainer consumes."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..config import LANGUAGES, ModelConfig
from ..examples.slots import transfer
from ..noise.gaussian import Batch
from ..tokenizer import CodeTokenizer
from .data import Pair, cpd_mask, keyword_spans, load_pairs, load_snippets, log


@dataclass
class Example:
    lang: str
    prompt: list[int]
    code: list[int]  # ends with <eos>
    cpd: list[bool] | None = None  # tokens to noise for continuous paragraph denoising
    # example_context models: encoder inputs with one nearest other training example each (model/training/context.py)
    contexts: list[list[int]] | None = None
    # example_guess models: code token ids of nearest other training examples, one is N's first guess
    guesses: list[list[int]] | None = None
    guess: list[int] | None = None  # the one chosen for this draw


def tokenizer_texts(snippet_limit: int = 40_000) -> Iterator[str]:
    """Text the BPE is trained on: NL and code of every training pair plus a sample of each corpus."""
    for lang in LANGUAGES:
        pairs, _ = load_pairs(lang, "train")
        for p in pairs:
            yield p.prompt
            yield p.code
        yield from load_snippets(lang, limit=snippet_limit)


CONTEXT_NEIGHBOURS = 5  # the k of served candidates: candidate j reads the j-th nearest example


def pair_examples(tok: CodeTokenizer, cfg: ModelConfig, pairs: list[Pair],
                  starts: bool = False) -> tuple[list[Example], int]:
    """Token ids of each pair, with its nearest other examples where the model reads them (example_context,
    example_guess) or training starts from them (`starts`: their codes with the pair's literals moved in)."""
    neighbours: list[list[int]] = []
    if cfg.example_context or cfg.example_guess or starts:
        from .context import nearest_others

        neighbours = nearest_others(pairs, CONTEXT_NEIGHBOURS)
    out, too_long = [], 0
    for i, p in enumerate(pairs):
        code = tok.encode_code(p.code)
        if len(code) > cfg.code_len[p.lang]:
            too_long += 1
            continue
        contexts = None
        if cfg.example_context:
            contexts = [tok.encode_prompt_with_example(p.prompt, p.lang, cfg.max_prompt_len,
                                                       (pairs[j].prompt, pairs[j].code)) for j in neighbours[i]]
        guesses = None
        if starts:
            guesses = [tok.encode_code(transfer(pairs[j].code, pairs[j].prompt, p.prompt)) for j in neighbours[i]]
        elif cfg.example_guess:
            guesses = [tok.encode_code(pairs[j].code) for j in neighbours[i]]
        out.append(Example(p.lang, tok.encode_prompt(p.prompt, p.lang, cfg.max_prompt_len), code,
                           contexts=contexts, guesses=guesses))
    return out, too_long


def snippet_examples(tok: CodeTokenizer, cfg: ModelConfig, lang: str, limit: int | None) -> list[Example]:
    """Pretraining examples: an empty prompt (just the language tag) and the CPD mask of each snippet."""
    out = []
    prompt = tok.encode_prompt("", lang, cfg.max_prompt_len)
    for text in load_snippets(lang, limit=limit):
        ids, offsets = tok.encode_code_with_offsets(text)
        if len(ids) + 1 > cfg.code_len[lang]:
            continue
        mask = cpd_mask(offsets, keyword_spans(lang, text))
        out.append(Example(lang, prompt, [*ids, tok.eos_id], [*mask, False]))
    return out


def finetune_examples(tok: CodeTokenizer, cfg: ModelConfig, extra: dict[str, list[Pair]] | None = None,
                      starts: bool = False) -> dict[str, list[Example]]:
    """The training split's pairs per language, plus `extra` pairs (e.g. mined ones) appended to theirs;
    `starts`: with their nearest other examples' codes (pair_examples)."""
    by_lang = {}
    for lang in LANGUAGES:
        pairs, skipped = load_pairs(lang, "train")
        added = (extra or {}).get(lang, [])
        ex, too_long = pair_examples(tok, cfg, pairs + added, starts)
        log(f"finetune {lang}: {len(ex)} pairs ({skipped} bad rows skipped, {too_long} longer than "
            f"{cfg.code_len[lang]} tokens{f', {len(added)} extra pairs' if added else ''})")
        by_lang[lang] = ex
    return by_lang


def load_extra_pairs(path: Path) -> dict[str, list[Pair]]:
    """Extra training pairs from a JSONL file of {"lang", "prompt", "code"} objects; bad lines fail, naming
    the file and line."""
    out: dict[str, list[Pair]] = {lang: [] for lang in LANGUAGES}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON ({exc})") from exc
            if not isinstance(row, dict) or row.get("lang") not in LANGUAGES or not all(
                    isinstance(row.get(k), str) and row[k].strip() for k in ("prompt", "code")):
                raise ValueError(f"{path}:{n}: expected {{lang, prompt, code}} with lang in {LANGUAGES}")
            out[row["lang"]].append(Pair(f"extra-{n}", row["lang"], " ".join(row["prompt"].split()), row["code"]))
    return out


def pretrain_examples(tok: CodeTokenizer, cfg: ModelConfig, limit: int | None = None) -> dict[str, list[Example]]:
    by_lang = {}
    for lang in LANGUAGES:
        by_lang[lang] = snippet_examples(tok, cfg, lang, limit)
        log(f"pretrain {lang}: {len(by_lang[lang])} snippets")
    return by_lang


def collate(examples: list[Example], cfg: ModelConfig, length: int, cpd: bool) -> Batch:
    pl = max(len(e.prompt) for e in examples)
    prompt = torch.full((len(examples), pl), cfg.pad_id, dtype=torch.long)
    code = torch.full((len(examples), length), cfg.pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), length)) if cpd else None
    guessing = any(e.guess is not None for e in examples)
    guess = torch.full((len(examples), length), cfg.pad_id, dtype=torch.long) if guessing else None
    has_guess = torch.zeros(len(examples), dtype=torch.bool) if guessing else None
    for i, e in enumerate(examples):
        prompt[i, : len(e.prompt)] = torch.tensor(e.prompt)
        code[i, : len(e.code)] = torch.tensor(e.code[:length])
        if mask is not None and e.cpd is not None:
            mask[i, : len(e.cpd)] = torch.tensor(e.cpd[:length], dtype=torch.float32)
        if guess is not None and has_guess is not None and e.guess is not None:
            guess[i, : min(len(e.guess), length)] = torch.tensor(e.guess[:length])
            has_guess[i] = True
    return Batch(prompt=prompt, prompt_pad=prompt == cfg.pad_id, code=code, noise_mask=mask, guess=guess,
                 has_guess=has_guess)


def mixed_stream(main: Iterator[Batch], extra: Iterator[Batch], extra_prob: float, seed: int) -> Iterator[Batch]:
    """Draw from `extra` with probability extra_prob (pretraining batches kept during fine-tuning)."""
    rng = random.Random(seed)
    while True:
        yield next(extra) if rng.random() < extra_prob else next(main)


PLAIN_PROMPT_SHARE = 0.1  # example_context models: batches' share of prompts without an example


GUESS_SHARE = 0.5  # share of pairs that get a nearest example's code as N's guess (or as their start)


def with_examples(example: Example, rng: random.Random) -> Example:
    """The example with one of its retrieval contexts as its prompt (or the plain prompt, sometimes), and
    one of its neighbours' codes as its guess (for GUESS_SHARE of the draws)."""
    if example.guesses and rng.random() < GUESS_SHARE:
        example = replace(example, guess=rng.choice(example.guesses))
    if not example.contexts or rng.random() < PLAIN_PROMPT_SHARE:
        return example
    return replace(example, prompt=rng.choice(example.contexts))


def batch_stream(by_lang: dict[str, list[Example]], cfg: ModelConfig, *, batch_size: int, seed: int,
                 lang_weights: dict[str, float], cpd_prob: float = 0.0, rank: int = 0) -> Iterator[Batch]:
    """Endless single-language batches (each padded to its language's code length)."""
    rng = random.Random(seed * 1000 + rank)
    langs = [lang for lang in LANGUAGES if by_lang.get(lang)]
    weights = [lang_weights.get(lang, 1.0) for lang in langs]
    while True:
        lang = rng.choices(langs, weights)[0]
        examples = rng.sample(by_lang[lang], min(batch_size, len(by_lang[lang])))
        examples = [with_examples(e, rng) for e in examples]
        use_cpd = cpd_prob > 0 and rng.random() < cpd_prob
        yield collate(examples, cfg, cfg.code_len[lang], use_cpd)
