"""`codefusion probe`: function stubs with a docstring, completed as the editor completes them, run against tests.

Each stub (model/evaluation/docstring_probe.jsonl: `{"id", "stub", "test"}`, written from common one-line
tasks, not from the data) is a `def` line and its docstring; the prompt is read exactly as the language
server reads it at the body line (prompts.extract_prompt: the docstring, and the names the code has, the
parameters first), and the served candidates go through the same body rule (ranking.function_bodies, the
k bodies chosen from DOCSTRING_POOL × k candidates, as the server does). Each
candidate is run as the function's body (after the imports it needs, which the editor adds with it) with the
stub's test in a fresh Python process with a time limit;
pass@k is the share of stubs where one of the first k candidates passes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..engine import Engine, EngineNotReady
from ..prompts import Prompt, PromptKind, def_parameters, extract_prompt, indent_code, missing_imports
from ..ranking import DOCSTRING_POOL, Candidate, function_bodies

PROBE = Path(__file__).resolve().parents[2] / "model" / "evaluation" / "docstring_probe.jsonl"
TIME_LIMIT_S = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="DIR", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--probe", type=Path, default=PROBE, help="JSONL of {id, stub, test}")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--system", choices=("served", "alone", "examples"), default="served",
                        help="served (default), alone (the model without examples), examples (as they are, no model)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file for per-stub candidates and results")
    parser.add_argument("--sections", action="store_true",
                        help="give each one-line docstring Google-style Args:/Returns: sections, as many users write")


def with_sections(stub: str) -> str:
    """A stub whose one-line docstring gets Google-style sections: a blank line, `Args:` with a line per
    parameter and `Returns:` (what many users write under the summary); other stubs unchanged."""
    lines = stub.rstrip("\n").split("\n")
    doc = lines[-1].strip()
    if len(lines) != 2 or not (doc.startswith('"""') and doc.endswith('"""') and len(doc) > 6):
        return stub
    indent = lines[-1][: len(lines[-1]) - len(lines[-1].lstrip())]
    args = "".join(f"{indent}    {p}: the {p}.\n" for p in def_parameters(lines[0]))
    return (f"{lines[0]}\n{indent}{doc[:-3]}\n\n" + (f"{indent}Args:\n{args}\n" if args else "")
            + f"{indent}Returns:\n{indent}    The result.\n{indent}\"\"\"\n")


def passes(stub: str, body: str, test: str, timeout: float = TIME_LIMIT_S) -> bool:
    """Whether `stub` completed with `body` passes `test`, run in a fresh interpreter with a time limit. The
    imports the body needs come first, as the completion's additionalTextEdits add them in the editor."""
    imports = "".join(f"{line}\n" for line in missing_imports(body, stub))
    source = imports + stub + indent_code(body, "    ", first_line_indented=True) + "\n\n" + test + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "probe.py"
        path.write_text(source, encoding="utf-8")
        try:
            done = subprocess.run([sys.executable, "-I", str(path)], cwd=tmp, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def stub_prompt(stub: str) -> Prompt:
    """The prompt the language server reads at the body line under the stub's docstring."""
    lines = stub.rstrip("\n").split("\n")
    prompt = extract_prompt(stub.rstrip("\n") + "\n    ", len(lines), 4, "python")
    if prompt is None:
        raise ValueError(f"no docstring prompt in stub: {stub!r}")
    return prompt


def docstring_stub(text: str) -> Prompt | None:
    """The docstring prompt of `text` when it is a Python function stub (a `def` and its docstring, as the editor
    has it at the body line), else None."""
    try:
        prompt = stub_prompt(text)
    except ValueError:
        return None
    return prompt if prompt.kind is PromptKind.DOCSTRING else None


def served_bodies(engine: Engine, prompt: Prompt, k: int, **generate: Any) -> list[Candidate]:
    """The k function bodies the editor is served under a docstring prompt (chosen from DOCSTRING_POOL × k
    candidates by ranking.function_bodies, as the language server does); `generate`: Engine.generate's
    other settings (steps, seed)."""
    found = engine.generate(prompt.text, "python", k=k * DOCSTRING_POOL, names=prompt.engine_names, docstring=True,
                            **generate)
    return function_bodies(found, prompt.text, prompt.names, prompt.params)[:k]


def candidates_for(engine: Engine, stub: str, k: int) -> list[str]:
    """What the editor is served at the body line under the stub's docstring."""
    return [c.text for c in served_bodies(engine, stub_prompt(stub), k)]


PROBES = ("docstring_probe", "docstring_probe_fresh", "docstring_probe_typed", "docstring_probe_blind2",
          "docstring_probe_heldout")  # built on, written blind, typed as developers type, everyday utilities, seen


def read_probe(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def first_pass(row: dict[str, Any], candidates: list[str]) -> tuple[list[bool], int | None]:
    """Whether each candidate passes the row's test, and the place of the first that does (None: none)."""
    ok = [passes(row["stub"], c, row["test"]) for c in candidates]
    return ok, next((i + 1 for i, good in enumerate(ok) if good), None)


def pass_at(firsts: list[int | None], k: int) -> dict[str, float]:
    """pass@1 / 3 / k (%): the share of stubs whose first passing candidate is within the first n."""
    return {f"pass@{n}": round(100 * sum(1 for f in firsts if f and f <= n) / len(firsts), 1) for n in (1, 3, k)}


def pass_rates(engine: Engine, name: str, k: int = 5) -> list[float]:
    """pass@1 / 3 / k (%) of one of PROBES, each stub completed as the editor completes it."""
    rows = read_probe(PROBE.with_name(f"{name}.jsonl"))
    return list(pass_at([first_pass(row, candidates_for(engine, row["stub"], k))[1] for row in rows], k).values())


def all_rates(engine: Engine) -> dict[str, list[float]]:
    """pass_rates of every one of PROBES (each printed to stderr as it is done)."""
    out = {}
    for name in PROBES:
        out[name] = pass_rates(engine, name)
        print(name, out[name], file=sys.stderr, flush=True)
    return out


def run(args: argparse.Namespace) -> int:
    from .eval_runs import example_finder

    rows = read_probe(args.probe)
    if args.sections:
        rows = [{**row, "stub": with_sections(row["stub"])} for row in rows]
    engine = None
    find = None
    if args.system == "examples":
        from codefusion.model.pipeline import Sample

        from ..engine import default_model_dir
        from ..ranking import rank_candidates

        finder = example_finder(Path(args.model) if args.model else default_model_dir(), "python", args.k * 2, False,
                                docstring=True)

        def find(stub: str) -> list[str]:
            prompt = stub_prompt(stub)
            found = [Sample(r.code, r.score, []) for r in finder(prompt.text)]
            return [c.text for c in function_bodies(rank_candidates("python", found, args.k), prompt.text,
                                                    prompt.names, prompt.params)]
    else:
        engine = Engine(args.model, seeding=args.system == "served")
        try:
            engine.load()
        except EngineNotReady as exc:
            print(f"codefusion probe: cannot load the model: {exc}", file=sys.stderr)
            return 1
    results: list[dict[str, Any]] = []
    for row in rows:
        cands = find(row["stub"]) if find is not None else candidates_for(engine, row["stub"], args.k)  # type: ignore[arg-type]
        ok, first = first_pass(row, cands[: args.k])
        results.append({"id": row["id"], "candidates": cands[: args.k], "passed": ok, "first_pass": first})
        print(f"{row['id']:<20} {'pass@' + str(first) if first else 'fail':<8} {cands[0] if cands else '-'}"[:110],
              file=sys.stderr)
    summary = pass_at([r["first_pass"] for r in results], args.k)
    print(json.dumps({"system": args.system, "stubs": len(results), **summary}))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "results": results}, indent=1) + "\n", encoding="utf-8")
    return 0
