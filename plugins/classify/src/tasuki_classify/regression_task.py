"""The ``regression`` task: one text in, a number out (a rating, a quality or readability score): regression.

``classify-pairs``'s regression on one text: one output trained with MSE on standardized targets, predicted
on the targets' own scale (:mod:`tasuki_classify.regression`: reading, scaling, Pearson/Spearman/MSE, the
scatter plot). ``classify`` refuses a label column of numbers with decimals and points here. A text over
``max_length`` tokens is read in overlapping windows, as ``classify`` reads it (:mod:`tasuki_classify.windows`,
stride a quarter of ``max_length``): each window is trained with its text's target, and a text's prediction is
the mean of its windows' (on the standardized scale, so on the targets' scale too: the scaling is linear).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tasuki.plugin import require_columns
from tasuki_classify import encoding
from tasuki_classify.pairs import PairClassifyTask

if TYPE_CHECKING:
    from datasets import Dataset


@dataclass
class RegressionOptions:
    """Options of the ``regression`` task: none (the target is a number; classes are ``classify``'s)."""


class RegressionTask(PairClassifyTask):
    """One text in, a number out: ``AutoModelForSequenceClassification`` with one output, ``problem_type``
    regression (a transformers pipeline loads it). Main metric Spearman; Pearson and MSE beside it."""

    name: ClassVar[str] = "regression"
    description: ClassVar[str] = "One text in, a number out (a rating, a quality or readability score): regression (en, ja)"
    input_columns: ClassVar[tuple[str, ...]] = ("text",)
    inputs_in_words: ClassVar[str] = "a text"
    columns_note: ClassVar[str] = ("text, and label: a number (a rating, a score; --column label=stars maps another "
                                   "column), predicted on the same scale")
    training_defaults: ClassVar[dict[str, Any]] = {"learning_rate": 5e-5, "batch_size": 32, "max_length": 128}
    Options: ClassVar[type] = RegressionOptions
    input_fields: ClassVar[tuple[str, ...]] = ("text",)
    form_kind: ClassVar[str] = "text"
    classes_hint: ClassVar[str] = "for classes: task 'classify'"

    @property
    def is_regression(self) -> bool:
        """Always: a ``regression`` model predicts a number."""
        return True

    def fit(self, train: Dataset) -> None:
        """Read every target as a number (one line naming the row otherwise) and learn their scaling."""
        require_columns(train, self.required_columns(True), "training data", task=self.name)
        self._fit_scaling(train)

    def encode(self, batch: dict[str, list], tokenizer: Any, max_length: int) -> dict[str, list]:
        """Token ids, in windows over long texts (``example_index``: the text of each), and each window's text's
        standardized target."""
        features, _ = encoding.features(batch[self.input_columns[0]], tokenizer, max_length, windows=True, stride=None,
                                        warn=False)
        column = self.target_columns[0]
        if column in batch and self.scaling is not None:
            z = self.scaling.standardize(self._targets(batch[column], "batch", column))
            features["labels"] = [float(z[i]) for i in features["example_index"]]
        return features
