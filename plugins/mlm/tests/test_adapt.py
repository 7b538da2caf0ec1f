"""``adapt``: a killed run resumes (its head-only baseline included) from the run's --output, the language
is detected and picks the default backbone, and the new-head message is said once."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

import tasuki.plugin
from conftest import news_corpus
from tasuki_mlm.adapt import adapt
from tasuki_mlm.task import MaskedLMTask

RUN = {"max_steps": 6, "save_steps": 2, "max_length": 32, "batch_size": 8, "learning_rate": 1e-3, "seed": 0,
       "progress": False}


class Killed(BaseException):
    """Stands in for SIGKILL: nothing of the run catches it, its checkpoints stay."""


def kill_at(monkeypatch: pytest.MonkeyPatch, step: int, *, head_only: bool) -> None:
    """Make the ``step``-th batch of the head-only run (or of the adaptation) raise :class:`Killed`."""
    calls = {"n": 0}
    original = MaskedLMTask.training_loss

    def training_loss(self: MaskedLMTask, model: Any, batch: Any) -> Any:
        if self.options.freeze_backbone == head_only:
            calls["n"] += 1
            if calls["n"] == step:
                raise Killed
        return original(self, model, batch)

    monkeypatch.setattr(MaskedLMTask, "training_loss", training_loss)


@pytest.fixture(scope="module")
def reference(tiny_backbone: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An uninterrupted adaptation with the head-only comparison."""
    return adapt(news_corpus(60), output_dir=tmp_path_factory.mktemp("reference"), backbone=str(tiny_backbone), **RUN)


@pytest.mark.parametrize("head_only", [True, False], ids=["killed-in-baseline", "killed-in-adaptation"])
def test_a_killed_adaptation_resumes_exactly_from_its_output(reference, tiny_backbone, tmp_path, monkeypatch,
                                                             head_only) -> None:
    """--resume reached the baseline's run in a fresh temporary folder: 'no checkpoint under /tmp/...'; and a
    killed baseline left its checkpoints and lock in /tmp. The baseline's checkpoints are the run's now."""
    out = tmp_path / "out"
    kill_at(monkeypatch, 5, head_only=head_only)
    with pytest.raises(Killed):
        adapt(news_corpus(60), output_dir=out, backbone=str(tiny_backbone), **RUN)
    assert (out / "checkpoints" / "head-only" / "step-00000004").is_dir()
    monkeypatch.undo()
    resumed = adapt(news_corpus(60), output_dir=out, backbone=str(tiny_backbone), resume=True, **RUN)
    assert resumed.baseline == reference.baseline and resumed.adapted == reference.adapted
    assert resumed.steps == 6
    # the finished directory holds the model's files and nothing else (no checkpoints, no baseline)
    files = json.loads((out / "tasuki.json").read_text(encoding="utf-8"))["files"]
    assert sorted(p.name for p in out.iterdir()) == sorted(files) and "checkpoints" not in files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no lock or staging left beside it


JAPANESE = ["東京都の会社で映画を見ました。", "大阪の料理店は最高でした。", "山田太郎は日本語の映画が好きです。",
            "花子は東京の会社に行きました。"]


def test_the_language_is_detected_from_the_corpus(tmp_path, caplog) -> None:
    """Without lang, adapt trained in 'en' (the option's default) and warned that the text looks Japanese."""
    from tasuki.testing import tiny_bert

    backbone = tiny_bert(tmp_path / "ja-bert", japanese=True)
    texts = ["".join(JAPANESE[(i + k) % 4] for k in range(3)) for i in range(24)]
    with caplog.at_level(logging.INFO):
        adapt(texts, output_dir=tmp_path / "ja", backbone=str(backbone), compare=False, max_steps=1, max_length=32,
              batch_size=8, progress=False, save_steps=0)
    assert json.loads((tmp_path / "ja" / "tasuki.json").read_text(encoding="utf-8"))["task_state"]["lang"] == "ja"
    assert "language: ja (detected" in caplog.text and "looks like" not in caplog.text


class Chosen(Exception):
    """Stops adapt once the backbone is chosen."""


@pytest.mark.parametrize(("texts", "lang", "backbone", "expected"), [
    (JAPANESE * 3, None, None, "e5-small"),
    (JAPANESE * 3, "ja", None, "e5-small"),
    (news_corpus(12), None, None, "minilm"),
    (JAPANESE * 3, None, "my-bert", "my-bert"),
])
def test_the_default_backbone_follows_the_language(monkeypatch, tmp_path, texts, lang, backbone, expected) -> None:
    """adapt took minilm whatever the language, where tasuki train takes e5-small for Japanese."""
    chosen = []

    def resolve_backbone(spec: str) -> None:
        chosen.append(spec)
        raise Chosen

    monkeypatch.setattr(tasuki.plugin, "resolve_backbone", resolve_backbone, raising=False)
    with pytest.raises(Chosen):
        adapt(texts, output_dir=tmp_path / "out", backbone=backbone, lang=lang)
    assert chosen == [expected]


@pytest.mark.parametrize("compare", [False, True])
def test_the_new_head_is_reported_once(tiny_backbone, tmp_path, caplog, compare) -> None:
    """Each model load (the probe, the baseline, the adaptation) said again that the head was new."""
    with caplog.at_level(logging.INFO):
        adapt(news_corpus(30), output_dir=tmp_path / "out", backbone=str(tiny_backbone), compare=compare,
              max_steps=1, max_length=32, batch_size=8, progress=False, save_steps=0)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("weights initialised" in m for m in messages) == 1
    assert sum("has no masked-LM head" in m for m in messages) == 1
