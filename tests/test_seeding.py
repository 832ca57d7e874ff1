"""Example seeding (SDEdit from the nearest training examples): grid, sampler, seeding files, engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from codefusion.model.examples.seeding import SEEDING_FILE, ExampleSeeds, SeedingConfig
from codefusion.model.modelfile import ModelLoadError
from codefusion.model.noise.gaussian import DDIMScheduler, NoiseSchedule
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.server.engine import Engine

EXAMPLES = [
    ("bash", "list all files in the current directory", "ls -a"),
    ("bash", "count lines of every python file", "wc -l *.py"),
    ("bash", "print the working directory", "pwd"),
    ("python", "reverse the list x", "x[::-1]"),
]


def test_grid_starts_at_the_start_step():
    sched = DDIMScheduler(schedule=NoiseSchedule(steps=1200))
    sched.set_timesteps(3, start=300)
    assert sched.timesteps == [300, 150, 0]
    sched.set_timesteps(1, start=40)
    assert sched.timesteps == [40]
    with pytest.raises(ValueError, match="start"):
        sched.set_timesteps(2, start=1200)


@pytest.fixture(scope="module")
def seeded_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seeded") / "model"
    shutil.copytree(tiny_model_dir, out)
    ExampleSeeds.write(out, SeedingConfig({"bash": 0}, steps=1), EXAMPLES)
    return out


def test_seeding_files_round_trip(seeded_dir: Path):
    seeds = ExampleSeeds.from_dir(seeded_dir)
    assert seeds is not None and seeds.config == SeedingConfig({"bash": 0}, 1)
    assert seeds.start_for("bash") == 0 and seeds.start_for("python") is None  # python not listed
    near = seeds.nearest("list the files", "bash", 2)
    assert near[0].code == "ls -a" and near[0].score > 0
    assert seeds.nearest("zzz qqq", "bash", 2) == []  # no shared word: no seed


LIBRARY_ROWS = [("python", "return the square root of x", "x ** 0.5"),
                ("python", "Return the square root of `x`", "math.sqrt(x)", "pydocs"),
                ("python", "sort the list x", "sorted(x)")]


def test_a_source_weight_puts_that_source_after_an_example_as_near(tmp_path: Path):
    """Rows marked with a source (the library reference's) keep it through the files; seeding.json's
    source_weight scales their nearness, so the split's own example that is as near comes first."""
    for weight, first in ((1.0, "math.sqrt(x)"), (0.5, "x ** 0.5")):
        folder = tmp_path / str(weight)
        folder.mkdir()
        ExampleSeeds.write(folder, SeedingConfig({"python": 0}, source_weight={"pydocs": weight}), LIBRARY_ROWS)
        assert json.loads((folder / "examples.jsonl").read_text().splitlines()[1])["source"] == "pydocs"
        assert "source" not in json.loads((folder / "examples.jsonl").read_text().splitlines()[0])
        seeds = ExampleSeeds.from_dir(folder)
        assert seeds is not None and seeds.config.source_weight == {"pydocs": weight}
        near = seeds.nearest("Return the square root of `x`", "python", 2)
        assert [r.code for r in near][0] == first and len(near) == 2
        assert seeds.sources["python"] == ["codefusion", "pydocs", "codefusion"]


def test_docstring_sources_answer_only_docstrings(tmp_path: Path):
    """A source listed in docstring_sources joins the pool for a docstring and never for a comment; the split's
    own examples keep the nearness they had without it (each source its own retriever)."""
    ExampleSeeds.write(tmp_path, SeedingConfig({"python": 0}, docstring_sources=("pydocs",)), LIBRARY_ROWS)
    seeds = ExampleSeeds.from_dir(tmp_path)
    assert seeds is not None and seeds.config.docstring_sources == ("pydocs",)
    prompt = "Return the square root of `x`"
    assert [r.code for r in seeds.nearest(prompt, "python", 3, docstring=True)][0] == "math.sqrt(x)"
    comment = seeds.nearest(prompt, "python", 3)
    assert "math.sqrt(x)" not in [r.code for r in comment] and comment[0].code == "x ** 0.5"
    alone = tmp_path / "alone"
    alone.mkdir()
    ExampleSeeds.write(alone, SeedingConfig({"python": 0}), [r for r in LIBRARY_ROWS if len(r) == 3])
    without = ExampleSeeds.from_dir(alone)
    assert without is not None
    assert [(r.code, r.score) for r in without.nearest(prompt, "python", 3)] == [(r.code, r.score) for r in comment]
    only_library = tmp_path / "only"
    only_library.mkdir()  # a language whose every example answers docstrings only: a comment gets none of them
    ExampleSeeds.write(only_library, SeedingConfig({"python": 0}, docstring_sources=("pydocs",)), LIBRARY_ROWS[1:2])
    seeds = ExampleSeeds.from_dir(only_library)
    assert seeds is not None and seeds.nearest(prompt, "python", 3) == []
    assert [r.code for r in seeds.nearest(prompt, "python", 3, docstring=True)] == ["math.sqrt(x)"]


def test_no_seeding_file_means_no_seeds(tiny_model_dir: Path):
    assert ExampleSeeds.from_dir(tiny_model_dir) is None


@pytest.mark.parametrize(
    "body, match",
    [
        ({"start": {"perl": 3}}, "start"),
        ({"start": {"bash": -1}}, "start"),
        ({"start": {}, "steps": 0}, "steps"),
        ({"start": {}, "examples": "../etc/passwd"}, "examples"),
        ({"start": {}, "source_weight": {"pydocs": 1.5}}, "source_weight"),
        ({"start": {}, "source_weight": ["pydocs"]}, "source_weight"),
        ({"start": {}, "docstring_sources": "pydocs"}, "docstring_sources"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_seeding_json_names_the_problem(seeded_dir: Path, tmp_path: Path, body: object, match: str):
    broken = tmp_path / "model"
    shutil.copytree(seeded_dir, broken)
    (broken / SEEDING_FILE).write_text(json.dumps(body))
    with pytest.raises(ModelLoadError, match=match):
        ExampleSeeds.from_dir(broken)


def test_missing_examples_file_is_named(seeded_dir: Path, tmp_path: Path):
    broken = tmp_path / "model"
    shutil.copytree(seeded_dir, broken)
    (broken / "examples.jsonl").unlink()
    with pytest.raises(ModelLoadError, match="examples.jsonl"):
        ExampleSeeds.from_dir(broken)
    engine = Engine(broken, device="cpu")  # the engine reports it as a load failure, not a crash
    with pytest.raises(Exception, match="examples.jsonl"):
        engine.load()
    assert engine.status()["state"] == "failed" and "examples.jsonl" in engine.status()["error"]


def test_sampler_starts_from_the_init_code(tiny_model_dir: Path):
    pipe = CodeFusionPipeline.from_dir(tiny_model_dir, device="cpu")
    args = {"k": 3, "steps": 1, "seed": 5, "max_tokens": 12}
    a = pipe.sample(["p"], "bash", init_codes=[["ls -a", "pwd"]], start=0, **args)[0]
    b = pipe.sample(["p"], "bash", init_codes=[["ls -a", "pwd"]], start=0, **args)[0]
    assert [s.tokens for s in a] == [s.tokens for s in b]  # deterministic
    noise = pipe.sample(["p"], "bash", **args)[0]
    assert [s.tokens for s in a] != [s.tokens for s in noise]  # the init code changes the start point
    # cycled: candidate 3 starts from the first code again, with the same noise seed as candidate 1
    init = pipe._init_tokens([["ls -a", "pwd"]], 1, 3, 12)
    assert torch.equal(init[0], init[2]) and not torch.equal(init[0], init[1])
    with pytest.raises(ValueError, match="init_codes"):
        pipe.sample(["p", "q"], "bash", init_codes=[["ls"]], start=0, **args)


def test_engine_ranks_seeded_samples_by_example_nearness(seeded_dir: Path):
    engine = Engine(seeded_dir, device="cpu", oversample=1)
    engine.load()
    assert engine.status()["seededLanguages"] == ["bash"]
    rows = engine.sample_batch(["list all the files", "zzz qqq"], "bash", k=3)
    seeded, plain = rows
    # seeded rows carry their example's score (0..1]; the nearest example's row comes first
    assert all(s.example_score is not None and 0 < s.example_score <= 1 for s in seeded)
    assert seeded[0].example_score == max(s.example_score or 0 for s in seeded)
    served = [c.score for c in engine.rank("bash", seeded, 3)]  # served by nearness: the example's score
    assert served and served == sorted(served, reverse=True) and all(0 < x <= 1 for x in served)
    # no example shares a word: sampled from noise, scored by the model
    assert all(s.example_score is None and s.score <= 0 for s in plain)
    unseeded = Engine(seeded_dir, device="cpu", oversample=1, seeding=False)
    unseeded.load()
    assert unseeded.status()["seededLanguages"] == []
    assert all(s.score <= 0 for s in unseeded.sample_batch(["list all the files"], "bash", k=3)[0])


def test_top_ups_start_from_the_next_nearest_examples(seeded_dir: Path):
    engine = Engine(seeded_dir, device="cpu", oversample=2)
    engine.load()
    seeds, pipe = engine._seeds, engine._pipe
    assert seeds is not None and pipe is not None
    order = [r.code for r in seeds.nearest("print the lines of all files", "bash", 3)]
    assert len(order) == 3  # every example shares a word with the prompt
    kwargs = {"k": 2, "seed": 0, "should_stop": None}
    first = engine._first_samples(pipe, ["print the lines of all files"], "bash", kwargs)[0]
    more = engine._first_samples(pipe, ["print the lines of all files"], "bash", kwargs, skip=2)[0]
    assert [s.seed for s in first] == order[:2]
    assert {s.seed for s in more} == {order[2]} and all(s.example_score for s in more)  # one example left
    none_left = engine._first_samples(pipe, ["print the lines of all files"], "bash", kwargs, skip=3)[0]
    assert len(none_left) == 2 and all(s.seed is None and s.example_score is None for s in none_left)  # noise


def test_lang_weights_option():
    from codefusion.model.training.cli import FINETUNE_WEIGHTS, lang_weights

    assert lang_weights(None) == FINETUNE_WEIGHTS
    assert lang_weights('{"python": 1}') == {"python": 1.0, "bash": 0.0, "cf": 0.0}
    for bad in ('{"perl": 1}', '{"python": -1}', '{"python": 0}', "[1]"):
        with pytest.raises(SystemExit, match="--lang-weights"):
            lang_weights(bad)


def test_seeded_candidates_name_their_example(seeded_dir: Path):
    from codefusion.server.lsp.items import lsp_detail, lsp_documentation
    from codefusion.server.ranking import Candidate

    engine = Engine(seeded_dir, device="cpu", oversample=1)
    got = engine.generate("list all the files", "bash", k=3)
    seeded = [c for c in got if c.seed is not None]
    assert seeded and all(c.seed in {code for _, _, code in EXAMPLES} for c in seeded)
    same = Candidate("ls -a", 0.5, 1, seed="ls -a")
    edited = Candidate("ls -la", 0.5, 2, seed="ls -a")
    assert lsp_detail(same) == "CodeFusion #1 (from an example, match 0.50)"
    assert "As in a training example" in lsp_documentation(same, "bash").value
    assert "Rewritten from a training example" in lsp_documentation(edited, "bash").value
    assert lsp_detail(Candidate("ls", -0.25, 3)) == "CodeFusion #3 (score -0.25)"


def test_eval_scores_the_served_seeded_system_apart_from_the_model_alone(seeded_dir: Path):
    from codefusion.server.cli.eval_runs import RunSpec, evaluate

    engines: dict = {}
    seeded, _ = evaluate(RunSpec(lang="bash", system="seeded", model=seeded_dir, limit=4, device="cpu"), engines)
    alone, _ = evaluate(RunSpec(lang="bash", system="diffusion", model=seeded_dir, limit=4, device="cpu"), engines)
    assert seeded["label"] != alone["label"] and "--system seeded" in seeded["command"]
    assert {key[1] for key in engines} == {True, False}  # two engines: seeding on and off
    assert [e.status()["seededLanguages"] for e in engines.values()] in (
        [["bash"], []], [[], ["bash"]])
