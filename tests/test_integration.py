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
END_TO_END = {"recipe": "standard"}  # 8 rows a label would choose classify's few-shot recipe; these test fine-tuning


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
    result = tasuki.train("sentiment", SENTIMENT_ROWS, backbone=str(tmp_path / "adapted"), output_dir=tmp_path / "clf",
                          max_steps=1, batch_size=8, learning_rate=1e-12, eval_split=0, progress=False,
                          task_options=END_TO_END)
    assert result.global_step == 1
    # the classifier's encoder is the adapted one (a step of 1e-12 moves no weight), not the original backbone
    from safetensors.torch import load_file

    adapted = load_file(str(tmp_path / "adapted" / "model.safetensors"))
    classifier = load_file(str(tmp_path / "clf" / "model.safetensors"))
    key = next(k for k in adapted if k.endswith("word_embeddings.weight"))
    mine = next(k for k in classifier if k.endswith("word_embeddings.weight"))
    original = load_file(str(Path(backbone_dir) / "model.safetensors"))
    first = next(k for k in original if k.endswith("word_embeddings.weight"))
    assert (classifier[mine] - adapted[key]).abs().max() < 1e-6 < (adapted[key] - original[first]).abs().max()


def test_sentiment_trains_on_the_scratch_backbone(installed: Registry, backbone_dir: str, tmp_path: Path) -> None:
    result = tasuki.train("sentiment", SENTIMENT_ROWS, backbone=f"scratch:bert={backbone_dir}",
                          output_dir=tmp_path / "clf", epochs=30, batch_size=8, learning_rate=3e-3, eval_split=0,
                          progress=False, task_options=END_TO_END)
    assert result.global_step == 30 * 3  # 24 rows in batches of 8: 3 steps an epoch
    assert tasuki.load(tmp_path / "clf").model.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}


def test_sentiment_learns_six_sentences_by_heart(installed: Registry, backbone_dir: str, tmp_path: Path) -> None:
    """Every training sentence gets its label back.

    The random tiny BERT has a saddle at loss (2/3) ln 2 = 0.462: neutral is learnt, positive and
    negative score alike. Plain PyTorch finds it too (BertForSequenceClassification, full batch,
    AdamW 3e-3: stuck for good without dropout; with dropout 0.1, seeds 0, 1, 2 leave it within
    50 steps, seeds 42 and 3 after 100-125), and with tasuki's linearly decaying learning rate seed
    42 stays on it for 400 steps. Seed 2 leaves it: this test is about tasuki learning, not about
    the saddle.
    """
    tasuki.train("sentiment", SENTIMENT_ROWS, backbone=backbone_dir, output_dir=tmp_path / "clf", epochs=30,
                 batch_size=8, learning_rate=3e-3, eval_split=0, progress=False, seed=2, task_options=END_TO_END)
    texts = [row["text"] for row in SENTIMENT_ROWS[:6]]
    predicted = tasuki.load(tmp_path / "clf").predict(texts)
    assert [p["label"] for p in predicted] == [row["label"] for row in SENTIMENT_ROWS[:6]]
