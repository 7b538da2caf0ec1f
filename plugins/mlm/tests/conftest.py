"""Offline, deterministic fixtures: the mlm plugin on a fresh registry, tiny BERTs built on the spot."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest
import torch

from tasuki.registry import Registry
from tasuki.testing import only_plugins, tiny_bert
from tasuki_mlm import plugin

# Tiny models gain nothing from intra-op threads, and on a shared 2-core machine spinning
# threads cost more than they give.
torch.set_num_threads(1)

WORDS = (
    "stocks market shares bank profit company rose fell sharply economy minister election government "
    "football match team won lost players film music award star phone software internet computer "
    "unbelievable investment"
).split()


@pytest.fixture(autouse=True)
def registry() -> Registry:
    """A registry with only this plugin (and the core's built-ins), whatever is installed."""
    with only_plugins(("mlm", plugin)) as registry:
        yield registry


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny English BERT (random weights, no MLM head) with a WordPiece vocabulary."""
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"), words=WORDS)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_backbone: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_backbone)


def news_corpus(documents: int = 120, words: int = 40, seed: int = 0) -> list[str]:
    """A synthetic domain corpus with structure an MLM can learn (topic words co-occur)."""
    import random

    rng = random.Random(seed)
    topics = [WORDS[0:9], WORDS[9:13], WORDS[13:18], WORDS[18:21], WORDS[21:25]]
    texts = []
    for _ in range(documents):
        topic = rng.choice(topics)
        texts.append(" ".join(rng.choice(topic) if rng.random() < 0.7 else rng.choice(["the", "a", "was"])
                              for _ in range(words)))
    return texts
