"""The output directory: nothing lost or mixed (existing models, foreign files, a second run, crashes)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import tasuki
from tasuki.errors import TasukiError
from tasuki.files import atomic_write_text
from tasuki.output import RUN_MARKER, OutputError, acquire, lock_path

FAST = {"batch_size": 8, "learning_rate": 3e-3, "progress": False, "eval_split": 0.0, "seed": 7, "max_steps": 2}


def run(rows: list[dict], backbone: str, out: Path, **extra) -> tasuki.api.TrainResult:
    return tasuki.train("template-classify", rows, backbone=backbone, output_dir=out, **{**FAST, **extra})


def test_an_existing_model_is_refused_then_replaced_with_overwrite(toy_registry, backbone_dir, toy_rows,
                                                                   tmp_path: Path) -> None:
    out = tmp_path / "m"
    run(toy_rows, backbone_dir, out, eval_split=0.25)  # a model with plots
    assert (out / "plots").is_dir()
    created = json.loads((out / "tasuki.json").read_text())["created"]
    with pytest.raises(OutputError, match=r"already holds a trained model.*--resume.*--overwrite") as error:
        run(toy_rows, backbone_dir, out)
    assert isinstance(error.value, TasukiError) and str(out) in str(error.value)
    assert json.loads((out / "tasuki.json").read_text())["created"] == created  # untouched
    tasuki.load(out)

    # leftovers of the earlier run: an old checkpoint numbered above anything the new run writes
    (out / "checkpoints" / "step-00002000").mkdir(parents=True)
    (out / "checkpoints" / "step-00002000" / "trainer_state.json").write_text("{}")
    with pytest.raises(OutputError, match="checkpoints of a run"):
        run(toy_rows, backbone_dir, out)
    run(toy_rows, backbone_dir, out, overwrite=True)  # no evaluation this time: no plots
    assert not (out / "plots").exists() and not (out / "checkpoints").exists()
    metadata = json.loads((out / "tasuki.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == metadata["files"]
    tasuki.load(out)


def test_figures_evaluate_wrote_into_the_model_go_with_it_on_overwrite(toy_registry, backbone_dir, toy_rows,
                                                                       tmp_path: Path) -> None:
    """``evaluate --plots MODEL/plots`` (a model trained without figures, or beside its own): --overwrite refused
    the folder as files tasuki did not write. A file of the user's there is still never touched."""
    out = tmp_path / "m"
    run(toy_rows, backbone_dir, out)  # no held-out data: no plots of its own
    tasuki.evaluate(out, toy_rows[:8], plots_dir=out / "plots")
    tasuki.evaluate(out, toy_rows[:8], plots_dir=out / "review")
    run(toy_rows, backbone_dir, out, overwrite=True)
    assert not (out / "plots").exists() and not (out / "review").exists()
    tasuki.evaluate(out, toy_rows[:8], plots_dir=out / "plots")
    (out / "plots" / "mine.txt").write_text("my notes")
    with pytest.raises(OutputError, match=r"files tasuki did not write \(plots\)"):
        run(toy_rows, backbone_dir, out, overwrite=True)
    # beside the model's own figures (trained with held-out data): evaluate's are tasuki's too
    own = tmp_path / "own"
    run(toy_rows, backbone_dir, own, eval_split=0.25)
    tasuki.evaluate(own, toy_rows[:8], plots_dir=own / "plots")
    run(toy_rows, backbone_dir, own, overwrite=True)


def test_files_tasuki_did_not_write_are_never_touched(toy_registry, backbone_dir, toy_rows, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    for flags in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(OutputError, match=r"files tasuki did not write \(notes.txt\)"):
            run(toy_rows, backbone_dir, out, **flags)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert not lock_path(out.absolute()).exists()


def test_a_second_run_is_locked_out_and_a_dead_runs_lock_is_taken_over(toy_registry, backbone_dir, toy_rows,
                                                                      tmp_path: Path) -> None:
    out = (tmp_path / "busy").absolute()
    out.mkdir()
    held = acquire(out)  # another run, alive
    try:
        with pytest.raises(OutputError, match=rf"in use by another tasuki run \(pid {os.getpid()} on .*, started 20"):
            run(toy_rows, backbone_dir, out)
    finally:
        held.release()
    # a run killed with -9 leaves its lock file, but the kernel dropped the lock with the process
    lock_path(out).write_text(json.dumps({"pid": 999999, "host": "gone", "started": "yesterday"}))
    run(toy_rows, backbone_dir, out)
    assert (out / "tasuki.json").is_file() and not lock_path(out).exists()


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing_to_overwrite(toy_registry, backbone_dir,
                                                                                  toy_rows, tmp_path: Path) -> None:
    out = tmp_path / "m"
    with pytest.raises(TasukiError):
        run(toy_rows, backbone_dir, out, backbone_dir_typo=1)  # an unknown argument, found after the claim
    run(toy_rows, backbone_dir, out)  # the corrected command needs no --overwrite
    tasuki.load(out)


def test_overwrite_refused_for_its_data_keeps_the_previous_model(toy_registry, backbone_dir, toy_rows,
                                                                  tmp_path: Path) -> None:
    # before: --overwrite deleted the model up front, so a typo in the data cost the model (exit 2, empty directory)
    out = tmp_path / "m"
    run(toy_rows, backbone_dir, out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(TasukiError, match="missing column 'label'"):
        run([{"text": "good movie"}] * 8, backbone_dir, out, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # no marker left either
    with pytest.raises(OutputError, match="already holds a trained model"):
        run(toy_rows, backbone_dir, out)  # still a model: replacing it still needs --overwrite
    run(toy_rows, backbone_dir, out, overwrite=True, learning_rate=1e-2)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} != before
    assert sorted(p.name for p in out.iterdir()) == json.loads((out / "tasuki.json").read_text())["files"]


def test_a_crash_while_saving_leaves_the_complete_old_model(toy_registry, backbone_dir, toy_rows, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from tasuki_template.plugin import TemplateClassificationTask

    out = tmp_path / "m"
    run(toy_rows, backbone_dir, out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def crash(self, model, directory):
        (directory / "model.safetensors").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(TemplateClassificationTask, "save_model", crash)
    with pytest.raises(OSError, match="disk full"):
        run(toy_rows, backbone_dir, out, overwrite=True, learning_rate=1e-2)
    monkeypatch.undo()
    # --overwrite leaves the old model in place until the new one is swapped in whole: the crash leaves it
    # byte for byte (beside the marker of the interrupted run), and no staging directory beside it
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    after.pop(RUN_MARKER, None)
    assert before and after == before
    assert not [p for p in tmp_path.iterdir() if ".staging-" in p.name]
    tasuki.load(out)

    # without --overwrite (resuming), the crash leaves the finished model of the earlier run whole
    out2 = tmp_path / "k"
    run(toy_rows, backbone_dir, out2, keep_checkpoints=True)
    before = {p.name: p.read_bytes() for p in out2.iterdir() if p.is_file()}
    monkeypatch.setattr(TemplateClassificationTask, "save_model", crash)
    with pytest.raises(OSError, match="disk full"):
        run(toy_rows, backbone_dir, out2, resume=True, keep_checkpoints=True)
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in out2.iterdir() if p.is_file()}
    assert after.pop(RUN_MARKER)  # the resumed run is unfinished again
    assert after == before
    tasuki.load(out2)


def test_checkpoints_are_deleted_after_success_unless_kept(toy_registry, backbone_dir, toy_rows, tmp_path) -> None:
    run(toy_rows, backbone_dir, tmp_path / "a", save_steps=1)
    assert not (tmp_path / "a" / "checkpoints").exists()
    run(toy_rows, backbone_dir, tmp_path / "b", save_steps=1, keep_checkpoints=True)
    assert sorted(p.name for p in (tmp_path / "b" / "checkpoints").iterdir()) == ["step-00000001", "step-00000002"]
    assert tasuki.load(tmp_path / "b").predict("good movie")["label"] in ("pos", "neg")  # checkpoints ignored


def test_files_follow_the_umask(toy_registry, backbone_dir, toy_rows, tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "x.txt", "x")
        run(toy_rows, backbone_dir, tmp_path / "m", keep_checkpoints=True)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "x.txt").stat().st_mode) == 0o640
    out = tmp_path / "m"
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    for name in ("tasuki.json", "README.md", "model.safetensors", "config.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o640, name
    state = next((out / "checkpoints").iterdir()) / "trainer_state.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o640


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_directory_is_refused_up_front(toy_registry, backbone_dir, toy_rows, tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot write there"):
            run(toy_rows, backbone_dir, locked / "m")
    finally:
        locked.chmod(0o700)
