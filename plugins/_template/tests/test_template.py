"""The template trains, saves, reloads and predicts through the core, and adds its command."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import tasuki
from tasuki.plugin import DataError
from tasuki.testing import only_plugins, tiny_bert
from tasuki_template import plugin

ROWS = [{"text": "good movie", "label": "pos"}, {"text": "bad film", "label": "neg"},
        {"text": "great food", "label": "pos"}, {"text": "awful service", "label": "neg"}] * 6


@pytest.fixture(autouse=True)
def registry() -> Iterator[Any]:
    with only_plugins(("template", plugin)) as registry:
        yield registry


def test_train_save_load_predict(tmp_path: Path) -> None:
    backbone = tiny_bert(tmp_path / "bb")
    result = tasuki.train("template-classify", ROWS, backbone=str(backbone), output_dir=tmp_path / "m", epochs=10,
                          batch_size=8, learning_rate=3e-3, eval_split=0, progress=False)
    assert result.global_step == 30
    model = tasuki.load(tmp_path / "m")
    assert [p["label"] for p in model.predict(["good movie", "awful service"])] == ["pos", "neg"]
    assert tasuki.evaluate(tmp_path / "m", ROWS)["accuracy"] == 1.0
    with pytest.raises(DataError, match="unknown label 'meh'"):
        model.evaluate([{"text": "fine", "label": "meh"}])


def test_command_is_added(registry: Any) -> None:
    group = click.Group()
    registry.add_commands(group)
    assert registry.plugins["template"].commands == ["template-info"]
    assert "template-classify" in CliRunner().invoke(group, ["template-info"]).output
