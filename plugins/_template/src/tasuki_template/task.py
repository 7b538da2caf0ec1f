"""``template-classify``: a complete text-classification task in a few dozen lines.

Copy it to start a plugin (README.md); the core's own tests drive the runner through it too, so
the template is always a working plugin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tasuki.plugin import DataError, LazyAutoModel, PredictionContext, Task, column_values, label_name, stripped_labels


@dataclass
class TemplateOptions:
    """Options of the template task (each field: type, default, docstring; ``--option lowercase=true``)."""

    lowercase: bool = False
    """Lower-case texts before tokenizing."""


class TemplateClassificationTask(Task):
    """Text classification with string labels; accuracy as the metric."""

    name = "template-classify"
    description = "Template: text classification (copy plugins/_template to start a plugin)"
    auto_model = LazyAutoModel("AutoModelForSequenceClassification")
    pipeline_tag = "text-classification"
    training_defaults = {"max_length": 32}
    Options = TemplateOptions
    # How tasuki serve and predict show it (Task's defaults, written out to show where they go):
    request_parameters = ()  # Options fields one serve request may set
    input_fields = ("text",)  # the page's boxes
    form_kind = "text"  # "text", "question" or "pair"
    result_kind = "labels"  # "labels", "spans", "answer", "score", "vector" or "json"

    def fit(self, train: Any) -> None:
        if self.labels is None:
            # column_values reads a column in chunks: a dataset larger than memory stays on disk
            # label_name: "neg " is the class "neg" (validate warned about it)
            self.labels = sorted({str(label_name(label)) for label in column_values(train, "label")})

    def validate(self, data: Any, source: str, *, with_targets: bool) -> None:
        super().validate(data, source, with_targets=with_targets)
        if with_targets:
            for row, label in enumerate(stripped_labels(column_values(data, "label"), source), start=1):
                if self.labels is not None and str(label) not in self.labels:
                    raise DataError(f"{source}: row {row}, column 'label': unknown label {label!r}")

    def encode(self, batch: dict[str, list], tokenizer: Any, max_length: int) -> dict[str, list]:
        texts = [t.lower() for t in batch["text"]] if self.options.lowercase else batch["text"]
        features = tokenizer(texts, truncation=True, max_length=max_length)
        if "label" in batch:
            features["labels"] = [self.labels.index(str(label_name(label))) for label in batch["label"]]
        return dict(features)

    def compute_metrics(self, outputs: Any, features: Any, examples: Any) -> dict[str, float]:
        logits = np.stack([row["logits"] for row in outputs])  # (N, C)
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        gold = np.array(features["labels"])
        # the mean confidence moves with every example: a lost or doubled one shows in tests
        return {"accuracy": float((probs.argmax(1) == gold).mean()), "mean_confidence": float(probs.max(1).mean())}

    def postprocess(
        self, outputs: Any, features: Any, examples: Any, *, context: PredictionContext | None = None
    ) -> list[dict[str, Any]]:
        results = []
        for row in outputs:
            scores = np.exp(row["logits"] - row["logits"].max())
            scores /= scores.sum()
            best = int(scores.argmax())
            results.append({"label": self.labels[best], "score": float(scores[best])})
        return results
