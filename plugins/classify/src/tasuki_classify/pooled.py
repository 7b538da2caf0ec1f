"""The few-shot recipe's model: a sentence encoder (mean pooling, unit length) under a linear head.

SetFit's shape, made an ordinary torch module so that the runner trains it, ``tasuki.load`` loads it and
the ONNX export holds the head inside the graph. Saved as the sentence-transformers layout of its encoder
(``SentenceTransformer(dir)`` loads the tuned encoder) plus ``classifier.safetensors``, the head.

``transformers.pipeline("text-classification")`` does not load this head: a transformers classification
head reads the [CLS] token through a pooler, this one the mean of all tokens, which no transformers head
computes; the pipeline would put a fresh head on the encoder. Use ``tasuki.load`` or the ONNX export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from tasuki.plugin import CheckpointError, SentenceEncoder

HEAD_FILE = "classifier.safetensors"


class PooledClassifier(nn.Module):
    """Logits ``(B, L)`` of a linear head over :class:`~tasuki.plugin.SentenceEncoder` vectors.

    :param sentence: the encoder with its pooling (mean) and normalization (on).
    :param num_labels: the head's outputs.
    :param multi_label: the loss given ``labels``: binary cross-entropy per label (float 0/1 vectors)
        instead of cross-entropy over labels (class ids).
    :param l2: the loss's penalty on the head's weights, ``l2 / 2 * |W|^2`` (a logistic regression's).
    """

    def __init__(self, sentence: SentenceEncoder, num_labels: int, *, multi_label: bool = False,
                 l2: float = 0.0) -> None:
        super().__init__()
        self.sentence = sentence
        self.classifier = nn.Linear(sentence.dimension, num_labels)
        nn.init.zeros_(self.classifier.weight)  # a logistic regression's start: every label equally likely
        nn.init.zeros_(self.classifier.bias)
        self.multi_label = multi_label
        self.l2 = l2
        self.frozen = False
        self.config = sentence.encoder.config  # id2label, problem_type: what the runner and the saved config read

    def freeze_encoder(self) -> None:
        """Train the head only (the recipe's second stage: the encoder was tuned in the first)."""
        self.sentence.requires_grad_(False)
        self.frozen = True
        self.sentence.eval()

    def train(self, mode: bool = True) -> PooledClassifier:
        """A frozen encoder stays in eval mode: the head learns from the vectors it will be given at prediction
        (dropout on a few dozen texts' vectors cost 10 points of accuracy on tweets)."""
        super().train(mode)
        if self.frozen:
            self.sentence.eval()
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> Any:
        """``.logits`` (B, L), and ``.loss`` (mean over the batch) when ``labels`` are given."""
        from transformers.modeling_outputs import SequenceClassifierOutput

        logits = self.classifier(self.sentence(input_ids, attention_mask, token_type_ids))
        loss = None
        if labels is not None:
            if self.multi_label:
                loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float())
            else:
                loss = nn.functional.cross_entropy(logits.float(), labels)
            loss = loss + self.penalty()
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def penalty(self) -> torch.Tensor | float:
        """The head's L2 penalty (``l2 / 2 * |W|^2``, the logistic regression's it continues), part of its loss."""
        return self.l2 / 2 * self.classifier.weight.float().pow(2).sum() if self.l2 else 0.0

    def save(self, directory: Path, config: dict[str, Any]) -> None:
        """The encoder (sentence-transformers layout, ``config`` written into its ``config.json``) and the head."""
        from safetensors.torch import save_file

        for key, value in config.items():
            setattr(self.sentence.encoder.config, key, value)
        self.sentence.save(directory)
        head = {name: tensor.detach().contiguous().cpu() for name, tensor in self.classifier.state_dict().items()}
        save_file(head, str(Path(directory) / HEAD_FILE), metadata={"format": "pt"})

    @classmethod
    def load(cls, directory: Path, *, multi_label: bool) -> PooledClassifier:
        """Load what :meth:`save` wrote (safetensors only); a missing or damaged head is a CheckpointError."""
        from safetensors.torch import load_file

        path = Path(directory) / HEAD_FILE
        if not path.is_file():
            raise CheckpointError(f"{directory}: a few-shot classify model without its head ({HEAD_FILE} is missing)")
        head = load_file(str(path))
        sentence = SentenceEncoder.load(directory, pooling="mean", normalize=True)
        weight = head.get("weight")
        if weight is None or weight.ndim != 2 or weight.shape[1] != sentence.dimension:
            raise CheckpointError(f"{path}: not a head for this encoder (expected weight (labels, {sentence.dimension}))")
        model = cls(sentence, weight.shape[0], multi_label=multi_label)
        model.classifier.load_state_dict(head)
        return model
