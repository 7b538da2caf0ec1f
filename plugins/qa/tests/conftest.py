"""Offline fixtures: a fresh registry with only this plugin, and tiny backbones."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest

from tasuki.registry import Registry
from tasuki.testing import only_plugins, tiny_bert
from tasuki_qa import plugin

WORDS = (
    "who what when where which how many year city river mountain capital first climbed named after born "
    "everest amazon tokyo nile moon paris 1953 1868 1964 hillary tenzing norgay edmund curie marie"
).split()


@pytest.fixture(autouse=True)
def registry() -> Registry:
    """Only the qa plugin, never what happens to be installed."""
    with only_plugins(("qa", plugin)) as registry:
        yield registry


@pytest.fixture(scope="session")
def tiny_en(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny English BERT (2 layers, hidden 32, 256 positions)."""
    return tiny_bert(tmp_path_factory.mktemp("tiny_en"), WORDS, max_position_embeddings=256)


@pytest.fixture(scope="session")
def tiny_ja(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT with a character-level Japanese WordPiece vocabulary."""
    return tiny_bert(tmp_path_factory.mktemp("tiny_ja"), japanese=True, max_position_embeddings=256)
