"""ServerOptions from initializationOptions / didChangeConfiguration."""

from __future__ import annotations

from codefusion.server.options import MAX_CANDIDATES, ServerOptions, update_options


def test_defaults():
    o = ServerOptions()
    assert (o.numCandidates, o.steps, o.maxTokens, o.device, o.modelPath, o.seed) == (
        5,
        None,
        None,
        "auto",
        "",
        0,
    )
    assert o.enabledLanguages == ["python", "bash"]


def test_nested_and_flat_shapes():
    nested, w1 = update_options(ServerOptions(), {"codefusion": {"numCandidates": 3, "steps": 20}})
    flat, w2 = update_options(ServerOptions(), {"numCandidates": 3, "steps": 20})
    assert nested == flat and nested.numCandidates == 3 and nested.steps == 20 and not w1 and not w2


def test_bad_values_warn_and_keep_previous():
    start = ServerOptions(numCandidates=4)
    o, warnings = update_options(
        start,
        {
            "numCandidates": MAX_CANDIDATES + 1,
            "steps": "ten",
            "maxTokens": True,
            "device": "tpu",
            "enabledLanguages": ["python", "cobol"],
            "colour": "red",
            "seed": -1,
        },
    )
    assert o == start
    assert len(warnings) == 7
    assert any("unknown option 'colour'" in w for w in warnings)
    assert any("numCandidates" in w and "keeping 4" in w for w in warnings)


def test_valid_changes_apply_alongside_bad_ones():
    o, warnings = update_options(
        ServerOptions(),
        {"device": "cpu", "modelPath": "/m", "enabledLanguages": ["bash"], "k": 3, "steps": None},
    )
    assert (o.device, o.modelPath, o.enabledLanguages, o.steps) == ("cpu", "/m", ["bash"], None)
    assert warnings == ["unknown option 'k'"]


def test_non_object_settings():
    o, warnings = update_options(ServerOptions(), ["numCandidates", 3])
    assert o == ServerOptions() and warnings
    assert update_options(ServerOptions(), None) == (ServerOptions(), [])


def test_seed_from_examples_is_a_boolean():
    assert ServerOptions().seedFromExamples is True
    off, warnings = update_options(ServerOptions(), {"seedFromExamples": False})
    assert off.seedFromExamples is False and not warnings
    kept, warnings = update_options(off, {"seedFromExamples": "yes"})
    assert kept.seedFromExamples is False and "seedFromExamples must be true or false" in warnings[0]
