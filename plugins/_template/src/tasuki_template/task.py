"""``template-classify``: a complete text-classification task in a few dozen lines."""

from __future__ import annotations

from typing import Any

import numpy as np

from tasuki.errors import DataError
from tasuki.task import LazyAutoModel, Outputs, Task


class TemplateClassificationTask(Task):
    """Text classification with labels read from the training data; accuracy as the metric."""

    name = "template-classify"
    description = "Template: text classification (copy plugins/_template to start a plugin)"
    auto_model = LazyAutoModel("AutoModelForSequenceClassification")  # transformers loads on first use
    pipeline_tag = "text-classification"
    training_defaults = {"max_length": 128}

    def fit(self, train: Any) -> None:
        if self.labels is None:
            self.labels = sorted({str(label) for label in train["label"]})

    def validate(self, data: Any, source: str, *, with_targets: bool) -> None:
        super().validate(data, source, with_targets=with_targets)
        if with_targets and self.labels is not None:
            for row, label in enumerate(data["label"], start=1):
                if str(label) not in self.labels:
                    raise DataError(f"{source}: row {row}, column 'label': unknown label {label!r} (known: {self.labels})")

    def encode(self, batch: dict[str, list], tokenizer: Any, max_length: int) -> dict[str, list]:
        features = dict(tokenizer(batch["text"], truncation=True, max_length=max_length))
        if "label" in batch:
            features["labels"] = [self.labels.index(str(label)) for label in batch["label"]]
        return features

    def compute_metrics(self, outputs: Outputs, features: Any, examples: Any) -> dict[str, float]:
        predicted = np.array([row["logits"].argmax() for row in outputs])
        return {"accuracy": float((predicted == np.array(features["labels"])).mean())}

    def postprocess(self, outputs: Outputs, features: Any, examples: Any) -> list[dict[str, Any]]:
        results = []
        for row in outputs:
            scores = np.exp(row["logits"] - row["logits"].max())
            scores /= scores.sum()
            results.append({"label": self.labels[int(scores.argmax())], "score": float(scores.max())})
        return results
