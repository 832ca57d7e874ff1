"""`codefusion train export`: it replaces only an earlier export, and the shipped model only with --force."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from codefusion.model.modelfile import load_weights, read_config
from codefusion.model.pipeline import BASELINE_MODEL_DIR, DEFAULT_MODEL_DIR, MASKED_MODEL_DIR
from codefusion.model.training import cli
from codefusion.model.training.cli import ExportRefused, check_export_target, export, network_for
from safetensors.torch import save_file


@pytest.fixture
def run_dir(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A run folder as training leaves it: config, tokenizer and a checkpoint of the tiny model."""
    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(tiny_model_dir / name, run / name)
    kind, cfg = read_config(tiny_model_dir)
    net = network_for(kind, cfg)
    load_weights(tiny_model_dir, net)
    save_file({f"net.{k}": v.contiguous() for k, v in net.state_dict().items()},
              str(run / "checkpoint" / "module.safetensors"))
    (run / "checkpoint" / "state.json").write_text(json.dumps({"step": 7}))
    return run


def test_export_writes_a_new_folder_and_replaces_its_own_earlier_export(run_dir: Path, tmp_path: Path):
    out = tmp_path / "exported"
    assert export(run_dir, out, quiet=True) == 0
    assert json.loads((out / "training.json").read_text()) == {"run": str(run_dir), "step": 7}
    (out / "stale.txt").write_text("from the earlier export")
    assert export(run_dir, out, quiet=True) == 0  # an earlier export (training.json): replaced
    assert not (out / "stale.txt").exists() and not (tmp_path / "exported.tmp").exists()


def test_export_never_deletes_a_folder_it_did_not_create(run_dir: Path, tmp_path: Path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(ExportRefused, match="no earlier export"):
        export(run_dir, out, quiet=True)
    with pytest.raises(ExportRefused, match="no earlier export"):
        export(run_dir, out, quiet=True, force=True)  # --force is for the shipped folders only
    assert (out / "mine.txt").read_text() == "keep me"
    (tmp_path / "exported.tmp").mkdir()  # a stray folder where the export is staged: not deleted either
    with pytest.raises(ExportRefused):
        export(run_dir, tmp_path / "exported", quiet=True)
    assert (tmp_path / "exported.tmp").is_dir() and not (tmp_path / "exported").exists()


def test_the_shipped_model_folders_need_force(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for shipped in (DEFAULT_MODEL_DIR, MASKED_MODEL_DIR, BASELINE_MODEL_DIR):  # the real ones: checked, never written
        with pytest.raises(ExportRefused, match="--force"):
            check_export_target(shipped)
    stand_in = tmp_path / "models" / "codefusion"
    export(run_dir, stand_in, quiet=True)
    monkeypatch.setattr(cli, "SHIPPED_MODEL_DIRS", (stand_in,))
    before = (stand_in / "model.safetensors").stat().st_mtime_ns
    with pytest.raises(ExportRefused, match="shipped model folder"):
        cli.main(["export", "--run", str(run_dir), "--out", str(stand_in)])
    assert (stand_in / "model.safetensors").stat().st_mtime_ns == before
    assert cli.main(["export", "--run", str(run_dir), "--out", str(stand_in), "--force"]) == 0


def test_export_needs_out(run_dir: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        cli.main(["export", "--run", str(run_dir)])
    assert "--out" in capsys.readouterr().err
