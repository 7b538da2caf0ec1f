"""Fixtures: offline mode, a registry holding this plugin and the installed ``classify`` task, a tiny backbone,
and a tiny classification model trained once per session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import pytest

from tasuki.registry import Registry
from tasuki.testing import only_plugins, tiny_bert
from tasuki_label import plugin

WORDS = ["football", "match", "goal", "election", "vote", "senate", "rain", "sun", "storm", "team", "win", "party",
         "cloud", "wind", "the", "a", "big", "new", "cup", "poll", "snow"]
SPORT = ["football match", "the goal", "a big win", "the cup match", "new team", "win the cup", "goal goal"]
POLITICS = ["the election", "a vote", "senate vote", "the party", "new poll", "election poll", "party vote"]
WEATHER = ["rain", "big storm", "sun and wind", "snow", "the cloud", "wind and rain", "new storm"]
LABELLED = ([{"text": t, "label": "sport"} for t in SPORT] + [{"text": t, "label": "politics"} for t in POLITICS]
            + [{"text": t, "label": "weather"} for t in WEATHER])


def classify_plugin() -> ModuleType | None:
    """The installed classify plugin, found as tasuki finds it (its entry point); this plugin never imports it."""
    found = list(entry_points(group="tasuki", name="classify"))
    return found[0].load() if found else None


@pytest.fixture(autouse=True)
def registry() -> Iterator[Registry]:
    classify = classify_plugin()
    with only_plugins(("label", plugin), *([("classify", classify)] if classify else [])) as registry:
        yield registry


@pytest.fixture(scope="session")
def backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("label-bb"), words=WORDS)


def _trained(task: str, rows: list[dict], directory: Path, backbone: Path, steps: int) -> Path:
    """A tiny model of ``task`` (the classify plugin's) trained ``steps`` steps on ``rows`` into ``directory``."""
    import tasuki

    classify = classify_plugin()
    if classify is None:
        pytest.skip("the classify plugin is not installed (pip install -e plugins/classify)")
    with only_plugins(("classify", classify)):
        result = tasuki.train(task, rows, backbone=str(backbone), output_dir=directory, max_steps=steps,
                              learning_rate=3e-3, batch_size=8, eval_split=0, checkpoints=False, progress=False,
                              warmup_ratio=0.0)
    return Path(result.output_dir)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, backbone: Path) -> Path:
    """A tiny classify model, trained long enough on the rows above to tell the three topics apart."""
    return _trained("classify", LABELLED, tmp_path_factory.mktemp("m") / "m", backbone, 40)


PAIRS = ([{"text": a, "text_pair": b, "label": "same"} for a, b in (
             ("football match", "the cup match"), ("a vote", "senate vote"), ("rain", "wind and rain"),
             ("new storm", "big storm"), ("the party", "party vote"), ("a big win", "win the cup"))]
         + [{"text": a, "text_pair": b, "label": "different"} for a, b in (
             ("football match", "the election"), ("a vote", "snow"), ("rain", "the goal"),
             ("new storm", "new poll"), ("the party", "the cloud"), ("a big win", "sun and wind"))])
"""Pairs of texts on the same topic (``same``) or not (``different``), for ``--task classify-pairs``."""


@pytest.fixture(scope="session")
def pair_model_dir(tmp_path_factory: pytest.TempPathFactory, backbone: Path) -> Path:
    """A tiny ``classify-pairs`` model (a cross-encoder) trained briefly on :data:`PAIRS`."""
    return _trained("classify-pairs", PAIRS, tmp_path_factory.mktemp("p") / "m", backbone, 20)
