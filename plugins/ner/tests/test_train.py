"""Through the core: train, evaluate, plot, save, load, predict; the saved model in transformers' pipeline."""

from __future__ import annotations

import json

import pytest

import tasuki
from tasuki_ner.readers import write_conll

SENTENCES = [
    (["Obama", "visited", "Paris", "."], ["B-PER", "O", "B-LOC", "O"]),
    (["Google", "met", "Sony", "in", "Tokyo", "."], ["B-ORG", "O", "B-ORG", "O", "B-LOC", "O"]),
    (["Barack", "Obama", "visited", "London", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    (["Microsoft", "met", "Obama", "in", "Paris", "."], ["B-ORG", "O", "B-PER", "O", "B-LOC", "O"]),
]
FAST = {"batch_size": 4, "progress": False, "save_steps": 0, "eval_split": 0, "seed": 0}


@pytest.fixture(scope="module")
def conll(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "train.conll"
    return write_conll([{"tokens": t, "tags": g} for t, g in SENTENCES * 4], path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_en, conll):
    """The tiny BERT fitted to 16 sentences (4 distinct) until it has learnt them."""
    import tasuki_ner.plugin as plugin
    from tasuki.registry import Registry, set_registry

    set_registry(Registry(plugins=[("ner", plugin)], entry_points=False))
    out = tmp_path_factory.mktemp("model")
    result = tasuki.train(
        "ner", data=str(conll), eval_data=str(conll), backbone=str(tiny_en), output_dir=out,
        epochs=15, learning_rate=5e-3, warmup_ratio=0.0, **FAST,
    )  # fmt: skip
    return result


def test_training_learns_and_plots(trained):
    assert trained.metrics["f1"] >= 0.8, trained.metrics  # fitted to its own training sentences
    assert {"precision", "recall", "macro_f1", "accuracy", "f1_PER", "f1_LOC", "f1_ORG"} <= set(trained.metrics)
    assert [p.name for p in trained.figures] == ["ner_f1_by_type.png"]
    assert trained.figures[0].stat().st_size > 5000


def test_load_predict_evaluate_and_pipeline_agree(trained, conll):
    from transformers import pipeline

    model = tasuki.load(trained.output_dir)
    text = "Barack Obama visited London ."
    entities = model.predict(text)  # a training sentence: its two entities, at their offsets
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in entities] == [
        ("PER", "Barack Obama", 0, 12), ("LOC", "London", 21, 27)]
    assert all(e["text"] == text[e["start"] : e["end"]] and 0.5 < e["score"] <= 1 for e in entities)
    pipe = pipeline("token-classification", model=str(trained.output_dir), aggregation_strategy="simple")
    texts = [text, "Google met Sony in Tokyo .", "Microsoft visited Paris"]
    ours = model.predict(texts)
    theirs = pipe(texts)
    assert [[(e["type"], e["start"], e["end"]) for e in a] for a in ours] == [
        [(e["entity_group"], e["start"], e["end"]) for e in b] for b in theirs
    ]
    metrics = tasuki.evaluate(trained.output_dir, str(conll))
    assert metrics["f1"] == pytest.approx(trained.metrics["f1"])
    saved = json.loads((trained.output_dir / "config.json").read_text())
    assert saved["id2label"]["0"] == "O" and "B-PER" in saved["label2id"]


def test_cli_show_and_data(trained, tmp_path):
    from click.testing import CliRunner

    from tasuki_ner.cli import ner

    html = tmp_path / "out.html"
    result = CliRunner().invoke(ner, ["show", str(trained.output_dir), "Obama visited Paris .", "--html", str(html)])
    assert result.exit_code == 0, result.output
    assert "Obama" in result.output and "|PER]" in result.output  # no colours when not a terminal
    assert "<mark" in html.read_text(encoding="utf-8")
    result = CliRunner().invoke(ner, ["show", str(trained.output_dir), "Obama visited Paris .", "--json"])
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert json.loads(lines[0])["entities"]
    result = CliRunner().invoke(ner, ["data", "english", str(tmp_path / "en")])
    assert result.exit_code == 0 and (tmp_path / "en" / "test.conll").is_file()


JA_SENTENCES = [  # characters the tiny Japanese vocabulary has, so that every word is learnable
    (["山田", "太郎", "は", "東京", "に", "いる", "。"], ["B-PER", "I-PER", "O", "B-LOC", "O", "O", "O"]),
    (["花子", "は", "大阪", "の", "会社", "に", "いる", "。"], ["B-PER", "O", "B-LOC", "O", "O", "O", "O", "O"]),
    (["株式", "会社", "日本", "は", "京都", "に", "ある", "。"], ["B-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "O", "O", "O"]),
    (["私", "は", "東京", "の", "料理", "店", "が", "良い", "。"], ["O", "O", "B-LOC", "O", "O", "O", "O", "O", "O"]),
]


def test_japanese_trains_and_predicts_with_character_offsets(tmp_path, tiny_ja):
    train = [{"tokens": t, "tags": g} for t, g in JA_SENTENCES] * 4
    result = tasuki.train(
        "ner", data=train, eval_data=train[:4], backbone=str(tiny_ja), lang="ja", output_dir=tmp_path / "ja",
        epochs=20, learning_rate=5e-3, warmup_ratio=0.0, **FAST,
    )  # fmt: skip
    assert result.metrics["f1"] == 1.0 and result.metrics["f1_PER"] == result.metrics["f1_ORG"] == 1.0
    model = tasuki.load(tmp_path / "ja")
    model.task.aggregation = "first"  # MeCab words
    text = "山田太郎は東京にいる。"  # the first training sentence, as plain text: MeCab finds the words
    entities = model.predict(text)
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in entities] == [("PER", "山田太郎", 0, 4), ("LOC", "東京", 5, 7)]
