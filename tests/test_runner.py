"""The runner: learning, exact resume, crash-safe checkpoints, save/load round trips."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForTokenClassification

import tasuki
from tasuki.errors import CheckpointError, TasukiError
from tasuki.settings import SettingError
from tasuki.training.checkpoint import complete_checkpoints
from tasuki_template.plugin import TemplateClassificationTask

FAST = {"batch_size": 8, "learning_rate": 3e-3, "progress": False, "eval_split": 0.0, "seed": 7}


def batch_loss(model_dir: Path, rows: list[dict]) -> float:
    model = tasuki.load(model_dir)
    task = model.task
    enc = model.tokenizer([r["text"] for r in rows], padding=True, return_tensors="pt")
    labels = torch.tensor([task.labels.index(r["label"]) for r in rows])
    with torch.no_grad():
        return float(model.model(**enc, labels=labels).loss)


def test_loss_decreases_and_model_learns(toy_registry, backbone_dir, toy_rows, tmp_path: Path) -> None:
    before = tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "a", max_steps=1,
                          **{**FAST, "learning_rate": 1e-9})
    after = tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "b", epochs=8, **FAST)
    assert after.global_step == 8 * 6 and before.global_step == 1
    assert batch_loss(tmp_path / "b", toy_rows) < 0.5 * batch_loss(tmp_path / "a", toy_rows)
    assert tasuki.evaluate(tmp_path / "b", toy_rows)["accuracy"] == 1.0


def test_freeze_embeddings_trains_everything_but_the_word_embeddings(toy_registry, backbone_dir, toy_rows,
                                                                    tmp_path: Path) -> None:
    from transformers import AutoModel

    start = AutoModel.from_pretrained(backbone_dir)
    tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "m", epochs=1,
                 freeze_embeddings=True, **FAST)
    trained = tasuki.load(tmp_path / "m").model
    words = trained.get_input_embeddings().weight
    assert torch.equal(words, start.get_input_embeddings().weight)
    layer = "encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(trained.base_model.get_parameter(layer), start.get_parameter(layer))


def test_language_defaults_to_the_datas_and_a_mismatch_is_warned(toy_registry, backbone_dir, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    rows = [{"text": "この映画は最高だった。", "label": "pos"}, {"text": "二度と行かない店だ。", "label": "neg"}] * 6
    tasuki.train("template-classify", rows, backbone=backbone_dir, output_dir=tmp_path / "auto", max_steps=1, **FAST)
    assert tasuki.load(tmp_path / "auto").task.lang == "ja"
    with caplog.at_level("WARNING", logger="tasuki"):
        tasuki.train("template-classify", rows, backbone=backbone_dir, output_dir=tmp_path / "en", max_steps=1, lang="en",
                     **FAST)
    assert "looks like 'ja'" in caplog.text
    assert tasuki.load(tmp_path / "en").task.lang == "en"  # what the user asked for


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_to_identical_weights(toy_registry, backbone_dir, toy_rows, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    args = {**FAST, "epochs": 2, "save_steps": 4, "gradient_accumulation_steps": 1}
    tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "full", **args)

    calls = {"n": 0}
    original = TemplateClassificationTask.training_loss

    def crashing_loss(self, model, batch):
        calls["n"] += 1
        if calls["n"] == 10:  # mid-epoch 2, after the step-8 checkpoint
            raise Interrupt
        return original(self, model, batch)

    monkeypatch.setattr(TemplateClassificationTask, "training_loss", crashing_loss)
    with pytest.raises(Interrupt):
        tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "cut", **args)
    monkeypatch.setattr(TemplateClassificationTask, "training_loss", original)
    assert [p.name for p in complete_checkpoints(tmp_path / "cut" / "checkpoints")] == ["step-00000008", "step-00000006"]
    resumed = tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "cut", resume=True,
                           **args)
    assert resumed.global_step == 12
    full = load_file(tmp_path / "full" / "model.safetensors")
    cut = load_file(tmp_path / "cut" / "model.safetensors")
    assert full.keys() == cut.keys()
    for name in full:
        assert torch.allclose(full[name], cut[name], atol=1e-6), name


@pytest.mark.parametrize("damage", ["truncated", "changed in place"])
def test_resume_skips_half_written_and_corrupt_checkpoints(toy_registry, backbone_dir, toy_rows, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture, damage: str) -> None:
    out = tmp_path / "run"
    args = {**FAST, "epochs": 1, "save_steps": 2, "save_total_limit": 0, "keep_checkpoints": True}
    tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, **args)
    root = out / "checkpoints"
    newest = complete_checkpoints(root)[0]
    # a crash mid-write leaves a hidden temporary directory: resume must ignore it
    half = root / ".tmp-step-00000099"
    shutil.copytree(newest, half)
    (half / "trainer_state.json").unlink()
    # a complete-looking but corrupt checkpoint: truncated weights, or weights of the same size with bytes changed
    # (safetensors loads those: the resumed run went on with 3.4e38 in its embeddings and predicted NaN)
    weights = newest / "model.safetensors"
    content = bytearray(weights.read_bytes())
    content[len(content) // 2:len(content) // 2 + 64] = b"\x7f" * 64
    weights.write_bytes(content[:100] if damage == "truncated" else content)
    result = tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, resume=True, **args)
    assert f"checkpoint {newest} is damaged (model.safetensors is not the file that was saved" in caplog.text
    assert result.global_step == 6
    assert half.exists() and newest.exists()  # nothing the user had is deleted


def test_resume_with_only_broken_checkpoints_is_a_clear_error(toy_registry, backbone_dir, toy_rows, tmp_path) -> None:
    out = tmp_path / "run"
    tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, epochs=1, keep_checkpoints=True,
                 **FAST)
    for checkpoint in complete_checkpoints(out / "checkpoints"):
        (checkpoint / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="no readable checkpoint"):
        tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, resume=True, epochs=1, **FAST)


def test_save_load_predict_and_transformers_pipeline_agree(toy_registry, backbone_dir, toy_rows, tmp_path) -> None:
    from transformers import pipeline

    out = tmp_path / "model"
    tasuki.train("template-classify", toy_rows, eval_data=toy_rows[:8], backbone=backbone_dir, output_dir=out, epochs=6,
                 **FAST)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md", "tasuki.json"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.bin")), "weights must be safetensors"
    model = tasuki.load(out)
    texts = ["good food", "terrible movie", "i love this place", "awful service"]
    ours = model.predict(texts)
    theirs = pipeline("text-classification", model=str(out), device="cpu")(texts)
    assert [p["label"] for p in ours] == [p["label"] for p in theirs]
    assert ours[0]["score"] == pytest.approx(theirs[0]["score"], abs=1e-5)
    single = model.predict("good food")  # one input gives one result (padding-free, so scores agree closely)
    assert single["label"] == ours[0]["label"] and single["score"] == pytest.approx(ours[0]["score"], abs=1e-5)
    assert "| accuracy |" in (out / "README.md").read_text()


def test_half_written_model_directory_fails_clearly(toy_registry, tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="not a complete tasuki model"):
        tasuki.load(tmp_path / "m")
    with pytest.raises(CheckpointError, match="no such model directory"):
        tasuki.load(tmp_path / "nothing")
    with pytest.raises(CheckpointError, match=r"config.json is a file; give the model's directory \("):
        tasuki.load(tmp_path / "m" / "config.json")


def test_a_model_without_config_json_says_so(toy_registry, backbone_dir, toy_rows, tmp_path: Path) -> None:
    out = tmp_path / "m"
    tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, max_steps=1, **FAST)
    (out / "config.json").unlink()  # was transformers' "Unrecognized model ... should have a model_type key"
    with pytest.raises(CheckpointError, match="config.json is missing; the directory is incomplete"):
        tasuki.load(out)


def test_weights_that_hold_nan_are_refused_at_load(toy_registry, backbone_dir, toy_rows, tmp_path: Path) -> None:
    """A run that resumed from a damaged checkpoint (or diverged) saved NaN weights with their own SHA-256: every
    score was NaN, and predict still picked a label from them."""
    from safetensors.torch import load_file, save_file

    from tasuki.model_dir import file_hashes

    out = tmp_path / "m"
    tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, max_steps=1, **FAST)
    weights = load_file(out / "model.safetensors")
    name = next(n for n, w in weights.items() if w.is_floating_point() and w.ndim == 2)
    weights[name][0, 0] = float("nan")
    save_file(weights, out / "model.safetensors", metadata={"format": "pt"})
    metadata = json.loads((out / "tasuki.json").read_text())
    metadata["weights_sha256"] = file_hashes(out, list(metadata["weights_sha256"]))
    (out / "tasuki.json").write_text(json.dumps(metadata))
    with pytest.raises(CheckpointError, match=r"holds NaN or infinite values, so every prediction would be NaN"):
        tasuki.load(out)


def test_corrupt_weights_fail_clearly(toy_registry, backbone_dir, toy_rows, tmp_path: Path) -> None:
    out = tmp_path / "m"
    tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, max_steps=1, **FAST)
    (out / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="model.safetensors does not match its tasuki.json"):
        tasuki.load(out)
    metadata = json.loads((out / "tasuki.json").read_text())
    del metadata["weights_sha256"]  # a model saved before weights were hashed
    (out / "tasuki.json").write_text(json.dumps(metadata))
    with pytest.raises(CheckpointError, match="cannot load the model"):
        tasuki.load(out)


def test_unknown_training_argument_is_named(toy_registry, backbone_dir, toy_rows, tmp_path: Path) -> None:
    with pytest.raises(SettingError, match="unknown training argument.*epoch_count"):
        tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path, epoch_count=3)


def test_a_language_the_task_refuses_gets_no_warning_first(toy_registry, backbone_dir, toy_rows, tmp_path: Path,
                                                           caplog) -> None:
    with caplog.at_level("WARNING", logger="tasuki"), pytest.raises(TasukiError, match="not 'JA'"):
        tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "m", lang="JA")
    assert "training goes on in 'JA'" not in caplog.text  # it said so, then refused


def test_numpy_numbers_are_numbers() -> None:
    import numpy as np

    from tasuki.args import TrainingArgs

    # np.int64(3) was refused as "not allowed; allowed: an integer >= 1"; a value given reaches the run
    args = TrainingArgs.build(epochs=np.int64(3), batch_size=np.int32(4), learning_rate=np.float32(0.5))
    assert (args.epochs, args.batch_size, args.learning_rate) == (3, 4, 0.5) and type(args.epochs) is int
    for given in ({"epochs": np.float64(1.5)}, {"batch_size": np.bool_(True)}, {"learning_rate": np.float64("nan")}):
        with pytest.raises(SettingError, match="is not allowed"):
            TrainingArgs.build(**given)


def test_example_index_is_global_across_large_datasets(backbone_dir: str) -> None:
    """Windowing tasks write ``example_index``: it must count over the whole set, not per map chunk."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    from tasuki.features import encode

    class TwoWindows(TemplateClassificationTask):
        def encode(self, batch, tokenizer, max_length):
            features = tokenizer([t for t in batch["text"] for _ in range(2)], truncation=True, max_length=max_length)
            features["example_index"] = [i for i in range(len(batch["text"])) for _ in range(2)]
            return dict(features)

    examples = Dataset.from_list([{"text": f"good movie {i}"} for i in range(2500)])
    features = encode(TwoWindows(labels=["neg", "pos"]), examples, AutoTokenizer.from_pretrained(backbone_dir), 16)
    assert features["example_index"] == [i for i in range(2500) for _ in range(2)]


def test_default_epochs_grow_on_small_data(toy_registry, backbone_dir, toy_rows, tmp_path: Path) -> None:
    from tasuki.training.setup import auto_epochs

    assert auto_epochs(steps_per_epoch=1000, min_steps=500) == 3  # large data: the usual 3
    assert auto_epochs(steps_per_epoch=25, min_steps=500) == 20  # 400 sentences at batch 16
    assert auto_epochs(steps_per_epoch=50, min_steps=500) == 10
    result = tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "m", min_steps=30,
                          **FAST)  # 48 rows at batch 8: 6 steps per epoch, so 5 epochs
    assert result.global_step == 30
    assert tasuki.load(tmp_path / "m").metadata["training_args"]["epochs"] == 5


class ToyTokenTask(TemplateClassificationTask):
    """A token task for the accumulation test: every word token labelled, specials ignored (-100)."""

    name = "toy-tokens"
    pipeline_tag = None
    auto_model = AutoModelForTokenClassification

    def encode(self, batch, tokenizer, max_length):
        features = tokenizer(batch["text"], truncation=True, max_length=max_length)
        features["labels"] = [
            [-100] + [(self.labels.index(label) + i) % 2 for i in range(len(ids) - 2)] + [-100]
            for ids, label in zip(features["input_ids"], batch["label"])
        ]
        return dict(features)

    def collate(self, features, tokenizer):
        width = max(len(f["input_ids"]) for f in features)
        batch = {"input_ids": torch.full((len(features), width), tokenizer.pad_token_id),  # (B, T)
                 "attention_mask": torch.zeros((len(features), width), dtype=torch.long),
                 "labels": torch.full((len(features), width), -100)}
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            batch["input_ids"][row, :n] = torch.tensor(f["input_ids"])
            batch["attention_mask"][row, :n] = 1
            batch["labels"][row, :n] = torch.tensor(f["labels"])
        return batch


@pytest.fixture(scope="module")
def no_dropout_backbone(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tasuki.testing import tiny_bert

    directory = tiny_bert(tmp_path_factory.mktemp("no-dropout"))
    config = json.loads((directory / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (directory / "config.json").write_text(json.dumps(config))
    return str(directory)


@pytest.mark.parametrize("task_class", [TemplateClassificationTask, ToyTokenTask], ids=["sequence", "token"])
def test_accumulating_2x8_equals_one_batch_of_16(task_class, no_dropout_backbone: str, toy_rows: list[dict],
                                                 tmp_path: Path) -> None:
    # 40 rows: windows of 16, 16 and a last, short one of 8; token counts differ between the batches
    rows = [{"text": f"{r['text']} {'very ' * (i % 5)}".strip(), "label": r["label"]} for i, r in
            enumerate(toy_rows[:40])]
    args = {**FAST, "epochs": 2, "group_by_length": False, "learning_rate": 1e-2, "checkpoints": False}
    weights = []
    for batch_size, accumulation in ((16, 1), (8, 2)):
        out = tmp_path / f"{batch_size}x{accumulation}"
        task = task_class(labels=["neg", "pos"])
        tasuki.train(task, rows, backbone=no_dropout_backbone, output_dir=out,
                     **{**args, "batch_size": batch_size, "gradient_accumulation_steps": accumulation})
        weights.append(load_file(out / "model.safetensors"))
    start = load_file(Path(no_dropout_backbone) / "model.safetensors")
    moved = max(float((weights[0][f"bert.{k}"] - start[k]).abs().max()) for k in start if f"bert.{k}" in weights[0])
    assert moved > 1e-3  # the runs trained
    # Adam turns the float noise of gradients that are zero in exact arithmetic (attention key biases)
    # into steps of up to ~1e-6: the tolerance sits well below the 1e-3 and more that the runs moved.
    for name in weights[0]:
        assert torch.allclose(weights[0][name], weights[1][name], atol=1e-5, rtol=1e-5), name
    print(task_class.name, "moved", moved, "largest difference",
          max(float((weights[0][k] - weights[1][k]).abs().max()) for k in weights[0]))


def test_early_stopping_keeps_the_best_evaluation(toy_registry, backbone_dir, toy_rows, tmp_path: Path) -> None:
    from tasuki.training.checkpoint import CHECKPOINTS_DIR, read_state

    out = tmp_path / "m"
    # automatic epochs (20 here) with the default patience of 2: the toy set is learnt long before (the best weights
    # asked for: 12 held-out rows are too few for them by default)
    task = TemplateClassificationTask(labels=["neg", "pos"])
    scored = []  # what each compute_metrics call returned: a task that learns from them keeps the last
    compute = task.compute_metrics
    task.compute_metrics = lambda *a: scored.append(compute(*a)) or scored[-1]
    result = tasuki.train(task, toy_rows, eval_data=toy_rows[:12], backbone=backbone_dir, output_dir=out,
                          min_steps=200, keep_checkpoints=True, keep_weights="best", **FAST)
    history = result.history
    accuracies = [h["accuracy"] for h in history]
    best = accuracies.index(max(accuracies))
    assert len(history) == best + 3 < 20  # two evaluations without improvement, then stop
    assert result.stopped_early and result.best_step == history[best]["step"]
    assert result.metrics["accuracy"] == max(accuracies)
    assert result.metrics["mean_confidence"] == history[best]["mean_confidence"]  # the best evaluation's
    # the task's last look at the held-out data is at the kept weights (scored again once they are back)
    assert len(scored) == len(history) + 1 and scored[-1]["mean_confidence"] == pytest.approx(
        history[best]["mean_confidence"], abs=1e-6) != history[-1]["mean_confidence"]
    # the delivered weights are the best evaluation's: evaluating them again gives its metrics
    again = tasuki.evaluate(out, toy_rows[:12])
    assert again["mean_confidence"] == pytest.approx(history[best]["mean_confidence"], abs=1e-5)
    last = read_state(complete_checkpoints(out / CHECKPOINTS_DIR)[0])
    assert last["best"]["step"] == history[best]["step"] and last["best"]["bad"] == 2

    never = tasuki.train("template-classify", toy_rows, eval_data=toy_rows[:12], backbone=backbone_dir,
                         output_dir=tmp_path / "all", epochs=best + 4, early_stopping_patience=0, **FAST)
    assert len(never.history) == best + 4  # given epochs: no early stopping unless asked


def test_a_small_evaluation_set_keeps_the_last_weights(toy_registry, backbone_dir, toy_rows, tmp_path: Path,
                                                       caplog) -> None:
    import json
    import logging

    out = tmp_path / "m"
    # the run above, with defaults: 12 held-out rows cannot choose between models, so none is chosen on them
    with caplog.at_level(logging.WARNING, logger="tasuki"):
        result = tasuki.train("template-classify", toy_rows, eval_data=toy_rows[:12], backbone=backbone_dir,
                              output_dir=out, min_steps=200, **FAST)
    history = result.history
    accuracies = [h["accuracy"] for h in history]
    assert accuracies.index(max(accuracies)) + 3 <= len(history)  # patience 2 would have stopped this run
    assert len(history) == 20 and not result.stopped_early  # the whole automatic schedule
    assert result.best_step == history[-1]["step"] == result.global_step
    assert result.metrics == {k: v for k, v in history[-1].items() if k not in ("epoch", "step")}
    again = tasuki.evaluate(out, toy_rows[:12])
    assert again["mean_confidence"] == pytest.approx(history[-1]["mean_confidence"], abs=1e-5)
    assert "only 12 examples" in caplog.text and "keeps its last weights and does not stop early" in caplog.text
    assert json.loads((out / "tasuki.json").read_text())["training_args"]["keep_weights"] == "last"


def test_bf16_on_cpu_trains_and_saves_fp32_and_fp16_on_cpu_is_refused(toy_registry, backbone_dir, toy_rows,
                                                                      tmp_path: Path) -> None:
    args = {**FAST, "epochs": 10, "logging_steps": 6, "keep_checkpoints": True}
    tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "bf16", mixed_precision="bf16",
                 cpu=True, **args)
    tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "fp32", mixed_precision="no",
                 cpu=True, **args)
    from tasuki.training.checkpoint import read_state

    log = read_state(complete_checkpoints(tmp_path / "bf16" / "checkpoints")[0])["log"]
    assert log[-1]["loss"] < 0.5 * log[0]["loss"]  # it learns (mean loss of the first and last epoch)
    weights = load_file(tmp_path / "bf16" / "model.safetensors")
    assert {t.dtype for t in weights.values()} == {torch.float32}
    texts = [r["text"] for r in toy_rows[:12]]
    low, full = tasuki.load(tmp_path / "bf16").predict(texts), tasuki.load(tmp_path / "fp32").predict(texts)
    assert [p["label"] for p in low] == [p["label"] for p in full]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(low, full)) < 0.05
    with pytest.raises(SettingError, match="'fp16' needs a GPU"):
        tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "fp16",
                     mixed_precision="fp16", cpu=True, **args)


def test_one_class_for_everything_is_said_for_single_label_models_only(caplog) -> None:
    """A multi-label model's labels are independent: the same top label everywhere is no sign of a failed run."""
    from types import SimpleNamespace

    import numpy as np

    from tasuki.args import TrainingArgs
    from tasuki.training.phases import _warn_about_the_run

    outputs = [{"logits": np.array([2.0, 0.1, -1.0])} for _ in range(12)]
    for problem_type, warned in (("single_label_classification", True), ("multi_label_classification", False)):
        model = SimpleNamespace(config=SimpleNamespace(problem_type=problem_type))
        caplog.clear()
        _warn_about_the_run(SimpleNamespace(model=model, eval_outputs=outputs, eval_features=None, global_step=500),
                            TrainingArgs(min_steps=0), automatic=True)
        assert ("predicts one class for all 12" in caplog.text) is warned, (problem_type, caplog.text)
    # long texts in windows: the examples are counted, the windows said beside them (229 windows read as examples)
    from datasets import Dataset

    windows = Dataset.from_dict({"example_index": [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2]})
    caplog.clear()
    model = SimpleNamespace(config=SimpleNamespace(problem_type="single_label_classification"))
    _warn_about_the_run(SimpleNamespace(model=model, eval_outputs=outputs, eval_features=windows, global_step=500),
                        TrainingArgs(min_steps=0), automatic=True)
    assert "predicts one class for all 3 evaluation examples (12 windows)" in caplog.text


@pytest.mark.parametrize(("stopped_early", "automatic", "advice"), [
    (True, True, "it stopped early (--early-stopping-patience 0"),
    (False, True, "the automatic schedule ends at 20 epochs: give more data, or more --epochs"),
    (False, False, "leave --epochs/--max-steps unset"),
])
def test_too_few_steps_are_said_with_the_advice_that_fits_the_run(caplog, stopped_early, automatic, advice) -> None:
    from types import SimpleNamespace

    from tasuki.args import TrainingArgs
    from tasuki.training.phases import _warn_about_the_run

    run = SimpleNamespace(model=None, eval_outputs=None, global_step=60, stopped_early=stopped_early)
    _warn_about_the_run(run, TrainingArgs(min_steps=500), automatic=automatic)
    assert "training took only 60 optimizer steps" in caplog.text and advice in caplog.text
    caplog.clear()
    _warn_about_the_run(SimpleNamespace(**{**vars(run), "global_step": 100}), TrainingArgs(min_steps=500),
                        automatic=automatic)
    assert not caplog.text  # a fifth of min_steps is enough


def test_held_out_settings_that_cannot_act_are_refused_or_said(toy_registry, backbone_dir, toy_rows, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """Each of these was accepted, recorded in tasuki.json and then did nothing."""
    fast = {**FAST, "max_steps": 2}
    del fast["eval_split"]
    with pytest.raises(TasukiError, match=r"--eval-split \(eval_split=\) is not used with --eval-data"):
        tasuki.train("template-classify", toy_rows, eval_data=toy_rows[:4], eval_split=0.3, backbone=backbone_dir,
                     output_dir=tmp_path / "a", **fast)
    for given in ({"keep_weights": "best"}, {"early_stopping_patience": 3}):
        with pytest.raises(TasukiError, match="chooses on held-out scores, and this run holds nothing out"):
            tasuki.train("template-classify", toy_rows, eval_split=0, backbone=backbone_dir,
                         output_dir=tmp_path / "b", **fast, **given)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with caplog.at_level("INFO", logger="tasuki"):
        tasuki.train("template-classify", toy_rows[:8], eval_split=0.5, backbone=backbone_dir,
                     output_dir=tmp_path / "c", **fast)
    assert "no held-out set: 8 rows of rows are too few to hold 50% out" in caplog.text
    saved = json.loads((tmp_path / "c" / "tasuki.json").read_text())["training_args"]
    assert saved["eval_split"] == 0.0 and saved["keep_weights"] == "last"  # what ran


def test_a_max_length_over_the_backbones_is_said(toy_registry, backbone_dir, toy_rows, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    # it was cut to the backbone's limit without a word, and recorded as cut
    with caplog.at_level("INFO", logger="tasuki"):
        tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "m",
                     max_length=10_000, max_steps=1, **FAST)
    assert "--max-length 10000 is more than" in caplog.text and "tokens): 128 is used" in caplog.text
    assert json.loads((tmp_path / "m" / "tasuki.json").read_text())["training_args"]["max_length"] == 128
