"""`codefusion train pretrain|finetune|export`: the two training stages of CodeFusion and the AR baseline."""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from ..ar_baseline import ARNet, ARObjective
from ..config import LANGUAGES, ModelConfig, preset
from ..evaluation.dev_loss import dev_loss, headline
from ..examples.edit import EditMix
from ..modelfile import TOKENIZER_FILE, load_weights, read_config, save_model_dir
from ..networks import CodeFusionNet, MaskedDiffusionNet
from ..noise.gaussian import Batch, GaussianDiffusion, NoiseSchedule
from ..noise.masked import MIN_RATE, LossWeighting, MaskedDiffusion
from ..pipeline import BASELINE_MODEL_DIR, DEFAULT_MODEL_DIR, MASKED_MODEL_DIR
from ..tokenizer import CodeTokenizer
from ..validate import normalize, validate
from .corpus import (
    Example,
    batch_stream,
    finetune_examples,
    load_extra_pairs,
    mixed_stream,
    pretrain_examples,
    tokenizer_texts,
)
from .data import load_pairs, log
from .early_stop import EarlyStopper, copy_best
from .edit_data import DEFAULT_LANG_WEIGHTS, DEFAULT_SOURCE_WEIGHTS, build_corpus, edit_dev_loss, edit_stream
from .external import load_external_logged, weighted_mix
from .from_ar import init_masked_from_ar, masked_config_from_ar
from .trainer import Trainer, TrainerConfig

FINETUNE_WEIGHTS = {"python": 0.35, "bash": 0.4, "cf": 0.25}  # CF has few pairs but short, cheap batches
RUN_ARGS_FILE = "run_args.jsonl"  # one line per start of a run: its step and recipe flags
RECIPE_FLAGS = ("stage", "arch", "kernel", "loss_weighting", "causal_anneal", "mask_rate_min", "pretrain_mix",
                "cpd_prob", "extra_pairs", "batch", "edit", "external", "source_weights", "example_pool",
                "twin", "lr_mult", "train_only")


class DiffusionObjective(nn.Module):
    """forward(batch) -> losses, so the trainer (and DDP) see one module with a loss."""

    def __init__(self, net: nn.Module, diffusion: GaussianDiffusion | MaskedDiffusion):
        super().__init__()
        self.net, self.diffusion = net, diffusion

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.diffusion.training_losses(self.net, batch)  # type: ignore[arg-type]


def build(kind: str, cfg: ModelConfig, weighting: LossWeighting = LossWeighting.INVERSE_T,
          causal_anneal_steps: int = 0, mask_rate_min: float = MIN_RATE) -> tuple[nn.Module, nn.Module]:
    """(network, objective) for a model kind: "diffusion" (the Gaussian kernel), "masked" or "ar"."""
    if kind == "ar":
        ar = ARNet(cfg)
        return ar, ARObjective(ar)
    if kind == "masked":
        masked = MaskedDiffusionNet(cfg)
        kernel = MaskedDiffusion(weighting=weighting, eps=mask_rate_min, causal_anneal_steps=causal_anneal_steps)
        return masked, DiffusionObjective(masked, kernel)
    net = CodeFusionNet(cfg)
    schedule = NoiseSchedule(steps=cfg.diffusion_steps, offset=cfg.schedule_offset)
    diffusion = GaussianDiffusion(schedule=schedule, self_conditioning=cfg.self_conditioning)
    return net, DiffusionObjective(net, diffusion)


def quick_dev_eval(net: nn.Module, cfg: ModelConfig, tok: CodeTokenizer, kind: str, n: int = 24) -> dict:
    """Greedy-ish single candidates on the first n dev prompts of each language: exact match and validity."""
    from ..pipeline import CodeFusionPipeline

    pipe = CodeFusionPipeline.from_parts(net, cfg, tok, kind)
    out = {}
    for lang in LANGUAGES:
        pairs = load_pairs(lang, "dev")[0][:n]
        samples = pipe.sample([p.prompt for p in pairs], lang, k=1, steps=10, method="beam")
        texts = [s[0].text for s in samples]
        exact = sum(normalize(lang, t) == normalize(lang, p.code) for t, p in zip(texts, pairs, strict=True))
        valid = sum(validate(lang, t) for t in texts)
        out[lang] = {"exact": round(exact / len(pairs), 3), "valid": round(valid / len(pairs), 3),
                     "example": texts[0][:80]}
    log(f"dev: {json.dumps(out)}")
    return out


def setup_distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        import torch.distributed as dist

        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        return dist.get_rank(), world
    return 0, 1


def prepare_run(args: argparse.Namespace) -> tuple[ModelConfig, CodeTokenizer, str, Path | None]:
    """Config, tokenizer and the folder to initialise weights from, for a new or resumed run."""
    run: Path = args.run
    run.mkdir(parents=True, exist_ok=True)
    if (run / "config.json").is_file():  # resuming
        kind, cfg = read_config(run)
        return cfg, CodeTokenizer.load(run / TOKENIZER_FILE), kind, None
    overrides = json.loads(args.config_overrides) if args.config_overrides else {}
    if args.init:
        kind, cfg = read_config(args.init)
        tok = CodeTokenizer.load(args.init / TOKENIZER_FILE)
        if kind == "ar" and args.arch == "diffusion" and args.kernel == "masked":  # the AR-to-masked adaptation
            if overrides:
                raise SystemExit("--config-overrides: a masked model adapted from an AR baseline takes its shape")
            kind, cfg = "masked", masked_config_from_ar(cfg)
        if overrides:  # e.g. a new embed_scale for fine-tuning; shapes must still match the weights
            cfg = ModelConfig.from_dict({**cfg.to_dict(), **overrides})
        return cfg, tok, kind, args.init
    vocab = overrides.pop("vocab_size", preset(args.preset).vocab_size)
    if args.tokenizer:
        tok = CodeTokenizer.load(args.tokenizer)
    else:
        t0 = time.time()
        tok = CodeTokenizer.train(tokenizer_texts(), vocab)
        log(f"tokenizer: {tok.vocab_size} tokens trained in {time.time() - t0:.1f}s")
    cfg = preset(args.preset, vocab_size=tok.vocab_size, pad_id=tok.pad_id, eos_id=tok.eos_id, **overrides)
    kind = "masked" if args.arch == "diffusion" and args.kernel == "masked" else args.arch
    return cfg, tok, kind, None


def lang_weights(text: str | None) -> dict[str, float]:
    """--lang-weights: a JSON object of per-language batch shares; unknown languages or bad values fail."""
    if not text:
        return FINETUNE_WEIGHTS
    weights = json.loads(text)
    if not isinstance(weights, dict) or set(weights) - set(LANGUAGES) or any(
            not isinstance(v, (int, float)) or v < 0 for v in weights.values()) or not any(weights.values()):
        raise SystemExit(f"--lang-weights: expected a JSON object of {LANGUAGES} to non-negative numbers, got {text}")
    return {lang: float(weights.get(lang, 0.0)) for lang in LANGUAGES}


def checkpoint_meta(run_dir: Path) -> dict:
    """The run's latest checkpoint's {"step", "elapsed_s"} (the trainer's state.json); {} before the first."""
    path = run_dir / "checkpoint" / "state.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def stream_seed(seed: int, resumed_at: int) -> int:
    """The seed of the batch streams and the noise from step `resumed_at` on: `seed` for a fresh run, a new
    one for each resume. (One seed for all would replay the run's first batches, with the same masks and
    noise, after every resume: the resumed model memorises them, its training loss falls and its dev loss
    rises for ~1,000 steps; seen at every resume of runs/masked-from-arship-anneal.)"""
    return seed if resumed_at == 0 else seed + 1_000_003 * resumed_at


def recipe(args: argparse.Namespace) -> dict:
    """The flags that define what a run trains (not how long or on how many threads), as JSON values."""
    out = {k: str(v.resolve()) if isinstance(v, Path) else v for k, v in vars(args).items() if k in RECIPE_FLAGS}
    out["lang_weights"] = lang_weights(args.lang_weights)
    return out


def record_recipe(args: argparse.Namespace) -> None:
    """Append this start's recipe to the run's run_args.jsonl. A resume whose recipe differs from the last
    start's is refused (a run would otherwise change kernel, data or loss silently) unless --recipe-change
    says the change is meant (a fork); then the change is recorded with the step it starts at."""
    path = args.run / RUN_ARGS_FILE
    now = recipe(args)
    step = checkpoint_meta(args.run).get("step", 0)
    starts = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.is_file() else []
    if starts:
        try:
            last = json.loads(starts[-1])["recipe"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}: its last line is not a recorded start ({exc}); fix or remove it") from exc
        changed = {k: (last.get(k), repr(v)) for k, v in now.items() if last.get(k) != v}
        # a flag the run was started with that this code no longer has (an experiment since moved to a git
        # tag) counts as a change unless it was off: this code would silently train without it
        changed |= {k: (v, "(not in this code)") for k, v in last.items()
                    if k not in now and v not in (None, False, 0, "", [], {})}
        if changed and not args.recipe_change:
            raise SystemExit(f"{args.run}: resuming with a different recipe than its last start: "
                             + "; ".join(f"{k} {a!r} → {b}" for k, (a, b) in changed.items())
                             + " (give the same flags, resume it from the worktree or git tag whose code it was "
                             "started with, or --recipe-change to fork it on purpose)")
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"step": step, "recipe": now}) + "\n")


def run(args: argparse.Namespace) -> int:
    if args.stage == "export":
        return export(args.run, args.out, force=args.force)
    if int(os.environ.get("RANK", "0")) == 0:
        args.run.mkdir(parents=True, exist_ok=True)
        record_recipe(args)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    rank, world = setup_distributed()
    device = torch.device(f"cuda:{rank % max(torch.cuda.device_count(), 1)}" if torch.cuda.is_available() else "cpu")
    cfg, tok, kind, init = prepare_run(args)
    if (args.causal_anneal or args.mask_rate_min != MIN_RATE) and kind != "masked":
        raise SystemExit(f"--causal-anneal and --mask-rate-min apply to the masked kernel only (this run's model "
                         f"is {kind})")
    net, objective = build(kind, cfg, LossWeighting(args.loss_weighting), args.causal_anneal, args.mask_rate_min)
    if init is not None:
        init_kind, init_cfg = read_config(init)
        if init_kind == "ar" and isinstance(net, MaskedDiffusionNet):  # prepare_run made its config from the AR's
            ar = ARNet(init_cfg)
            load_weights(init, ar)
            init_masked_from_ar(net, ar, [tok.lang_ids[lang] for lang in LANGUAGES])
            log(f"initialised from the AR baseline {init} (masked kernel, shifted)")
        else:
            load_weights(init, net, grow=True)  # --config-overrides may lengthen the encoder input
            log(f"initialised from {init}")
    if rank == 0:
        cfg_dict = {"kind": kind, **cfg.to_dict()}
        (args.run / "config.json").write_text(json.dumps(cfg_dict, indent=2) + "\n")
        tok.save(args.run / TOKENIZER_FILE)
    if args.train_only:  # e.g. a new copy head learning to point over the frozen network's states
        fragments = args.train_only.split(",")
        for name, p in net.named_parameters():
            p.requires_grad_(any(f in name for f in fragments))
        log(f"training only {sum(p.numel() for p in net.parameters() if p.requires_grad)} parameters ({fragments})")
    n_params = sum(p.numel() for p in net.parameters())
    log(f"{kind} model: {n_params / 1e6:.2f}M parameters, stage {args.stage}, device {device}")
    objective.to(device)
    cpd_prob = args.cpd_prob if kind == "diffusion" else 0.0  # CPD is a denoising task; the AR LM has none
    stopper: EarlyStopper | None = None
    pre: dict[str, list[Example]] = {}
    resumed_at = checkpoint_meta(args.run).get("step", 0)
    seed = stream_seed(args.seed, resumed_at)
    if seed != args.seed:
        torch.manual_seed(seed)  # the masks and noise too (the init above drew from args.seed; resuming replaces it)
        random.seed(seed)
        log(f"resuming: batch streams and noise seeded {seed} (seed {args.seed}, resumed at step {resumed_at})")
    if args.stage == "pretrain" or args.pretrain_mix > 0:
        pre = pretrain_examples(tok, cfg, limit=args.snippet_limit)
    pre_stream = batch_stream(pre, cfg, batch_size=args.batch, seed=seed, rank=rank, lang_weights={},
                              cpd_prob=cpd_prob) if pre else None
    if args.stage == "pretrain":
        assert pre_stream is not None
        stream = pre_stream
    elif args.edit:
        if not (isinstance(net, MaskedDiffusionNet) and cfg.copy_head and cfg.input_segments >= 4):
            raise SystemExit("--edit trains a masked model with a copy head and 4 input segments: --config-overrides "
                             "'{\"copy_head\": true, \"input_segments\": 4}'")
        shares = json.loads(args.lang_weights) if args.lang_weights else DEFAULT_LANG_WEIGHTS
        corpus = build_corpus(tok, cfg, list(shares), [s for s in args.external.split(",") if s],
                              own_pool=args.example_pool == "own", twins=args.twin > 0)
        stream = edit_stream(corpus, tok, cfg, batch_size=args.batch, seed=seed + rank, lang_weights=shares,
                             source_weights=json.loads(args.source_weights) if args.source_weights
                             else DEFAULT_SOURCE_WEIGHTS, mix=EditMix(twin=args.twin))
    else:
        extra = load_extra_pairs(args.extra_pairs) if args.extra_pairs else None
        mix = None
        if args.external:  # the edit stream's data mix without the examples (the AR baseline on the same data)
            external = load_external_logged([s for s in args.external.split(",") if s])
            weights = json.loads(args.source_weights) if args.source_weights else DEFAULT_SOURCE_WEIGHTS
            mix = functools.partial(weighted_mix, external=external, weights=weights)
        pairs = finetune_examples(tok, cfg, extra, mix=mix)
        shares = lang_weights(args.lang_weights)
        if args.early_stop_patience and rank == 0:
            stopper = EarlyStopper(args.run, shares, args.early_stop_patience, args.early_stop_floor,
                                   keep_best=copy_best(args.run))
        stream = batch_stream(pairs, cfg, batch_size=args.batch, seed=seed, rank=rank, lang_weights=shares)
        if pre_stream is not None:
            stream = mixed_stream(stream, pre_stream, args.pretrain_mix, seed + rank)
    batches = (b.to(device) for b in stream)
    module: nn.Module = objective
    if world > 1:
        module = nn.parallel.DistributedDataParallel(objective)
    def on_eval(step: int) -> dict:
        if args.edit:
            assert isinstance(net, MaskedDiffusionNet)
            edit_losses = edit_dev_loss(net, tok, cfg, ["python", "bash"], n=args.dev_loss_n)
            log(f"edit dev loss at {step}: {json.dumps(edit_losses)}")
            return {"edit_dev_loss": edit_losses}
        out = quick_dev_eval(net, cfg, tok, kind) if not args.no_sample_eval else {}
        if stopper is not None:
            losses = headline(dev_loss(net, cfg, tok, kind, n=args.dev_loss_n, device=device))
            out["early_stop"] = stopper.update(step, losses)
            out["stop_training"] = stopper.all_stopped()
        return out

    tcfg = TrainerConfig(lr=args.lr, max_steps=args.steps, max_minutes=args.minutes, warmup_steps=args.warmup,
                         eval_every=args.eval_every, checkpoint_every=args.checkpoint_every,
                         lr_mult=json.loads(args.lr_mult) if args.lr_mult else {})
    trainer = Trainer(module=module, batches=batches, run_dir=args.run, config=tcfg, is_main=rank == 0,
                      on_eval=on_eval if args.eval_every else None,
                      on_checkpoint=lambda ckpt: export_quietly(args.run, args.snapshot_every),
                      on_step=masked_schedule(objective))
    if trainer.try_resume():
        log(f"resumed at step {trainer.state.step}")
    elif args.snapshot_every:
        trainer.save_checkpoint()  # step 0 (the init's weights) as snapshots/step-0: the curve's first point
    state = trainer.train()
    log(f"done: {state.step} steps in {state.elapsed_s / 60:.1f} min")
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return 0


def masked_schedule(objective: nn.Module) -> Callable[[int], None] | None:
    """The masked kernel's per-step hook (its causal anneal reads the step); None for other kinds."""
    if isinstance(objective, DiffusionObjective) and isinstance(objective.diffusion, MaskedDiffusion):
        return objective.diffusion.set_step
    return None


def network_for(kind: str, cfg: ModelConfig) -> nn.Module:
    """An untrained network of a model folder's kind."""
    return {"ar": ARNet, "masked": MaskedDiffusionNet}.get(kind, CodeFusionNet)(cfg)


def export_quietly(run_dir: Path, snapshot_every: int = 0) -> None:
    """After every checkpoint: a loadable model folder beside it, for monitoring and stage chaining, and
    every `snapshot_every` steps a kept copy in snapshots/step-N (learning curves, bake-offs)."""
    export(run_dir, run_dir / "model", quiet=True)
    step = checkpoint_meta(run_dir)["step"]
    if snapshot_every and step % snapshot_every == 0:
        shutil.copytree(run_dir / "model", run_dir / "snapshots" / f"step-{step}", dirs_exist_ok=True)


SHIPPED_MODEL_DIRS = (DEFAULT_MODEL_DIR, MASKED_MODEL_DIR, BASELINE_MODEL_DIR)
EXPORT_MARK = "training.json"  # written into every export: a folder without it was not made by export()


class ExportRefused(SystemExit):
    """The export would replace a folder it must not: the shipped model without --force, or a folder that
    holds no earlier export."""


def check_export_target(out: Path, force: bool = False) -> None:
    """Refuse a target that export() must not replace; a new folder or an earlier export is fine."""
    if any(out.resolve() == d.resolve() for d in SHIPPED_MODEL_DIRS) and not force:
        raise ExportRefused(f"{out} is a shipped model folder: add --force to replace it")
    if out.exists() and not (out / EXPORT_MARK).is_file():
        raise ExportRefused(f"{out} exists and holds no earlier export (no {EXPORT_MARK}): it is not replaced; "
                            "choose another --out")


def export(run_dir: Path, out: Path, quiet: bool = False, force: bool = False) -> int:
    """Write the run's latest checkpoint as a shippable fp16 model folder. It replaces only an earlier export
    (a folder with training.json), and a shipped model folder only with `force`."""
    check_export_target(out, force)
    tmp = out.with_name(out.name + ".tmp")
    check_export_target(tmp)
    kind, cfg = read_config(run_dir)
    tok = CodeTokenizer.load(run_dir / TOKENIZER_FILE)
    net = network_for(kind, cfg)
    state = load_file(str(run_dir / "checkpoint" / "module.safetensors"))
    net.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.startswith("net.")})
    meta = checkpoint_meta(run_dir)
    if tmp.exists():  # a crashed export's leftover (checked above)
        shutil.rmtree(tmp)
    save_model_dir(tmp, net, cfg, tok, kind=kind, meta={"run": str(run_dir), **meta})
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    if not quiet:
        log(f"exported {kind} model ({sum(p.numel() for p in net.parameters()) / 1e6:.2f}M parameters) to {out}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("stage", choices=["pretrain", "finetune", "export"])
    p.add_argument("--run", "--run-dir", dest="run", type=Path, required=True,
                   help="run folder (checkpoints, metrics.jsonl); resumes")
    p.add_argument("--out", type=Path, help="export: target model folder (new, or an earlier export)")
    p.add_argument("--force", action="store_true", help="export: replace a shipped model folder "
                   "(models/codefusion, models/ar-baseline)")
    p.add_argument("--init", type=Path, help="model folder to start from (e.g. a pretraining run's model/); an AR "
                   "baseline folder with --kernel masked: the masked net adapted from it (model/training/from_ar.py)")
    p.add_argument("--tokenizer", type=Path, help="tokenizer.json to reuse instead of training one")
    p.add_argument("--arch", choices=["diffusion", "ar"], default="diffusion")
    p.add_argument("--kernel", choices=["gaussian", "masked"], default="gaussian",
                   help="diffusion: the noise process of a new run (a resumed run keeps its own)")
    p.add_argument("--loss-weighting", choices=[w.value for w in LossWeighting], default="inverse_t",
                   help="masked kernel: CE of the masked tokens weighted 1/t (the bound) or unweighted")
    p.add_argument("--causal-anneal", type=int, default=0, metavar="STEPS",
                   help="masked kernel: N's attention starts causal and opens to the later positions over STEPS "
                   "steps (DiffuLLaMA; for a net adapted from an AR baseline)")
    p.add_argument("--mask-rate-min", type=float, default=MIN_RATE, metavar="T",
                   help="masked kernel: training masking rates are drawn from [T, 1] (higher: more of the training "
                   "at the rates where sampling starts)")
    p.add_argument("--preset", default="small")
    p.add_argument("--config-overrides", help="JSON object of ModelConfig fields")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--train-only", metavar="FRAGMENTS", help="comma-separated name fragments: only the parameters "
                   "whose name holds one learn (e.g. copy.: a copy head over a frozen network)")
    p.add_argument("--lr-mult", metavar="JSON", help='{"name fragment": multiplier}: those parameters learn at lr × '
                   'multiplier (e.g. {"copy.": 10}: a new copy head beside trained weights)')
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--cpd-prob", type=float, default=0.5, help="pretraining: share of CPD batches")
    p.add_argument("--pretrain-mix", type=float, default=0.0,
                   help="finetune: share of batches still drawn from the pretraining tasks")
    p.add_argument("--lang-weights", help="fine-tuning: JSON share of batches per language, e.g. "
                   f"'{{\"python\": 0.45, \"bash\": 0.35, \"cf\": 0.2}}' (default {json.dumps(FINETUNE_WEIGHTS)})")
    p.add_argument("--extra-pairs", type=Path, help="fine-tuning: a JSONL file of extra {lang, prompt, code} "
                   "training pairs (e.g. scripts/mine_comment_pairs.py's), appended to each language's")
    p.add_argument("--edit", action="store_true",
                   help="fine-tuning: train an edit model (the prompt, context names and a retrieved example in; "
                        "model/examples/edit.py); --lang-weights then names only the languages trained")
    p.add_argument("--external", default="", help="comma-separated external sources to add "
                   "(tldr, cheat, eg, pydocs, django; data/external/)")
    p.add_argument("--example-pool", choices=["own", "codefusion"], default="own",
                   help="--edit: where an external row's examples come from: its own source (default) or the "
                        "CodeFusion split (as the server retrieves; the 2026-12-06 run)")
    p.add_argument("--twin", type=float, default=0.0, metavar="SHARE",
                   help="--edit: the share of rows whose example is their own pair renamed (the copy curriculum; "
                        "the other rows draw nearest/farther/none as 0.5/0.3/0.2)")
    p.add_argument("--source-weights", help="with --external: JSON {lang: {source: share}} of each batch's rows "
                   "('codefusion' is the CodeFusion split itself)")
    p.add_argument("--early-stop-patience", type=int, default=0, metavar="EVALS",
                   help="fine-tuning: per-language early stopping on dev loss, measured at every "
                   "evaluation; a language not better for EVALS evaluations keeps only --early-stop-floor of its "
                   "batch share, its best weights in RUN/snapshots/best-LANG; the run ends when all have stopped "
                   "(0: off)")
    p.add_argument("--early-stop-floor", type=float, default=0.1,
                   help="the share of its batches a stopped language keeps (so that it is not forgotten)")
    p.add_argument("--dev-loss-n", type=int, default=200, help="dev pairs per language for the dev loss")
    p.add_argument("--no-sample-eval", action="store_true",
                   help="skip the sampled dev check (exact/valid of 24 prompts) at each evaluation")
    p.add_argument("--snippet-limit", type=int, default=None)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument("--snapshot-every", type=int, default=0, metavar="N",
                   help="keep the exported model every N steps in RUN/snapshots/step-N, the initial weights of a new "
                   "run as step-0 (0: only the latest)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recipe-change", action="store_true",
                   help="resume with recipe flags (kernel, loss, masking, data, batch …) other than the run's last "
                        "start, on purpose (a fork); recorded in the run's run_args.jsonl")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="codefusion train")
    add_arguments(p)
    args = p.parse_args(argv)
    if args.stage == "export" and args.out is None:
        p.error("export needs --out DIR (a new folder, or an earlier export to replace)")
    if args.causal_anneal < 0:
        p.error(f"--causal-anneal must be ≥ 0, got {args.causal_anneal}")
    if args.init and not (args.init / "config.json").is_file():
        p.error(f"--init {args.init}: not a model folder (no config.json)")
    if args.extra_pairs and not args.extra_pairs.is_file():
        p.error(f"--extra-pairs {args.extra_pairs}: no such file")
    if not 0 < args.mask_rate_min < 1:
        p.error(f"--mask-rate-min must be in (0, 1), got {args.mask_rate_min}")
    if args.early_stop_patience < 0 or not 0.0 <= args.early_stop_floor <= 1.0:
        p.error("--early-stop-patience must be ≥ 0 and --early-stop-floor in [0, 1]")
    if args.early_stop_patience:
        if args.stage != "finetune":
            p.error("--early-stop-patience: for fine-tuning (it reads the dev loss per language)")
        if not args.eval_every or not args.checkpoint_every or args.eval_every % args.checkpoint_every:
            p.error("--early-stop-patience: --eval-every must be a multiple of --checkpoint-every (the best "
                    "weights are copied from the export made at each checkpoint)")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
