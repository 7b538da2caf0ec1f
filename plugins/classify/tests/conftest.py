"""Fixtures: offline mode, a registry holding only this plugin, and one tiny backbone for the module."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest

from tasuki.registry import Registry
from tasuki.testing import only_plugins, tiny_bert
from tasuki_classify import plugin

WORDS = ["football", "match", "goal", "election", "vote", "senate", "quiet", "morning", "garden", "tea"]


@pytest.fixture(autouse=True)
def registry() -> Registry:
    with only_plugins(("classify", plugin)) as registry:
        yield registry


@pytest.fixture(scope="session")
def backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("classify-bb"), words=WORDS)
