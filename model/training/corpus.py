"""Tokenised training examples and the batch stream the trainer consumes."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import LANGUAGES, ModelConfig
from ..noise.gaussian import Batch
from ..tokenizer import CodeTokenizer
from .data import Pair, cpd_mask, keyword_spans, load_pairs, load_snippets, log


@dataclass
class Example:
    lang: str
    prompt: list[int]
    code: list[int]  # ends with <eos>
    cpd: list[bool] | None = None  # tokens to noise for continuous paragraph denoising


def tokenizer_texts(snippet_limit: int = 40_000) -> Iterator[str]:
    """Text the BPE is trained on: NL and code of every training pair plus a sample of each corpus."""
    for lang in LANGUAGES:
        pairs, _ = load_pairs(lang, "train")
        for p in pairs:
            yield p.prompt
            yield p.code
        yield from load_snippets(lang, limit=snippet_limit)


def pair_examples(tok: CodeTokenizer, cfg: ModelConfig, pairs: list[Pair]) -> tuple[list[Example], int]:
    """Token ids of each pair (those whose code is longer than its language's code length are counted, not
    kept)."""
    out, too_long = [], 0
    for p in pairs:
        code = tok.encode_code(p.code)
        if len(code) > cfg.code_len[p.lang]:
            too_long += 1
            continue
        out.append(Example(p.lang, tok.encode_prompt(p.prompt, p.lang, cfg.max_prompt_len), code))
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
                      mix: Callable[[dict[str, list[Pair]]], dict[str, list[Pair]]] | None = None
                      ) -> dict[str, list[Example]]:
    """The training split's pairs per language, plus `extra` pairs (e.g. mined ones) appended to theirs.
    `mix` maps the training split's pairs per language to the list a language draws from (e.g. the external
    sources repeated to their shares, external.weighted_mix); `extra` is appended after it."""
    by_lang = {}
    split = {lang: load_pairs(lang, "train") for lang in LANGUAGES}
    mixed = mix({lang: pairs for lang, (pairs, _) in split.items()}) if mix else {}
    for lang in LANGUAGES:
        pairs, skipped = split[lang]
        pairs = mixed.get(lang, pairs)
        added = (extra or {}).get(lang, [])
        source = f"{skipped} bad rows skipped"
        if added:
            source += f", {len(added)} extra pairs"
        ex, too_long = pair_examples(tok, cfg, pairs + added)
        log(f"finetune {lang}: {len(ex)} pairs ({source}; {too_long} longer than {cfg.code_len[lang]} tokens)")
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
    for i, e in enumerate(examples):
        prompt[i, : len(e.prompt)] = torch.tensor(e.prompt)
        code[i, : len(e.code)] = torch.tensor(e.code[:length])
        if mask is not None and e.cpd is not None:
            mask[i, : len(e.cpd)] = torch.tensor(e.cpd[:length], dtype=torch.float32)
    return Batch(prompt=prompt, prompt_pad=prompt == cfg.pad_id, code=code, noise_mask=mask)


def mixed_stream(main: Iterator[Batch], extra: Iterator[Batch], extra_prob: float, seed: int) -> Iterator[Batch]:
    """Draw from `extra` with probability extra_prob (pretraining batches kept during fine-tuning)."""
    rng = random.Random(seed)
    while True:
        yield next(extra) if rng.random() < extra_prob else next(main)


def batch_stream(by_lang: dict[str, list[Example]], cfg: ModelConfig, *, batch_size: int, seed: int,
                 lang_weights: dict[str, float], cpd_prob: float = 0.0, rank: int = 0) -> Iterator[Batch]:
    """Endless single-language batches (each padded to its language's code length)."""
    rng = random.Random(seed * 1000 + rank)
    langs = [lang for lang in LANGUAGES if by_lang.get(lang)]
    while True:  # the shares are read at every draw: per-language early stopping changes them during training
        lang = rng.choices(langs, [lang_weights.get(lang, 1.0) for lang in langs])[0]
        examples = rng.sample(by_lang[lang], min(batch_size, len(by_lang[lang])))
        use_cpd = cpd_prob > 0 and rng.random() < cpd_prob
        yield collate(examples, cfg, cfg.code_len[lang], use_cpd)
