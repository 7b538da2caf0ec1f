"""``tasuki label suggest``: exclusion, k beyond the pool, a model's uncertainty, and one-line refusals."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import tasuki
from conftest import LABELLED, POLITICS, SPORT, WEATHER
from tasuki.testing import refusal, run_cli
from tasuki_label.selection import margins

POOL = SPORT + POLITICS + WEATHER


def _write_pool(path: Path, texts: list[str], column: str = "text") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", column])
        writer.writerows([i, t] for i, t in enumerate(texts))
    return path


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_diverse_leaves_out_labelled_texts(tmp_path: Path, backbone: Path) -> None:
    pool = _write_pool(tmp_path / "pool.csv", POOL + POOL[:3])  # a text twice is one text
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in LABELLED[:5]), encoding="utf-8")
    code, out, err = run_cli("label", "suggest", "--data", pool, "--exclude", labels, "-k", 6, "--output",
                             tmp_path / "next.csv", "--backbone", backbone, "--strategy", "diverse")
    assert code == 0, err
    rows = _read(tmp_path / "next.csv")
    assert len(rows) == 6 and len({r["text"] for r in rows}) == 6
    assert not {r["text"] for r in rows} & {r["text"] for r in LABELLED[:5]}
    assert {r["text"] for r in rows} <= set(POOL)
    assert "6 texts (diverse)" in out


@pytest.mark.parametrize("with_model", [False, True])
def test_typical_covers_what_the_labelled_texts_do_not(tmp_path: Path, backbone: Path, model_dir: Path,
                                                        with_model: bool) -> None:
    """typical clusters the backbone's vectors (TypiClust's fixed embedding), and with a model its encoder's beside
    them, each at unit length."""
    from tasuki_label.pool import embed
    from tasuki_label.selection import select

    pool = _write_pool(tmp_path / "pool.csv", POOL)
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in LABELLED[:5]), encoding="utf-8")
    model = ["--model", model_dir] if with_model else []
    code, out, err = run_cli("label", "suggest", "--data", pool, "--exclude", labels, "-k", 4, "--output",
                             tmp_path / "next.csv", "--backbone", backbone, *model)  # typical: the default
    assert code == 0, err
    assert "4 texts (typical)" in out
    done = {r["text"] for r in LABELLED[:5]}
    candidates = [t for t in POOL if t not in done]
    loaded = tasuki.load(model_dir) if with_model else None

    def unit(rows: np.ndarray) -> np.ndarray:
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def vectors(texts: list[str]) -> np.ndarray:
        return np.hstack([unit(embed(texts, backbone=str(backbone)))] + ([unit(embed(texts, model=loaded))] if loaded else []))

    # the same choice computed directly: the labelled texts' vectors are what the candidates must cover
    expected = select(vectors(candidates), 4, "typical", seed=0, labelled=vectors(sorted(done)))
    rows = _read(tmp_path / "next.csv")
    assert [r["text"] for r in rows] == [candidates[p.index] for p in expected]
    if with_model:  # the model's guess and margin are written for typical's picks too (a crash until stop 39)
        predicted = tasuki.load(model_dir).predict([r["text"] for r in rows])
        labels = tasuki.load(model_dir).task.labels
        expected_margins = margins(np.array([[p["scores"][name] for name in labels] for p in predicted]))
        assert [float(r["margin"]) for r in rows] == pytest.approx(expected_margins, abs=1e-3)
        assert [r["guess"] for r in rows] == [p["label"] for p in predicted]


def test_the_backbone_follows_the_texts_language_unless_given() -> None:
    from tasuki_label.pool import embedding_backbone

    english = ["the match was won", "a vote in the senate", "rain all day"]
    japanese = ["今日は雨が降っています。", "この映画はとても面白かった。", "選挙の結果が出た。"]
    assert embedding_backbone(english) == "minilm"
    assert embedding_backbone(japanese + english[:1]) == "e5-small"  # most of them Japanese
    assert embedding_backbone(japanese, "my-backbone") == "my-backbone"
    assert embedding_backbone([]) == "minilm"


def test_suggest_says_which_backbone_it_chose(tmp_path: Path) -> None:
    pool = _write_pool(tmp_path / "pool.csv", POOL)
    code, out, err = run_cli("label", "suggest", "--data", pool, "-k", 3, "--output", tmp_path / "next.csv",
                             "--strategy", "diverse")
    assert code == 0, err
    assert "embeddings: minilm, the default backbone for these texts' language" in err
    assert "3 texts (diverse)" in out


def test_a_backbone_with_saved_prompts_embeds_with_its_query_prompt(tmp_path: Path, backbone: Path) -> None:
    """E5's sentence-transformers config says "query: " for texts compared with each other: the pool gets it."""
    import shutil

    from tasuki_label.pool import embed

    prompted = tmp_path / "prompted"
    shutil.copytree(backbone, prompted)
    (prompted / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "passage": "passage: "}}), encoding="utf-8")
    texts = ["the cup match", "rain and wind"]
    assert np.allclose(embed(texts, backbone=str(prompted)), embed([f"query: {t}" for t in texts], backbone=str(backbone)),
                       atol=1e-6)
    assert not np.allclose(embed(texts, backbone=str(prompted)), embed(texts, backbone=str(backbone)), atol=1e-3)


def test_k_beyond_the_pool_writes_every_unlabelled_text(tmp_path: Path, backbone: Path) -> None:
    pool = _write_pool(tmp_path / "pool.csv", POOL)
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in LABELLED[:18]), encoding="utf-8")
    code, _, err = run_cli("label", "suggest", "--data", pool, "--exclude", labels, "-k", 20, "--output",
                           tmp_path / "next.jsonl", "--backbone", backbone, "--strategy", "random", "--seed", 1)
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "next.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["text"] for r in rows) == sorted(POOL[18:])
    assert "3 unlabelled texts" in err and "fewer than -k 20" in err


def test_suggestions_as_a_table_read_back_as_written(tmp_path: Path) -> None:
    """A workbook (to label in Excel) or a TSV holds what the JSON lines hold; a text starting with "=" stays text."""
    from tasuki.data import read_file

    pool = _write_pool(tmp_path / "pool.csv", ["=1+1 is two", *POOL])
    written = {}
    for suffix in (".jsonl", ".xlsx", ".tsv", ".csv"):
        code, _, err = run_cli("label", "suggest", "--data", pool, "-k", 24, "--output", tmp_path / f"next{suffix}",
                               "--strategy", "random", "--seed", 3)
        assert code == 0, err
        written[suffix] = [{**row, "cluster": int(row["cluster"])} for row in read_file(tmp_path / f"next{suffix}")]
    assert len(written[".jsonl"]) == 22 and {"text": "=1+1 is two", "cluster": -1} in written[".jsonl"]
    assert written[".xlsx"] == written[".tsv"] == written[".csv"] == written[".jsonl"]


def test_with_a_model_the_least_sure_come_first(tmp_path: Path, model_dir: Path) -> None:
    pool = _write_pool(tmp_path / "pool.csv", POOL)
    code, out, err = run_cli("label", "suggest", "--data", pool, "-k", 4, "--output", tmp_path / "next.csv",
                             "--model", model_dir, "--strategy", "uncertainty")
    assert code == 0, err
    rows = _read(tmp_path / "next.csv")
    assert "4 texts (uncertainty)" in out and len(rows) == 4
    model = tasuki.load(model_dir)
    predicted = model.predict([r["text"] for r in rows])
    labels = model.task.labels
    expected = margins(np.array([[p["scores"][name] for name in labels] for p in predicted]))
    assert [float(r["margin"]) for r in rows] == pytest.approx(expected, abs=1e-3)
    assert [float(r["margin"]) for r in rows] == sorted(float(r["margin"]) for r in rows)
    assert [r["guess"] for r in rows] == [p["label"] for p in predicted]
    assert len({r["cluster"] for r in rows}) == 4  # one per cluster


@pytest.mark.parametrize(("extra", "message"), [
    (["-k", "0"], "Invalid value for '-k': 0 is not in the range x>=1"),
    (["--strategy", "entropy"], "'entropy' is not one of 'diverse', 'uncertainty', 'typical', 'random'"),
    (["--strategy", "uncertainty"], "'uncertainty' needs --model"),
    (["--output", "next.txt"], "allowed: a .csv, .tsv, .xlsx or .jsonl file"),
    (["--column", "label=x"], "'label' is not a column tasuki label reads"),
    (["--column", "text=body"], "missing column 'body'; found columns: id, text"),
    (["--exclude", "nowhere.jsonl"], "'nowhere.jsonl': no such file"),
])
def test_refusals_are_one_line_and_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                extra: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    _write_pool(tmp_path / "pool.csv", POOL)
    args = ["--data", "pool.csv", "-k", "3", "--output", "next.csv", *extra]
    assert message in refusal("label", "suggest", *args)
    assert not (tmp_path / "next.csv").exists() and not (tmp_path / "next.txt").exists()


def test_an_empty_text_is_refused_with_its_row(tmp_path: Path) -> None:
    _write_pool(tmp_path / "pool.csv", ["good", " ", "bad"])
    line = refusal("label", "suggest", "--data", tmp_path / "pool.csv", "-k", 1, "--output", tmp_path / "n.csv")
    assert "row 2, column 'text': expected a non-empty text" in line


def test_embeddings_come_from_the_models_own_encoder(model_dir: Path, backbone: Path) -> None:
    import torch

    from tasuki_label.pool import embed, encoder_of

    model = tasuki.load(model_dir, device="cpu")
    encoder = encoder_of(model.model)
    assert encoder is not None and encoder.base_model is encoder
    texts = ["football match", "the election"]
    mine = embed(texts, model=model)
    batch = model.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = encoder(**batch).last_hidden_state  # (B, T, H)
    mask = batch["attention_mask"].unsqueeze(-1).float()
    assert np.allclose(mine, ((hidden * mask).sum(1) / mask.sum(1)).numpy(), atol=1e-5)
    # trained: not the backbone's vectors any more
    assert not np.allclose(mine, embed(texts, backbone=str(backbone)), atol=1e-3)


def test_embeddings_batched_by_length_come_back_in_the_given_order(backbone: Path, capsys) -> None:
    from tasuki_label.pool import embed

    texts = ["rain", "the minister spoke to parliament about the new budget for schools", "goal", "a sunny day today"]
    one_by_one = np.vstack([embed([t], backbone=str(backbone)) for t in texts])
    assert np.allclose(embed(texts, backbone=str(backbone), batch_size=2, progress=True), one_by_one, atol=1e-5)
    assert "embedding" in capsys.readouterr().err  # the bar, on stderr


def test_a_large_pool_is_sampled_as_the_page_samples_it(tmp_path: Path) -> None:
    import random

    pool = _write_pool(tmp_path / "pool.csv", POOL)
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in LABELLED[:3]), encoding="utf-8")
    args = ["label", "suggest", "--data", pool, "--exclude", labels, "-k", 20, "--output", tmp_path / "next.jsonl",
            "--strategy", "random", "--candidates", 6, "--seed", 4]
    code, _, err = run_cli(*args)
    assert code == 0, err
    left = [t for t in POOL if t not in {r["text"] for r in LABELLED[:3]}]
    assert f"choosing among 6 of the {len(left)} unlabelled texts" in err
    rows = [json.loads(line) for line in (tmp_path / "next.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["text"] for r in rows) == sorted(random.Random(4 + 3).sample(left, 6))


JAPANESE = ["今日は晴れです", "店員さんが親切でした", "待ち時間が長すぎる"]


def _cp932_pool(path: Path) -> Path:
    """A pool as Excel saves it on a Japanese Windows: CP932, which UTF-8 cannot decode."""
    path.write_bytes(("text\r\n" + "".join(t + "\r\n" for t in JAPANESE)).encode("cp932"))
    return path


def test_a_cp932_pool_is_read_with_encoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pool, out = _cp932_pool(tmp_path / "pool.csv"), tmp_path / "next.csv"
    base = ["--data", pool, "-k", 3, "--output", out, "--strategy", "random"]
    assert "--encoding" in refusal("label", "suggest", *base)  # the decode error's advice names an option that exists
    code, _, err = run_cli("label", "suggest", *base, "--encoding", "cp932")
    assert code == 0, err
    assert sorted(row["text"] for row in _read(out)) == sorted(JAPANESE)

    from tasuki_label.page import LabelServer

    seen = []  # the page's pool, read with --encoding too: one session, served no further
    monkeypatch.setattr(LabelServer, "serve_forever", lambda self: seen.append(self.session.pool))
    page = ["label", pool, "--task", "classify", "--labels", "良い,悪い", "--output", tmp_path / "labels.jsonl",
            "--port", 0, "--every", 0, "--strategy", "random"]
    assert "--encoding" in refusal(*page)
    code, out_text, err = run_cli(*page, "--encoding", "cp932")
    assert code == 0, err
    assert seen == [JAPANESE] and "3 texts, 0 labelled" in out_text
