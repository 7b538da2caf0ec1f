"""The ``sentiment`` task: sequence classification with labels read from the data (en, ja)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tasuki.plugin import (
    DataError,
    LazyAutoModel,
    Outputs,
    PredictionContext,
    Task,
    column_values,
    confusion_matrix,
    require_columns,
    stripped_labels,
)
from tasuki_sentiment import labels as label_rules
from tasuki_sentiment.metrics import classification_metrics, confusion

logger = logging.getLogger(__name__)
FEW_ROWS_PER_LABEL = 64
"""At most this many training rows per label on average: the size where classify's few-shot recipe wins."""

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase


class TruncationWarning(UserWarning):
    """Some texts were longer than ``max_length`` tokens and lost their ends."""


class SentimentTask(Task):
    """Sentiment (or any single-label text classification) for English and Japanese.

    The label set comes from the training data (text labels, integers, or a
    ``datasets.ClassLabel`` column; see :mod:`tasuki_sentiment.labels`); the default
    datasets use ``positive`` / ``neutral`` / ``negative``. Metrics are accuracy, weighted
    and macro F1, per-label precision / recall / F1 and the confusion matrix; a prediction
    is the best label with its probability and the probability of every label. The main metric
    (best evaluation, early stopping) is macro F1.
    """

    name: ClassVar[str] = "sentiment"
    description: ClassVar[str] = "Text classification into sentiment labels read from the data (en, ja)"
    languages: ClassVar[tuple[str, ...]] = ("en", "ja")
    input_columns: ClassVar[tuple[str, ...]] = ("text",)
    target_columns: ClassVar[tuple[str, ...]] = ("label",)
    auto_model: ClassVar[Any] = LazyAutoModel("AutoModelForSequenceClassification")
    pipeline_tag: ClassVar[str | None] = "text-classification"
    # Macro F1, not accuracy: on skewed labels (most tweets neutral) accuracy rewards ignoring the rare ones.
    main_metric: ClassVar[str] = "f1_macro"
    default_backbones: ClassVar[dict[str, str]] = {"en": "minilm", "ja": "e5-small"}
    # tasuki serve / predict: a text in, label bars out (Task's defaults, said here for the reader)
    input_fields: ClassVar[tuple[str, ...]] = ("text",)
    form_kind: ClassVar[str] = "text"
    result_kind: ClassVar[str] = "labels"
    # Good on real data for small encoders (MiniLM, e5-small, distilbert): the usual GLUE-style
    # recipe; 128 tokens holds nearly every review or tweet (longer ones are counted and warned about).
    training_defaults: ClassVar[dict[str, Any]] = {
        "learning_rate": 5e-5,
        "batch_size": 32,
        "max_length": 128,
    }

    def __init__(
        self, lang: str = "en", labels: Sequence[str] | None = None, label_kind: str | None = None, **options: Any
    ) -> None:
        super().__init__(lang=lang, labels=labels, **options)
        self.label_kind = label_kind or "text"
        self._warned_truncation = False  # only to warn once per task: nothing later reads it

    # --- state ---------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The base state plus how raw label values map to names (``label_kind``)."""
        return {**super().state(), "label_kind": self.label_kind}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SentimentTask:
        """Rebuild the task saved by :meth:`state`."""
        return cls(
            lang=state.get("lang", "en"),
            labels=state.get("labels"),
            label_kind=state.get("label_kind"),
            **state.get("options", {}),
        )

    # --- data ----------------------------------------------------------------------------

    def fit(self, train: Dataset) -> None:
        """Learn the label set (and its kind) from the training data's ``label`` column."""
        column = self.target_columns[0]
        require_columns(train, self.required_columns(True), "training data", task=self.name)
        class_names = _class_names(train, column)
        # the column is read in chunks, twice: memory holds the distinct labels, not one per row
        kind = label_rules.column_kind(column_values(train, column), "training data", column, class_names)
        distinct = list(dict.fromkeys(column_values(train, column)))
        found = label_rules.ordered_names(distinct, kind, class_names)
        if self.labels:  # the user fixed the label set and its order: the data must stay inside it
            extra = sorted(set(label_rules.name_of(v, kind, found) for v in distinct) - set(self.labels))
            if extra:
                raise DataError(f"training data has labels {extra} that are not in the given labels {self.labels}")
        else:
            self.labels = found
        if len(self.labels) < 2:
            raise DataError(f"training data: column {column!r} has only one label {self.labels}; need at least two")
        self.label_kind = kind
        if len(train) <= FEW_ROWS_PER_LABEL * len(self.labels):
            logger.warning("sentiment: %d training rows for %d labels: end-to-end fine-tuning learns little from so few; "
                           "`tasuki train classify` chooses its few-shot recipe for this size (contrastive tuning, "
                           "then a head), with the same data and CLI", len(train), len(self.labels))

    def validate(self, data: Dataset, source: str, *, with_targets: bool) -> None:
        """Check texts (present, non-empty) and, with targets, labels (present, one type, known).

        Labels of an evaluation set must be in the training label set; integer training
        labels also accept their decimal text (``"1"``), since CSV files have no types.
        """
        super().validate(data, source, with_targets=with_targets)
        if not with_targets:
            return
        column = self.target_columns[0]
        # labels are read without surrounding whitespace (label_rules.name_of): say so once per data set
        values = stripped_labels(column_values(data, column), source, column)
        kind = label_rules.column_kind(values, source, column, _class_names(data, column))
        if not self.labels:
            return  # not fitted yet: fit() learns the set from this very data
        known = set(self.labels)
        for row, value in enumerate(column_values(data, column), start=1):
            name = label_rules.name_of(value, self.label_kind if kind != "text" else "text", self.labels)
            if name in known:
                continue
            hint = ""
            if kind != self.label_kind and {kind, self.label_kind} & {"text"}:
                hint = (
                    f" (this data has {_kind_words(kind)} labels but the training labels were "
                    f"{_kind_words(self.label_kind)}: use the same labels in both)"
                )
            raise DataError(
                f"{source}: row {row}, column {column!r}: unknown label {value!r}; the model knows "
                f"{self.labels}{hint}"
            )

    def encode(self, batch: dict[str, list], tokenizer: PreTrainedTokenizerBase, max_length: int) -> dict[str, list]:
        """Tokenize texts (truncating to ``max_length`` with a warning that counts them) and map labels to ids."""
        # a fast tokenizer tokenizes a whole text before truncating: a 50 MB line would take minutes,
        # so texts are cut first far beyond what max_length tokens can hold (64 characters a token)
        limit = max(64 * max_length, 10_000)
        texts = [text[:limit] for text in batch[self.input_columns[0]]]
        encoded = tokenizer(texts, truncation=False)
        too_long = [i for i, ids in enumerate(encoded["input_ids"]) if len(ids) > max_length]
        if too_long:
            longest = max(len(encoded["input_ids"][i]) for i in too_long)
            # Re-tokenize only the long ones with truncation, so that every tokenizer's own special
            # tokens (BERT [SEP], XLM-R </s>) stay at the end; short texts are tokenized once.
            clipped = tokenizer([texts[i] for i in too_long], truncation=True, max_length=max_length)
            for key in encoded:
                values = encoded[key]
                for j, i in enumerate(too_long):
                    values[i] = clipped[key][j]
            if not self._warned_truncation:  # once per task: tokenizing runs in batches of 1,000
                self._warned_truncation = True
                warnings.warn(
                    f"texts longer than max_length={max_length} tokens are truncated ({len(too_long)} of the first "
                    f"{len(texts)}, the longest {longest} tokens); raise --max-length (Python: max_length=) to "
                    f"keep more of them",
                    TruncationWarning,
                    stacklevel=2,
                )
        features = {k: list(v) for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        column = self.target_columns[0]
        if column in batch and self.labels:
            label2id = {name: i for i, name in enumerate(self.labels)}
            ids = []
            for value in batch[column]:
                name = label_rules.name_of(value, self.label_kind, self.labels)
                if name not in label2id:
                    raise DataError(f"unknown label {value!r}; the model knows {self.labels}")
                ids.append(label2id[name])
            features["labels"] = ids
        return features

    # --- results -------------------------------------------------------------------------

    def probabilities(self, outputs: Outputs) -> np.ndarray:
        """Softmax of the logits: ``(N, num_labels)``."""
        logits = np.stack([np.asarray(o["logits"], dtype=np.float64) for o in outputs])  # (N, L)
        logits = logits - logits.max(axis=1, keepdims=True)  # stable softmax
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def targets(self, features: Dataset, examples: Dataset) -> np.ndarray:
        """Gold label ids ``(N,)``, from the features' ``labels`` or else the examples' label column."""
        if "labels" in features.column_names:
            return np.asarray(features["labels"], dtype=np.int64)
        label2id = {name: i for i, name in enumerate(self.labels or [])}
        column = self.target_columns[0]
        return np.asarray(
            [label2id[label_rules.name_of(v, self.label_kind, self.labels or [])] for v in examples[column]],
            dtype=np.int64,
        )

    def compute_metrics(self, outputs: Outputs, features: Dataset, examples: Dataset) -> dict[str, float]:
        """Accuracy, weighted/macro F1, per-label precision/recall/F1, and ``confusion/TRUE/PRED`` counts."""
        predicted = self.probabilities(outputs).argmax(axis=1)
        return classification_metrics(self.targets(features, examples), predicted, self.labels or [])

    def postprocess(
        self, outputs: Outputs, features: Dataset, examples: Dataset, *, context: PredictionContext | None = None
    ) -> list[dict[str, Any]]:
        """``{"label", "score", "scores": {label: probability}}`` per example."""
        labels = self.labels or []
        results = []
        for row in self.probabilities(outputs):
            best = int(row.argmax())
            results.append(
                {
                    "label": labels[best],
                    "score": float(row[best]),
                    "scores": {label: float(p) for label, p in zip(labels, row)},
                }
            )
        return results

    def plot(self, outputs: Outputs, features: Dataset, examples: Dataset, directory: Path) -> list[Path]:
        """The row-normalized confusion matrix as ``confusion_matrix.png``, its scores in the title."""
        predicted = self.probabilities(outputs).argmax(axis=1)
        gold = self.targets(features, examples)
        matrix = confusion(gold, predicted, len(self.labels or []))
        path = Path(directory) / "confusion_matrix.png"
        scores = classification_metrics(gold, predicted, self.labels or [])
        confusion_matrix(matrix, self.labels or [], path, title=f"sentiment ({self.lang}): confusion matrix",
                         subtitle=score_line(scores, len(gold)))
        return [path]


def score_line(metrics: dict[str, float], n: int) -> str:
    """``macro F1 0.812 · accuracy 0.846 · n=1,600``: a figure's subtitle."""
    return f"macro F1 {metrics['f1_macro']:.3f} · accuracy {metrics['accuracy']:.3f} · n={n:,}"


def _class_names(data: Dataset, column: str) -> list[str] | None:
    feature = data.features.get(column) if column in data.column_names else None
    names = getattr(feature, "names", None)
    return list(names) if names else None


def _kind_words(kind: str) -> str:
    return "text" if kind == "text" else "integer"
