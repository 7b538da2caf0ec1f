"""``ScratchConfig``: the ``tasuki-scratch`` model type's ``transformers`` config, apart from the torch model.

It needs only ``transformers``' configuration code, which every Auto class loads anyway, so the
plugin can register it with ``AutoConfig`` as soon as transformers' Auto classes are imported
(see :mod:`tasuki_attention.plugin`). Creating a config imports :mod:`tasuki_attention.model`, which
registers the model classes with ``AutoModel*``: by the time ``AutoModelFor*.from_pretrained`` looks
for the model class of a saved ``config.json``, it is there.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from transformers.configuration_utils import PreTrainedConfig

from tasuki_attention.config import EncoderConfig

MODEL_TYPE = "tasuki-scratch"


class ScratchConfig(PreTrainedConfig):
    """:class:`~tasuki_attention.config.EncoderConfig`'s fields as a ``transformers`` config (``config.json``)."""

    model_type = MODEL_TYPE
    attribute_map = {
        "num_hidden_layers": "num_layers",
        "num_attention_heads": "num_heads",
        "max_position_embeddings": "max_positions",
    }

    # EncoderConfig's fields and defaults, declared there once: PreTrainedConfig makes each subclass a
    # dataclass from the annotations and values of its class body, so they are copied in before that.
    for _field in fields(EncoderConfig):
        __annotations__[_field.name] = _field.type
        vars()[_field.name] = _field.default
    del _field
    # transformers' own extras, not the encoder's
    initializer_range: float = 0.02
    classifier_dropout: float | None = None
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs: Any) -> None:
        super().__post_init__(**kwargs)
        self.encoder_config()  # validate now: a bad head count fails at configuration, not mid-forward
        import tasuki_attention.model  # noqa: F401 - registers the model classes: a config is there to build one

    def encoder_config(self) -> EncoderConfig:
        """The plain dataclass the torch modules take."""
        return EncoderConfig.from_dict({**self.to_dict(), "pad_token_id": self.pad_token_id or 0})


def register_config(auto_config: Any) -> None:
    """``AutoConfig.register`` the ``tasuki-scratch`` type (idempotent); the model classes follow on first use."""
    auto_config.register(MODEL_TYPE, ScratchConfig, exist_ok=True)
