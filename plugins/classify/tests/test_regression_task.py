"""regression: one text in, a number out (regression), on texts built from packaged BBC News."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from test_pairs import FAST, bbc_paragraphs

import tasuki
from tasuki.plugin import DataError, SettingError
from tasuki.testing import only_plugins, refusal, tiny_bert
from tasuki_classify import plugin
from tasuki_classify.regression_task import RegressionTask


def sport_share() -> list[dict]:
    """Each text two BBC paragraphs' first 10 words, each about sport or politics; the score is the share of
    sport in it: 0.0, 0.5 or 1.0 (written with decimals: a score, as a user's ratings would be)."""
    rng = random.Random(0)
    sides = {1.0: bbc_paragraphs("sports"), 0.0: bbc_paragraphs("politics")}
    rows = []
    while all(len(paragraphs) >= 2 for paragraphs in sides.values()):
        a, b = rng.choice([0.0, 1.0]), rng.choice([0.0, 1.0])
        text = " ".join(sides[a].pop().split()[:10] + sides[b].pop().split()[:10])
        rows.append({"text": text, "label": (a + b) / 2})
    return rows


def split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    cut = len(rows) * 3 // 4
    return rows[:cut], rows[cut:]


@pytest.fixture(scope="module")
def share(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = split(sport_share())[0]
    out = tmp_path_factory.mktemp("share") / "model"
    words = sorted({w for r in rows for w in re.findall(r"[a-z]+", r["text"].lower())})
    with only_plugins(("classify", plugin)):
        backbone = tiny_bert(out.parent / "backbone", words=words, seed=0)
        tasuki.train("regression", rows, backbone=str(backbone), output_dir=out, seed=0, epochs=10, **FAST)
    return out


def test_regression_learns_the_share_of_sport(share: Path) -> None:
    train_rows, test = split(sport_share())
    model = tasuki.load(share)
    meta = json.loads((share / "tasuki.json").read_text())
    assert meta["task"] == "regression" and meta["task_state"]["main_metric"] == "spearman"
    gold = np.array([r["label"] for r in train_rows])
    assert meta["task_state"]["scaling"] == {"mean": pytest.approx(gold.mean()), "std": pytest.approx(gold.std())}
    metrics = model.evaluate(test, plots_dir=share / "eval-plots")
    assert Path(metrics["figures"][0]).name == "scores.png"
    # a constant (the training mean) has no correlation and MSE 0.133 here; trained (10 epochs, 311 training
    # texts, 104 test texts), seeds 0-4 scored Spearman 0.668-0.734, Pearson 0.650-0.728, MSE 0.071-0.096
    assert metrics["spearman"] >= 0.5 and metrics["pearson"] >= 0.5
    assert metrics["mse"] < float(np.mean((np.array([r["label"] for r in test]) - gold.mean()) ** 2)) - 0.02
    row = test[0]  # a prediction is the head's output put back on the targets' scale
    encoded = model.tokenizer(row["text"], truncation=True, max_length=model.max_length, return_tensors="pt")
    raw = model.model(**encoded).logits[0, 0].item()
    scaling = model.task.scaling
    assert model.predict(row["text"]) == {"score": pytest.approx(raw * scaling.std + scaling.mean, abs=1e-5)}
    assert model.task.describe(model.predict(row["text"])).startswith("score ")


def test_the_onnx_export_predicts_what_predict_does(share: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    texts = [r["text"] for r in split(sport_share())[1][:8]]
    exported = tasuki.load(tasuki.export(share, tmp_path / "onnx"))
    ours, theirs = tasuki.load(share).predict(texts), exported.predict(texts)
    assert [p["score"] for p in theirs] == pytest.approx([p["score"] for p in ours], abs=1e-4)


def test_regression_refuses_what_is_not_a_number(tmp_path: Path, backbone: Path) -> None:
    data = tmp_path / "ratings.csv"
    data.write_text("text,stars\r\ngreat,4.5\r\nawful,high\r\n", encoding="utf-8")
    out = tmp_path / "out"
    line = refusal("train", "regression", "--data", data, "--column", "label=stars", "--backbone", backbone,
                   "--output", out)
    assert line.endswith("row 2, column 'label': 'high' is not a number; a regression target must be one "
                         "(for classes: task 'classify')") and not out.exists()
    data.write_text("text,label\ngreat,4.5\n,1.5\n", encoding="utf-8")
    line = refusal("train", "regression", "--data", data, "--backbone", backbone, "--output", out)
    assert "row 2" in line and "text" in line and not out.exists()
    with pytest.raises(DataError, match=r"column 'label' has one value \(3\) in all 2 rows"):
        RegressionTask().fit(_dataset([{"text": "a", "label": 3}, {"text": "b", "label": 3.0}]))
    with pytest.raises(SettingError, match="a regression has no labels"):
        RegressionTask(labels=["a", "b"])
    with pytest.raises(SettingError, match="'regression'"):  # classify's option is not this task's
        RegressionTask(regression=True)


def test_classify_points_scores_to_the_regression_task(tmp_path: Path, backbone: Path) -> None:
    data = tmp_path / "ratings.csv"
    data.write_text("text,label\ngood,4.5\nbad,1.5\n", encoding="utf-8")
    line = refusal("train", "classify", "--data", data, "--backbone", backbone, "--output", tmp_path / "out")
    assert "A score for each text: task 'regression' (tasuki train regression)" in line
    line = refusal("train", "classify", "--data", data, "--backbone", backbone, "--output", tmp_path / "out",
                   "--option", "regression=true")
    assert "A score for each text: task 'regression'" in line
    model = tasuki.train("regression", data, backbone=str(backbone), output_dir=tmp_path / "regression", max_steps=1,
                         progress=False, checkpoints=False, eval_split=0)
    assert set(tasuki.load(model.output_dir).predict("good")) == {"score"}


def _dataset(rows: list[dict]):
    from datasets import Dataset

    return Dataset.from_list(rows)


def test_a_long_text_is_read_in_windows(tmp_path: Path, backbone: Path) -> None:
    """Training gives every window its text's target; a prediction is the mean of its windows' scores, worked
    out here from the windows run through the model directly; no truncation warning."""
    import warnings

    import torch

    rows = [{"text": "football goal match " * 30, "label": 1.5}, {"text": "election vote", "label": 0.5}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is cut: no TruncationWarning
        result = tasuki.train("regression", rows, backbone=str(backbone), output_dir=tmp_path / "m", max_steps=2,
                              max_length=16, progress=False, checkpoints=False, eval_split=0)
    model = tasuki.load(result.output_dir)
    features = model.task.encode({"text": [r["text"] for r in rows], "label": [r["label"] for r in rows]},
                                 model.tokenizer, 16)
    windows = features["example_index"].count(0)
    assert windows > 2 and features["example_index"] == [0] * windows + [1]
    assert features["labels"] == pytest.approx([1.0] * windows + [-1.0])  # standardized: mean 1, std 0.5
    text = rows[0]["text"]
    cut = model.tokenizer(text, truncation=True, max_length=16, stride=4, return_overflowing_tokens=True,
                          padding=True, return_tensors="pt")
    assert len(cut["input_ids"]) == windows
    with torch.inference_mode():
        z = model.model(input_ids=cut["input_ids"], attention_mask=cut["attention_mask"]).logits[:, 0]
    scaling = model.task.scaling
    assert model.predict(text)["score"] == pytest.approx(float(z.mean()) * scaling.std + scaling.mean, abs=1e-5)


def test_serve_and_a_table_give_what_predict_does(share: Path, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from tasuki.serve import create_app

    texts = [r["text"] for r in split(sport_share())[1][:4]]
    expected = tasuki.load(share).predict(texts)
    with TestClient(create_app({"share": tasuki.load(share)})) as client:
        info = client.get("/models/share").json()
        assert info["input_fields"] == ["text"] and info["result_kind"] == "json"
        got = client.post("/models/share", json={"inputs": texts[0]})
        assert got.status_code == 200, got.text
        assert got.json()["score"] == pytest.approx(expected[0]["score"], abs=1e-6)
    data = tmp_path / "new.csv"
    data.write_text("id,text\n" + "".join(f"{i},{t}\n" for i, t in enumerate(texts)), encoding="utf-8")
    assert tasuki.load(share).predict_file(data, tmp_path / "scored.csv", progress=False) == 4
    lines = (tmp_path / "scored.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row,id,text,prediction.score"
    assert [float(line.rsplit(",", 1)[1]) for line in lines[1:]] == pytest.approx([p["score"] for p in expected])


def test_correlations_of_constant_targets_are_null_in_json_and_said(caplog: pytest.LogCaptureFixture,
                                                                   capsys: pytest.CaptureFixture) -> None:
    """Pearson of constant targets is undefined: it was the bare token NaN in evaluate --json and tasuki.json,
    which strict JSON parsers refuse, and nothing said why."""
    from tasuki.plugin import echo_json
    from tasuki_classify.regression import metrics

    with caplog.at_level("WARNING"):
        scores = metrics([3.0, 3.0, 3.0], [2.5, 3.1, 2.9])
    assert "undefined (null in JSON) on these 3 rows: the targets are constant" in caplog.text
    assert scores["mse"] == pytest.approx((0.25 + 0.01 + 0.01) / 3)
    capsys.readouterr()
    echo_json(scores)  # what evaluate --json prints (tasuki.json is written alike)
    assert json.loads(capsys.readouterr().out) == {"pearson": None, "spearman": None, "mse": pytest.approx(scores["mse"])}
