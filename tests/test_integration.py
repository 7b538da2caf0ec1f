"""Every plugin installed together (tox env 'all'): discovery, no clashes, and plugins that compose."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tasuki
from tasuki.registry import Registry, set_registry

pytestmark = pytest.mark.integration

PLUGIN_TASKS = {"sentiment", "ner", "qa", "embedding", "mlm"}
SENTIMENT_ROWS = [
    {"text": "i love this film", "label": "positive"}, {"text": "great food and nice people", "label": "positive"},
    {"text": "the service was okay", "label": "neutral"}, {"text": "it is a film", "label": "neutral"},
    {"text": "terrible food", "label": "negative"}, {"text": "i hate this place", "label": "negative"},
] * 4


@pytest.fixture
def installed() -> Registry:
    registry = Registry()  # what the entry points of this environment provide
    set_registry(registry)
    yield registry
    set_registry(None)


def test_all_plugins_load_together_without_clash_or_breakage(installed: Registry) -> None:
    assert not installed.broken(), [p.error for p in installed.broken()]
    assert set(installed.tasks) >= PLUGIN_TASKS
    assert {"scratch", "minilm", "e5-small"} <= set(installed.backbones)


def test_cli_lists_every_plugin_and_its_commands() -> None:
    done = subprocess.run([sys.executable, "-m", "tasuki", "plugins", "--json"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    for name in ("sentiment", "ner", "qa", "embedding", "mlm", "attention"):
        assert name in plugins and not plugins[name]["broken"], plugins.get(name)
    assert "adapt" in plugins["mlm"]["commands"]


def test_mlm_adapted_directory_is_a_backbone_for_sentiment(installed: Registry, backbone_dir: str,
                                                             tmp_path: Path) -> None:
    corpus = [{"text": row["text"]} for row in SENTIMENT_ROWS] * 3
    tasuki.train("mlm", corpus, backbone=backbone_dir, output_dir=tmp_path / "adapted", max_steps=3, batch_size=8,
                 progress=False, eval_split=0)
    result = tasuki.train("sentiment", SENTIMENT_ROWS, backbone=str(tmp_path / "adapted"),
                          output_dir=tmp_path / "clf", epochs=2, batch_size=8, progress=False)
    assert "accuracy" in result.metrics
    model = tasuki.load(tmp_path / "clf")
    assert model.predict("great food")["label"] in {"positive", "neutral", "negative"}


def test_sentiment_trains_on_the_scratch_backbone(installed: Registry, backbone_dir: str, tmp_path: Path) -> None:
    result = tasuki.train("sentiment", SENTIMENT_ROWS, backbone=f"scratch:bert={backbone_dir}",
                          output_dir=tmp_path / "clf", epochs=2, batch_size=8, progress=False)
    assert result.global_step > 0
    assert tasuki.load(tmp_path / "clf").predict(["i love this film"])[0]["label"]
