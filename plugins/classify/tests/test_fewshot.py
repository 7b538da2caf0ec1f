"""The few-shot recipe: the automatic choice and its override, the contrastive batches worked out by hand, a run end to end
(single- and multi-label, saved, loaded, exported), and an exact resume after kill -9 in the contrastive stage."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import tasuki
from tasuki.plugin import CheckpointError
from tasuki.testing import refusal, sigkill_script
from tasuki_classify.contrastive import BATCH, PASSES, CycleBatchSampler, stage_rows, two_views, view_positives
from tasuki_classify.fewshot import FEW_SHOT_MAX_PER_LABEL, choose_recipe

SINGLE = [{"text": t, "label": lab} for t, lab in [
    ("football match goal", "sports"), ("election vote senate", "politics"), ("quiet morning garden", "home"),
    ("goal football", "sports"), ("senate election", "politics"), ("garden tea morning", "home"),
    ("match goal", "sports"), ("vote senate", "politics"), ("tea morning", "home")]]  # 3 a label
TOPICS = {"football": "sports", "goal": "sports", "election": "politics", "senate": "politics"}
MULTI = [{"text": t, "label": [TOPICS[w] for w in t.split() if w in TOPICS]} for t in [
    "football match", "goal match", "election vote", "senate vote", "football election", "goal senate",
    "quiet morning", "garden tea"]]  # rows with 0, 1 or 2 labels
FAST = {"max_length": 16, "progress": False, "seed": 1}


def train(backbone: Path, out: Path, rows: list, **kwargs):
    return tasuki.train("classify", rows, backbone=str(backbone), output_dir=out, **{**FAST, **kwargs})


# --- the contrastive stage's batches, worked out by hand ----------------------------------------------------


def test_stage_rows_and_the_positives_of_each_view_by_hand() -> None:
    """Texts 0 and 1 share "a"; text 2 has "b"; text 3 no label (multi-label): each view is a positive of the
    texts' views it shares a label with and of its own other view; text 3 only of its own."""
    data = stage_rows(["x", "y", "z", "w"], [["a"], ["a", "b"], ["b"], []], ["a", "b"])
    assert data.to_list() == [{"text": "x", "labels": [1.0, 0.0], "row": 0}, {"text": "y", "labels": [1.0, 1.0], "row": 1},
                              {"text": "z", "labels": [0.0, 1.0], "row": 2}, {"text": "w", "labels": [0.0, 0.0], "row": 3}]
    positives = view_positives(torch.tensor(data["labels"]), torch.tensor(data["row"]))
    texts = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=torch.bool)
    assert torch.equal(positives, texts.repeat(2, 2))  # views 0-3 are the texts, 4-7 the same texts again
    drawn_twice = view_positives(torch.tensor([[0.0], [0.0]]), torch.tensor([5, 5]))  # one text twice in a batch
    assert drawn_twice.all()


def test_two_views_grouped_by_length_are_the_one_pass_vectors() -> None:
    """Encoded in passes by length, each cut to its longest text, the vectors are those of one pass over the padded
    batch (texts, then the same texts again), and the loss reaches every parameter."""
    torch.manual_seed(0)

    class MeanOfEmbeddings(torch.nn.Module):  # a deterministic stand-in for a mean-pooled encoder
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = torch.nn.Embedding(20, 4)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            weights = attention_mask.unsqueeze(-1).float()
            return (self.embeddings(input_ids) * weights).sum(1) / weights.sum(1)

    model = MeanOfEmbeddings()
    lengths = [5, 2, 7, 3, 1]
    ids = torch.zeros((5, 9), dtype=torch.long)
    mask = torch.zeros((5, 9), dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n], mask[i, :n] = torch.randint(1, 20, (n,)), 1
    vectors = two_views(model, ids, mask)
    assert torch.allclose(vectors, model(ids.repeat(2, 1), mask.repeat(2, 1)))
    vectors.sum().backward()
    assert model.embeddings.weight.grad is not None and model.embeddings.weight.grad.abs().sum() > 0


def test_each_text_is_drawn_passes_times_in_seeded_batches() -> None:
    sampler = CycleBatchSampler(size=24, batch_size=BATCH, seed=3)
    batches = list(sampler)
    assert len(sampler) == len(batches) == 24 * PASSES // BATCH == 24
    assert all(len(b) == BATCH for b in batches)
    assert sorted(i for b in batches for i in b) == sorted(list(range(24)) * PASSES)
    assert list(CycleBatchSampler(24, BATCH, seed=3)) == batches  # a resumed run replays it
    assert list(CycleBatchSampler(24, BATCH, seed=4)) != batches
    sampler.set_epoch(1)
    assert list(sampler) != batches
    small = list(CycleBatchSampler(size=9, batch_size=BATCH, seed=0))
    assert [len(b) for b in small] == [16] * 9 and len({i for b in small for i in b}) == 9


def test_the_recipe_follows_the_rows_per_label(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        assert choose_recipe(3 * FEW_SHOT_MAX_PER_LABEL, 3, None) == "few-shot"
    assert "few-shot recipe" in caplog.text and "--option recipe=standard" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO):  # the other choice is said too (it was silent)
        assert choose_recipe(3 * FEW_SHOT_MAX_PER_LABEL + 1, 3, None) == "standard"
    assert f"fine-tuned end to end (the few-shot recipe is chosen at {FEW_SHOT_MAX_PER_LABEL} or fewer" in caplog.text
    assert choose_recipe(10, 2, "standard") == "standard"
    assert choose_recipe(10_000, 2, "few-shot") == "few-shot"


def test_the_head_is_scikit_learns_logistic_regression() -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from tasuki_classify.head import logistic_head, penalty

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(12, 5))
    rows = [["a"], ["b"], ["c"]] * 4
    weight, bias, c = logistic_head(vectors, rows, ["a", "b", "c"], multi_label=False)
    assert c == penalty(vectors)
    reference = LogisticRegression(C=c, max_iter=2000).fit(vectors, [r[0] for r in rows])  # balanced rows
    np.testing.assert_allclose(weight, reference.coef_, rtol=1e-6)
    # two labels: scikit-learn's one vector becomes the second label's row, the first's is zero: the same softmax
    weight, bias, _ = logistic_head(vectors, [["a"], ["b"]] * 6, ["a", "b"], multi_label=False)
    assert not weight[0].any() and bias[0] == 0.0 and weight[1].any()
    # multi-label: a label no row has gets weight 0 and the bias of rate 0.01
    weight, bias, _ = logistic_head(vectors, [["a"], ["a", "b"], []] * 4, ["a", "b", "c"], multi_label=True)
    assert not weight[2].any() and bias[2] == pytest.approx(np.log(0.01 / 0.99))
    assert weight[0].any() and weight[1].any()


def _clusters(rows_per_label: list[int], spread: float, seed: int = 0):
    """Unit vectors near one of len(rows_per_label) directions (``spread``: the noise around each), and class ids."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centre = rng.normal(size=16)
    directions = centre + 0.05 * rng.normal(size=(len(rows_per_label), 16))  # close together, as e5-small's vectors
    y = np.repeat(np.arange(len(rows_per_label)), rows_per_label)
    vectors = directions[y] + spread * rng.normal(size=(len(y), 16))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), y


def test_the_penalty_follows_the_vectors_spread() -> None:
    import numpy as np

    from tasuki_classify import head

    # two unit vectors at right angles: each is 1/2 (squared) from their centre, so C = 1 / (1/2)
    assert head.penalty(np.array([[1.0, 0.0], [0.0, 1.0]])) == pytest.approx(2.0)
    assert head.penalty(np.ones((3, 4))) == head.C  # no spread at all
    # so the head does not depend on the vectors' scale: vectors 3 times as far apart get the same probabilities
    # (a third of the weights), up to the solver's tolerance
    vectors, y = _clusters([6, 5, 5], spread=0.01)
    near = head.fit_logistic(vectors, y, head.penalty(vectors), balanced=True)
    far = head.fit_logistic(3 * vectors, y, head.penalty(3 * vectors), balanced=True)
    np.testing.assert_allclose(far.predict_proba(3 * vectors), near.predict_proba(vectors), atol=2e-3)
    np.testing.assert_allclose(far.coef_, near.coef_ / 3, rtol=0.02, atol=0.02)
    # a fixed C would not: at C = 1 vectors 30 times as far apart get far surer probabilities
    from sklearn.linear_model import LogisticRegression

    fixed = [LogisticRegression(C=1.0).fit(x, y).predict_proba(x).max(axis=1).mean() for x in (vectors, 30 * vectors)]
    assert fixed[1] > fixed[0] + 0.1


def test_an_uneven_sample_of_close_vectors_still_gets_every_label() -> None:
    from sklearn.linear_model import LogisticRegression

    from tasuki_classify import head

    vectors, y = _clusters([7, 6, 3], spread=0.01)  # 16 rows, the rarest label 3: the active-learning case
    fitted = head.fit_logistic(vectors, y, head.penalty(vectors), balanced=True)
    assert (fitted.predict(vectors) == y).all()
    # SetFit's head (C = 1, rows weighed alike) calls every row one of the two common labels
    assert 2 not in LogisticRegression(C=1.0).fit(vectors, y).predict(vectors)


def test_a_head_that_gives_every_text_one_answer_is_found() -> None:
    import numpy as np

    from tasuki_classify.head import Head, one_answer_for_all

    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    weight = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert one_answer_for_all(Head(weight, np.zeros(2), 1.0), vectors, False) is None  # rows 0 and 1 differ
    assert one_answer_for_all(Head(weight, np.array([0.0, 2.0]), 1.0), vectors, False) == (1,)  # the bias decides
    # multi-label: logits above 0 are labels; row 0 gets label 0, row 1 label 1, until the biases sink them all
    assert one_answer_for_all(Head(weight, np.array([-0.2, -0.2]), 1.0), vectors, True) is None
    assert one_answer_for_all(Head(weight, np.array([-2.0, -2.0]), 1.0), vectors, True) == ()


def test_the_head_runs_loss_holds_the_logistic_regressions_penalty() -> None:
    import torch

    from tasuki_classify.pooled import PooledClassifier

    class Fixed(torch.nn.Module):  # a stand-in for the encoder: vectors given by hand
        dimension = 2
        encoder = type("E", (), {"config": None})()

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            return torch.tensor([[1.0, 0.0], [0.0, 1.0]])

    model = PooledClassifier(Fixed(), 2, l2=0.5)
    with torch.no_grad():
        model.classifier.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 0.0]]))
        model.classifier.bias.zero_()
    out = model(torch.zeros(2, 1, dtype=torch.long), torch.ones(2, 1), labels=torch.tensor([0, 1]))
    logits = torch.tensor([[1.0, 3.0], [2.0, 0.0]])
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])) + 0.5 / 2 * (5 + 9)  # |W|^2 = 14
    assert out.loss.item() == pytest.approx(expected.item())
    # with class weights the task computes the loss itself: the penalty stays in it (it was dropped), and weights
    # of 1 give the head's own loss
    from tasuki_classify.task import ClassifyTask

    task = ClassifyTask()
    task.loss_weights = [1.0, 1.0]
    batch = {"input_ids": torch.zeros(2, 1, dtype=torch.long), "attention_mask": torch.ones(2, 1),
             "labels": torch.tensor([0, 1])}
    assert task.training_loss(model, batch).item() == pytest.approx(expected.item())


def test_the_few_shot_head_is_fitted_with_the_users_class_weights() -> None:
    import numpy as np

    from tasuki_classify.head import logistic_head

    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.2, 0.8], [0.5, 0.5]])
    rows = [["a"], ["a"], ["b"], ["b"], ["a"]]
    plain = logistic_head(vectors, rows, ["a", "b"], False)
    heavy_b = logistic_head(vectors, rows, ["a", "b"], False, weights=[1.0, 5.0])
    # the weights reach the fit (they were ignored): b's bias rises against a's
    assert heavy_b.bias[1] - heavy_b.bias[0] > plain.bias[1] - plain.bias[0]


# --- end to end -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def few_shot(tmp_path_factory: pytest.TempPathFactory, backbone: Path) -> Path:
    from tasuki.registry import Registry, set_registry
    from tasuki_classify import plugin

    set_registry(Registry([("classify", plugin)], entry_points=False))
    out = tmp_path_factory.mktemp("few") / "model"
    train(backbone, out, SINGLE)
    return out


def test_few_shot_is_chosen_and_saves_an_ordinary_model(few_shot: Path) -> None:
    meta = json.loads((few_shot / "tasuki.json").read_text())
    assert meta["task_state"]["options"]["recipe"] == "few-shot"
    assert meta["data"]["eval"].startswith("none")  # no held-out split by default: every row trains
    assert {"classifier.safetensors", "modules.json", "model.safetensors"} <= {p.name for p in few_shot.iterdir()}
    assert not (few_shot / "checkpoints").exists()
    model = tasuki.load(few_shot)
    predictions = model.predict(["football goal", "senate vote", "tea garden"])
    assert [p["label"] for p in predictions] == ["sports", "politics", "home"]
    assert model.evaluate(SINGLE)["accuracy"] == 1.0


def test_the_sentence_encoder_loads_in_sentence_transformers(few_shot: Path) -> None:
    st = pytest.importorskip("sentence_transformers")
    import torch

    vectors = st.SentenceTransformer(str(few_shot), device="cpu").encode(["football goal"], convert_to_tensor=True)
    model = tasuki.load(few_shot).model
    batch = tasuki.load(few_shot).tokenizer(["football goal"], return_tensors="pt")
    with torch.no_grad():
        ours = model.sentence(batch["input_ids"], batch["attention_mask"])
    torch.testing.assert_close(vectors, ours, atol=1e-5, rtol=1e-4)


def test_a_few_shot_head_that_learnt_nothing_is_a_warning(tmp_path: Path, backbone: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    rows = [{"text": "the same text", "label": label} for label in ["a", "b", "c"] * 3]  # nothing to tell apart
    with caplog.at_level(logging.INFO):
        train(backbone, tmp_path / "m", rows)
    assert "few-shot" in caplog.text
    assert "the few-shot head gives all 9 training texts one answer" in caplog.text
    assert "one answer" not in _train_log(backbone, tmp_path / "ok", caplog)  # SINGLE: texts that tell the labels


def _train_log(backbone: Path, out: Path, caplog: pytest.LogCaptureFixture) -> str:
    caplog.clear()
    with caplog.at_level(logging.INFO):
        train(backbone, out, SINGLE)
    return caplog.text


def test_standard_overrides_the_choice(tmp_path: Path, backbone: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        train(backbone, tmp_path / "m", SINGLE, epochs=1, task_options={"recipe": "standard"})
    assert "few-shot" not in caplog.text
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert not (tmp_path / "m" / "classifier.safetensors").exists()


def test_a_bad_recipe_is_refused_in_one_line(tmp_path: Path, backbone: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in SINGLE), encoding="utf-8")
    line = refusal("train", "classify", "--data", data, "--backbone", backbone, "--output", tmp_path / "o",
                   "--option", "recipe=fewshot")
    assert "recipe" in line and "few-shot" in line and "standard" in line
    assert not (tmp_path / "o").exists()


def test_multi_label_few_shot(tmp_path: Path, backbone: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        train(backbone, tmp_path / "m", MULTI)
    assert "few-shot" in caplog.text and "multi-label" in caplog.text
    assert "one answer" not in caplog.text  # the head tells the rows' label sets apart
    model = tasuki.load(tmp_path / "m")
    assert model.task.multi_label and model.task.options.recipe == "few-shot"
    predictions = model.predict(["football match", "quiet morning"])
    assert all(set(p["scores"]) == {"sports", "politics"} for p in predictions)
    assert all(0.0 <= s <= 1.0 for p in predictions for s in p["scores"].values())
    assert predictions[0]["scores"]["sports"] > predictions[1]["scores"]["sports"]


def test_the_onnx_export_holds_the_head(few_shot: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    exported = tasuki.export(few_shot, tmp_path / "onnx")
    texts = ["football goal", "senate vote", "tea garden morning"]
    ours, theirs = tasuki.load(few_shot).predict(texts), tasuki.load(exported).predict(texts)
    assert [p["label"] for p in ours] == [p["label"] for p in theirs]
    for a, b in zip(ours, theirs):
        assert all(abs(a["scores"][k] - b["scores"][k]) < 1e-4 for k in a["scores"])


def test_a_missing_head_is_a_checkpoint_error(few_shot: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(few_shot, broken)
    (broken / "classifier.safetensors").unlink()
    with pytest.raises(CheckpointError, match="classifier.safetensors"):
        tasuki.load(broken)


def test_japanese_few_shot(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Japanese text: the language is detected, the texts are encoded by the backbone's own tokenizer (MeCab
    words for a Japanese one), and the model predicts through the same path as single-label training."""
    from tasuki.testing import tiny_bert

    backbone = tiny_bert(tmp_path / "ja-backbone", japanese=True)
    rows = [{"text": t, "label": label} for t, label in [
        ("映画は最高でした。", "良い"), ("あの映画は良い。", "良い"), ("料理は最高でした。", "良い"),
        ("この店の料理は悪い。", "悪い"), ("映画は悪い。", "悪い"), ("料理は悪いでした。", "悪い")]]
    with caplog.at_level(logging.INFO):
        train(backbone, tmp_path / "ja", rows)
    assert "language: ja (detected" in caplog.text and "few-shot" in caplog.text
    model = tasuki.load(tmp_path / "ja")
    assert model.task.lang == "ja" and model.task.options.recipe == "few-shot"
    predicted = [p["label"] for p in model.predict([r["text"] for r in rows])]
    assert model.evaluate(rows)["accuracy"] == pytest.approx(sum(p == r["label"] for p, r in zip(predicted, rows)) / 6)


def test_predict_file_and_the_cli_take_a_few_shot_model(few_shot: Path, tmp_path: Path) -> None:
    from tasuki.testing import run_cli

    data = tmp_path / "in.csv"
    data.write_text("text\nfootball goal\nsenate vote\n", encoding="utf-8")
    code, _, err = run_cli("predict", few_shot, "--input", data, "--output", tmp_path / "out.jsonl")
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["prediction"]["label"] for r in rows] == ["sports", "politics"]


# --- resume after kill -9 in the contrastive stage --------------------------------------------

KILLER = sigkill_script("tasuki_classify.contrastive:ContrastiveStage.training_loss")


def _cli_train(tmp_path: Path, backbone: Path, data: Path, out: Path, *extra: str, kill_at: int = 0):
    script = tmp_path / "killer.py"
    script.write_text(KILLER, encoding="utf-8")
    command = [sys.executable, str(script), "train", "classify", "--data", str(data), "--output", str(out),
               "--backbone", str(backbone), "--max-length", "16", "--save-steps", "2", "--keep-checkpoints",
               "--cpu", "--no-progress", "--seed", "3", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TASUKI_PLUGINS": "classify", "HF_HUB_OFFLINE": "1",
           "KILL_AT": str(kill_at)}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_kill_9_in_the_contrastive_stage_then_resume_gives_the_uninterrupted_model(
        tmp_path: Path, backbone: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in SINGLE), encoding="utf-8")  # 9 rows drawn 16 times: 9 steps of 16
    full = _cli_train(tmp_path, backbone, data, tmp_path / "full")
    assert full.returncode == 0, full.stderr[-3000:]
    cut = tmp_path / "cut"
    killed = _cli_train(tmp_path, backbone, data, cut, kill_at=3)  # after the checkpoint of step 2
    assert killed.returncode == -signal.SIGKILL
    assert (cut / "checkpoints" / "contrastive").is_dir() and not (cut / "tasuki.json").exists()
    resumed = _cli_train(tmp_path, backbone, data, cut, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stderr
    for name in ("model.safetensors", "classifier.safetensors"):
        first, second = load_file(tmp_path / "full" / name), load_file(cut / name)
        assert max(float((first[k] - second[k]).abs().max()) for k in first) < 1e-6
