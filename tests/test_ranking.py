"""server/ranking.py: validation, deduplication, and one test per ranking rule."""

from __future__ import annotations

from codefusion.model.pipeline import Sample
from codefusion.server.ranking import (
    RANKING_RULES,
    example_beside_its_edit,
    from_an_example_first,
    model_score_first,
    nearer_example_first,
    needs_top_up,
    rank_candidates,
)


def samples(*pairs: tuple[str, float]) -> list[Sample]:
    return [Sample(text, score, []) for text, score in pairs]


def test_rank_drops_invalid_dedupes_and_sorts():
    got = rank_candidates(
        "python",
        samples(
            ("x = (1", -0.1), ("y = 2", -0.9), ("x=1", -0.5), ("x = 1", -0.3), ("", 0.0), ("z = 3", -0.2)
        ),
        k=5,
    )
    assert [c.text for c in got] == ["z = 3", "x = 1", "y = 2"]  # "x=1" is a duplicate of "x = 1"
    assert [c.rank for c in got] == [1, 2, 3]


def test_rank_serves_nothing_when_nothing_parses():
    assert rank_candidates("bash", samples(("if then (", -1.0), ("for do (", -2.0)), k=1) == []
    assert needs_top_up("bash", samples(("if then (", -1.0)), k=1)


def test_top_up_only_when_the_first_k_fall_short():
    assert not needs_top_up("python", samples(("x = 1", -0.1), ("y = 2", -0.2)), k=2)
    assert needs_top_up("python", samples(("x = 1", -0.1), ("x=1", -0.2)), k=2)  # a duplicate
    assert needs_top_up("python", samples(("x = 1", -0.1), ("y = (", -0.2)), k=2)  # one does not parse
    assert needs_top_up("bash", samples(("if then (", -1.0),), k=1)  # nothing parses


def edit(text: str, example_score: float, score: float = -1.0) -> Sample:
    """The model's edit of a training example whose score (nearness) is example_score."""
    return Sample(text, score, [1], seed=f"example of {text}", example_score=example_score)


def example(text: str, example_score: float) -> Sample:
    """A training example itself, served beside the model's edit of it."""
    return Sample(text, 0.0, [], seed=text, unedited=True, example_score=example_score)


def ranked(lang: str, rows: list[Sample], examples_first: bool = False) -> list[str]:
    return [c.text for c in rank_candidates(lang, rows, k=len(rows), examples_first=examples_first)]


def test_the_rules_and_their_order():
    assert RANKING_RULES == (from_an_example_first, nearer_example_first, example_beside_its_edit,
                             model_score_first)


def test_rule_from_an_example_first():
    # a sample from noise with a better model score still ranks after one that started from an example
    rows = [Sample("x = 1", -0.01, [1]), edit("y = 2", 0.05, score=-3.0)]
    assert ranked("python", rows) == ["y = 2", "x = 1"]


def test_rule_nearer_example_first():
    rows = [edit("x = 1", 0.4, score=-0.1), edit("y = 2", 0.9, score=-2.0), edit("z = 3", 0.6)]
    assert ranked("python", rows) == ["y = 2", "z = 3", "x = 1"]  # by nearness, not by the model's score
    # candidates from an example report its score (shown as "match")
    assert [c.score for c in rank_candidates("python", rows, 3)] == [0.9, 0.6, 0.4]


def test_rule_example_before_its_edit_for_examples_first_languages():
    rows = [edit("x = 1 + 0", 0.8), example("x = 1", 0.8), edit("y = 2 + 0", 0.5), example("y = 2", 0.5)]
    assert ranked("python", rows, examples_first=True) == ["x = 1", "x = 1 + 0", "y = 2", "y = 2 + 0"]


def test_rule_edit_before_its_example_otherwise():
    rows = [example("x = 1", 0.8), edit("x = 1 + 0", 0.8), example("y = 2", 0.5), edit("y = 2 + 0", 0.5)]
    assert ranked("python", rows) == ["x = 1 + 0", "x = 1", "y = 2 + 0", "y = 2"]


def test_rule_model_score_among_samples_from_noise():
    rows = [Sample("x = 1", -0.9, [1]), Sample("y = 2", -0.1, [1]), Sample("z = 3", -0.5, [1])]
    assert ranked("python", rows) == ["y = 2", "z = 3", "x = 1"]
    # two edits of one example keep their sampling order, whatever the model's score
    assert ranked("python", [edit("x = 1", 0.7, score=-2.0), edit("y = 2", 0.7, score=-0.1)]) == ["x = 1", "y = 2"]


def test_edit_places_give_the_last_places_to_the_models_edits():
    """seeding.json `edit_places`: the examples as they are take the first k − n places, the model's edits the
    last n; a duplicate of a served example is skipped, and whichever kind runs short leaves its places."""
    rows = [example("a = 1", 0.9), example("b = 2", 0.8), example("c = 3", 0.7), example("d = 4", 0.6),
            edit("e = 5", 0.9), edit("a=1", 0.8), edit("f = 6", 0.7)]
    got = rank_candidates("python", rows, k=4, edit_places=2)
    assert [c.text for c in got] == ["a = 1", "b = 2", "e = 5", "f = 6"]  # "a=1" repeats a served example
    assert [c.rank for c in got] == [1, 2, 3, 4]
    few_edits = rank_candidates("python", [*rows[:4], edit("a=1", 0.9)], k=4, edit_places=2)
    assert [c.text for c in few_edits] == ["a = 1", "b = 2", "c = 3", "d = 4"]
    no_places = rank_candidates("python", rows, k=4)  # the rules alone: each edit right after its example
    assert [c.text for c in no_places] == ["e = 5", "a = 1", "b = 2", "f = 6"]


def test_docstring_bodies_that_read_the_names_it_mentions_come_first():
    """function_bodies: values returned, and a body reading none of the names the docstring mentions (a
    function's parameters) after those that read one; names it does not mention do not reorder."""
    from codefusion.server.ranking import Candidate, function_bodies

    cands = [Candidate("len('a b c'.split())", 0.9, 1), Candidate("len(sentence.split())", 0.8, 2),
             Candidate("x = sentence.count(' ')", 0.7, 3), Candidate("print(other.upper())", 0.6, 4)]
    got = function_bodies(cands, "Count the words in sentence.", ["sentence", "other"])
    assert [c.text for c in got] == ["return len(sentence.split())", "return sentence.count(' ')",
                                     "return len('a b c'.split())", "return other.upper()"]
    assert [c.rank for c in got] == [1, 2, 3, 4]
    unsaid = function_bodies(cands, "Count the words.", ["sentence"])  # no name mentioned: the order stays
    assert [c.text for c in unsaid][0] == "return len('a b c'.split())"


def test_docstring_bodies_read_the_parameters_not_the_examples_names():
    """An example's variable that nothing binds takes a parameter the body does not read yet, whether or not
    the docstring names it; a body still reading a name nothing defines (NameError when called) goes last;
    a name the user's code defines above the function, and a standard-library name (its import comes with
    the candidate), are not undefined."""
    from codefusion.server.ranking import Candidate, function_bodies

    cands = [Candidate("[item for sublist in l for item in sublist]", 0.9, 1),
             Candidate("sorted(a, key=b)", 0.8, 2),
             Candidate("list(chain.from_iterable(a))", 0.7, 3),
             Candidate("[y for x in xs for y in x if y in TABLE]", 0.6, 4)]
    got = function_bodies(cands, "Flatten a list of lists into a single list.", ["xs", "TABLE"], ["xs"])
    assert [c.text for c in got] == ["return [item for sublist in xs for item in sublist]",
                                     "return list(chain.from_iterable(xs))",
                                     "return [y for x in xs for y in x if y in TABLE]",
                                     "return sorted(xs, key=b)"]  # b: no parameter left to bind it to
    assert [c.rank for c in got] == [1, 2, 3, 4]
    two = function_bodies([Candidate("d1.update(other)", 0.9, 1)], "Merge two dicts.", ["a", "b"], ["a", "b"])
    # free variables take the parameters in order; a change in place is made, then what it changed returned
    assert [c.text for c in two] == ["a.update(b)\nreturn a"]


def test_docstring_bodies_that_read_no_parameter_go_after_those_that_read_one():
    """Under `def reverse_words(s)` whose docstring names no parameter, a body that ignores every parameter
    (`'foo'[::-1]`: the example's own data) goes after one that reads `s`; a function without parameters
    keeps the order."""
    from codefusion.server.ranking import Candidate, function_bodies

    cands = [Candidate("'foo'[::(-1)]", 0.9, 1), Candidate("' '.join(reversed(s.split()))", 0.8, 2),
             Candidate("os.getcwd()", 0.7, 3)]
    got = function_bodies(cands, "Reverse the order of words in a sentence.", ["s"], ["s"])
    assert [c.text for c in got] == ["return ' '.join(reversed(s.split()))", "return 'foo'[::(-1)]",
                                     "return os.getcwd()"]
    bare = function_bodies(cands, "Return the working directory.", [], [])
    assert [c.text for c in bare][0] == "return 'foo'[::(-1)]"
