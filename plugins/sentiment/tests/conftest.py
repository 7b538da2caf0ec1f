"""Offline mode, a registry holding classify and this plugin only, and tiny models built on the spot."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tasuki.registry import Registry, set_registry
from tasuki.testing import tiny_bert

torch.set_num_threads(2)  # the machine is shared; tiny shapes need no more

WORDS = ["love", "wonderful", "happy", "best", "worst", "horrible", "sad", "broken", "meeting", "monday", "report"]
POSITIVE = ["i love this film", "what a wonderful day", "happy with the service", "the best food", "great movie"]
NEGATIVE = ["i hate this film", "what a horrible day", "sad with the service", "the worst food", "awful movie"]
NEUTRAL = ["the meeting is monday", "the report is a film", "it was a day", "the place is the place", "they were people"]


@pytest.fixture(autouse=True)
def sentiment_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """The process-wide registry holds the core builtins, classify and this plugin, whatever else is installed.

    Both come from their installed entry points (``TASUKI_PLUGINS``), as for a user: the ``sentiment`` preset is
    built on the ``classify`` task its dependency registers, and nothing here imports classify's code.
    """
    monkeypatch.setenv("TASUKI_PLUGINS", "classify,sentiment")
    registry = Registry()
    set_registry(registry)
    yield registry
    set_registry(None)


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BertModel + WordPiece tokenizer (hidden 32, 2 layers, max 128 positions)."""
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"), words=WORDS)


@pytest.fixture(scope="session")
def ja_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT whose vocabulary holds kana and a few kanji."""
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert-ja"), japanese=True)


@pytest.fixture
def rows() -> list[dict[str, str]]:
    """Fifteen labelled English rows, five per label, twice over (30 rows)."""
    data = [{"text": t, "label": "positive"} for t in POSITIVE]
    data += [{"text": t, "label": "negative"} for t in NEGATIVE]
    data += [{"text": t, "label": "neutral"} for t in NEUTRAL]
    return data * 2
