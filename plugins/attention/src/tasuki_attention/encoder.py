"""The scratch encoder: embeddings plus an :class:`~tasuki_attention.modules.Encoder`, and the heads that sit on it.

Laid out like BERT (token + position + segment embeddings, a layer norm, then the layers),
so that a BERT checkpoint loads into it (:mod:`tasuki_attention.convert`) and reproduces
``BertModel``'s hidden states; the heads (masked LM, pooler) are BERT's too.
"""

from __future__ import annotations

import torch
from torch import nn

from tasuki_attention.config import EncoderConfig
from tasuki_attention.modules import Encoder, EncoderOutput, PositionalEncoding, padding_mask


class Embeddings(nn.Module):
    """Token ids -> vectors: ``token + position (+ segment)``, layer norm, dropout."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.tokens = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.positions = PositionalEncoding(config.max_positions, config.hidden_size, config.positional)
        self.token_types = nn.Embedding(config.type_vocab_size, config.hidden_size) if config.type_vocab_size > 0 else None
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """``input_ids (B, T)`` -> ``(B, T, C)``."""
        x = self.tokens(input_ids) + self.positions(input_ids.shape[1])  # (B, T, C) + (T, C)
        if self.token_types is not None:
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            x = x + self.token_types(token_type_ids)
        return self.dropout(self.norm(x))


class ScratchEncoder(nn.Module):
    """A Transformer encoder built from this package's modules: ids in, contextual vectors out."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        *,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> EncoderOutput:
        """``input_ids (B, T)`` and a 1/0 ``attention_mask (B, T)`` -> hidden states ``(B, T, C)``."""
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be (batch, seq_len), got shape {tuple(input_ids.shape)}")
        if attention_mask is not None and attention_mask.shape != input_ids.shape:
            raise ValueError(f"attention_mask {tuple(attention_mask.shape)} must have input_ids' shape {tuple(input_ids.shape)}")
        mask = padding_mask(attention_mask) if attention_mask is not None else None  # (B, 1, 1, T)
        x = self.embeddings(input_ids, token_type_ids)  # (B, T, C)
        return self.encoder(x, mask, output_attentions=output_attentions, output_hidden_states=output_hidden_states)


class Pooler(nn.Module):
    """BERT's sentence vector: ``tanh(W h_[CLS] + b)``."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)`` -> ``(B, C)``."""
        return torch.tanh(self.dense(hidden[:, 0]))


class MaskedLMHead(nn.Module):
    """BERT's MLM head: dense, GELU, layer norm, then a decoder to the vocabulary (tied to the token embeddings)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.GELU() if config.activation == "gelu" else nn.ReLU()
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)`` -> logits ``(B, T, V)``."""
        return self.decoder(self.norm(self.activation(self.dense(hidden))))
