"""Edit training: batches whose encoder input holds a retrieved example (model/examples/edit.py), and the
dev loss an edit model is judged by while it trains.

Pairs come from the CodeFusion training split and, optionally, the external sources (external.py); each
batch is one language, each of its rows drawn from a source by the source weights. The example pool is
what the server retrieves from: the CodeFusion training split of that language.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..config import ModelConfig
from ..examples.edit import (
    EditMix,
    EditPair,
    EditSource,
    comma_id,
    draw_input,
    edit_pairs,
    example_ids,
    neighbour_table,
)
from ..networks import MaskedDiffusionNet
from ..noise.gaussian import Batch
from ..tokenizer import CodeTokenizer
from .data import load_pairs, log
from .external import CODEFUSION, by_source, load_external_logged

DEFAULT_SOURCE_WEIGHTS = {"python": {CODEFUSION: 0.5, "pydocs": 0.25, "django": 0.25},
                          "bash": {CODEFUSION: 0.6, "tldr": 0.3, "cheat": 0.07, "eg": 0.03}}
DEFAULT_LANG_WEIGHTS = {"python": 0.5, "bash": 0.5}


@dataclass
class EditCorpus:
    """Per language and source: the tokenised pairs, and the example pool their neighbour indices point into."""

    pool: dict[str, list[tuple[list[int], list[int]]]]  # pool name ("bash/tldr") -> (prompt ids, code ids)
    pairs: dict[str, dict[str, list[EditPair]]]
    pool_of: dict[tuple[str, str], str]  # (language, source) -> its pool's name


def build_corpus(tok: CodeTokenizer, cfg: ModelConfig, langs: list[str], sources: list[str],
                 own_pool: bool = True, twins: bool = False) -> EditCorpus:
    """own_pool: an external row's examples come from its own source (another command of the same tldr page,
    another call of the same module), other row; else from the CodeFusion split, as the server retrieves. The
    CodeFusion rows always read the CodeFusion split (other ID). With the CodeFusion pool for every row, half
    the rows read examples unrelated to them (2026-12-06, docs/experiments.md) and the model learnt to ignore
    examples. twins: each pair also gets its twin (model/examples/edit.py twin_of), the copy curriculum."""
    external = load_external_logged(sources)
    pool: dict[str, list[tuple[list[int], list[int]]]] = {}
    pool_of: dict[tuple[str, str], str] = {}
    pairs: dict[str, dict[str, list[EditPair]]] = {}
    for lang in langs:
        train = load_pairs(lang, "train")[0]
        pairs[lang] = {}
        for source, rows in by_source(train, external.get(lang, [])).items():
            base, name = (rows, f"{lang}/{source}") if own_pool else (train, f"{lang}/{CODEFUSION}")
            if name not in pool:
                pool[name] = [example_ids(tok, cfg, lang, EditSource(p.prompt, p.code)) for p in base]
            pool_of[lang, source] = name
            near = neighbour_table([p.prompt for p in base], [p.id for p in base], [p.prompt for p in rows],
                                   [p.id for p in rows])
            pairs[lang][source], too_long = edit_pairs(tok, cfg, lang, rows, near, twins=twins)
            log(f"edit {lang}/{source}: {len(pairs[lang][source])} pairs ({too_long} too long), "
                f"{sum(bool(n) for n in near)} with a neighbour in {name}, "
                f"{sum(p.twin is not None for p in pairs[lang][source])} with a twin")
    return EditCorpus(pool, pairs, pool_of)


def collate_inputs(inputs: list[list[int]], codes: list[list[int]], cfg: ModelConfig, length: int) -> Batch:
    width = max(len(i) for i in inputs)
    prompt = torch.full((len(inputs), width), cfg.pad_id, dtype=torch.long)
    code = torch.full((len(inputs), length), cfg.pad_id, dtype=torch.long)
    for r, (i, c) in enumerate(zip(inputs, codes, strict=True)):
        prompt[r, : len(i)] = torch.tensor(i)
        code[r, : len(c)] = torch.tensor(c[:length])
    return Batch(prompt=prompt, prompt_pad=prompt == cfg.pad_id, code=code)


def edit_stream(corpus: EditCorpus, tok: CodeTokenizer, cfg: ModelConfig, *, batch_size: int, seed: int,
                lang_weights: dict[str, float], source_weights: dict[str, dict[str, float]],
                mix: EditMix | None = None) -> Iterator[Batch]:
    """Endless single-language batches of edit inputs, rows drawn from sources by their weights."""
    mix = mix or EditMix()
    rng = random.Random(seed)
    langs = [lang for lang in lang_weights if corpus.pairs.get(lang)]
    comma = comma_id(tok)
    while True:
        lang = rng.choices(langs, [lang_weights[lang] for lang in langs])[0]
        sources = [s for s in source_weights.get(lang, {CODEFUSION: 1.0}) if corpus.pairs[lang].get(s)]
        weights = [source_weights.get(lang, {CODEFUSION: 1.0})[s] for s in sources]
        drawn = [(s, rng.choice(corpus.pairs[lang][s])) for s in rng.choices(sources, weights, k=batch_size)]
        inputs = [draw_input(p, corpus.pool[corpus.pool_of[lang, s]], mix, rng, cfg.eos_id, comma) for s, p in drawn]
        yield collate_inputs(inputs, [p.code for _, p in drawn], cfg, cfg.code_len[lang])


@torch.inference_mode()
def edit_dev_loss(net: MaskedDiffusionNet, tok: CodeTokenizer, cfg: ModelConfig, langs: list[str], n: int = 200,
                  seed: int = 0) -> dict[str, dict[str, float]]:
    """Per language, the masked cross-entropy of n dev pairs at masking rates 0.1 … 0.9 (the same masks for every
    model: seeded), reading the nearest training example ("nearest"), reading none ("alone"), and reading their
    own twin ("twin": the pair renamed, its hidden names as context; how well the model copies)."""
    device = next(net.parameters()).device
    out: dict[str, dict[str, float]] = {}
    for lang in langs:
        train, dev = load_pairs(lang, "train")[0], load_pairs(lang, "dev")[0][:n]
        pool = [example_ids(tok, cfg, lang, EditSource(p.prompt, p.code)) for p in train]
        near = neighbour_table([p.prompt for p in train], [p.id for p in train], [p.prompt for p in dev],
                               [p.id for p in dev], k=1)
        pairs, _ = edit_pairs(tok, cfg, lang, dev, near, twins=True, seed=seed)
        gen = torch.Generator().manual_seed(seed)
        comma = comma_id(tok)
        out[lang] = {}
        for name in ("nearest", "alone", "twin"):
            total, count = 0.0, 0.0
            for lo in range(0, len(pairs), 64):
                rows = [p for p in pairs[lo: lo + 64] if name != "twin" or p.twin is not None]
                if not rows:
                    continue
                inputs = [draw_input(p, pool, EditMix(nearest=float(name == "nearest"), farther=0.0, context=0.0,
                                                      twin=float(name == "twin")), random.Random(0), cfg.eos_id, comma)
                          for p in rows]
                batch = collate_inputs(inputs, [p.code for p in rows], cfg, cfg.code_len[lang])
                prompt, pad, code = batch.prompt.to(device), batch.prompt_pad.to(device), batch.code.to(device)
                memory = net.encode(prompt, pad)
                for rate in (0.1, 0.3, 0.5, 0.7, 0.9):
                    masked = (torch.rand(code.shape, generator=gen) < rate).to(device)
                    x = torch.where(masked, net.mask_id, code)
                    logits = net(x, memory, pad, source=prompt).float()
                    ce = F.cross_entropy(logits.transpose(1, 2), code, reduction="none")
                    total += float((ce * masked).sum())
                    count += float(masked.sum())
            out[lang][name] = round(total / max(count, 1.0), 4)
    return out
