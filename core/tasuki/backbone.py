"""The Backbone interface: a pretrained encoder and its tokenizer.

``--backbone`` takes a Hub id or a local directory (a Hugging Face backbone), or
``PREFIX[:ARG]`` where PREFIX is a registered factory (``minilm``, ``e5-small``,
``scratch:...``, ``hf:ID``). Weights load from safetensors only and ``trust_remote_code``
stays off unless the user turns it on.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tasuki.errors import UnknownNameError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)


class Backbone(ABC):
    """A pretrained (or from-scratch) encoder plus its tokenizer."""

    spec: str
    """How the user named it; recorded with trained models."""

    @property
    @abstractmethod
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The tokenizer that matches the encoder."""

    @abstractmethod
    def build_model(self, auto_class: Any, **config: Any) -> torch.nn.Module:
        """The encoder under a task head: ``auto_class`` is e.g. ``AutoModelForTokenClassification``.

        :param config: config overrides (``num_labels``, ``id2label``, ...).
        """

    @abstractmethod
    def encoder(self, **kwargs: Any) -> torch.nn.Module:
        """The bare encoder (hidden states, attentions), for features, embeddings and plots.

        :param kwargs: loading options, e.g. ``attn_implementation="eager"`` for attention weights.
        """

    @property
    def max_length(self) -> int:
        """The longest input, in tokens, the encoder's position table allows."""
        limit = getattr(self.tokenizer, "model_max_length", None) or 512
        return int(min(limit, 512)) if limit > 100_000 else int(limit)

    def describe(self) -> dict[str, Any]:
        """Metadata saved with trained models and shown in model cards."""
        return {"spec": self.spec}


class BackboneFactory(Protocol):
    """``factory(arg, **options) -> Backbone``, registered under a prefix."""

    def __call__(self, arg: str | None, **options: Any) -> Backbone: ...


class HFBackbone(Backbone):
    """A Hugging Face encoder from a Hub id or a local directory.

    :param name_or_path: Hub id (``bert-base-uncased``) or a directory with ``config.json``.
    :param trust_remote_code: run model code shipped with the checkpoint (off by default: it
        executes code from the model's repository).
    """

    def __init__(
        self,
        name_or_path: str | os.PathLike,
        *,
        revision: str | None = None,
        trust_remote_code: bool = False,
        spec: str | None = None,
    ) -> None:
        self.name_or_path = str(name_or_path)
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        self.spec = spec or self.name_or_path

    def _load_kwargs(self) -> dict[str, Any]:
        return {"revision": self.revision, "trust_remote_code": self.trust_remote_code}

    @cached_property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.name_or_path, **self._load_kwargs())

    def build_model(self, auto_class: Any, **config: Any) -> torch.nn.Module:
        from transformers.utils import logging as hf_logging

        # transformers prints a table of new head weights; one line of ours says the same
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            model, info = auto_class.from_pretrained(
                self.name_or_path, use_safetensors=True, output_loading_info=True, **self._load_kwargs(), **config
            )
        finally:
            hf_logging.set_verbosity(verbosity)
        if info["missing_keys"]:
            logger.info("%s: new %s weights initialised: %s", self.spec, type(model).__name__,
                        ", ".join(sorted(info["missing_keys"])))
        if info["mismatched_keys"]:
            logger.warning("%s: weights re-initialised because their shapes differ: %s", self.spec,
                           ", ".join(sorted(str(k) for k in info["mismatched_keys"])))
        return model

    def encoder(self, **kwargs: Any) -> torch.nn.Module:
        from transformers import AutoModel

        return AutoModel.from_pretrained(self.name_or_path, use_safetensors=True, **self._load_kwargs(), **kwargs)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "name_or_path": self.name_or_path, "revision": self.revision}


def resolve_backbone(spec: str | os.PathLike | Backbone, **options: Any) -> Backbone:
    """Turn what the user wrote after ``--backbone`` into a :class:`Backbone`.

    Order: a Backbone object as is; ``PREFIX[:ARG]`` for a registered prefix; an existing
    local directory; otherwise a Hub id.
    """
    if isinstance(spec, Backbone):
        return spec
    from tasuki.registry import get_registry

    text = str(spec)
    prefix, _, arg = text.partition(":")
    factories = get_registry().backbones
    if prefix in factories and not Path(text).exists():
        backbone = factories[prefix].obj(arg or None, **options)
        backbone.spec = text
        return backbone
    path = Path(text).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UnknownNameError(
                f"backbone directory {path} has no config.json: expected a Hugging Face model directory"
            )
        return HFBackbone(path, spec=text, **options)
    if text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise UnknownNameError(f"backbone {text!r}: no such directory")
    return HFBackbone(text, spec=text, **options)
