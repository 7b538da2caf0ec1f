"""Model and output directories at the edges: what --overwrite may delete, symlinks, edited or incomplete
model directories, another task's model as a backbone, remote code, and what a killed run leaves.

Each case is refused in one line (exit 2, no traceback, nothing deleted) or does the right thing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.errors import CheckpointError
from tasuki.hookspecs import hookimpl
from tasuki.output import RUN_MARKER
from tasuki.registry import Registry, set_registry
from tasuki.task import LazyAutoModel
from tasuki.testing import refusal
from tasuki.testing import run_cli as invoke
from tasuki_template import plugin as toy_plugin
from tasuki_template.task import TemplateClassificationTask

ROWS = [("good movie", "pos"), ("great food", "pos"), ("nice place", "pos"), ("bad movie", "neg"),
        ("terrible food", "neg"), ("awful place", "neg")] * 3
QUICK = ["--max-steps", "2", "--batch-size", "4", "--no-progress"]


class TokensTask(TemplateClassificationTask):
    """A second task with another head (token classification), to edit a model's task into."""

    name = "toy-tokens"
    auto_model = LazyAutoModel("AutoModelForTokenClassification")


class tokens_plugin:  # a plugin module's stand-in
    @staticmethod
    @hookimpl
    def register_tasks(register: Any) -> None:
        register(TokensTask)


@pytest.fixture(scope="module")
def registry() -> Registry:
    registry = Registry([("toy", toy_plugin), ("tokens", tokens_plugin)], entry_points=False)
    set_registry(registry)
    yield registry
    set_registry(None)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model-dir-data") / "good.csv"
    path.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in ROWS), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model_dir(registry: Registry, backbone_dir: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model-dir") / "model"
    tasuki.train("template-classify", [{"text": t, "label": lab} for t, lab in ROWS], backbone=backbone_dir,
                 output_dir=out, max_steps=2, batch_size=4, checkpoints=False, progress=False, eval_split=0)
    return out


def train_args(data: Path, backbone: str | Path, out: Path, *extra: Any) -> list[Any]:
    return ["train", "template-classify", "--data", data, "--backbone", backbone, "--output", out,
            "--eval-split", "0", *QUICK, *extra]


def copy_of(model_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    return copy


def edit_metadata(directory: Path, **changes: Any) -> None:
    path = directory / "tasuki.json"
    metadata = json.loads(path.read_text(encoding="utf-8"))
    metadata.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del metadata[key]
    path.write_text(json.dumps(metadata), encoding="utf-8")


# --- 1. --overwrite deletes only what tasuki wrote -----------------------------------------------


def test_overwrite_keeps_the_users_own_logs_and_plots(registry, data, backbone_dir, model_dir, tmp_path) -> None:
    out = copy_of(model_dir, tmp_path)
    (out / "logs").mkdir()
    (out / "logs" / "notes.txt").write_text("my notes")
    (out / "plots").mkdir()
    (out / "plots" / "mine.png").write_bytes(b"png")
    line = refusal(*train_args(data, backbone_dir, out, "--overwrite"))
    assert "files tasuki did not write (logs, plots)" in line and "never deletes" in line, line
    assert (out / "logs" / "notes.txt").read_text() == "my notes" and (out / "plots" / "mine.png").exists()


def test_overwrite_keeps_a_users_file_inside_the_models_own_folder(registry, data, backbone_dir, tmp_path) -> None:
    out = tmp_path / "with-eval"
    code, _, err = invoke(*train_args(data, backbone_dir, out, "--eval-data", data, "--no-checkpoints"))
    assert code == 0, err
    assert (out / "plots").is_dir()  # the model's own figures folder
    (out / "plots" / "mine.png").write_bytes(b"png")
    line = refusal(*train_args(data, backbone_dir, out, "--overwrite", "--eval-data", data))
    assert "files tasuki did not write (plots/mine.png)" in line, line
    assert (out / "plots" / "mine.png").exists()
    (out / "plots" / "mine.png").unlink()
    code, _, err = invoke(*train_args(data, backbone_dir, out, "--overwrite", "--no-checkpoints"))
    assert code == 0, err  # all of it tasuki's: replaced


def test_refusal_names_what_the_directory_holds(registry, data, backbone_dir, tmp_path) -> None:
    out = tmp_path / "logs-only"
    (out / "logs").mkdir(parents=True)
    (out / "logs" / "events.out").write_bytes(b"x")
    for flags in ((), ("--overwrite",)):
        line = refusal(*train_args(data, backbone_dir, out, *flags))
        assert "holds files tasuki did not write (logs)" in line and "holds ;" not in line, line
    assert (out / "logs" / "events.out").exists()


# --- 2. a symlinked --output ---------------------------------------------------------------------


def test_output_symlink_writes_into_its_target(registry, data, backbone_dir, tmp_path) -> None:
    target = tmp_path / "real"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    code, _, err = invoke(*train_args(data, backbone_dir, link, "--no-checkpoints"))
    assert code == 0, err
    assert link.is_symlink() and (target / "tasuki.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]  # no staging directory, no lock
    assert RUN_MARKER not in os.listdir(target)
    tasuki.load(link)


# --- 3. tokenizer files are verified like weights ------------------------------------------------


def test_tokenizer_files_are_hashed(registry, model_dir) -> None:
    metadata = json.loads((model_dir / "tasuki.json").read_text())
    assert set(metadata["tokenizer_sha256"]) >= {"tokenizer.json", "tokenizer_config.json"}
    assert "tokenizer.json" in metadata["written"] and "tasuki.json" in metadata["written"]


def test_a_model_without_its_tokenizer_files_is_refused(registry, model_dir, tmp_path) -> None:
    copy = copy_of(model_dir, tmp_path)
    (copy / "tokenizer.json").unlink()
    (copy / "tokenizer_config.json").unlink()
    line = refusal("predict", copy, "good movie")
    assert "tokenizer" in line and "is missing" in line, line


def test_an_altered_tokenizer_file_is_refused(registry, model_dir, tmp_path) -> None:
    copy = copy_of(model_dir, tmp_path)
    tokenizer = json.loads((copy / "tokenizer.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    vocab["good"], vocab["bad"] = vocab["bad"], vocab["good"]
    (copy / "tokenizer.json").write_text(json.dumps(tokenizer))
    with pytest.raises(CheckpointError, match=r"tokenizer\.json does not match its tasuki\.json"):
        tasuki.load(copy)


def test_a_model_saved_before_tokenizer_hashes_still_loads_but_not_without_a_tokenizer(registry, model_dir,
                                                                                       tmp_path) -> None:
    copy = copy_of(model_dir, tmp_path)
    edit_metadata(copy, tokenizer_sha256=None, written=None)
    assert tasuki.load(copy).predict("good movie")["label"] in ("pos", "neg")
    (copy / "tokenizer.json").unlink()
    (copy / "tokenizer_config.json").unlink()
    with pytest.raises(CheckpointError, match="tokenizer files .* are missing"):
        tasuki.load(copy)


# --- 4. a task edited in tasuki.json -------------------------------------------------------------


def test_a_task_edited_to_another_heads_task_is_refused(registry, model_dir, tmp_path) -> None:
    copy = copy_of(model_dir, tmp_path)
    edit_metadata(copy, task="toy-tokens")
    line = refusal("predict", copy, "good movie")
    assert "task 'toy-tokens' disagrees with config.json's architecture BertForSequenceClassification" in line, line
    assert "'template-classify'" in line, line


# --- 5. a trained model as the backbone of another task ------------------------------------------


def test_a_trained_classifier_as_backbone_gets_a_new_head(registry, model_dir, tmp_path, caplog) -> None:
    data = tmp_path / "three.csv"
    rows = [*ROWS, ("okay film", "meh"), ("fine day", "meh"), ("okay food", "meh")]
    data.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows), encoding="utf-8")
    out = tmp_path / "three"
    with caplog.at_level("INFO", logger="tasuki.backbone"):
        code, _, err = invoke(*train_args(data, model_dir, out, "--no-checkpoints"))
    assert code == 0, err
    assert "is a trained BertForSequenceClassification (labels neg, pos): its encoder is used" in caplog.text
    assert tasuki.load(out).task.labels == ["meh", "neg", "pos"]


def test_another_heads_backbone_keeps_the_encoder_only(registry, model_dir) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForTokenClassification

    from tasuki.backbone import HFBackbone

    model = HFBackbone(model_dir).build_model(AutoModelForTokenClassification, num_labels=2,
                                              id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    saved = load_file(str(model_dir / "model.safetensors"))
    state = model.state_dict()
    word = "bert.embeddings.word_embeddings.weight"
    assert torch.equal(state[word], saved[word])  # the trained encoder
    assert not torch.equal(state["classifier.weight"], saved["classifier.weight"])  # a new head


def test_an_mlm_backbones_encoder_says_in_one_line_what_it_leaves_out(backbone_dir, tmp_path, capfd, caplog) -> None:
    """An adapted backbone (tasuki adapt: a BertForMaskedLM) read as an encoder printed transformers' table of the
    unused MLM head's weights on every load (the few-shot recipe, embeddings)."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from tasuki.backbone import HFBackbone

    adapted = tmp_path / "adapted"
    AutoModelForMaskedLM.from_pretrained(backbone_dir).save_pretrained(adapted)
    AutoTokenizer.from_pretrained(backbone_dir).save_pretrained(adapted)
    capfd.readouterr()
    with caplog.at_level("INFO", logger="tasuki.backbone"):
        encoder = HFBackbone(str(adapted)).encoder()
    assert type(encoder).__name__ == "BertModel"
    assert "weights outside the encoder left out (cls.*)" in caplog.text
    assert "cls.predictions" not in capfd.readouterr().err


# --- 6. remote code ------------------------------------------------------------------------------


def test_training_on_a_backbone_with_its_own_code_is_refused_up_front(registry, data, backbone_dir, tmp_path) -> None:
    backbone = tmp_path / "coded"
    shutil.copytree(backbone_dir, backbone)
    config = json.loads((backbone / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_coded.CodedForSequenceClassification"}
    (backbone / "config.json").write_text(json.dumps(config))
    (backbone / "modeling_coded.py").write_text(
        "from transformers import BertForSequenceClassification as CodedForSequenceClassification\n")
    out = tmp_path / "out"
    line = refusal(*train_args(data, backbone, out, "--no-checkpoints"))
    assert "asks to run its own Python code (modeling_coded.py)" in line and "could not load" in line, line
    assert not out.exists()
    # train has no --trust-remote-code (it would change nothing): click names it as unknown
    assert "No such option '--trust-remote-code'" in refusal(*train_args(data, backbone, out, "--trust-remote-code"))


# --- 7. what a killed run leaves -----------------------------------------------------------------

KILLED_RUN = """
import os, signal, sys
import tasuki
from tasuki.registry import Registry, set_registry
from tasuki_template import plugin
from tasuki_template.task import TemplateClassificationTask

def plot(self, outputs, features, examples, directory):  # killed while the figures are drawn
    os.kill(os.getpid(), signal.SIGKILL)

TemplateClassificationTask.plot = plot
set_registry(Registry([("toy", plugin)], entry_points=False))
rows = [{"text": t, "label": l} for t, l in [("good movie", "pos"), ("bad movie", "neg")] * 6]
tasuki.train("template-classify", rows, eval_data=rows, backbone=sys.argv[1], output_dir=sys.argv[2],
             epochs=2, batch_size=4, checkpoints=False, progress=False)
"""


def test_a_killed_run_without_checkpoints_leaves_no_checkpoint_and_does_not_block_the_next(
        registry, data, backbone_dir, tmp_path) -> None:
    out = tmp_path / "killed"
    script = tmp_path / "killed.py"
    script.write_text(KILLED_RUN)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script), backbone_dir, str(out)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]
    assert not (out / "checkpoints").exists()  # --no-checkpoints: not even the best evaluation's weights
    assert (out / RUN_MARKER).exists() and any(p.name.startswith(".killed.staging-") for p in tmp_path.iterdir())
    code, _, err = invoke(*train_args(data, backbone_dir, out, "--no-checkpoints"))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed", "killed.py"]  # staging of the dead run gone
    assert RUN_MARKER not in os.listdir(out)


def test_a_stale_run_marker_of_a_dead_process_is_cleared(registry, data, backbone_dir, tmp_path) -> None:
    out = tmp_path / "stale"
    out.mkdir()
    marker = {"pid": 2**22 + 12345, "host": socket.gethostname(), "started": "2026-01-01T00:00:00"}  # above pid_max
    (out / RUN_MARKER).write_text(json.dumps(marker))
    (out / "checkpoints" / ".tmp-step-00000001").mkdir(parents=True)  # half-written, nothing to resume
    code, _, err = invoke(*train_args(data, backbone_dir, out, "--no-checkpoints"))
    assert code == 0, err
    assert (out / "tasuki.json").is_file() and not (out / "checkpoints").exists()


def test_a_run_marker_of_a_live_process_is_refused_with_its_pid(registry, data, backbone_dir, tmp_path) -> None:
    out = tmp_path / "live"
    out.mkdir()
    marker = {"pid": os.getppid(), "host": socket.gethostname(), "started": "2026-01-01T00:00:00"}
    (out / RUN_MARKER).write_text(json.dumps(marker))
    line = refusal(*train_args(data, backbone_dir, out, "--no-checkpoints"))
    assert f"an unfinished run (pid {os.getppid()} on {socket.gethostname()}" in line and "--overwrite" in line, line
