"""Prompt slots: literals found in prompts and moved from a retrieved example's code to a new prompt's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from codefusion.model.examples.seeding import SEEDING_FILE, ExampleSeeds, SeedingConfig
from codefusion.model.examples.slots import Slot, prompt_slots, transfer
from codefusion.model.modelfile import ModelLoadError


def test_prompt_slots_finds_quoted_backticked_and_numbers():
    got = prompt_slots("split string `s` on \",\" and keep the first 3 parts of 'data.txt'")
    assert got == [Slot("s", "text"), Slot(",", "text"), Slot("data.txt", "text"), Slot("3", "number")]
    assert prompt_slots("don't sort the list's items") == []  # apostrophes inside words are not quotes
    assert prompt_slots("values above -2.5 or 10") == [Slot("-2.5", "number"), Slot("10", "number")]
    assert prompt_slots("convert utf8 to latin1 in cell A1") == []  # digits inside words are not numbers


def test_prompt_slots_finds_unquoted_paths_variables_globs_and_file_names():
    got = prompt_slots("copy *.py files from ~/src and $LOGDIR to /var/backups, then pack them into out.tar.gz.")
    assert [(s.value, s.kind) for s in got] == [("*.py", "path"), ("~/src", "path"), ("$LOGDIR", "path"),
                                                ("/var/backups", "path"), ("out.tar.gz", "path")]
    # a number inside a path is not a number slot; a sentence's final period is not part of a file name
    assert prompt_slots("list 10 files in /tmp/x2") == [Slot("/tmp/x2", "path"), Slot("10", "number")]
    assert prompt_slots("print the first line of notes.txt.") == [Slot("notes.txt", "path")]
    assert prompt_slots("e.g. sort and/or count the lines") == []  # no extension, no leading slash


# the training example the README's first prompt retrieves (models/codefusion/examples.jsonl)
WALK = ("for (dirname, dirnames, filenames) in os.walk('.'):\n    for subdirname in dirnames:\n"
        "        print(os.path.join(dirname, subdirname))\n    for filename in filenames:\n        pass")
ROUND = "round the number `price` to 2 decimal places"


@pytest.mark.parametrize(
    "code, example, prompt, want",
    [
        # a bare name, and a string literal keeping the code's own quotes
        ("os.path.split(os.path.abspath(existGDBPath))", "path of file `existGDBPath`", "path of file `p`",
         "os.path.split(os.path.abspath(p))"),
        ("'test string\\n'.rstrip()", 'strip string "test string\\n"', "strip string 'abc '", "'abc '.rstrip()"),
        # whole words only: `lst` does not touch `lst2` or `blst`
        ("lst + lst2 + blst", "join `lst`", "join `xs`", "xs + lst2 + blst"),
        # all at once: swapping two values does not feed one replacement into the other
        ("f(a, b)", "call with `a` and `b`", "call with `b` and `a`", "f(b, a)"),
        # numbers pair with numbers, texts with texts, in order; extra slots on either side are left
        ("=A1>50", "cells in A above 50", "cells in A above 75 and below 90", "=A1>75"),
        ("x[:3]", "first 3 of `x`", "first 7 items", "x[:7]"),
        ("print(1)", "print something", "print `y`", "print(1)"),
        # slots pair by the word before them first ("list `x`" with "list `y`"), then in order
        ("any(x in lelist for x in lestring)", "check if any item of list `lelist` is in string `lestring`",
         "check if string `s` contains any item of list `items`", "any(x in items for x in s)"),
        # the request names more values than the example quoted: the example's unquoted literals count too
        ("TextEquals(CoAd)", "highlight cells containing CoAd", 'color cells that contain "overdue"',
         "TextEquals(overdue)"),
        ("df['Gender']", "select column Gender of df", "select column `Age` of df", "df['Age']"),
        ("sort(reverse=True)", "sort it descending", "sort `xs`", "sort(reverse=True)"),  # no literal: kept
        # unquoted paths, globs and variables (NL2Bash) pair with each other, by role word then in order
        ("find /var -iname \\*.log | xargs bzip2", "Compress .log files in /var and below",
         "Compress files in /home/me/logs", "find /home/me/logs -iname \\*.log | xargs bzip2"),
        ("find . -name '*.txt' -mtime +7", "find *.txt files older than 7 days", "find *.py files older than 3 days",
         "find . -name '*.py' -mtime +3"),
        ("find $LOGDIR -type d", "directories under $LOGDIR", "directories under ~/projects",
         "find ~/projects -type d"),
        # whole literals only: a value that is punctuation, one character or a common word never replaces
        # characters inside names, operators or longer strings (it served `ospathwalk('path')` before 0.2.0)
        (WALK, 'list all files in directory "."', "get the list of files in directory `path`",
         WALK.replace("'.'", "'path'")),
        ("x.split('.')[-1] + '.'", 'split `x` on "."', 'split `x` on "-"', "x.split('-')[-1] + '-'"),
        ("find . -name '*.txt'", 'find *.txt files in "."', 'find *.txt files in "src"', "find src -name '*.txt'"),
        ("'{:.2f}'.format(x) + '.'", 'append "." to `x` rounded', 'append "!" to `x` rounded',
         "'{:.2f}'.format(x) + '!'"),
        ("re.findall('\\s+|\\S+', s)", "split string `s` based on white spaces", "split string `text` on white spaces",
         "re.findall('\\s+|\\S+', text)"),
        ("max(a, key=abs) + a_b", "largest of list `a`", "largest of list `xs`", "max(xs, key=abs) + a_b"),
        ("df['name'].str.contains('first name')", "column 'name' of `df`", "column 'title' of `df`",
         "df['title'].str.contains('first name')"),
        ("os.path.dirname(path)", "get the directory name of `path`", "get the directory name of `p`",
         "os.path.dirname(p)"),  # the attribute `os.path` is not the name `path`
        ("x * 1.5 + 5", "multiply `x` by 1.5 and add 5", "multiply `x` by 2.5 and add 7", "x * 2.5 + 7"),
        # the same value as a `name` and as a quoted value: the quoted one takes the literal, the name the name
        ("s.split('s')", "split string `s` by letter 's'", 'split string `s` on "-"', "s.split('-')"),
        # a name from the request takes the place of the value with the same role word ("number 8.005"); the
        # number pairs with the number (it doubled to `round(2, 2)` before 0.2.0)
        ("round(8.005, 2)", "round number 8.005 up to 2 decimal places", ROUND, "round(price, 2)"),
        ("round(1.0005, 3)", "round number 1.0005 up to 3 decimal places", ROUND, "round(price, 2)"),
        ("round(value, significantDigit)", "round number `value` up to `significantDigit` decimal places", ROUND,
         "round(price, significantDigit)"),
    ],
)
def test_transfer(code: str, example: str, prompt: str, want: str):
    assert transfer(code, example, prompt) == want


@pytest.mark.parametrize(
    "code, example, prompt, want",
    [
        # a quoted value where the example's code has a name is a string in Python
        ("(s.lower() == t.lower())", "compare string `s` with string `t` ignoring case",
         "compare string 'fooxyzbar' with string 'XYZ' ignoring case", "('fooxyzbar'.lower() == 'XYZ'.lower())"),
        ("del lol[key]", "delete key `key` from dictionary `lol`", 'delete key "hello" from dictionary `lol`',
         "del lol['hello']"),
        # never a keyword argument or an expression: 'key=value' is data (served `list(key=sep.items())` before)
        ("list(d.items())", "items of dictionary `d`", "items of dictionary 'key=value'", "list('key=value'.items())"),
        # CoNaLa quotes variables too: a short identifier, or one after a word like "list", stays a name
        ("a.insert(0, 'x')", "insert 'x' at the front of list `a`", "insert 'hello' at the front of list 'b'",
         "b.insert(0, 'hello')"),
        ("random.choice(xs)", "a random item of list `xs`", "a random word from word list 'words'",
         "random.choice(words)"),
        # a `backticked` value is code unless it reads as none (text with spaces, a bare tuple)
        ("os.rename(src, dst)", "rename `src` to `dst`", "Rename a folder `Joe Blow` to `Blow, Joe`",
         "os.rename('Joe Blow', 'Blow, Joe')"),
        ("df[col].mean()", "mean of column `col` of `df`", "mean of column `data['a']` of `df`",
         "df[data['a']].mean()"),
        # inside a literal a value stays a value, and other languages keep bare words
        ("open('a.txt')", "open file 'a.txt'", "open file 'my notes.txt'", "open('my notes.txt')"),
    ],
)
def test_transfer_python_strings(code: str, example: str, prompt: str, want: str):
    assert transfer(code, example, prompt, "python") == want


def test_transfer_shell_words_stay_bare():
    assert transfer("grep foo log", "search for `foo` in log", "search for 'bar' in log", "bash") == "grep bar log"


@pytest.mark.parametrize("prompt, wrong, right", [
    ("get the list of files in directory `path`", "ospath", "listdir(path)"),
    (ROUND, "round(2, 2)", "round(price, 2)"),
])
def test_served_candidates_carry_whole_literals(shipped_model_dir: Path, prompt: str, wrong: str, right: str):
    """The README's first prompt and a rounding prompt, through `codefusion complete` as a user runs it."""
    import subprocess
    import sys

    from codefusion.model.validate import validate

    run = subprocess.run([sys.executable, "-m", "codefusion.server.cli.main", "complete", "--lang", "python", "--json",
                          "--model", str(shipped_model_dir), prompt], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    texts = [c["text"] for c in json.loads(run.stdout)["candidates"]]
    assert texts and all(validate("python", t) for t in texts), texts
    assert not any(wrong in t for t in texts) and any(right in t for t in texts), texts
    # a walk example that joins paths keeps `os.path.join` whole (served order depends on the judging model)
    assert all("os.path.join" in t for t in texts if "os.walk" in t and "join(" in t), texts


def test_served_shell_commands_have_plain_quotes(tmp_path: Path):
    """A training example pasted with typographic quotes is served with plain ones (and still parses)."""
    rows = [("bash", "delete all files ending in .old", "find . -name “*.old” -delete"),
            ("bash", "list files", "ls -la")]
    ExampleSeeds.write(tmp_path, SeedingConfig({"bash": 0}, steps=1, slots=True), rows)
    seeds = ExampleSeeds.from_dir(tmp_path)
    assert seeds is not None
    got = seeds.nearest("delete the files ending in .old", "bash", 1)
    assert [r.code for r in got] == ['find . -name "*.old" -delete']


EXAMPLES = [("python", "remove trailing newline in string 'a b\\n'", "'a b\\n'.rstrip()"),
            ("python", "reverse the list `x`", "x[::-1]")]


def _seeds(tmp_path: Path, slots: bool) -> ExampleSeeds:
    out = tmp_path / ("slots" if slots else "plain")
    out.mkdir()
    ExampleSeeds.write(out, SeedingConfig({"python": 0}, steps=1, slots=slots), EXAMPLES)
    seeds = ExampleSeeds.from_dir(out)
    assert seeds is not None and seeds.config.slots is slots  # written and read back
    return seeds


def test_seeds_carry_the_request_literals_when_the_config_says_so(tmp_path: Path):
    prompt = "remove trailing newline in string 'hello\\n'"
    assert [r.code for r in _seeds(tmp_path, True).nearest(prompt, "python", 1)] == ["'hello\\n'.rstrip()"]
    assert [r.code for r in _seeds(tmp_path, False).nearest(prompt, "python", 1)] == ["'a b\\n'.rstrip()"]


def test_bad_slots_value_is_named(tmp_path: Path):
    seeds_dir = tmp_path / "m"
    seeds_dir.mkdir()
    ExampleSeeds.write(seeds_dir, SeedingConfig({"python": 0}), EXAMPLES)
    body = json.loads((seeds_dir / SEEDING_FILE).read_text())
    (seeds_dir / SEEDING_FILE).write_text(json.dumps({**body, "slots": "yes"}))
    with pytest.raises(ModelLoadError, match="slots"):
        ExampleSeeds.from_dir(seeds_dir)


def test_seeds_keep_the_example_code_when_the_moved_literal_would_not_parse(tmp_path: Path):
    seeds = _seeds(tmp_path, True)
    # the new value closes the example's quotes early: the example's code is kept as it was
    assert [r.code for r in seeds.nearest("remove trailing newline in string \"it's\"", "python", 1)] == [
        "'a b\\n'.rstrip()"]


BASH = [("bash", "show the first 3 lines of 'notes.txt'", "head -n 3 notes.txt"),
        ("bash", "count the lines of 'a.log'", "wc -l a.log")]


def test_served_examples_carry_the_literals_and_stand_beside_the_edits(tiny_model_dir: Path, tmp_path: Path):
    import shutil

    from codefusion.server.cli.eval_runs import RunSpec, evaluate
    from codefusion.server.engine import Engine

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    ExampleSeeds.write(model, SeedingConfig({"bash": 200}, steps=1, slots=True, keep_examples=True), BASH)
    engine = Engine(model, device="cpu", oversample=1)
    engine.load()
    assert engine.status()["exampleSlots"] is True and engine.status()["keepExamples"] is True
    rows = engine.sample_batch(["show the first 10 lines of 'todo.md'"], "bash", k=2)[0]
    edits, kept = [s for s in rows if not s.unedited], [s for s in rows if s.unedited]
    assert len(edits) == 2 and not any(s.tokens == [] for s in edits)  # the (random) model's own samples
    assert kept[0].text == "head -n 10 todo.md" and kept[0].seed == kept[0].text  # literals moved in
    assert kept[0].example_score == edits[0].example_score  # beside the model's edit of it (ranking.py)
    served = engine.generate("show the first 10 lines of 'todo.md'", "bash", k=5)
    assert "head -n 10 todo.md" in [c.text for c in served]  # a tiny random model's edits rarely parse
    # eval: the examples with their literals moved, alone as a system; the seeded system's raw samples exclude
    # the kept examples
    result, preds = evaluate(RunSpec(lang="bash", system="slots", model=model, limit=3, device="cpu"))
    assert result["label"] == "Nearest examples + slot rewrite (no model)" and len(preds) == 3
    assert all(set(p.served) <= set(p.raw) for p in preds)  # served from the retrieved examples themselves
    _, seeded = evaluate(RunSpec(lang="bash", system="seeded", model=model, limit=3, device="cpu"), {})
    # k = 5 samples each (10 when topped up), none of them the 2 examples served beside them
    assert all(len(p.raw) in (5, 10) for p in seeded)


def test_examples_system_needs_seeding_examples(tiny_model_dir: Path):
    from codefusion.server.cli.eval_runs import RunSpec, evaluate
    from codefusion.server.engine import EngineNotReady

    with pytest.raises(EngineNotReady, match="no seeding examples for cf"):
        evaluate(RunSpec(lang="cf", system="examples", model=tiny_model_dir, limit=2, device="cpu"))


@pytest.mark.parametrize("code, names, want", [
    ("alist[(-1)]", ["xs"], "xs[(-1)]"),
    ("sorted(list_of_tuples, key=lambda tup: tup[1])", ["pairs"], "sorted(pairs, key=lambda tup: tup[1])"),
    ("[l[i:i + n] for i in range(0, len(l), n)]", ["xs", "n"], "[xs[i:i + n] for i in range(0, len(xs), n)]"),
    ("os.listdir(path)", ["folder"], "os.listdir(folder)"),  # a module read as one stays
    ("json.loads(array)", ["text"], "json.loads(text)"),  # `array` is a module's name, used as a value here
    ("[a[x].append(b[x]) for x in range(3)]", ["xs", "x"], "[xs[x].append(b[x]) for x in range(3)]"),  # x is bound
    ("max(d, key=lambda x: d[x])", ["d"], "max(d, key=lambda x: d[x])"),  # already the user's name
    ("chain(a)", ["xs"], "chain(xs)"),  # a called name is a function, its argument a value
    ("df.Name.str.upper()", ["frame"], "frame.Name.str.upper()"),
    ("x = 1", ["y"], "x = 1"),  # nothing free
    ("not python (", ["y"], "not python ("),
])
def test_bind_names_gives_an_examples_free_variables_the_users_names(code: str, names: list[str], want: str):
    from codefusion.model.examples.slots import bind_names

    assert bind_names(code, names) == want


@pytest.mark.parametrize("code, names, example_prompt, want", [
    ("text.count('Hello')", ["text", "ch"], "count the occurrences of 'Hello' in string text", "text.count(ch)"),
    ("print([k for k in d if d[k] == 1])", ["d", "value"], "keys whose value is 1 in dictionary d",
     "print([k for k in d if d[k] == value])"),
    ("'abcab'.count('ab')", ["text", "sub"], "count 'ab' in string 'abcab'", "text.count(sub)"),
    ("s.split(',')", ["text"], "split string s on ','", "text.split(',')"),  # no name left for the ','
    ("s.split(',')", ["text"], "split string s", "text.split(',')"),  # ',' is the code's own, not the prompt's
    ("x[::-1]", ["xs", "n"], "reverse list x", "xs[::-1]"),  # -1 was never named: it stays
    ("f'{a}-{b}'", ["p"], "join 'a' and 'b'", "f'{p}-{b}'"),  # an f-string's parts are not literals to bind
    ("text.count(ch)", ["text", "ch"], "count 'x' in text", "text.count(ch)"),  # every name already read
    ("f(2024-03-15, 'x')", ["s"], "parse 'x'", "f(2024-03-15, 'x')"),  # Python cannot parse it: as it is
])
def test_spare_names_take_the_place_of_the_examples_data(code: str, names: list[str], example_prompt: str,
                                                       want: str):
    """Names the prompt mentions that the code does not read yet replace the literals the example's own prompt
    named (its data), in code order; the code's other constants stay."""
    from codefusion.model.examples.slots import bind_names

    assert bind_names(code, names, example_prompt) == want


def test_served_python_examples_take_the_functions_parameter_names(shipped_model_dir: Path):
    """A docstring's body under `def last_item(xs):` reads `xs`, not the example's `alist` (the LSP passes the
    function's parameters as names; prompts.code_names)."""
    from codefusion.server.engine import Engine

    engine = Engine(shipped_model_dir, device="cpu")
    prompt = "Return the last element of the list xs."
    plain = [c.text for c in engine.generate(prompt, "python", k=5)]
    named = [c.text for c in engine.generate(prompt, "python", k=5, names=["xs"])]
    assert any("xs[" in t for t in named), named
    assert sum("xs" in t for t in named) > sum("xs" in t for t in plain), (plain, named)


def test_a_value_never_fuses_with_the_word_beside_it():
    """`[2, 0]` -> `df` inside `df.iloc[2, 0]` would read `ilocdf`: that occurrence stays; the others move."""
    prompt = "find the index of sub string 'df' in string 'sdfasdf'"
    got = transfer("df.iloc[2, 0]", "get value at index `[2, 0]` in dataframe `df`", prompt)
    assert "ilocdf" not in got and got == "sdfasdf.iloc[2, 0]"


def test_an_example_takes_only_the_names_the_prompt_mentions():
    """Names the code above assigns but the prompt does not mention are not forced into an example."""
    from codefusion.server.seeded import mentioned

    assert mentioned(["xs", "result", "n"], "Split the list xs into chunks of size n.") == ["xs", "n"]
    assert mentioned(["x"], "sort the list `xs`") == []  # whole words only


def test_shell_commands_get_plain_quotes_and_dashes():
    """Typographic quotes and dashes, pasted through a word processor into some training examples, are plain
    characters to a shell (`find . -name “*.old”` finds nothing): the served command has plain ones."""
    from codefusion.model.examples.slots import plain_shell

    assert plain_shell("find . -name “*.old” -delete") == 'find . -name "*.old" -delete'
    assert plain_shell("sed -i ‘s/a/b/g’ f.txt") == "sed -i 's/a/b/g' f.txt"
    assert plain_shell("mysqldump –force –log-error=e.log db") == "mysqldump --force --log-error=e.log db"
    assert plain_shell("echo 1–2 — done") == "echo 1–2 — done"  # a dash inside or between words stays
    assert plain_shell("ls -la") == "ls -la"
    # one dash for a letter, a number or a find primary (`--exec` served before 0.8.1: find rejects it)
    assert plain_shell("find . –type f –mtime +7 –exec rm –f {} \\;") == "find . -type f -mtime +7 -exec rm -f {} \\;"
    assert plain_shell("ls –l | tail –12") == "ls -l | tail -12"


def test_under_a_docstring_an_example_takes_the_parameters_in_order():
    """`def safe_int(value, default)` "… returning default if it is not a valid integer": the example's string
    becomes `value` (the first parameter), not `default` (the one the docstring happens to mention); under a
    comment only the mentioned names are taken, as before."""
    from codefusion.model.examples.retrieval import Retrieved
    from codefusion.server.seeded import with_names

    example = Retrieved("int(s) if s.isdigit() else 0", 0.5, 0)
    prompt = "Convert a string to an int, returning default if it is not a valid integer."
    assert with_names(example, ("value", "default"), prompt, "convert `s` to int", docstring=True).code == (
        "int(value) if value.isdigit() else 0")
    assert with_names(example, ("value", "default"), prompt, "convert `s` to int").code == (
        "int(default) if default.isdigit() else 0")
