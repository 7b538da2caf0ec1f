"""The ``classify-pairs`` task: a cross-encoder over two texts, read together, that predicts a class or a score.

Duplicate questions, entailment, query-passage relevance (classes), or a similarity or quality score
(regression). The two texts are one input, ``[CLS] text [SEP] text_pair [SEP]`` (each tokenizer's own
pair template), so every layer attends across both. Japanese is tokenized as ``classify`` tokenizes a
single text: by the backbone's own tokenizer (e5's SentencePiece; a Japanese BERT's tokenizer splits
MeCab words itself), each text of a pair exactly as it would be alone (``tests/test_pairs.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tasuki.plugin import (
    DataError,
    LazyAutoModel,
    Outputs,
    PredictionContext,
    SettingError,
    Task,
    check_texts,
    column_values,
    require_columns,
    stripped_labels,
)
from tasuki_classify import labels as rules
from tasuki_classify import metrics as scoring
from tasuki_classify import regression, windows
from tasuki_classify.encoding import targets, tokenize

if TYPE_CHECKING:
    import torch
    from datasets import Dataset

log = logging.getLogger(__name__)


@dataclass
class PairOptions:
    """Options of the ``classify-pairs`` task, saved with the model."""

    regression: bool | None = None
    """A numeric target: one output trained with MSE, scores predicted on the targets' scale. Unset: regression
    when the label column holds numbers with decimals (0.75, 4.0); text labels and whole numbers (0/1/2) are classes."""


class PairClassifyTask(Task):
    """Two texts in, a class or a score out: a cross-encoder (``AutoModelForSequenceClassification`` on the pair).

    Classes: labels read as ``classify`` reads one label per row (:mod:`tasuki_classify.labels`); softmax head;
    metrics accuracy, weighted/macro F1, per-label scores and the confusion matrix; the main metric is accuracy,
    or macro F1 on skewed labels. Regression (:class:`PairOptions`): one output trained with MSE on standardized
    targets (:mod:`tasuki_classify.regression`); metrics Spearman (the main metric), Pearson and MSE.
    """

    name: ClassVar[str] = "classify-pairs"
    description: ClassVar[str] = ("Two texts in, a class or a score out (duplicates, entailment, relevance, "
                                  "similarity): a cross-encoder (en, ja)")
    input_columns: ClassVar[tuple[str, ...]] = ("text", "text_pair")
    inputs_in_words: ClassVar[str] = "two texts"
    columns_note: ClassVar[str] = ("text and text_pair (the two texts), and label: a class (text, or whole numbers "
                                   "such as 0/1) or a score (numbers with decimals: regression; --option "
                                   "regression=true|false decides)")
    auto_model: ClassVar[Any] = LazyAutoModel("AutoModelForSequenceClassification")
    pipeline_tag: ClassVar[str | None] = "text-classification"
    # classify's recipe; two texts take about twice one text's tokens
    training_defaults: ClassVar[dict[str, Any]] = {"learning_rate": 5e-5, "batch_size": 32, "max_length": 256}
    Options: ClassVar[type] = PairOptions
    # the page: two text boxes; classes as label bars, a score as JSON (the page's "score" view is a cosine, -1..1)
    input_fields: ClassVar[tuple[str, ...]] = ("text", "text_pair")
    form_kind: ClassVar[str] = "pair"
    classes_hint: ClassVar[str] = "--option regression=false reads the column as classes"

    def __init__(self, lang: str = "en", labels: Sequence[str] | None = None, main_metric: str | None = None,
                 class_names: Sequence[str] | None = None, scaling: dict[str, float] | None = None,
                 **options: Any) -> None:
        super().__init__(lang=lang, labels=labels, **options)
        self.class_names = list(class_names) if class_names else None  # a ClassLabel training column's names
        self.scaling = regression.Scaling.from_state(scaling) if scaling is not None else None
        self._settle(main_metric)
        self._warned = False  # one truncation warning per task

    def _settle(self, main_metric: str | None = None) -> None:
        """What follows from the regression option: the main metric and how the page draws a result."""
        if self.is_regression and self.labels:
            raise SettingError(f"option of task {self.name!r} 'labels': a regression has no labels; leave labels "
                               f"unset, or --option regression=false for classes")
        self.main_metric = main_metric or ("spearman" if self.is_regression else "accuracy")
        self.result_kind = "json" if self.is_regression else "labels"

    @property
    def is_regression(self) -> bool:
        """Whether the task predicts a score (decided by :meth:`fit` unless the option was given)."""
        return bool(self.options.regression)

    def state(self) -> dict[str, Any]:
        """The base state plus the main metric, a ClassLabel column's names and the targets' scaling."""
        return {**super().state(), "main_metric": self.main_metric, "class_names": self.class_names,
                "scaling": asdict(self.scaling) if self.scaling else None}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PairClassifyTask:
        return cls(lang=state.get("lang", "en"), labels=state.get("labels"), main_metric=state.get("main_metric"),
                   class_names=state.get("class_names"), scaling=state.get("scaling"), **state.get("options", {}))

    def model_config(self) -> dict[str, Any]:
        """Classes: the label maps; regression: one output named ``score`` (transformers then uses MSE)."""
        if self.is_regression:
            return {"num_labels": 1, "id2label": {0: "score"}, "label2id": {"score": 0}, "problem_type": "regression"}
        return {**super().model_config(), "problem_type": "single_label_classification"}

    # --- data ----------------------------------------------------------------------------

    def _fit_scaling(self, train: Dataset) -> None:
        """Regression: read every training target as a number and learn their mean and spread."""
        column = self.target_columns[0]
        targets = self._targets(column_values(train, column), "training data", column)
        self.scaling = regression.Scaling.fit(targets, "training data", column)
        self._settle()

    def _targets(self, values: Any, source: str, column: str) -> list[float]:
        """Regression targets as numbers (:func:`tasuki_classify.regression.read_targets`)."""
        return regression.read_targets(values, source, column, self.classes_hint)

    def _classes(self, data: Dataset, source: str) -> list[str]:
        """Each row's class, read as ``classify`` reads one label (:func:`tasuki_classify.labels.read_row`)."""
        column, names = self.target_columns[0], []
        for row, value in enumerate(column_values(data, column), start=1):
            if rules.is_list(value):
                raise DataError(f"{source}: row {row}, column {column!r}: a list of labels ({value!r}); task "
                                f"{self.name!r} takes one label or one score per row")
            names.append(rules.read_row(value, row, source, column, None, self.class_names))
        return names

    def fit(self, train: Dataset) -> None:
        """Decide classes or regression (said in the log), then learn the labels or the targets' scaling."""
        column = self.target_columns[0]
        require_columns(train, self.required_columns(True), "training data", task=self.name)
        if "regression" not in self.given_options:
            self.options.regression = regression.holds_scores(train, column, list(column_values(train, column)))
            log.info("classify-pairs: column %r holds %s: %s (--option regression=%s for %s)", column,
                     "numbers with decimals" if self.is_regression else "classes",
                     "regression" if self.is_regression else "classification",
                     "false" if self.is_regression else "true", "classes" if self.is_regression else "a score")
        else:
            log.info("classify-pairs: %s (--option regression=%s)",
                     "regression" if self.is_regression else "classification", str(self.is_regression).lower())
        if self.is_regression:
            self._fit_scaling(train)
            return
        self.class_names = rules.class_names(train, column)
        counts = rules.class_counts([name] for name in self._classes(train, "training data"))
        if self.labels:  # the user fixed the label set and its order: the data must stay inside it
            extra = sorted(set(counts) - set(self.labels))
            if extra:
                raise DataError(f"training data has labels {extra} that are not in the given labels {self.labels}")
        else:
            self.labels = sorted(counts)
        if len(self.labels) < 2:
            raise DataError(f"training data: column {column!r} has labels {self.labels}; need at least two "
                            f"(or numbers with --option regression=true)")
        self._settle()
        if rules.is_skewed(counts, self.labels):
            self.main_metric = "f1_macro"
            log.info("classify-pairs: the largest class has over %g times the rows of the smallest (%s): the main "
                     "metric is macro F1", rules.SKEW_RATIO, ", ".join(f"{k} {counts.get(k, 0)}" for k in self.labels))

    def validate(self, data: Dataset, source: str, *, with_targets: bool) -> None:
        """Both texts present and non-empty in every row; with targets, numbers (regression) or known labels."""
        require_columns(data, self.required_columns(with_targets), source, task=self.name)
        check_texts(data, list(self.input_columns), source)
        if not with_targets:
            return
        column = self.target_columns[0]
        if self.is_regression:
            self._targets(column_values(data, column), source, column)
            return
        for row, value in enumerate(stripped_labels(column_values(data, column), source, column), start=1):
            if regression.is_missing(value):  # before classify's reading, whose hint names its own options
                raise DataError(f"{source}: row {row}, column {column!r}: missing label ({value!r}); remove the row "
                                f"or give it a class or a score")
        classes = self._classes(data, source)  # readable as labels, one per row
        if self.labels and self.options.regression is not None:  # fitted: every label must be known
            known = set(self.labels)
            for row, name in enumerate(classes, start=1):
                if name not in known:
                    raise DataError(f"{source}: row {row}, column {column!r}: unknown label {name!r}; "
                                    f"the model knows {self.labels}")

    def strata(self, train: Dataset) -> list[str] | None:
        """Classes: each row's class, held out in proportion (a one-row class stays in training); scores: None."""
        return None if self.is_regression else self._classes(train, "training data")

    def encode(self, batch: dict[str, list], tokenizer: Any, max_length: int) -> dict[str, list]:
        """Token ids of each pair (truncation warned about once) and the target: a class id or a standardized score."""
        text, pair = self.input_columns
        features, warned = tokenize(batch[text], tokenizer, max_length, warn=not self._warned, pairs=batch[pair])
        self._warned = self._warned or warned
        column = self.target_columns[0]
        if column in batch and self.is_regression and self.scaling is not None:
            scores = self._targets(batch[column], "batch", column)
            features["labels"] = self.scaling.standardize(scores).tolist()
        elif column in batch and self.labels:
            features["labels"] = targets(batch[column], column, self.labels, False, None, self.class_names)
        return features

    def predict_step(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Classes: the logits ``(B, L)``; regression: the standardized score ``(B,)``."""
        if not self.is_regression:
            return super().predict_step(model, batch)
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        return {"score": logits[:, 0]}

    # --- results -------------------------------------------------------------------------

    def predicted_scores(self, outputs: Outputs, features: Dataset, count: int) -> np.ndarray:
        """Regression: ``(N,)`` predictions of the ``count`` examples on the targets' scale; an example read in
        windows (a long text of ``regression``) gets the mean of its windows' (a pair is one feature)."""
        if self.scaling is None:
            raise DataError(f"task {self.name!r}: a regression model without its targets' scaling (tasuki.json "
                            f"'task_state.scaling'); train it again")
        z = np.array([[float(o["score"])] for o in outputs])
        return self.scaling.invert(windows.aggregate(z, windows.documents(features, count), count, "mean")[:, 0])

    def probabilities(self, outputs: Outputs) -> np.ndarray:
        """Classes: ``(N, L)`` softmax probabilities."""
        from scipy.special import softmax

        return softmax(np.stack([np.asarray(o["logits"], dtype=np.float64) for o in outputs]), axis=1)

    def _gold(self, examples: Dataset, source: str = "evaluation data") -> np.ndarray:
        column = self.target_columns[0]
        if self.is_regression:
            return np.asarray(self._targets(column_values(examples, column), source, column))
        index = {name: i for i, name in enumerate(self.labels or [])}
        return np.array([index[name] for name in self._classes(examples, source)], dtype=np.int64)

    def compute_metrics(self, outputs: Outputs, features: Dataset, examples: Dataset) -> dict[str, float]:
        """Regression: ``pearson``, ``spearman``, ``mse`` (target scale); classes: accuracy, F1s, per label."""
        if self.is_regression:
            return regression.metrics(self._gold(examples), self.predicted_scores(outputs, features, len(examples)))
        return scoring.single_label(self._gold(examples), self.probabilities(outputs).argmax(axis=1), self.labels or [])

    def postprocess(self, outputs: Outputs, features: Dataset, examples: Dataset, *,
                    context: PredictionContext | None = None) -> list[dict[str, Any]]:
        """Regression ``{"score"}`` on the targets' scale; classes ``{"label", "score", "scores"}``, best first."""
        if self.is_regression:
            return [{"score": float(s)} for s in self.predicted_scores(outputs, features, len(examples))]
        labels, results = self.labels or [], []
        for row in self.probabilities(outputs):
            order = np.argsort(-row, kind="stable")
            results.append({"label": labels[order[0]], "score": float(row[order[0]]),
                            "scores": {labels[j]: float(row[j]) for j in order}})
        return results

    def describe(self, prediction: Any) -> str:
        """``score 3.271`` (regression), else ``duplicate 0.97``."""
        if isinstance(prediction, dict) and set(prediction) == {"score"}:
            return f"score {prediction['score']:.4g}"
        return super().describe(prediction)

    def plot(self, outputs: Outputs, features: Dataset, examples: Dataset, directory: Path) -> list[Path]:
        """Regression: predicted against gold scores (``scores.png``); classes: the confusion matrix."""
        title = f"{self.name} ({self.lang})"
        if self.is_regression:
            return [regression.scatter_figure(self._gold(examples), self.predicted_scores(outputs, features, len(examples)),
                                              Path(directory) / "scores.png", title)]
        gold, predicted = self._gold(examples), self.probabilities(outputs).argmax(axis=1)
        return [scoring.confusion_figure(gold, predicted, self.labels or [], Path(directory) / "confusion_matrix.png",
                                         title)]
