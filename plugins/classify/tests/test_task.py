"""classify trains, evaluates, saves and loads, single- and multi-label, on toy sets with a tiny backbone."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import numpy as np
import pytest

import tasuki
from tasuki.plugin import DataError, SettingError, TasukiError
from tasuki.testing import refusal, run_cli

SINGLE = [{"text": t, "label": lab} for t, lab in [
    ("football match goal", "sports"), ("election vote senate", "politics"), ("quiet morning garden", "home"),
    ("goal football", "sports"), ("senate election", "politics"), ("garden tea morning", "home")]] * 4
TOPICS = {"football": "sports", "goal": "sports", "election": "politics", "senate": "politics"}
MULTI = [{"text": t, "label": [TOPICS[w] for w in t.split() if w in TOPICS]} for t in [
    "football match", "goal match", "election vote", "senate vote", "football election", "goal senate",
    "quiet morning", "garden tea"]] * 4  # rows with 0, 1 or 2 labels
FAST = {"batch_size": 8, "learning_rate": 3e-3, "max_length": 16, "progress": False, "checkpoints": False}


def labels_of(rows: list) -> set[str]:
    return {label for row in rows for label in row["label"]}


def train(backbone: Path, out: Path, rows: list, **kwargs):
    """The standard recipe (end-to-end fine-tuning), which these toy sets are small enough to miss: the
    few-shot recipe has its own tests (test_fewshot.py)."""
    options = {"recipe": "standard", **kwargs.pop("task_options", {})}
    return tasuki.train("classify", rows, backbone=str(backbone), output_dir=out, task_options=options,
                        **{**FAST, **kwargs})


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory, backbone: Path) -> Path:
    """A multi-label model trained once for the module (thresholds tuned on the toy set itself).

    One epoch over the rows repeated: one evaluation, at the end, so the thresholds are tuned on a trained
    model's scores (each epoch's evaluation would keep the first that tunes to F1 1, from barely trained scores)."""
    from tasuki.registry import Registry, set_registry
    from tasuki_classify import plugin

    set_registry(Registry([("classify", plugin)], entry_points=False))
    out = tmp_path_factory.mktemp("multi") / "model"
    train(backbone, out, MULTI * 40, eval_data=MULTI, epochs=1)
    return out


def test_single_label_learns(tmp_path: Path, backbone: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        train(backbone, tmp_path / "m", SINGLE, eval_data=SINGLE, epochs=20)
    assert "multi-label" not in caplog.text and "main metric is macro F1" not in caplog.text
    assert "the main metric is accuracy (no class has over 3 times" in caplog.text  # said too, not only a switch
    model = tasuki.load(tmp_path / "m")
    assert model.task.main_metric == "accuracy" and not model.task.multi_label
    predictions = model.predict(["football goal", "senate vote", "tea garden"])
    assert [p["label"] for p in predictions] == ["sports", "politics", "home"]
    assert set(predictions[0]["scores"]) == {"sports", "politics", "home"}
    metrics = model.evaluate(SINGLE)
    assert metrics["accuracy"] == 1.0 and metrics["f1_macro"] == 1.0 and metrics["confusion/home/home"] == 8
    assert (tmp_path / "m" / "plots" / "confusion_matrix.png").is_file()
    with pytest.raises(DataError, match=r"row 1, column 'label': unknown label 'weather'; the model knows"):
        model.evaluate([{"text": "rain", "label": "weather"}])
    # a threshold is a multi-label model's: a serve request that sets one is refused, not ignored
    if importlib.util.find_spec("fastapi") is not None:
        from fastapi.testclient import TestClient

        from tasuki.serve import create_app

        with TestClient(create_app({"m": model})) as client:
            assert set(client.get("/models/m").json()["parameters"]) == {"top_k"}
            refused = client.post("/predict", json={"inputs": "a goal", "parameters": {"threshold": 0.3}})
            assert refused.status_code == 422 and "unknown key(s) ['threshold']" in refused.text


def test_the_held_out_split_keeps_each_label_in_proportion_and_a_lone_row_in_training(tmp_path: Path,
                                                                                      backbone: Path) -> None:
    rows = [*SINGLE, {"text": "rain all day", "label": "weather"}]  # 8 rows of each of 3 labels, one of a fourth
    result = train(backbone, tmp_path / "m", rows, eval_split=0.25, max_steps=1)
    saved = json.loads((tmp_path / "m" / "tasuki.json").read_text(encoding="utf-8"))
    assert saved["data"]["eval"].endswith("(6 examples)") and saved["data"]["train"].endswith("(19 examples)")
    assert [result.metrics[f"support/{label}"] for label in ("home", "politics", "sports", "weather")] == [2, 2, 2, 0]


def test_multi_label_learns_and_tunes_thresholds(multi: Path) -> None:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    meta = json.loads((multi / "tasuki.json").read_text())
    thresholds = meta["task_state"]["options"]["thresholds"]
    assert set(thresholds) == {"politics", "sports"} and all(0 < t < 1 for t in thresholds.values())
    assert meta["task_state"]["main_metric"] == "f1_micro" and meta["task_state"]["options"]["multi_label"] is True
    assert "threshold/sports" in (multi / "README.md").read_text()  # the model card shows them
    assert (multi / "plots" / "per_label_f1.png").is_file()
    model = tasuki.load(multi)
    assert model.task.options.thresholds == thresholds  # the round trip keeps them
    texts = [r["text"] for r in MULTI[:8]]
    predictions = model.predict(texts)
    assert [sorted(p["label"] for p in pred["labels"]) for pred in predictions] == [sorted(r["label"]) for r in MULTI[:8]]
    assert_thresholds_fit_the_held_out_scores(model, MULTI)
    for pred in predictions:  # every label at or above its threshold, and only those
        assert {p["label"] for p in pred["labels"]} == {k for k, s in pred["scores"].items() if s >= thresholds[k]}
    # the metrics are scikit-learn's on the same predictions
    labels = model.task.labels
    gold = np.array([[int(lab in r["label"]) for lab in labels] for r in MULTI])
    predicted = np.array([[int(any(p["label"] == lab for p in pred["labels"])) for lab in labels]
                          for pred in model.predict([r["text"] for r in MULTI])])
    metrics = model.evaluate(MULTI)
    assert metrics["f1_micro"] == pytest.approx(f1_score(gold, predicted, average="micro"))
    assert metrics["f1_macro"] == pytest.approx(f1_score(gold, predicted, average="macro"))
    assert metrics["subset_accuracy"] == pytest.approx(accuracy_score(gold, predicted))
    precision, recall, f1, _ = precision_recall_fscore_support(gold, predicted, zero_division=0)
    assert [metrics[f"f1/{lab}"] for lab in labels] == pytest.approx(list(f1))
    assert [metrics[f"recall/{lab}"] for lab in labels] == pytest.approx(list(recall))
    assert [metrics[f"precision/{lab}"] for lab in labels] == pytest.approx(list(precision))
    assert metrics["f1_micro"] == 1.0


def assert_thresholds_fit_the_held_out_scores(model: tasuki.Model, held_out: list) -> None:
    """Separable held-out scores: each label's threshold is 0.5 where it separates them, else halfway between."""
    thresholds = model.task.options.thresholds
    predictions = model.predict([r["text"] for r in held_out])
    for label in labels_of(held_out):
        positive = [p["scores"][label] for p, r in zip(predictions, held_out) if label in r["label"]]
        negative = [p["scores"][label] for p, r in zip(predictions, held_out) if label not in r["label"]]
        assert min(positive) > max(negative)
        halfway = (min(positive) + max(negative)) / 2
        assert thresholds[label] == pytest.approx(0.5 if max(negative) < 0.5 <= min(positive) else halfway, abs=1e-5)


@pytest.mark.parametrize("keep_weights", ["best", "last"])
def test_the_thresholds_are_those_of_the_weights_kept(tmp_path: Path, backbone: Path, keep_weights: str) -> None:
    """Several evaluations: the saved thresholds are tuned on the kept weights' scores, whichever evaluation
    those weights had (the runner scores the kept weights last; the task keeps the last thresholds)."""
    result = train(backbone, tmp_path / "m", MULTI * 10, eval_data=MULTI, epochs=6, keep_weights=keep_weights)
    assert len(result.history) == 6
    if keep_weights == "best":
        assert result.best_step < result.global_step  # F1 1 early, then no better: the weights go back
    assert_thresholds_fit_the_held_out_scores(tasuki.load(tmp_path / "m"), MULTI)


def test_given_thresholds_are_kept_the_others_tuned_and_an_unknown_label_refused(multi: Path, tmp_path: Path,
                                                                                 backbone: Path) -> None:
    tuned = json.loads((multi / "tasuki.json").read_text(encoding="utf-8"))["task_state"]["options"]["thresholds"]
    train(backbone, tmp_path / "m", MULTI * 40, eval_data=MULTI, epochs=1, task_options={"thresholds": {"sports": 0.9}})
    saved = json.loads((tmp_path / "m" / "tasuki.json").read_text(encoding="utf-8"))["task_state"]["options"]
    assert saved["thresholds"] == {"politics": tuned["politics"], "sports": 0.9}  # as the run without it tuned
    with pytest.raises(SettingError, match="'thresholds': unknown label 'sprots'; the labels are politics, sports"):
        train(backbone, tmp_path / "typo", MULTI, task_options={"thresholds": {"sprots": 0.3}})
    assert not (tmp_path / "typo").exists()


def test_multi_label_threshold_and_top_k(multi: Path) -> None:
    model = tasuki.load(multi)
    labels = model.predict("football election")["labels"]
    assert labels != []
    strict = model.with_options(threshold=1.0)  # what a serve request's parameters do
    assert strict.predict("football election")["labels"] == []
    assert strict.task.describe(strict.predict("football election")) == "(none)"
    assert len(model.with_options(threshold=0.0, top_k=1).predict("football election")["labels"]) == 1
    assert model.predict("football election")["labels"] == labels  # the model itself is unchanged
    assert type(model.task).request_parameters == ("threshold", "top_k")
    with pytest.raises(SettingError, match=r"option 'threshold': 2 is not allowed; allowed: a number >= 0 and <= 1"):
        model.with_options(threshold=2)
    with pytest.raises(TasukiError, match="option 'windows': not one a prediction of task 'classify' may change"):
        model.with_options(windows=False)
    # a keyword that is an option was taken for a field of the input, and dropped
    with pytest.raises(TasukiError, match=r"predict: 'threshold' is not a field of task 'classify'.s inputs \(text\); "
                                          r"it is an option: model.with_options\(threshold=...\)"):
        model.predict(text="football election", threshold=0.9)
    code, out, err = run_cli("predict", multi, "football election", "--option", "threshold=1", "--json")
    assert code == 0 and json.loads(out)[0]["labels"] == [], err


def test_a_requests_threshold_stays_in_that_request(multi: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request's parameters were set on the served task for its batch: a model served under two names, the
    caller's own ``predict`` and ``GET /models/NAME`` saw them while it ran."""
    from fastapi.testclient import TestClient

    from tasuki.serve import create_app

    model = tasuki.load(multi)
    alone = model.predict("football election")
    seen = []
    predict = type(model).predict

    def watched(self: tasuki.Model, *args: object, **kwargs: object) -> object:
        seen.append((self.task.options.threshold, model.task.options.threshold, predict(model, "football election")))
        return predict(self, *args, **kwargs)

    with TestClient(create_app({"a": model, "b": model})) as client:
        monkeypatch.setattr(type(model), "predict", watched)
        answer = client.post("/models/a", json={"inputs": "football election", "parameters": {"threshold": 1.0}})
        monkeypatch.undo()
        assert answer.status_code == 200 and answer.json()["labels"] == []
        shown = client.get("/models/b").json()["options"]
        text = client.post("/models/a", json={"inputs": "football", "parameters": {"threshold": "0.5", "top_k": 1}})
        assert text.status_code == 422 and text.json() == {
            "error": "parameters.threshold: expected a JSON number, got the text '0.5'", "field": "parameters.threshold"}
    assert seen[0][:2] == (1.0, None) and seen[0][2] == alone  # the request's copy, and the model untouched
    assert shown.get("threshold") is None and model.task.options.threshold is None


def test_the_transformers_pipeline_loads_it_with_a_sigmoid(multi: Path) -> None:
    from transformers import pipeline

    classifier = pipeline("text-classification", model=str(multi), top_k=None)
    assert classifier.model.config.problem_type == "multi_label_classification"
    got = {d["label"]: d["score"] for d in classifier(["football election"])[0]}
    ours = tasuki.load(multi).predict("football election")["scores"]
    assert got == pytest.approx(ours, abs=1e-5)  # ours are a sigmoid per label (test_multi_label_learns...)
    logits = np.array([tasuki.load(multi).model(**classifier.tokenizer("football election", return_tensors="pt"))
                       .logits.detach().numpy()[0]])
    assert list(got.values()) != pytest.approx(list(np.exp(logits[0]) / np.exp(logits[0]).sum()), abs=1e-6)


def test_csv_separator_and_jsonl_lists(tmp_path: Path, backbone: Path, caplog: pytest.LogCaptureFixture) -> None:
    csv = tmp_path / "train.csv"
    csv.write_text("text,label\n" + "".join(f"{r['text']},{'|'.join(r['label'])}\n" for r in MULTI), encoding="utf-8")
    with caplog.at_level(logging.INFO):
        train(backbone, tmp_path / "csv", csv, eval_split=0, max_steps=1, task_options={"label_separator": "|"})
    assert "is split on '|': multi-label" in caplog.text
    assert tasuki.load(tmp_path / "csv").task.labels == ["politics", "sports"]
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in MULTI), encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        train(backbone, tmp_path / "jsonl", jsonl, eval_split=0, max_steps=1)
    assert sum("holds lists: multi-label" in r.message for r in caplog.records) == 1
    with pytest.raises(DataError, match=r"row 5, column 'label': 2 labels \['sports', 'politics'\] in a single-label"):
        train(backbone, tmp_path / "no", jsonl, eval_split=0, max_steps=1, task_options={"multi_label": False})


def test_a_boolean_label_column_trains_as_classes_true_and_false(tmp_path: Path, backbone: Path) -> None:
    """A DataFrame or parquet ``is_spam`` column of booleans was refused ("label True is a bool"); its classes are
    "True" and "False", as pandas writes them to a CSV, so a CSV of the same data evaluates against the model."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"text": [r["text"] for r in SINGLE], "is_sport": [r["label"] == "sports" for r in SINGLE]})
    assert frame["is_sport"].dtype == bool
    train(backbone, tmp_path / "m", frame, columns={"label": "is_sport"}, max_steps=2)
    model = tasuki.load(tmp_path / "m", device="cpu")
    assert model.task.labels == ["False", "True"]
    frame.to_csv(tmp_path / "test.csv", index=False)
    assert "accuracy" in model.evaluate(tmp_path / "test.csv", columns={"label": "is_sport"})


def test_class_weights_weigh_the_loss(tmp_path: Path, backbone: Path, caplog: pytest.LogCaptureFixture) -> None:
    import torch
    import torch.nn.functional as F

    skewed = SINGLE[:1] * 8 + SINGLE[1:3]  # 8 sports, 1 politics, 1 home
    with caplog.at_level(logging.INFO):
        train(backbone, tmp_path / "w", skewed, eval_split=0, max_steps=1, task_options={"class_weights": "balanced"})
    assert "the main metric is macro F1" in caplog.text
    model = tasuki.load(tmp_path / "w")
    assert model.task.main_metric == "f1_macro"
    task = model.task
    task.fit(_dataset(skewed))  # a loaded task keeps no loss weights: they matter to training only
    assert task.loss_weights == pytest.approx([10 / 3, 10 / 3, 10 / 24])  # home, politics, sports
    batch = dict(model.tokenizer(["football", "vote"], padding=True, return_tensors="pt"))
    batch["labels"] = torch.tensor([2, 1])
    logits = model.model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    by_hand = (F.cross_entropy(logits, batch["labels"], reduction="none") * torch.tensor([10 / 24, 10 / 3])).mean()
    assert task.training_loss(model.model, batch).item() == pytest.approx(by_hand.item(), rel=1e-5)


def _dataset(rows: list):
    from datasets import Dataset

    return Dataset.from_list(rows)


def test_bad_options_are_refused() -> None:
    from tasuki_classify.task import ClassifyTask

    with pytest.raises(SettingError, match="'threshold': 1.5 is not allowed"):
        ClassifyTask(threshold=1.5)
    with pytest.raises(SettingError, match="'thresholds': 'a': -0.1 is not allowed"):
        ClassifyTask(thresholds={"a": -0.1})
    with pytest.raises(SettingError, match="'label_separator'"):
        ClassifyTask(label_separator="")
    task = ClassifyTask(class_weights="balanced")
    with pytest.raises(SettingError, match="single-label only"):
        task.fit(_dataset(MULTI))
    with pytest.raises(SettingError, match="'regression': true is not allowed; allowed: false"):
        ClassifyTask(regression=True)
    # thresholds are multi-label, class weights single-label: refused once the data (or the option) decides
    with pytest.raises(SettingError, match="'threshold': multi-label only; this task is single-label"):
        ClassifyTask(threshold=0.3).fit(_dataset(SINGLE))
    with pytest.raises(SettingError, match="'thresholds': multi-label only"):
        ClassifyTask(thresholds={"sports": 0.3}, multi_label=False)
    with pytest.raises(SettingError, match="'class_weights': single-label only"):
        ClassifyTask(class_weights="balanced", multi_label=True)


def test_scores_are_not_read_as_classes() -> None:
    """Numbers with decimals would make one class per distinct score: refused unless regression=false says classes."""
    from tasuki_classify.task import ClassifyTask

    rates = [{"text": t, "label": y} for t, y in (("fine", 3.7), ("bad", 1.25), ("great", 4.5), ("ok", 3))]
    with pytest.raises(DataError, match=r"column 'label' holds numbers with decimals \(3.7, 1.25, 4.5\): scores"):
        ClassifyTask().fit(_dataset(rates))
    as_text = [{**row, "label": str(row["label"])} for row in rates]  # a CSV's cells
    with pytest.raises(DataError, match="classify-pairs"):
        ClassifyTask().fit(_dataset(as_text))
    task = ClassifyTask(regression=False)
    task.fit(_dataset(rates))
    assert task.labels == ["1.25", "3", "3.7", "4.5"]
    whole = ClassifyTask()  # whole numbers, as pandas' floats too, are classes
    whole.fit(_dataset([{"text": "a", "label": 1.0}, {"text": "b", "label": 2.0}, {"text": "c", "label": 3.0}]))
    assert whole.labels == ["1", "2", "3"]
    mixed = ClassifyTask()  # a text among the numbers: every value is a class name
    mixed.fit(_dataset([{"text": "a", "label": "1.5"}, {"text": "b", "label": "v2"}]))
    assert mixed.labels == ["1.5", "v2"]


def test_the_cli_refuses_bad_input_in_one_line(tmp_path: Path, backbone: Path, multi: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "a goal", "label": ["sports"]}\n{"text": "a vote", "label": [null]}\n', encoding="utf-8")
    out = tmp_path / "out"
    line = refusal("train", "classify", "--data", data, "--backbone", backbone, "--output", out)
    assert line.endswith("row 2, column 'label': list item None is not a label; items must be text or numbers")
    assert not out.exists()
    data.write_text('{"text": "a goal", "label": {"topic": "sports"}}\n{"text": "a vote", "label": {"topic": "x"}}\n',
                    encoding="utf-8")
    line = refusal("train", "classify", "--data", data, "--backbone", backbone, "--output", out)
    assert "row 1, column 'label': label {'topic': 'sports'} is a dict" in line and not out.exists()
    line = refusal("train", "classify", "--data", data, "--backbone", backbone, "--output", out,
                   "--option", "threshold=2")
    assert "'threshold': " in line and "<= 1" in line and not out.exists()
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("text,label\r\ngood,4.5\r\nbad,1.5\r\n", encoding="utf-8")
    line = refusal("train", "classify", "--data", ratings, "--backbone", backbone, "--output", out)
    assert "holds numbers with decimals (4.5, 1.5): scores" in line and not out.exists()
    data.write_text('{"text": "a goal", "label": ["sports", "weather"]}\n', encoding="utf-8")
    line = refusal("evaluate", multi, "--data", data)
    assert line.endswith("row 1, column 'label': unknown label 'weather'; the model knows ['politics', 'sports']")


def test_the_onnx_export_predicts_what_predict_does(multi: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    exported = tasuki.load(tasuki.export(multi, tmp_path / "onnx"))
    assert exported.task.options.thresholds == tasuki.load(multi).task.options.thresholds
    texts = [r["text"] for r in MULTI[:8]] + ["football goal election senate quiet"]
    ours, theirs = tasuki.load(multi).predict(texts), exported.predict(texts)
    for a, b in zip(ours, theirs):
        assert [p["label"] for p in a["labels"]] == [p["label"] for p in b["labels"]]
        assert b["scores"] == pytest.approx(a["scores"], abs=1e-4)
    assert exported.evaluate(MULTI)["f1_micro"] == pytest.approx(tasuki.load(multi).evaluate(MULTI)["f1_micro"])


def test_a_serve_request_may_set_threshold_and_top_k(multi: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from tasuki.serve import create_app

    with TestClient(create_app({"topics": tasuki.load(multi)})) as client:
        info = client.get("/models/topics").json()
        assert set(info["parameters"]) == {"threshold", "top_k"} and info["result_kind"] == "labels"
        text = "football election"
        assert [p["label"] for p in client.post("/predict", json={"inputs": text}).json()["labels"]] == [
            p["label"] for p in tasuki.load(multi).predict(text)["labels"]]
        none = client.post("/predict", json={"inputs": text, "parameters": {"threshold": 1.0}}).json()
        assert none["labels"] == []
        one = client.post("/predict", json={"inputs": text, "parameters": {"threshold": 0.0, "top_k": 1}}).json()
        assert len(one["labels"]) == 1 and one["labels"][0]["score"] == max(one["scores"].values())
        refused = client.post("/predict", json={"inputs": text, "parameters": {"threshold": 1.5}})
        assert refused.status_code == 422 and "threshold" in refused.text
        again = client.post("/predict", json={"inputs": text}).json()  # the saved thresholds are back
        assert len(again["labels"]) == 2


def test_a_multi_label_head_starts_at_the_labels_rates(backbone: Path) -> None:
    import torch

    from tasuki.plugin import load_data, resolve_backbone

    rows = [{"text": "football match", "label": ["sports"]}] * 6 + [{"text": "senate vote", "label": ["politics"]},
                                                                    {"text": "quiet morning", "label": []}]
    task = tasuki.make_task("classify", recipe="standard")
    task.fit(load_data(rows, type(task))[0])
    model = task.build_model(resolve_backbone(str(backbone)))
    rates = torch.tensor([1 / 8, 6 / 8])  # politics, sports: the labels in order
    assert torch.allclose(model.classifier.bias, torch.log(rates / (1 - rates)))
    # a label no row has starts at 0.01, not at a certain "no"
    task = tasuki.make_task("classify", recipe="standard", labels=["politics", "sports", "weather"])
    task.fit(load_data(rows, type(task))[0])
    bias = task.build_model(resolve_backbone(str(backbone))).classifier.bias
    assert torch.sigmoid(bias[2]).item() == pytest.approx(0.01)


def test_a_model_trained_on_lists_is_evaluated_on_a_csv_with_a_separator(multi: Path, tmp_path: Path) -> None:
    # evaluate had no --option: the CSV of "a|b" cells was refused with a hint naming an option it did not have
    table = tmp_path / "test.csv"
    table.write_text("text,label\n" + "".join(f"{r['text']},{'|'.join(r['label'])}\n" for r in MULTI[:8]),
                     encoding="utf-8")
    assert "label_separator" in refusal("evaluate", multi, "--data", table)
    code, out, err = run_cli("evaluate", multi, "--data", table, "--option", "label_separator=|", "--json")
    assert code == 0, err
    assert json.loads(out) == pytest.approx(tasuki.load(multi).evaluate(MULTI[:8]))
