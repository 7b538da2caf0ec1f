"""The ``classify`` task: text classification, single-label (softmax) or multi-label (a sigmoid per label)."""

from __future__ import annotations

import logging
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
    check_texts,
    column_values,
    require_columns,
    stripped_labels,
)
from tasuki_classify import encoding, legacy, windows
from tasuki_classify import labels as rules
from tasuki_classify import metrics as scoring
from tasuki_classify.fewshot import FewShotRecipe
from tasuki_classify.options import ClassifyOptions
from tasuki_classify.thresholds import DEFAULT_THRESHOLD, cuts, decide, tune

if TYPE_CHECKING:
    import torch
    from datasets import Dataset

log = logging.getLogger(__name__)


class ClassifyTask(FewShotRecipe, Task):
    """Text classification into labels read from the data, one per row or any number (multi-label).

    Single-label: softmax head, optional class weights; metrics accuracy, weighted/macro F1, per-label scores
    and the confusion matrix; the main metric is accuracy, or macro F1 when the training labels are skewed
    (:data:`~tasuki_classify.labels.SKEW_RATIO`). Multi-label: a sigmoid per label trained with binary
    cross-entropy, one threshold per label tuned on the held-out data (:mod:`tasuki_classify.thresholds`);
    metrics micro F1 (the main metric), macro F1, subset accuracy and per-label scores.
    """

    name: ClassVar[str] = "classify"
    description: ClassVar[str] = "Text classification, single- or multi-label, labels read from the data (en, ja)"
    columns_note: ClassVar[str] = ("text, and label: one label (text or number), a list of labels (JSON, JSONL, parquet; [] is "
                                   "none), or text split by --option label_separator (CSV)")
    auto_model: ClassVar[Any] = LazyAutoModel("AutoModelForSequenceClassification")
    pipeline_tag: ClassVar[str | None] = "text-classification"
    default_backbones: ClassVar[dict[str, str]] = {"en": "minilm", "ja": "e5-small"}
    # the usual GLUE-style recipe for small encoders; 128 tokens holds most reviews and posts (longer: warned)
    training_defaults: ClassVar[dict[str, Any]] = {"learning_rate": 5e-5, "batch_size": 32, "max_length": 128}
    Options: ClassVar[type] = ClassifyOptions
    request_parameters: ClassVar[tuple[str, ...]] = ("threshold", "top_k")
    result_kind: ClassVar[str] = "labels"
    single_label_metric: ClassVar[str | None] = None
    """The single-label main metric whatever the skew (a preset sets it); None: accuracy, or macro F1 when skewed."""
    preset_attributes: ClassVar[tuple[str, ...]] = ("single_label_metric",)

    def __init__(self, lang: str = "en", labels: Sequence[str] | None = None, main_metric: str | None = None,
                 class_names: Sequence[str] | None = None, **options: Any) -> None:
        super().__init__(lang=lang, labels=labels, **options)
        self.class_names = list(class_names) if class_names else None  # a ClassLabel training column's names
        rules.check_options(self.options, self.name)
        self.weights = rules.parse_weights(self.options.class_weights)  # refused here, before any data is read
        windows.check_options(self.options)
        self.main_metric = main_metric or ("f1_micro" if self.options.multi_label else self.single_label_metric or "accuracy")
        self.loss_weights: list[float] | None = None
        self._tuning, self._fixed = False, {}  # only a task fitted here tunes thresholds: a loaded model keeps its own
        self._warned = False  # one truncation warning per task

    @property
    def multi_label(self) -> bool:
        return bool(self.options.multi_label)

    reading_options: ClassVar[tuple[str, ...]] = ("label_separator",)  # evaluate a list-trained model on a CSV

    def served_parameters(self) -> tuple[str, ...]:
        """A single-label model has no threshold for a request to set."""
        return tuple(p for p in type(self).request_parameters if self.multi_label or p != "threshold")

    def state(self) -> dict[str, Any]:
        """The base state (labels, options with every label's threshold) plus the main metric chosen by :meth:`fit`."""
        state = {**super().state(), "main_metric": self.main_metric, "class_names": self.class_names}
        if self.multi_label and self.labels:  # without held-out data the default; written out to be seen
            given = self.options.thresholds
            state["options"]["thresholds"] = {label: given.get(label, DEFAULT_THRESHOLD) for label in self.labels}
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ClassifyTask:
        state = legacy.upgrade(state)  # also a state saved by the sentiment task of before it was this task's preset
        return cls(lang=state.get("lang", "en"), labels=state.get("labels"), main_metric=state.get("main_metric"),
                   class_names=state.get("class_names"), **state.get("options", {}))

    def model_config(self) -> dict[str, Any]:
        """The label maps, and ``problem_type`` so that transformers (and its pipeline) use a sigmoid."""
        config = super().model_config()
        config["problem_type"] = "multi_label_classification" if self.multi_label else "single_label_classification"
        return config

    # --- data ----------------------------------------------------------------------------

    def _rows(self, data: Dataset, source: str) -> list[list[str]]:
        column = self.target_columns[0]
        rows = rules.read_column(column_values(data, column), source, column, self.options.label_separator,
                                 rules.class_names(data, column))
        return [rules.as_set(labels, self.multi_label, row, source, column) for row, labels in enumerate(rows, 1)]

    def fit(self, train: Dataset) -> None:
        """Decide single/multi-label, learn the label set, the main metric and the class weights."""
        column = self.target_columns[0]
        require_columns(train, self.required_columns(True), "training data", task=self.name)
        if "multi_label" not in self.given_options:
            lists = any(rules.is_list(v) for v in column_values(train, column))
            self.options.multi_label = lists or self.options.label_separator is not None
            if self.options.multi_label:
                why = "holds lists" if lists else f"is split on {self.options.label_separator!r}"
                log.info("classify: column %r %s: multi-label (a sigmoid per label, its threshold tuned on held-out "
                         "data, else 0.5; --option multi_label=false to refuse rows without exactly one label)", column, why)
        if not self.multi_label and not self.labels and self.options.regression is None:
            rules.refuse_scores(list(column_values(train, column)), column, self.name)
        rows = self._rows(train, "training data")
        self.class_names = rules.class_names(train, column)  # what encode() reads integers as (batches are bare lists)
        counts = rules.class_counts(rows)
        rules.warn_about_case_twins(counts)
        found = sorted(counts)
        if self.labels:  # the user fixed the label set and its order: the data must stay inside it
            extra = sorted(set(found) - set(self.labels))
            if extra:
                raise DataError(f"training data has labels {extra} that are not in the given labels {self.labels}")
        else:
            self.labels = found
        if len(self.labels) < (1 if self.multi_label else 2):
            raise DataError(f"training data: column {column!r} has labels {self.labels}; need at least "
                            f"{'one' if self.multi_label else 'two'}")
        self.main_metric = "f1_micro" if self.multi_label else (self.single_label_metric or "accuracy")
        if not self.multi_label and self.single_label_metric is None and rules.is_skewed(counts, self.labels):
            self.main_metric = "f1_macro"
            log.info("classify: the largest class has over %g times the rows of the smallest (%s): the main metric is "
                     "macro F1", rules.SKEW_RATIO, ", ".join(f"{k} {counts.get(k, 0)}" for k in self.labels))
        elif not self.multi_label and self.single_label_metric is None:  # the choice is said either way
            log.info("classify: the main metric is accuracy (no class has over %g times the rows of another; macro F1 "
                     "when one has)", rules.SKEW_RATIO)
        rules.check_kind(self.options, self.multi_label, self.name)
        if self.weights is not None:
            self.loss_weights = rules.weight_vector(self.weights, self.labels, counts)
        self._tuning, self._fixed = True, rules.given_thresholds(self.options.thresholds, self.labels, self.name)
        self.choose_recipe(len(rows), counts)

    def validate(self, data: Dataset, source: str, *, with_targets: bool) -> None:
        """Texts present and non-empty; with targets, every label value readable and (after fit) known."""
        require_columns(data, self.required_columns(with_targets), source, task=self.name)
        check_texts(data, list(self.input_columns), source)
        if not with_targets:
            return
        column = self.target_columns[0]
        list(stripped_labels(rules.raw_items(column_values(data, column)), source, column))  # one whitespace warning
        if not self.labels or self.options.multi_label is None:
            for _ in rules.read_column(column_values(data, column), source, column, self.options.label_separator,
                                       rules.class_names(data, column)):
                pass  # before fit: the values must be readable; fit() learns the rest from this very data
            return
        for row, labels in enumerate(self._rows(data, source), start=1):
            unknown = [name for name in labels if name not in self.labels]
            if unknown:
                raise DataError(f"{source}: row {row}, column {column!r}: unknown label {unknown[0]!r}; "
                                f"the model knows {self.labels}")

    def strata(self, train: Dataset) -> list[str]:
        """Each row's rarest label: the held-out split keeps the labels in proportion, a one-row label in training."""
        return rules.strata(self._rows(train, "training data"))

    def encode(self, batch: dict[str, list], tokenizer: Any, max_length: int) -> dict[str, list]:
        """Token ids, in windows over long texts (else truncated, warned about once), and labels: a class id, or a
        0/1 vector when multi-label, the text's for each of its windows."""
        options, column = self.options, self.target_columns[0]
        size = windows.window_size(options.window_length, max_length) if options.windows else max_length
        features, warned = encoding.features(batch[self.input_columns[0]], tokenizer, size, windows=options.windows,
                                             stride=options.window_stride, warn=not self._warned)
        self._warned = self._warned or warned
        if column in batch and self.labels:
            targets = encoding.targets(batch[column], column, self.labels, self.multi_label, options.label_separator,
                                       self.class_names)
            features["labels"] = [targets[i] for i in features.get("example_index", range(len(targets)))]
        return features

    def training_loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cross-entropy with the class weights when given (mean over examples), else the head's own loss."""
        if self.loss_weights is None:
            return model(**batch).loss
        import torch

        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        weight = torch.tensor(self.loss_weights, dtype=torch.float32, device=logits.device)
        # each example's loss times its class weight, then the plain mean the runner expects (not the weights' sum)
        loss = torch.nn.functional.cross_entropy(logits.float(), batch["labels"], weight=weight, reduction="none").mean()
        penalty = getattr(getattr(model, "module", model), "penalty", None)  # the few-shot head's L2, part of its loss
        return loss + penalty() if penalty is not None else loss

    # --- results -------------------------------------------------------------------------

    def scores(self, outputs: Outputs, features: Dataset, count: int) -> np.ndarray:
        """``(N, L)`` probabilities of the ``count`` texts: a sigmoid per label (multi-label) or the softmax over
        labels, of each window, aggregated over each text's windows (:func:`tasuki_classify.windows.aggregate`)."""
        from scipy.special import expit, softmax

        logits = np.stack([np.asarray(o["logits"], dtype=np.float64) for o in outputs])
        probs = expit(logits) if self.multi_label else softmax(logits, axis=1)
        how = self.options.window_aggregation or windows.default_aggregation(self.multi_label)
        return windows.aggregate(probs, windows.documents(features, count), count, how)

    def targets(self, features: Dataset, examples: Dataset) -> np.ndarray:
        """Gold class ids ``(N,)`` or indicators ``(N, L)``, from the features or else the examples."""
        if "labels" in features.column_names:  # one per window: the first window's is its text's
            return np.asarray(features["labels"], dtype=np.int64)[windows.first_windows(features, len(examples))]
        index = {name: i for i, name in enumerate(self.labels or [])}
        rows = self._rows(examples, "evaluation data")
        if self.multi_label:
            return np.array([[1 if label in names else 0 for label in index] for names in rows], dtype=np.int64)
        return np.array([index[names[0]] for names in rows], dtype=np.int64)

    def compute_metrics(self, outputs: Outputs, features: Dataset, examples: Dataset) -> dict[str, float]:
        """Single-label: accuracy, F1s, per-label scores, confusion counts. Multi-label: micro/macro F1, subset
        accuracy, per-label scores and ``threshold/LABEL``; during training, thresholds are tuned on this data."""
        labels, scores, gold = self.labels or [], self.scores(outputs, features, len(examples)), self.targets(features, examples)
        if not self.multi_label:
            return scoring.single_label(gold, scores.argmax(axis=1), labels)
        thresholds = self.options.thresholds
        if self._tuning:
            thresholds, untuned = tune(scores, gold, labels, fixed=self._fixed)
        metrics = scoring.multi_label(gold, decide(scores, labels, thresholds, self.options.threshold), labels)
        if self._tuning:  # the runner scores the weights it keeps last: their thresholds are the ones that stay
            self.options.thresholds = thresholds
            if untuned:
                log.info("classify: %d labels have no held-out positive and keep threshold %g: %s", len(untuned),
                         DEFAULT_THRESHOLD, ", ".join(untuned[:5]))
        used = cuts(labels, thresholds, self.options.threshold)
        return {**metrics, **{f"threshold/{label}": float(value) for label, value in zip(labels, used)}}

    def postprocess(self, outputs: Outputs, features: Dataset, examples: Dataset, *,
                    context: PredictionContext | None = None) -> list[dict[str, Any]]:
        """Single-label ``{"label", "score", "scores"}``; multi-label ``{"labels": [{"label", "score"}], "scores"}``
        with every label at or above its threshold, best first (``[]`` when none is)."""
        labels, scores, top_k = self.labels or [], self.scores(outputs, features, len(examples)), self.options.top_k
        results = []
        if self.multi_label:
            chosen = decide(scores, labels, self.options.thresholds, self.options.threshold)
            for row, keep in zip(scores, chosen):
                above = sorted(((labels[j], float(row[j])) for j in np.flatnonzero(keep)), key=lambda x: -x[1])
                results.append({"labels": [{"label": name, "score": s} for name, s in above[:top_k]],
                                "scores": {label: float(p) for label, p in zip(labels, row)}})
            return results
        for row in scores:
            order = np.argsort(-row, kind="stable")[:top_k]
            results.append({"label": labels[order[0]], "score": float(row[order[0]]),
                            "scores": {labels[j]: float(row[j]) for j in order}})
        return results

    def describe(self, prediction: Any) -> str:
        """``sports 0.91, politics 0.77`` (multi-label; ``(none)`` when no label passes), else ``label 0.97``."""
        if isinstance(prediction, dict) and "labels" in prediction:
            return ", ".join(f"{p['label']} {p['score']:.2f}" for p in prediction["labels"]) or "(none)"
        return super().describe(prediction)

    def plot(self, outputs: Outputs, features: Dataset, examples: Dataset, directory: Path) -> list[Path]:
        """Single-label: the confusion matrix; multi-label: per-label F1 bars (``per_label_f1.png``)."""
        labels, gold, scores = self.labels or [], self.targets(features, examples), self.scores(outputs, features, len(examples))
        title = f"{self.name} ({self.lang})"
        if not self.multi_label:
            predicted = scores.argmax(axis=1)
            return [scoring.confusion_figure(gold, predicted, labels, Path(directory) / "confusion_matrix.png", title)]
        metrics = scoring.multi_label(gold, decide(scores, labels, self.options.thresholds, self.options.threshold), labels)
        return [scoring.per_label_figure(metrics, labels, Path(directory) / "per_label_f1.png", f"{title}: F1 per label")]
