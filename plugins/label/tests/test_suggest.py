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


def test_typical_covers_what_the_labelled_texts_do_not(tmp_path: Path, backbone: Path) -> None:
    from tasuki_label.pool import embed
    from tasuki_label.selection import select

    pool = _write_pool(tmp_path / "pool.csv", POOL)
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in LABELLED[:5]), encoding="utf-8")
    code, out, err = run_cli("label", "suggest", "--data", pool, "--exclude", labels, "-k", 4, "--output",
                             tmp_path / "next.csv", "--backbone", backbone)  # typical: the default
    assert code == 0, err
    assert "4 texts (typical)" in out
    done = {r["text"] for r in LABELLED[:5]}
    candidates = [t for t in POOL if t not in done]
    # the same choice computed directly: the labelled texts' vectors are what the candidates must cover
    expected = select(embed(candidates, backbone=str(backbone)), 4, "typical", seed=0,
                      labelled=embed(sorted(done), backbone=str(backbone)))
    assert [r["text"] for r in _read(tmp_path / "next.csv")] == [candidates[p.index] for p in expected]


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
    (["--output", "next.txt"], "allowed: a .csv or .jsonl file"),
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
