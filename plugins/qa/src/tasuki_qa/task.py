"""The ``qa`` task: extractive question answering over long contexts, with unanswerable questions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tasuki.plugin import DataError, LazyAutoModel, Outputs, PredictionContext, Task, setting
from tasuki_qa.features import encode_windows
from tasuki_qa.metrics import references_of, squad_v2_metrics
from tasuki_qa.spans import Span, best_span
from tasuki_qa.squad import check_answers, read_squad_json

if TYPE_CHECKING:
    import torch
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

@dataclass
class QAOptions:
    """Options of the ``qa`` task, saved with the model."""

    doc_stride: int = setting(128, min=1)
    """Tokens shared by consecutive windows of a long context."""
    max_answer_length: int = setting(30, min=1)
    """Longest answer, in tokens."""
    null_threshold: float = 0.0
    """Answer "" when the no-answer score beats the best span by more than this (tune it with 'tasuki qa tune')."""
    allow_impossible: bool | None = None
    """Unanswerable questions exist (SQuAD v2); default: learnt from the training data (any empty answer)."""
    align_to_words: bool = True
    """Widen answer spans to whole words, as the transformers pipeline does."""


class QATask(Task):
    """Extractive QA: find the answer to a question as a span of its context, or say there is none.

    Options: :class:`QAOptions` (saved with the model). The main metric (best evaluation, early
    stopping) is the SQuAD F1 (``f1``).
    """

    name: ClassVar[str] = "qa"
    description: ClassVar[str] = "Extractive question answering (SQuAD v1/v2), long contexts, unanswerable questions"
    languages: ClassVar[tuple[str, ...]] = ("en", "ja")
    input_columns: ClassVar[tuple[str, ...]] = ("question", "context")
    inputs_in_words: ClassVar[str] = "a question and its context"
    inputs_cli_hint: ClassVar[str] = ("tasuki qa ask MODEL QUESTION --context FILE, or tasuki predict MODEL --input FILE with "
                                      "question and context columns")
    target_columns: ClassVar[tuple[str, ...]] = ("answers",)
    optional_columns: ClassVar[tuple[str, ...]] = ("id",)  # named in errors about a row
    auto_model: ClassVar[Any] = LazyAutoModel("AutoModelForQuestionAnswering")
    pipeline_tag: ClassVar[str | None] = "question-answering"
    main_metric: ClassVar[str] = "f1"  # SQuAD (v2) token F1, character F1 for Japanese
    training_defaults: ClassVar[dict[str, Any]] = {
        "max_length": 384,
        "learning_rate": 5e-5,
        "batch_size": 16,
    }

    Options: ClassVar[type] = QAOptions
    # tasuki serve / predict: a question about a context, the answer marked in it; these options
    # change only how span scores become an answer, so one request may set them
    request_parameters: ClassVar[tuple[str, ...]] = ("max_answer_length", "null_threshold", "align_to_words")
    input_fields: ClassVar[tuple[str, ...]] = ("question", "context")
    form_kind: ClassVar[str] = "question"
    result_kind: ClassVar[str] = "answer"

    def __init__(self, lang: str = "en", labels: Any = None, **options: Any) -> None:
        super().__init__(lang=lang, labels=None, **options)

    def option(self, name: str) -> Any:
        """An option's value (``allow_impossible`` before :meth:`fit` learnt it: True)."""
        value = getattr(self.options, name)
        return True if value is None else value

    # --- data ----------------------------------------------------------------------------

    @classmethod
    def readers(cls) -> dict[str, Callable[[Path, str], list[dict[str, Any]]]]:
        """SQuAD v1.1/v2.0 ``.json`` (a plain JSON list of rows also works); jsonl uses the core reader."""
        return {".json": read_squad_json}

    def fit(self, train: Dataset) -> None:
        """Learn whether unanswerable questions exist (SQuAD v2) or never do (v1), unless the user said."""
        if "allow_impossible" not in self.given_options:
            self.options.allow_impossible = any(not a["text"] for a in train["answers"])

    def validate(self, data: Dataset, source: str, *, with_targets: bool) -> None:
        """Non-empty question and context in every row; with targets, answers that point at their text."""
        super().validate(data, source, with_targets=with_targets)
        if with_targets:
            if "answers" not in data.column_names:
                raise DataError(f"{source}: no 'answers' column (expected {{'text': [...], 'answer_start': [...]}})")
            check_answers(data, source)

    def describe(self, prediction: Any) -> str:
        """An answer in words: ``'Paris' 0.93``, or ``(no answer)``."""
        if isinstance(prediction, dict) and "answer" in prediction:
            answer = prediction["answer"]
            return f"{answer!r} {prediction.get('score', 0.0):.2f}" if answer else "(no answer)"
        return super().describe(prediction)

    def examples_from_inputs(self, inputs: Any) -> list[dict[str, Any]]:
        """``{"question", "context"}``, a list of them, or a ``(question, context)`` pair; each gets an ``id``."""
        rows = super().examples_from_inputs(inputs)
        for i, row in enumerate(rows, start=1):
            missing = [c for c in self.input_columns if c not in row]
            if missing:
                raise DataError(f"input {i}: needs 'question' and 'context', missing {missing}")
            row.setdefault("id", str(i))
        return rows

    def encode(self, batch: dict[str, list], tokenizer: PreTrainedTokenizerBase, max_length: int) -> dict[str, list]:
        """Windows of question + context (see :func:`tasuki_qa.features.encode_windows`)."""
        return encode_windows(batch, tokenizer, max_length, self.option("doc_stride"), self.lang)

    def collate(self, features: list[dict[str, Any]], tokenizer: PreTrainedTokenizerBase) -> dict[str, torch.Tensor]:
        """Pad the model inputs to the longest window; stack the answer positions when present."""
        import torch

        keep = ("input_ids", "attention_mask", "token_type_ids")
        batch = tokenizer.pad([{k: f[k] for k in keep if k in f} for f in features], return_tensors="pt")
        batch = dict(batch)
        if "start_positions" in features[0]:
            batch["start_positions"] = torch.tensor([f["start_positions"] for f in features])  # (B,)
            batch["end_positions"] = torch.tensor([f["end_positions"] for f in features])  # (B,)
        return batch

    # --- model ---------------------------------------------------------------------------

    def predict_step(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Start and end logits per token: ``(B, T)`` each."""
        inputs = {k: v for k, v in batch.items() if k not in ("start_positions", "end_positions")}
        out = model(**inputs)
        return {"start_logits": out.start_logits, "end_logits": out.end_logits}

    # --- results -------------------------------------------------------------------------

    def spans(self, outputs: Outputs, features: Dataset, examples: Dataset) -> list[Span]:
        """The best span (or no answer) per example, from all its windows."""
        contexts = examples["context"]
        windows: list[list[tuple]] = [[] for _ in contexts]
        offsets, word_ids = features["offset_mapping"], features["word_ids"]
        for i, window_index in enumerate(example_indices(features["window_index"])):
            n = len(offsets[i])  # the runner may have padded the logits: trim to this window's tokens
            windows[window_index].append((outputs[i]["start_logits"][:n], outputs[i]["end_logits"][:n], offsets[i], word_ids[i]))
        if any(not w for w in windows):
            raise DataError(f"{sum(not w for w in windows)} example(s) got no window; were features dropped?")
        kwargs = {
            "max_answer_length": int(self.option("max_answer_length")),
            "null_threshold": float(self.option("null_threshold")),
            "allow_impossible": bool(self.option("allow_impossible")),
            "align_to_words": bool(self.option("align_to_words")),
        }
        return [best_span(w, c, **kwargs) for w, c in zip(windows, contexts)]

    def compute_metrics(self, outputs: Outputs, features: Dataset, examples: Dataset) -> dict[str, float]:
        """SQuAD v2 exact/F1 (character F1 for ja), HasAns/NoAns, and the best no-answer threshold."""
        spans = self.spans(outputs, features, examples)
        references = references_of(examples["answers"])
        # the threshold search answers with the best span even where "" won: without it, it could
        # only ever abstain more (a lower threshold would "answer" with "")
        best_texts = [context[s.best_span[0] : s.best_span[1]] for s, context in zip(spans, examples["context"])]
        return squad_v2_metrics([s.answer for s in spans], references, self.lang, [s.no_answer_score for s in spans],
                                span_predictions=best_texts)

    def postprocess(
        self, outputs: Outputs, features: Dataset, examples: Dataset, *, context: PredictionContext | None = None
    ) -> list[dict[str, Any]]:
        """Per question ``{"answer", "score", "start", "end"}``; ``context[start:end] == answer``."""
        return [s.as_dict() for s in self.spans(outputs, features, examples)]

    def plot(self, outputs: Outputs, features: Dataset, examples: Dataset, directory: Path) -> list[Path]:
        """The no-answer score of answerable vs unanswerable questions, with the threshold (PNG)."""
        from tasuki_qa.plots import plot_no_answer_scores

        if "answers" not in examples.column_names:
            return []
        spans = self.spans(outputs, features, examples)
        has_answer = [bool(a["text"]) for a in examples["answers"]]
        return [
            plot_no_answer_scores(
                np.array([s.no_answer_score for s in spans]),
                np.array(has_answer),
                float(self.option("null_threshold")),
                Path(directory) / "qa_no_answer_scores.png",
            )
        ]


def example_indices(window_index: list[int]) -> list[int]:
    """The example of each feature, counted from the features' ``window_index`` (0 starts an example).

    Features come in example order, each example's windows together; counting first windows
    gives global example indices even though ``encode`` only ever saw one batch at a time.
    """
    indices, current = [], -1
    for w in window_index:
        current += w == 0
        indices.append(current)
    return indices
