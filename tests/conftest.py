"""Shared fixtures: offline mode, a tiny backbone, and a registry holding only the toy task."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

from tasuki.registry import Registry
from tasuki.testing import only_plugins, tiny_bert
from tasuki_template import plugin as toy_plugin

POSITIVE = ["good movie", "great food", "i love this film", "nice place", "very good service", "great day"]
NEGATIVE = ["bad movie", "terrible food", "i hate this film", "awful place", "very bad service", "terrible day"]


@pytest.fixture(scope="session")
def backbone_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_bert(tmp_path_factory.mktemp("tiny-bert")))


@pytest.fixture(scope="module")
def registry() -> Registry:
    """The toy template plugin alone, for a whole module (modules that train one model and reuse it)."""
    with only_plugins(("toy", toy_plugin)) as registry:
        yield registry


@pytest.fixture
def toy_registry() -> Registry:
    with only_plugins(("toy", toy_plugin)) as registry:
        yield registry


@pytest.fixture
def toy_rows() -> list[dict[str, str]]:
    rows = [{"text": t, "label": "pos"} for t in POSITIVE] + [{"text": t, "label": "neg"} for t in NEGATIVE]
    return rows * 4
