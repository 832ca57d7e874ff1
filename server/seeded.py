"""Samples that start from nearest training examples, as a model folder's seeding.json says (the engine's
sampling step for seeded languages; codefusion.model.examples.seeding). No LSP here."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from codefusion.model.examples.slots import bind_names

if TYPE_CHECKING:
    from codefusion.model.examples.retrieval import Retrieved
    from codefusion.model.examples.seeding import ExampleSeeds
    from codefusion.model.pipeline import CodeFusionPipeline, Sample

Pools = dict[str, tuple[int, list["Retrieved"]]]  # per prompt: the size of its rescored pool, and the pool


def as_they_are(kind: str, start: int) -> bool:
    """Seeded from `start`, a model of this kind serves each example unchanged: a masked model remasking 0 %
    of its tokens (then the model need not run)."""
    return kind == "masked" and start == 0


def seeded_samples(pipe: CodeFusionPipeline, seeds: ExampleSeeds, prompts: list[str], lang: str,
                   kwargs: dict[str, Any], *, start: int, skip: int = 0, pools: Pools | None = None,
                   names: Sequence[Sequence[str]] | None = None, docstring: bool = False) -> list[list[Sample]]:
    """k samples per prompt (kwargs: the pipeline's): where a training example shares a word with the prompt,
    each starts from a nearest example noised to step `start` (SDEdit; candidate j: example j), else from pure
    noise under the prompt alone. A top-up batch (skip = the first batch's k) uses the next nearest examples,
    ranked k+1, k+2, …; prompts that have no more start from pure noise. Each seeded sample carries its
    example's score (server/ranking.py ranks by it); with seeding.json's keep_examples the examples themselves
    join them. names: per prompt, the names the user's code has; a Python example's free variables take those
    the prompt mentions, or under a docstring all in their order (with_names). docstring: the prompts are
    docstrings (ExampleSeeds.nearest)."""
    from codefusion.model.pipeline import Sample

    k = kwargs["k"]
    if pipe.edits and lang in seeds.config.edit:
        return edited_samples(pipe, seeds, prompts, lang, kwargs, skip=skip, docstring=docstring)
    found = [nearest_examples(pipe, seeds, p, lang, skip + k, pools, docstring)[skip:] for p in prompts]
    if names:
        found = [named(seeds, lang, f, own, p, docstring) for f, own, p in zip(found, names, prompts, strict=True)]
    samples: list[list[Sample]] = [[] for _ in prompts]
    seeded = [i for i, f in enumerate(found) if f]
    plain = [i for i, f in enumerate(found) if not f]
    if seeded:
        init_codes = [[r.code for r in found[i]] for i in seeded]
        if as_they_are(pipe.kind, start):  # no token remasked: each edit is its example, no model run
            rows = [[Sample(code, 0.0, pipe.tokenizer.encode_code(code)) for code in (codes * k)[:k]]
                    for codes in init_codes]  # k per prompt, the examples in turn, as the sampler cycles them
        else:
            rows = pipe.sample([prompts[i] for i in seeded], lang,
                               **{**kwargs, "steps": seeds.config.steps, "init_codes": init_codes, "start": start})
        for i, row in zip(seeded, rows, strict=True):
            near = found[i]
            samples[i] = [Sample(s.text, s.score, s.tokens, near[j % len(near)].code,
                                 example_score=near[j % len(near)].score) for j, s in enumerate(row)]
            if seeds.config.keep_examples:  # each example itself beside the model's edit of it
                samples[i] += [Sample(r.code, 0.0, [], r.code, unedited=True, example_score=r.score) for r in near]
    if plain:
        for i, row in zip(plain, pipe.sample([prompts[i] for i in plain], lang, **kwargs), strict=True):
            samples[i] = row
    return samples


def with_names(found: Retrieved, names: Sequence[str], prompt: str, example_prompt: str,
               docstring: bool = False) -> Retrieved:
    """A Python example as served under a request whose code has `names`: its free variables, then its own data
    (the values example_prompt named), take the names the request's prompt mentions (slots.bind_names); under a
    docstring, `names` in their order (Prompt.engine_names: the function's parameters first)."""
    if not names:
        return found
    bindable = names if docstring else mentioned(names, prompt)
    return dataclasses.replace(found, code=bind_names(found.code, bindable, example_prompt))


def named(seeds: ExampleSeeds, lang: str, found: list[Retrieved], names: Sequence[str], prompt: str,
          docstring: bool = False) -> list[Retrieved]:
    """A request's nearest examples as served under its code's `names` (with_names each; Python only)."""
    if lang != "python" or not names:
        return found
    return [with_names(r, names, prompt, seeds.prompts[lang][r.index], docstring) for r in found]


def mentioned(names: Sequence[str], prompt: str) -> list[str]:
    """The names the prompt's words hold ("Return the last element of the list xs" under `def last_item(xs)`):
    an example's variables take only those, not whatever the code above happens to assign."""
    return [n for n in names if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", prompt)]


def nearest_examples(pipe: CodeFusionPipeline, seeds: ExampleSeeds, prompt: str, lang: str, n: int,
                     pools: Pools | None = None, docstring: bool = False) -> list[Retrieved]:
    """The n nearest examples, best first; where seeding.json says `rerank`, the nearest pool is reordered
    by the model's fit to each under the prompt (ExampleSeeds.rescored).
    pools: the rescored pools of this request's prompts, so that its top-up batch does not rescore."""
    if not seeds.rerank_weight(lang):  # (seeds are only loaded beside a diffusion model)
        return seeds.nearest(prompt, lang, n, docstring=docstring)
    size = seeds.pool(n)
    if pools is not None and prompt in pools and pools[prompt][0] >= size:
        return pools[prompt][1][:n]
    found = seeds.nearest(prompt, lang, size, docstring=docstring)
    ce = pipe.code_ce(prompt, seeds.judged_codes(found, lang), lang, seeds.config.rerank_step)
    rescored = seeds.rescored(found, ce, lang)
    if pools is not None:
        pools[prompt] = (size, rescored)
    return rescored[:n]


EDIT_KWARGS = ("k", "steps", "seed", "max_tokens", "should_stop")  # what sample_edits takes of the engine's kwargs


def edit_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The engine's sampling kwargs that CodeFusionPipeline.sample_edits takes (not names, method, init)."""
    return {key: v for key, v in kwargs.items() if key in EDIT_KWARGS}


def edited_samples(pipe: CodeFusionPipeline, seeds: ExampleSeeds, prompts: list[str], lang: str,
                   kwargs: dict[str, Any], *, skip: int = 0, docstring: bool = False) -> list[list[Sample]]:
    """k samples per prompt from an edit model: sample j is its edit of the (skip + j)-th example as served
    (read as it is, with its prompt, and the request's context names, kwargs["names"]), written from all-masked
    or, with seeding.json's edit_start, from that example as served (and reading it) with its least-sure
    tokens remasked; a prompt with no example sharing a word gets k samples the model writes alone. With
    keep_examples, the examples as served (with slots) join, ranked by server/ranking.py."""
    from codefusion.model.examples.edit import EditSource
    from codefusion.model.pipeline import Sample

    k = kwargs["k"]
    names = list(kwargs.get("names") or [()] * len(prompts))
    found = [seeds.edit_sources(p, lang, skip + k, docstring=docstring)[skip:] for p in prompts]
    if lang == "python":  # as served: a Python example's free variables take the names the prompt mentions
        found = [[(with_names(r, own, q, src.prompt, docstring), src) for r, src in f]
                 for f, own, q in zip(found, names, prompts, strict=True)]
    start = seeds.config.edit_start.get(lang)
    rows: list[list[Sample]] = [[] for _ in prompts]
    # anchored edits (seeding.json's edit_start) start from the served examples, the others from all-masked
    anchored = [i for i, f in enumerate(found) if f] if start else []
    for idx, init in ((anchored, True), ([i for i in range(len(prompts)) if i not in anchored], False)):
        if idx:
            # an anchored edit reads the code it starts from (the example as served) so that its copy head's
            # alignment points at the very token each position holds; a free one reads the example as it is
            read = [[EditSource(src.prompt, r.code) if init else src for r, src in found[i]] or [None] for i in idx]
            out = pipe.sample_edits([prompts[i] for i in idx], lang, read,
                                    names=[names[i] for i in idx], **edit_kwargs(kwargs),
                                    init_codes=[[r.code for r, _ in found[i]] for i in idx] if init else None,
                                    start=start if init else None)
            for i, row in zip(idx, out, strict=True):
                rows[i] = row
    samples: list[list[Sample]] = []
    for i, row in enumerate(rows):
        near = [r for r, _ in found[i]]  # as served: an edit ranks beside its example with the example's score
        out = [Sample(s.text, s.score, s.tokens, near[j % len(near)].code if near else None,
                      example_score=near[j % len(near)].score if near else None) for j, s in enumerate(row)]
        if seeds.config.keep_examples:
            out += [Sample(r.code, 0.0, [], r.code, unedited=True, example_score=r.score) for r in near]
        samples.append(out)
    return samples
