"""The data sets that ship with (or install beside) the plugin.

- :func:`english`: the project's own English CoNLL set (``data/en_*.conll``, see its data card).
- :func:`hironsan`: the Japanese NER corpus of the ``hironsancorpus`` package (500 sentences
  of MeCab words, IOB2; DAT, LOC, ORG, ART, PSN, TIM, MON, PER), split into train and test
  with a fixed seed: sentences are shuffled with ``random.Random(seed)`` and the last
  ``test_fraction`` (default 0.2: 100 sentences) is the test split. The corpus has two
  ``I-`` tags without ``B-`` (lines 6855 and 12038 of ``iob_sents.txt``); they are repaired
  as ``B-`` (the documented repair) when read here.
"""

from __future__ import annotations

import random
from importlib import resources
from pathlib import Path
from typing import Any

from tasuki.plugin import DataError
from tasuki_ner.readers import read_conll
from tasuki_ner.tags import to_bio


def english_path(split: str) -> Path:
    """Path of the packaged English CoNLL file for ``split`` (``train`` or ``test``)."""
    if split not in ("train", "test"):
        raise DataError(f"the English set has splits 'train' and 'test', not {split!r}")
    return Path(str(resources.files("tasuki_ner") / "data" / f"en_{split}.conll"))


def english(split: str) -> list[dict[str, Any]]:
    """Rows ``{"tokens", "tags", "line"}`` of the packaged English set."""
    path = english_path(split)
    return read_conll(path, path.read_text(encoding="utf-8"))


def hironsan_path() -> Path:
    """``hironsan/corpus/iob_sents.txt`` of the installed ``hironsancorpus`` package."""
    try:
        import hironsan
    except ImportError:
        raise DataError("the Japanese NER corpus needs: pip install hironsancorpus==0.1.2") from None
    path = Path(next(iter(hironsan.__path__))) / "corpus" / "iob_sents.txt"
    if not path.is_file():
        raise DataError(f"hironsancorpus is installed but {path} is missing")
    return path


def hironsan(split: str = "all", *, seed: int = 0, test_fraction: float = 0.2) -> list[dict[str, Any]]:
    """Rows of the hironsan corpus: ``all``, or the seeded ``train`` / ``test`` split (tags in BIO)."""
    if split not in ("all", "train", "test"):
        raise DataError(f"hironsan splits are 'all', 'train' and 'test', not {split!r}")
    path = hironsan_path()
    rows = read_conll(path, path.read_text(encoding="utf-8"))
    for row in rows:
        row["tags"] = to_bio(row["tags"], "bio", repair=True)
    if split == "all":
        return rows
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_test = round(len(rows) * test_fraction)
    chosen = order[len(order) - n_test :] if split == "test" else order[: len(order) - n_test]
    return [rows[i] for i in sorted(chosen)]
