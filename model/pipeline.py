"""Prompt text in, sampled code text out: loads a model folder and runs the right sampler."""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .ar_baseline import ARNet, ar_beam_search, ar_sample
from .config import LANGUAGES, ModelConfig
from .examples.edit import EditSource, edit_input, users_tokens
from .modelfile import ModelLoadError, load_tokenizer, load_weights, read_config, resolve_device
from .networks import CodeFusionNet, MaskedDiffusionNet
from .noise.gaussian import DDIMScheduler, NoiseSchedule, SampleOutput, SamplingCancelled, sample_codes
from .noise.masked import CommitSchedule, correct_tokens, least_sure, sample_masked, through_end, token_logp
from .noise.repair import error_spans, positions_to_remask
from .sample import Sample, is_edit_model
from .shipped import models_dir
from .tokenizer import CodeTokenizer
from .validate import validate

MODELS_DIR = models_dir()
DEFAULT_MODEL_DIR = MODELS_DIR / "codefusion"
BASELINE_MODEL_DIR = MODELS_DIR / "ar-baseline"
MASKED_MODEL_DIR = MODELS_DIR / "codefusion-masked"


def shipped_model_dir(kind: str) -> Path:
    """The shipped model folder of a kernel ("gaussian", "masked") or of the AR baseline ("ar"); the served
    default is models/codefusion, whichever kernel it holds."""
    for path in (DEFAULT_MODEL_DIR, MASKED_MODEL_DIR) if kind in ("gaussian", "masked") else (BASELINE_MODEL_DIR,):
        if (path / "config.json").is_file():
            stored = json.loads((path / "config.json").read_text()).get("kind", "diffusion")
            if {"diffusion": "gaussian"}.get(stored, stored) == kind:
                return path
    raise FileNotFoundError(f"no shipped {kind} model in {MODELS_DIR}; pass --model DIR (e.g. a training run's model/)")
DEFAULT_STEPS = 2  # best dev quality for the shipped model (see models/MODEL_CARD.md)


@dataclass
class MaskedSampling:
    """The masked kernel's sampler settings (a model folder's sampler.json overrides them; picked on dev)."""

    steps: int = 16  # with a threshold: the most steps
    threshold: float | None = None  # commit every position at least this sure each step (None: steps' counts)
    temperature: float = 0.8
    schedule: str = "linear"  # CommitSchedule
    block_length: int = 0  # 0: the whole code at once
    end_confidence: float = 0.5
    repair_rounds: int = 2  # syntax repair: remask what the parser blames and refill, up to this many times
    repair_steps: int = 4

    def __post_init__(self) -> None:
        CommitSchedule(self.schedule)  # a bad name fails when the folder loads, not at the first request

    @classmethod
    def load(cls, model_dir: Path | None) -> MaskedSampling:
        path = model_dir / "sampler.json" if model_dir else None
        if path is None or not path.is_file():
            return cls()
        try:
            return cls(**json.loads(path.read_text()))
        except (TypeError, ValueError) as exc:
            raise ModelLoadError(f"bad sampler settings {path}: {exc}") from exc

__all__ = ["CodeFusionPipeline", "Sample", "ModelLoadError", "SamplingCancelled", "DEFAULT_MODEL_DIR",
           "BASELINE_MODEL_DIR", "DEFAULT_STEPS", "is_edit_model"]


def _set_cpu_threads() -> None:
    # Two cores here: intra-op threads beyond the core count only add contention.
    import os

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


def quantize_linear_layers(net: nn.Module) -> nn.Module:
    """int8 dynamic quantisation (CPU) of the linear layers that run per step; the prompt encoder stays fp32.

    The encoder runs once per request, and nn.TransformerEncoderLayer's fast-path check reads
    `linear1.weight` as a tensor, which a quantised layer no longer has (AttributeError on torch 2.13).
    """
    names = {name for name, m in net.named_modules() if type(m) is nn.Linear and not name.startswith("encoder.")}
    with warnings.catch_warnings():  # torch.ao.quantization warns that it is deprecated in favour of torchao
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.ao.quantization.quantize_dynamic(net, names, dtype=torch.qint8)


class CodeFusionPipeline:
    """A loaded model (diffusion or the AR baseline) with its tokenizer, ready to sample."""

    def __init__(self, net: nn.Module, cfg: ModelConfig, tokenizer: CodeTokenizer, device: torch.device,
                 kind: str, model_dir: Path | None = None):
        self.net, self.config, self.tokenizer, self.device, self.kind = net, cfg, tokenizer, device, kind
        self.model_dir = model_dir
        self.schedule = NoiseSchedule(steps=cfg.diffusion_steps, offset=cfg.schedule_offset)
        self.masked_sampling = MaskedSampling.load(model_dir)
        self.repair_stats = {"sampled": 0, "parsed_raw": 0, "parsed_repaired": 0}
        self.runs = 0  # calls that ran the network to write samples (sample, sample_edits)
        self.judged = 0  # calls that ran the network to judge given codes (code_ce)
        self._lock = threading.Lock()

    @classmethod
    def from_dir(cls, model_dir: str | Path | None = None, device: str = "auto",
                 quantize: bool = False) -> CodeFusionPipeline:
        model_dir = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
        if not model_dir.is_dir():
            raise ModelLoadError(f"model folder not found: {model_dir}")
        kind, cfg = read_config(model_dir)
        tok = load_tokenizer(model_dir, cfg)
        dev = resolve_device(device)
        net: nn.Module = {"diffusion": CodeFusionNet, "masked": MaskedDiffusionNet}.get(kind, ARNet)(cfg)
        load_weights(model_dir, net)
        net.eval()
        if dev.type == "cpu":
            _set_cpu_threads()
            if quantize:
                net = quantize_linear_layers(net)
        else:
            net = net.to(dev).half()
        return cls(net, cfg, tok, dev, kind, model_dir)

    @classmethod
    def from_parts(cls, net: nn.Module, cfg: ModelConfig, tokenizer: CodeTokenizer, kind: str = "diffusion"):
        return cls(net, cfg, tokenizer, next(net.parameters()).device, kind)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def sampler_settings(self) -> dict[str, Any]:
        """What `sample` runs with when it is given no steps: the kernel and its steps (the masked kernel: every
        setting of its folder's sampler.json, defaults where it has none); an AR model has no denoising steps."""
        if self.kind == "masked":
            return {"kernel": "masked", **asdict(self.masked_sampling)}
        if self.kind == "ar":
            return {"kernel": "ar"}
        return {"kernel": self.kind, "steps": DEFAULT_STEPS}

    def _prompts(self, prompts: list[str], lang: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, P) encoder inputs, one per prompt, and their padding."""
        return self._encoder_inputs([self.tokenizer.encode_prompt(p, lang, self.config.max_prompt_len)
                                     for p in prompts])

    def _encoder_inputs(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token id rows padded into one (B, P) tensor on the device, and its padding."""
        width = max(len(r) for r in rows)
        t = torch.full((len(rows), width), self.config.pad_id, dtype=torch.long)
        for r, row in enumerate(rows):
            t[r, : len(row)] = torch.tensor(row)
        t = t.to(self.device)
        return t, t == self.config.pad_id

    def _init_tokens(self, init_codes: Sequence[Sequence[str]], n_prompts: int, k: int, length: int,
                     name: str = "init_codes") -> torch.Tensor:
        """(n_prompts·k, length) token ids of the codes to start from, truncated and padded."""
        if len(init_codes) != n_prompts or any(not codes for codes in init_codes):
            raise ValueError(f"{name} needs a non-empty list of codes for every prompt")
        init = torch.full((n_prompts * k, length), self.config.pad_id, dtype=torch.long)
        for i, codes in enumerate(init_codes):
            for j in range(k):
                ids = self.tokenizer.encode_code(codes[j % len(codes)])[:length]
                init[i * k + j, : len(ids)] = torch.tensor(ids)
        return init

    def sample(self, prompts: list[str], lang: str, *, k: int, steps: int | None = None, seed: int = 0,
               max_tokens: int | None = None, should_stop: Callable[[], bool] | None = None,
               method: str = "diffusion", init_codes: Sequence[Sequence[str]] | None = None,
               start: int | None = None) -> list[list[Sample]]:
        """k samples for each prompt. method: "diffusion", or for the AR baseline "sample" / "beam"
        ("sample-kv": the same sampling with a key/value cache).

        init_codes: for each prompt, codes to start from instead of pure noise (cycled when fewer than k are
        given). Gaussian kernel: noised to step `start` and denoised under the prompt (SDEdit). Masked kernel:
        the `start` per cent of each code's tokens the model is least sure of under the prompt are remasked
        and refilled (`steps` steps).
        """
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
        if not prompts:
            return []
        length = min(max_tokens or self.config.code_len[lang], self.config.max_code_len)
        prompt, pad = self._prompts(prompts, lang)
        self.runs += 1
        with self._lock, torch.inference_mode():
            out: SampleOutput
            net: Any = self.net  # a CodeFusionNet or ARNet (or its int8-quantised copy)
            init = None if init_codes is None or self.kind == "ar" else self._init_tokens(
                init_codes, len(prompts), k, length)
            if self.kind == "masked":
                out = self._sample_masked(net, prompt, pad, lang, k, length, steps, seed, should_stop, init, start)
            elif self.kind == "diffusion":
                out = sample_codes(net, DDIMScheduler(schedule=self.schedule), prompt=prompt, prompt_pad=pad, k=k,
                                   length=length, steps=steps or DEFAULT_STEPS, seed=seed, should_stop=should_stop,
                                   init=init, start=start)
            elif method == "beam":
                out = ar_beam_search(net, prompt=prompt, prompt_pad=pad, k=k, length=length,
                                     should_stop=should_stop)
            else:
                out = ar_sample(net, prompt=prompt, prompt_pad=pad, k=k, length=length, seed=seed,
                                kv_cache=method == "sample-kv", should_stop=should_stop)
        tokens, scores = out.tokens.tolist(), out.scores.tolist()
        result = []
        for i in range(len(prompts)):
            rows = range(i * k, (i + 1) * k)
            result.append([Sample(self.tokenizer.decode(tokens[r]), float(scores[r]), tokens[r]) for r in rows])
        return result

    @property
    def edits(self) -> bool:
        """Whether this is an edit model: it reads a retrieved example and context names (sample_edits)."""
        return is_edit_model(self.kind, self.config)

    def sample_edits(self, prompts: list[str], lang: str, examples: Sequence[Sequence[EditSource | None]], *,
                     k: int, names: Sequence[Sequence[str]] | None = None, steps: int | None = None, seed: int = 0,
                     max_tokens: int | None = None, should_stop: Callable[[], bool] | None = None,
                     init_codes: Sequence[Sequence[str]] | None = None, start: int | None = None,
                     ) -> list[list[Sample]]:
        """k samples per prompt from an edit model: sample j reads examples[i][j] (cycled; None: the model
        writes alone) and the prompt's context names, all k·B rows one batch. init_codes (per prompt, cycled)
        with start: sample j starts from init_codes[i][j] with its `start` % least-sure tokens remasked (an
        anchored edit: the model rewrites what it doubts of the code it reads); else from all-masked."""
        if not self.edits:
            raise ValueError("sample_edits needs an edit model (a masked model with a copy head)")
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
        if len(examples) != len(prompts) or (names is not None and len(names) != len(prompts)):
            raise ValueError("examples (and names) need one entry per prompt")
        if not prompts:
            return []
        length = min(max_tokens or self.config.code_len[lang], self.config.max_code_len)
        rows = []
        for i, prompt in enumerate(prompts):
            own = list(examples[i]) or [None]
            for j in range(k):
                rows.append(edit_input(self.tokenizer, self.config, lang, prompt, names[i] if names else (),
                                       own[j % len(own)]))
        ids, pad = self._encoder_inputs(rows)
        self.runs += 1
        with self._lock, torch.inference_mode():
            net: Any = self.net  # a MaskedDiffusionNet (or its int8-quantised copy)
            init = None if init_codes is None else self._init_tokens(init_codes, len(prompts), k, length)
            keep = None if init is None else users_tokens(init, ids, pad, self.config.eos_id)
            out = self._sample_masked(net, ids, pad, lang, 1, length, steps, seed, should_stop, init, start, keep)
        tokens, scores = out.tokens.tolist(), out.scores.tolist()
        return [[Sample(self.tokenizer.decode(tokens[r]), float(scores[r]), tokens[r]) for r in range(i * k, i * k + k)]
                for i in range(len(prompts))]

    def correct(self, prompts: list[str], lang: str, codes: Sequence[Sequence[str]], *, doubt: float, sure: float,
                sources: Sequence[Sequence[EditSource | None]] | None = None,
                names: Sequence[Sequence[str]] | None = None, seed: int = 0) -> list[list[Sample]]:
        """Each prompt's codes as the model corrects them (noise.masked.correct_tokens: the tokens it doubts,
        p < doubt, replaced where it is sure of another, p >= sure; three forward passes, no sampling), all
        codes one batch. An edit model reads sources[i][j] beside code j (None: nothing) and the names; the
        prompt's and names' own tokens never change. A correction that does not parse where the code did is
        dropped (the code comes back as it was). Sample.score: the mean log p of the code's own tokens."""
        if self.kind != "masked":
            raise ValueError("correct needs a masked model")
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
        if len(codes) != len(prompts) or any(len(x) != len(prompts) for x in (sources, names) if x is not None):
            raise ValueError("codes (and sources, names) need one entry per prompt")
        flat = [(i, code) for i, row in enumerate(codes) for code in row]
        if not flat:
            return [[] for _ in prompts]
        length = min(self.config.code_len[lang], self.config.max_code_len)
        if self.edits:
            rows = [edit_input(self.tokenizer, self.config, lang, prompts[i], names[i] if names else (),
                               sources[i][j] if sources else None)
                    for i, row in enumerate(codes) for j in range(len(row))]
        else:
            rows = [self.tokenizer.encode_prompt(prompts[i], lang, self.config.max_prompt_len) for i, _ in flat]
        ids, pad = self._encoder_inputs(rows)
        init = self._init_tokens([[code] for _, code in flat], len(flat), 1, length).to(self.device)
        self.runs += 1
        with self._lock, torch.inference_mode():
            net: Any = self.net
            keep = users_tokens(init, ids, pad, self.config.eos_id)
            out = correct_tokens(net, prompt=ids, prompt_pad=pad, codes=init, doubt=doubt, sure=sure, keep=keep,
                                 seed=seed)
        scores = out.score.tolist()
        result: list[list[Sample]] = [[] for _ in prompts]
        for r, (i, code) in enumerate(flat):
            tokens = out.tokens[r].tolist()
            text = self.tokenizer.decode(tokens) if out.changed[r].any() else code
            if text != code and not validate(lang, text) and validate(lang, code):
                text, tokens = code, init[r].tolist()
            result[i].append(Sample(text, float(scores[r]), tokens))
        return result

    def _sample_masked(self, net: MaskedDiffusionNet, prompt: torch.Tensor, pad: torch.Tensor, lang: str, k: int,
                       length: int, steps: int | None, seed: int, should_stop: Callable[[], bool] | None,
                       init: torch.Tensor | None = None, start: int | None = None,
                       keep: torch.Tensor | None = None) -> SampleOutput:
        """The masked kernel's candidates, then up to repair_rounds of syntax-repair remasking.
        init (B·k, L): codes to edit, their `start` % least-sure tokens remasked (None: all-masked start)."""
        ms = self.masked_sampling
        settings: dict[str, Any] = dict(temperature=ms.temperature, schedule=CommitSchedule(ms.schedule),
                        end_confidence=ms.end_confidence, threshold=ms.threshold, should_stop=should_stop)
        if init is None:
            out = sample_masked(net, prompt=prompt, prompt_pad=pad, k=k, length=length,
                                steps=steps or ms.steps, seed=seed,
                                block_length=ms.block_length or None, **settings)
        else:
            if start is None or not 0 <= start <= 100:
                raise ValueError(f"the masked kernel edits with start = the per cent of tokens remasked, got {start}")
            init = init.to(prompt.device)
            logp = token_logp(net, prompt=prompt, prompt_pad=pad, codes=init, seed=seed, per_prompt=k)  # (N, L)
            if keep is not None:  # never remasked: counted as sure
                logp = logp.masked_fill(keep.to(logp.device), float("inf"))
            remask = least_sure(logp, init, start / 100, self.config.pad_id)  # (N, L)
            out = sample_masked(net, prompt=prompt, prompt_pad=pad, k=k, length=length, steps=steps or ms.steps,
                                seed=seed, init=init, remask=remask, **settings)
        tokens, scores = out.tokens.clone(), out.scores.clone()
        texts = [self.tokenizer.decode(row) for row in tokens.tolist()]
        ok = [validate(lang, t) for t in texts]
        self.repair_stats["sampled"] += len(texts)
        self.repair_stats["parsed_raw"] += sum(ok)
        for round_ in range(ms.repair_rounds):
            bad = [r for r in range(len(texts)) if not ok[r]]
            if not bad:
                break
            # only the candidates that do not parse are refilled: each its own batch row under its prompt
            init = torch.full((len(bad), length), self.config.pad_id, dtype=torch.long)
            remask = torch.zeros_like(init, dtype=torch.bool)
            for row, r in enumerate(bad):
                ids, offsets = self.tokenizer.encode_code_with_offsets(texts[r])
                ids = [*ids, self.config.eos_id][:length]
                init[row, : len(ids)] = torch.tensor(ids)
                for i in positions_to_remask(offsets, error_spans(lang, texts[r])):
                    if i < length:
                        remask[row, i] = True
                if len(ids) < length:  # the end may move: the code may need more tokens
                    remask[row, len(ids) - 1] = True
            of_prompt = torch.tensor([r // k for r in bad], device=prompt.device)
            fixed = sample_masked(net, prompt=prompt[of_prompt], prompt_pad=pad[of_prompt], k=1, length=length,
                                  steps=ms.repair_steps, seed=seed + 1 + round_, init=init.to(prompt.device),
                                  remask=remask.to(prompt.device), **settings)
            for row, r in enumerate(bad):
                text = self.tokenizer.decode(fixed.tokens[row].tolist())
                if validate(lang, text):
                    tokens[r], texts[r], ok[r] = fixed.tokens[row], text, True
                    scores[r] = fixed.scores[row]
        self.repair_stats["parsed_repaired"] += sum(ok)
        return SampleOutput(tokens=tokens, scores=scores)

    def code_ce(self, prompt: str, codes: Sequence[str], lang: str, step: int, seed: int = 0) -> list[float]:
        """How well the model restores each code under the prompt: the mean cross-entropy of its tokens
        (and <eos>) after noising it to `step` and denoising once (N, then D and H) — lower is a better fit.
        Every code gets the same noise (seeded), so the values compare the codes, not the draws. Codes longer
        than the language's code length are cut to it, as the sampler would. The masked kernel: the mean
        −log p of each token while it is masked (token_logp; `step` is not used). Diffusion models only."""
        if self.kind not in ("diffusion", "masked"):
            raise ValueError("code_ce needs a diffusion model")
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
        if self.kind == "diffusion" and not 0 <= step < self.config.diffusion_steps:
            raise ValueError(f"step must be in [0, {self.config.diffusion_steps}), got {step}")
        if not codes:
            return []
        self.judged += 1
        cfg = self.config
        ids = self._init_tokens([codes], 1, len(codes), cfg.code_len[lang], "codes").to(self.device)  # (N, L)
        prompt_ids, pad = self._prompts([prompt], lang)
        with self._lock, torch.inference_mode():
            net: Any = self.net
            if self.kind == "masked":
                # the padding past every code's end is cut off: it changes each fit a little, not the order dev
                # gets from it (Python and Bash top-1 / 5 unchanged), and saves a fifth to a quarter of the time
                ids = ids[:, : int(through_end(ids, cfg.pad_id).sum(-1).max())]
                logp = token_logp(net, prompt=prompt_ids, prompt_pad=pad, codes=ids, seed=seed, per_prompt=len(codes))
                scored = through_end(ids, cfg.pad_id).float()  # (N, L)
                return (-(logp * scored).sum(-1) / scored.sum(-1).clamp(min=1)).tolist()
            gen = torch.Generator().manual_seed(seed)
            dtype = net.head_scale.dtype
            ctx = net.request_context(net.encode(prompt_ids, pad), pad, len(codes))  # the prompt's K/V, once
            x0 = net.embed_code(ids).to(dtype)  # (N, L, E)
            noise = torch.randn(x0.shape[1:], generator=gen).to(self.device, dtype)  # (L, E): one draw for all
            t = torch.full((len(codes),), step, device=self.device)
            cond = net.timestep_conditions(torch.tensor([step], device=self.device))[0]  # (1, 1, C)
            x0_hat, _ = net.denoise_cached(self.schedule.q_sample(x0, t, noise).to(dtype), cond, ctx, None)
            logits = net.decode_cached(x0_hat, ctx).float()  # (N, L, V): D and H
            ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids, reduction="none")  # (N, L)
            keep = (ids != cfg.pad_id).float()
            return ((ce * keep).sum(-1) / keep.sum(-1).clamp(min=1)).tolist()
