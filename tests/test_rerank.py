"""How the nearest examples rank among the served candidates: the model rescoring them (seeding.json
`rerank`), and each example before or after the model's edit of it (`examples_first`)."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import pytest
from codefusion.model.examples.retrieval import Retrieved
from codefusion.model.examples.seeding import SEEDING_FILE, ExampleSeeds, SeedingConfig
from codefusion.model.examples.seeding import main as seeding_main
from codefusion.model.modelfile import ModelLoadError

CF = [("cf", "values greater than 5", "GreaterThan(5)"), ("cf", "values less than 5", "LessThan(5)"),
      ("cf", "values between 5 and 9", "Between(5,9)"), ("cf", "values equal to 5", "EqualTo(5)")]


def _write(folder: Path, config: SeedingConfig) -> ExampleSeeds:
    ExampleSeeds.write(folder, config, CF)
    seeds = ExampleSeeds.from_dir(folder)
    assert seeds is not None
    return seeds


def test_rescored_multiplies_nearness_by_the_models_fit(tmp_path: Path):
    seeds = _write(tmp_path, SeedingConfig({"cf": 100}, rerank={"cf": 1.0}, rerank_step=50))
    assert seeds.config.rerank == {"cf": 1.0} and seeds.config.rerank_step == 50  # written and read back
    assert seeds.rerank_weight("cf") == 1.0 and seeds.rerank_weight("python") == 0.0
    found = [Retrieved("A()", 0.9, 0), Retrieved("B()", 0.8, 1), Retrieved("C()", 0.5, 2)]
    got = seeds.rescored(found, [2.0, 0.1, 0.0], "cf")
    assert [r.code for r in got] == ["B()", "C()", "A()"]  # 0.8·e^-0.1 > 0.5 > 0.9·e^-2
    assert [r.index for r in got] == [1, 2, 0]  # each keeps its example
    assert got[0].score == pytest.approx(0.8 * math.exp(-0.1)) and all(0 < r.score <= 1 for r in got)
    with pytest.raises(ValueError):
        seeds.rescored(found, [0.0], "cf")  # one value per example


def test_keep_first_leaves_the_nearest_first_and_the_fit_orders_the_rest(tmp_path: Path):
    seeds = _write(tmp_path, SeedingConfig({"cf": 100}, rerank={"cf": 1.0}, rerank_keep_first=("cf",)))
    assert seeds.config.rerank_keep_first == ("cf",)  # written and read back
    found = [Retrieved("A()", 0.9, 0), Retrieved("B()", 0.8, 1), Retrieved("C()", 0.5, 2)]
    assert seeds.judged_codes(found, "cf") == ["B()", "C()"]  # the nearest is not judged
    got = seeds.rescored(found, [3.0, 0.0], "cf")
    assert [r.code for r in got] == ["A()", "C()", "B()"]  # A keeps 0.9 though the model doubts it most
    assert got[0].score == 0.9 and got[2].score == pytest.approx(0.8 * math.exp(-3.0))


def test_the_fit_is_judged_on_each_example_as_it_is_for_rerank_as_is(tmp_path: Path):
    prompt = "values greater than 7"
    for as_is, want in (((), ["GreaterThan(7)"]), (("cf",), ["GreaterThan(5)"])):
        seeds = _write(tmp_path, SeedingConfig({"cf": 100}, slots=True, rerank={"cf": 1.0}, rerank_as_is=as_is))
        assert seeds.config.rerank_as_is == as_is
        found = seeds.nearest(prompt, "cf", 1)
        assert found[0].code == "GreaterThan(7)"  # served with the request's literal either way
        assert seeds.judged_codes(found, "cf") == want


def test_seeding_cli_writes_the_rerank_choices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import codefusion.model.training.data as data

    monkeypatch.setattr(data, "load_pairs", lambda lang, split: ([
        data.Pair(f"{lang}-{i}", lang, prompt, code) for i, (lg, prompt, code) in enumerate(CF) if lg == lang], []))
    seeding_main([str(tmp_path), "--semantic-weight", "0", "--rerank", "cf=0.1", "--rerank-as-is", "cf",
                  "--rerank-keep-first", "cf"])
    config = SeedingConfig.read(tmp_path)
    assert config is not None and config.rerank == {"cf": 0.1}
    assert config.rerank_as_is == ("cf",) and config.rerank_keep_first == ("cf",)


@pytest.mark.parametrize("field, value", [
    ("rerank_as_is", "cf"), ("rerank_as_is", ["sql"]), ("rerank_keep_first", {"cf": 1}),
    ("rerank", {"cf": -1}), ("rerank", {"cf": True}), ("rerank", {"sql": 0.2}), ("rerank", {"cf": "0.2"}),
    ("rerank", [0.2]), ("rerank_step", -5), ("rerank_step", 1.5), ("rerank_step", True),
    ("examples_first", "bash"), ("examples_first", ["sql"]),
])
def test_bad_rerank_values_are_named(tmp_path: Path, field: str, value: object):
    _write(tmp_path, SeedingConfig({"cf": 100}))
    config = json.loads((tmp_path / SEEDING_FILE).read_text())
    (tmp_path / SEEDING_FILE).write_text(json.dumps({**config, field: value}))
    with pytest.raises(ModelLoadError, match=f"'{field}'"):
        ExampleSeeds.from_dir(tmp_path)


def test_seeding_cli_rejects_bad_rerank_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    for args in (["--rerank", "cf=-1"], ["--rerank", "cf=x"], ["--rerank", "sql=0.2"], ["--rerank", "cf=nan"],
                 ["--rerank-step", "-1"]):
        with pytest.raises(SystemExit):
            seeding_main([str(tmp_path), *args])
        assert "rerank" in capsys.readouterr().err
    assert not (tmp_path / SEEDING_FILE).exists()  # nothing written


def test_served_examples_follow_the_models_rescoring(tiny_random_model_dir: Path, tmp_path: Path):
    from codefusion.server.engine import Engine

    model = tmp_path / "model"
    shutil.copytree(tiny_random_model_dir, model)
    prompt = "values greater than 7"
    ExampleSeeds.write(model, SeedingConfig({"cf": 100}, steps=1, slots=True, keep_examples=True,
                                            rerank={"cf": 50.0}, rerank_step=300), CF)
    engine = Engine(model, device="cpu", oversample=1)
    engine.load()
    assert engine.status()["exampleRerank"] == {"cf": 50.0}
    seeds, pipe = ExampleSeeds.from_dir(model), engine._pipeline()
    assert seeds is not None
    near = seeds.nearest(prompt, "cf", 10)  # the literals already moved in: 5 -> 7
    ce = pipe.code_ce(prompt, [r.code for r in near], "cf", 300)
    want = [r.code for r in sorted(near, key=lambda r: -r.score * math.exp(-50.0 * ce[near.index(r)]))]
    assert want != [r.code for r in near]  # (the tiny model's judgement differs from nearness here)
    rows = engine.sample_batch([prompt], "cf", k=3)[0]
    assert [s.text for s in rows if s.unedited] == want[:3]  # the kept examples, in the model's order
    assert len([s for s in rows if not s.unedited]) == 3  # and the model's edits of those three
    # without `rerank` the same folder serves the nearness order
    ExampleSeeds.write(model, SeedingConfig({"cf": 100}, steps=1, slots=True, keep_examples=True), CF)
    plain = Engine(model, device="cpu", oversample=1)
    plain.load()
    assert plain.status()["exampleRerank"] == {}
    rows = plain.sample_batch([prompt], "cf", k=3)[0]
    assert [s.text for s in rows if s.unedited] == [r.code for r in near[:3]]


def test_served_examples_keep_the_nearest_first_and_follow_the_model_after_it(tiny_random_model_dir: Path,
                                                                             tmp_path: Path):
    from codefusion.server.engine import Engine

    model = tmp_path / "model"
    shutil.copytree(tiny_random_model_dir, model)
    prompt = "values greater than 7"
    ExampleSeeds.write(model, SeedingConfig({"cf": 100}, steps=1, slots=True, keep_examples=True, rerank={"cf": 50.0},
                                            rerank_step=300, rerank_as_is=("cf",), rerank_keep_first=("cf",)), CF)
    engine = Engine(model, device="cpu", oversample=1)
    engine.load()
    seeds, pipe = ExampleSeeds.from_dir(model), engine._pipeline()
    assert seeds is not None
    near = seeds.nearest(prompt, "cf", 10)
    codes = seeds.judged_codes(near, "cf")  # each example as it is, all but the nearest
    assert len(codes) == len(near) - 1
    ce = pipe.code_ce(prompt, codes, "cf", 300)
    rest = sorted(near[1:], key=lambda r: -r.score * math.exp(-50.0 * ce[near.index(r) - 1]))
    every = pipe.code_ce(prompt, [seeds.retrievers["cf"].codes[r.index] for r in near], "cf", 300)
    moved = sorted(near, key=lambda r: -r.score * math.exp(-50.0 * every[near.index(r)]))
    assert moved[0].code != near[0].code  # (without keep_first the model's judgement would put another first)
    ranks = engine.status()["modelRanks"]
    rows = engine.sample_batch([prompt], "cf", k=3)[0]
    assert [s.text for s in rows if s.unedited] == [near[0].code] + [r.code for r in rest[:2]]
    assert engine.status()["modelRanks"] == ranks + 1  # the request whose examples the model ordered


def test_examples_first_puts_each_example_right_before_the_edit_of_it(tiny_random_model_dir: Path, tmp_path: Path):
    from codefusion.server.engine import Engine

    model = tmp_path / "model"
    shutil.copytree(tiny_random_model_dir, model)
    prompt = "values greater than 7"
    for first, want_example_first in (((), False), (("cf",), True), (("bash",), False)):
        ExampleSeeds.write(model, SeedingConfig({"cf": 100}, steps=1, slots=True, keep_examples=True,
                                                examples_first=first), CF)
        engine = Engine(model, device="cpu", oversample=1)
        engine.load()
        assert engine.status()["examplesFirst"] == list(first)
        rows = engine.sample_batch([prompt], "cf", k=2)[0]
        for example in (s for s in rows if s.unedited):
            edit = next(s for s in rows if not s.unedited and s.seed == example.text)  # the edit of that example
            assert example.example_score == edit.example_score  # right beside it, before the next pair
            other = dataclasses.replace(edit, text="Blanks()")  # an edit that parses and differs
            assert example.text != other.text
            served = engine.rank("cf", [other, example], 2)
            assert (served[0].text == example.text) is want_example_first, first


def test_a_rerank_step_beyond_the_models_schedule_fails_at_load(tiny_random_model_dir: Path, tmp_path: Path):
    from codefusion.server.engine import Engine, EngineNotReady

    model = tmp_path / "model"
    shutil.copytree(tiny_random_model_dir, model)
    ExampleSeeds.write(model, SeedingConfig({"cf": 100}, rerank={"cf": 0.2}, rerank_step=10**6), CF)
    engine = Engine(model, device="cpu")
    with pytest.raises(EngineNotReady, match="rerank_step"):
        engine.load()
    assert engine.status()["state"] == "failed" and "rerank_step" in engine.status()["error"]


def test_a_top_up_batch_reuses_the_rescored_examples(tiny_random_model_dir: Path, tmp_path: Path):
    from codefusion.server.engine import Engine

    model = tmp_path / "model"
    shutil.copytree(tiny_random_model_dir, model)
    ExampleSeeds.write(model, SeedingConfig({"cf": 100}, steps=1, slots=True, keep_examples=True,
                                            rerank={"cf": 0.2}), CF)
    engine = Engine(model, device="cpu", oversample=2)
    engine.load()
    pipe = engine._pipeline()
    calls = []
    original = pipe.code_ce

    def counted(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    pipe.code_ce = counted  # type: ignore[method-assign]
    # 4 examples, k = 5: at most 4 distinct valid candidates unless the tiny model's edits parse; top-up
    rows = engine.sample_batch(["values greater than 7", "values less than 3"], "cf", k=5)
    assert engine.top_ups == 1
    assert all(len(r) > 9 for r in rows)  # 5 edits + 4 examples, then the top-up's
    assert sorted(calls) == ["values greater than 7", "values less than 3"]  # one rescoring per prompt


def test_the_shipped_models_judgement_puts_the_right_comparison_first(shipped_model_dir: Path, tmp_path: Path):
    from codefusion.model.modelfile import read_language_models
    from codefusion.model.validate import normalize
    from codefusion.server.engine import Engine

    prompt = "highlight cells greater than 5"  # nearest by sentence similarity: an example that said "less than 5"
    # the model's order (worded=False: the prompt's wording would put GreaterThan(5) first by itself)
    served = Engine(shipped_model_dir, device="cpu").generate(prompt, "cf", k=5, worded=False)
    assert normalize("cf", served[0].text) == normalize("cf", "GreaterThan(5)"), [c.text for c in served]
    # the same folder without `rerank` leads with the nearest example's rule
    plain = tmp_path / "plain"
    plain.mkdir()
    for f in shipped_model_dir.iterdir():
        if f.name != SEEDING_FILE:
            (plain / f.name).symlink_to(f.resolve())
    for folder in set(read_language_models(shipped_model_dir).values()):  # the model folders beside it
        (tmp_path / folder.name).symlink_to(folder.resolve())
    config = json.loads((shipped_model_dir / SEEDING_FILE).read_text())
    (plain / SEEDING_FILE).write_text(json.dumps({**config, "rerank": {}}))
    unjudged = Engine(plain, device="cpu").generate(prompt, "cf", k=5, worded=False)
    assert normalize("cf", unjudged[0].text) == normalize("cf", "LessThan(5)"), [c.text for c in unjudged]
