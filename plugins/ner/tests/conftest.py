"""Offline, deterministic fixtures: a fresh registry with only this plugin, tiny backbones."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

WORDS = "barack obama paris london google microsoft visited met in tokyo sony".split()


@pytest.fixture(autouse=True)
def ner_registry():
    """Register tasuki-ner on a fresh registry, never relying on what is installed."""
    import tasuki_ner.plugin as plugin
    from tasuki.testing import only_plugins

    with only_plugins(("ner", plugin)):
        yield


@pytest.fixture(scope="session")
def tiny_en(tmp_path_factory):
    """A tiny random English BERT with a fast WordPiece tokenizer."""
    from tasuki.testing import tiny_bert

    return tiny_bert(tmp_path_factory.mktemp("tiny_en"), words=WORDS)


@pytest.fixture(scope="session")
def tiny_ja(tmp_path_factory):
    """A tiny random BERT whose vocabulary covers kana and a few kanji."""
    from tasuki.testing import tiny_bert

    return tiny_bert(tmp_path_factory.mktemp("tiny_ja"), japanese=True)


@pytest.fixture(scope="session")
def tokenizer_en(tiny_en):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_en)
