"""The sentence encoder: a transformer encoder, a pooling step and optional L2 normalization.

Saved in the sentence-transformers layout, so that ``SentenceTransformer(dir)`` loads a
tasuki model, and tasuki loads a directory saved by sentence-transformers::

    dir/config.json, model.safetensors          the encoder (transformers' own layout)
    dir/modules.json                            Transformer -> Pooling [-> Normalize]
    dir/1_Pooling/config.json                   the pooling mode
    dir/sentence_bert_config.json               max_seq_length
    dir/config_sentence_transformers.json       similarity function, prompts by role
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tasuki.errors import CheckpointError
from tasuki.sentences.pooling import POOLING_DIR, Pooling, read_max_seq_length, read_normalize, read_pooling_config


class SentenceEncoder(nn.Module):
    """``encoder`` (any ``AutoModel``) + :class:`Pooling` + optional L2 normalization.

    :param encoder: a transformers encoder returning ``last_hidden_state``.
    :param pooling: ``mean``, ``max`` or ``cls``.
    :param normalize: L2-normalize the sentence vectors (cosine similarity = dot product).
    :param max_seq_length: the longest input in tokens, saved for sentence-transformers.
    :param prompts: prefixes by role (``{"query": "query: ", "passage": "passage: "}`` for E5), saved
        with the model: the prefixes its vectors were trained with (none for a model tasuki trained).
    """

    def __init__(
        self, encoder: nn.Module, pooling: str = "mean", normalize: bool = True, max_seq_length: int | None = None,
        prompts: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = Pooling(pooling)
        self.normalize = normalize
        self.max_seq_length = max_seq_length
        self.prompts = dict(prompts or {})

    @property
    def dimension(self) -> int:
        """The size of a sentence vector."""
        return int(self.encoder.config.hidden_size)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        normalize: bool | None = None,
    ) -> torch.Tensor:
        """Sentence vectors (B, H) for token ids (B, T).

        :param normalize: override the model's own setting (training normalizes inside the loss).
        """
        inputs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**inputs).last_hidden_state  # (B, T, H)
        pooled = self.pooling(hidden, attention_mask)  # (B, H)
        if self.normalize if normalize is None else normalize:
            pooled = nn.functional.normalize(pooled, p=2, dim=-1)
        return pooled

    # --- saving --------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write the encoder (safetensors) and the sentence-transformers module files to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(directory, safe_serialization=True)
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": POOLING_DIR, "type": "sentence_transformers.models.Pooling"},
        ]
        if self.normalize:
            modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
            (directory / "2_Normalize").mkdir(exist_ok=True)
        _write_json(directory / "modules.json", modules)
        (directory / POOLING_DIR).mkdir(exist_ok=True)
        # The legacy boolean keys: every sentence-transformers version (2.x to 6.x) reads them.
        _write_json(
            directory / POOLING_DIR / "config.json",
            {
                "word_embedding_dimension": self.dimension,
                "pooling_mode_cls_token": self.pooling.mode == "cls",
                "pooling_mode_mean_tokens": self.pooling.mode == "mean",
                "pooling_mode_max_tokens": self.pooling.mode == "max",
                "pooling_mode_mean_sqrt_len_tokens": False,
            },
        )
        bert_config: dict[str, Any] = {"do_lower_case": False}
        if self.max_seq_length:
            bert_config["max_seq_length"] = int(self.max_seq_length)
        _write_json(directory / "sentence_bert_config.json", bert_config)
        _write_json(
            directory / "config_sentence_transformers.json",
            {"prompts": self.prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"},
        )

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        pooling: str | None = None,
        normalize: bool | None = None,
        **load_kwargs: Any,
    ) -> SentenceEncoder:
        """Load a directory saved by :meth:`save`, by sentence-transformers, or a plain transformers encoder.

        The directory's own pooling / normalization config wins unless ``pooling`` /
        ``normalize`` are given; a plain encoder gets mean pooling and normalization.
        Weights load from safetensors only; ``trust_remote_code`` is off unless passed.
        """
        from transformers import AutoModel

        directory = Path(directory)
        if not (directory / "config.json").is_file():
            raise CheckpointError(f"{directory}: no config.json; expected a transformers or sentence-transformers model")
        load_kwargs.setdefault("trust_remote_code", False)
        encoder = AutoModel.from_pretrained(directory, use_safetensors=True, **load_kwargs)
        return cls(
            encoder,
            pooling=pooling or read_pooling_config(directory) or "mean",
            normalize=normalize if normalize is not None else (read_normalize(directory) is not False),
            max_seq_length=read_max_seq_length(directory),
            prompts=read_prompts(directory),
        )


def read_prompts(directory: str | Path) -> dict[str, str] | None:
    """The ``prompts`` saved in ``config_sentence_transformers.json`` (``{}`` counts), or None when it has none."""
    config_file = Path(directory) / "config_sentence_transformers.json"
    if not config_file.is_file():
        return None
    prompts = json.loads(config_file.read_text(encoding="utf-8")).get("prompts")
    if not isinstance(prompts, dict):
        return None
    return {str(k): str(v) for k, v in prompts.items()}


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
