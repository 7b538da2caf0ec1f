"""The scratch encoder as a ``transformers`` model type, ``tasuki-scratch``, with the usual heads.

Being a ``PreTrainedModel`` with its own config is what lets every task use it with no special
case: ``save_pretrained`` writes ``config.json`` + safetensors, and, because this module registers
the classes with ``AutoConfig`` / ``AutoModel`` / ``AutoModelFor*`` when imported (the plugin has the
config registered when transformers' Auto classes load, and the config imports this module when a
model is configured), ``AutoModelForSequenceClassification.from_pretrained(saved_dir)`` works in any
process that has loaded the tasuki plugins — no ``trust_remote_code`` involved.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    PreTrainedModel,
)
from transformers import initialization as init
from transformers.modeling_outputs import (
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

from tasuki_attention.encoder import MaskedLMHead, Pooler, ScratchEncoder
from tasuki_attention.hf_config import MODEL_TYPE, ScratchConfig
from tasuki_attention.modules import PositionalEncoding, sinusoidal_table


class ScratchPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading glue shared by the scratch model and its heads."""

    config_class = ScratchConfig
    config: ScratchConfig
    base_model_prefix = "scratch"
    _no_split_modules = ["EncoderLayer"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)  # normal(0, 0.02) linears and embeddings, unit layer norms
        # The sinusoidal table is a non-persistent buffer: rebuild it when weights are materialised.
        if isinstance(module, PositionalEncoding) and module.kind == "sinusoidal":
            init.copy_(module.table, sinusoidal_table(*module.table.shape))


class ScratchModel(ScratchPreTrainedModel):
    """The bare encoder: ``last_hidden_state``, ``pooler_output``, and on request hidden states and attentions."""

    def __init__(self, config: ScratchConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        self.encoder = ScratchEncoder(config.encoder_config())
        self.pooler = Pooler(config.hidden_size) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        """The token embedding table."""
        return self.encoder.embeddings.tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        """Replace the token embedding table (``resize_token_embeddings``)."""
        self.encoder.embeddings.tokens = value

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPooling:
        """``input_ids (B, T)`` -> ``last_hidden_state (B, T, C)``, ``pooler_output (B, C)``."""
        out = self.encoder(
            input_ids,
            attention_mask,
            token_type_ids,
            output_attentions=bool(output_attentions or self.config.output_attentions),
            output_hidden_states=bool(output_hidden_states or self.config.output_hidden_states),
        )
        pooled = self.pooler(out.last_hidden_state) if self.pooler is not None else None
        return BaseModelOutputWithPooling(
            last_hidden_state=out.last_hidden_state,
            pooler_output=pooled,
            hidden_states=out.hidden_states,
            attentions=out.attentions,
        )


def _encode(head: nn.Module, kwargs: dict[str, Any], **inputs: Any) -> BaseModelOutputWithPooling:
    keep = {k: kwargs[k] for k in ("output_attentions", "output_hidden_states") if k in kwargs}
    return head.scratch(**inputs, **keep)


class ScratchForMaskedLM(ScratchPreTrainedModel):
    """Masked-LM head on the encoder; the decoder shares the token embedding matrix."""

    _tied_weights_keys = {"lm_head.decoder.weight": "scratch.encoder.embeddings.tokens.weight"}

    def __init__(self, config: ScratchConfig) -> None:
        super().__init__(config)
        self.scratch = ScratchModel(config, add_pooling_layer=False)
        self.lm_head = MaskedLMHead(config.encoder_config())
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        """The vocabulary projection (tied to the input embeddings)."""
        return self.lm_head.decoder

    def set_output_embeddings(self, value: nn.Linear) -> None:
        """Replace the vocabulary projection."""
        self.lm_head.decoder = value

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> MaskedLMOutput:
        """Logits ``(B, T, V)``; with ``labels (B, T)`` (-100 = not masked) the MLM loss."""
        out = _encode(self, kwargs, input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        logits = self.lm_head(out.last_hidden_state)  # (B, T, V)
        loss = None
        if labels is not None:
            loss = CrossEntropyLoss()(logits.view(-1, logits.shape[-1]), labels.view(-1))
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions)


class ScratchClassifier(ScratchPreTrainedModel):
    """Dropout and a linear layer on the encoder's vectors: the head the sequence and token classifiers share.

    ``pooled`` picks the vectors: the pooled ``[CLS]`` one per sequence, or every token's. The layer
    keeps BERT's name, ``classifier``, so ``model.classifier`` is the same layer on any backbone.
    """

    pooled: ClassVar[bool] = False

    def __init__(self, config: ScratchConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.scratch = ScratchModel(config, add_pooling_layer=self.pooled)
        p = config.classifier_dropout if config.classifier_dropout is not None else config.dropout
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def classify(self, kwargs: dict[str, Any], **inputs: Any) -> tuple[torch.Tensor, BaseModelOutputWithPooling]:
        """Logits ``(B, L)`` when pooled, else ``(B, T, L)``, and the encoder's output."""
        out = _encode(self, kwargs, **inputs)
        vectors = out.pooler_output if self.pooled else out.last_hidden_state  # (B, C) or (B, T, C)
        return self.classifier(self.dropout(vectors)), out


class ScratchForSequenceClassification(ScratchClassifier):
    """Pooled ``[CLS]`` vector -> dropout -> linear; regression, single- or multi-label loss as in BERT."""

    pooled = True

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        """Logits ``(B, num_labels)``."""
        logits, out = self.classify(kwargs, input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids)  # (B, L)
        loss = None
        if labels is not None:
            problem = self.config.problem_type
            if problem is None:
                if self.num_labels == 1:
                    problem = "regression"
                elif labels.dtype in (torch.long, torch.int):
                    problem = "single_label_classification"
                else:
                    problem = "multi_label_classification"
            if problem == "regression":
                loss = MSELoss()(logits.squeeze(-1), labels.float().view(-1))
            elif problem == "single_label_classification":
                loss = CrossEntropyLoss()(logits.view(-1, self.num_labels), labels.view(-1))
            else:
                loss = BCEWithLogitsLoss()(logits, labels.to(logits.dtype))
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions)


class ScratchForTokenClassification(ScratchClassifier):
    """Every token's vector -> dropout -> linear (NER, POS); labels -100 are ignored."""

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> TokenClassifierOutput:
        """Logits ``(B, T, num_labels)``."""
        logits, out = self.classify(kwargs, input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids)  # (B, T, L)
        loss = None
        if labels is not None:
            loss = CrossEntropyLoss()(logits.view(-1, self.num_labels), labels.view(-1))
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions)


class ScratchForQuestionAnswering(ScratchPreTrainedModel):
    """Extractive QA: a start and an end logit per token."""

    def __init__(self, config: ScratchConfig) -> None:
        super().__init__(config)
        self.scratch = ScratchModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> QuestionAnsweringModelOutput:
        """``start_logits``, ``end_logits``: ``(B, T)`` each; the mean of both CE losses with positions."""
        out = _encode(self, kwargs, input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        start, end = self.qa_outputs(out.last_hidden_state).unbind(dim=-1)  # (B, T), (B, T)
        loss = None
        if start_positions is not None and end_positions is not None:
            t = start.shape[1]  # positions past the sequence (answer truncated away) are ignored
            ce = CrossEntropyLoss(ignore_index=t)
            loss = (ce(start, start_positions.clamp(0, t)) + ce(end, end_positions.clamp(0, t))) / 2
        return QuestionAnsweringModelOutput(
            loss=loss,
            start_logits=start.contiguous(),
            end_logits=end.contiguous(),
            hidden_states=out.hidden_states,
            attentions=out.attentions,
        )


HEADS = {
    AutoModel: ScratchModel,
    AutoModelForMaskedLM: ScratchForMaskedLM,
    AutoModelForSequenceClassification: ScratchForSequenceClassification,
    AutoModelForTokenClassification: ScratchForTokenClassification,
    AutoModelForQuestionAnswering: ScratchForQuestionAnswering,
}


def register_auto_classes() -> None:
    """Make ``AutoConfig`` / ``AutoModel*`` know ``tasuki-scratch`` (idempotent)."""
    AutoConfig.register(MODEL_TYPE, ScratchConfig, exist_ok=True)
    for auto_class, model_class in HEADS.items():
        auto_class.register(ScratchConfig, model_class, exist_ok=True)


register_auto_classes()
