"""The Backbone interface: a pretrained encoder and its tokenizer.

``--backbone`` takes a Hub id or a local directory (a Hugging Face backbone), or
``PREFIX[:ARG]`` where PREFIX is a registered factory (``minilm``, ``e5-small``,
``scratch:...``, ``hf:ID``). Weights load from safetensors only and ``trust_remote_code``
stays off unless the user turns it on.
"""

from __future__ import annotations

import contextlib
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tasuki.errors import TasukiError
from tasuki.security import check_remote_code

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)


class Backbone(ABC):
    """A pretrained (or from-scratch) encoder plus its tokenizer."""

    spec: str
    """How the user named it; recorded with trained models."""
    from_pretrained_options: bool = False
    """True when :meth:`encoder` and :meth:`build_model` accept ``from_pretrained`` options
    (``attn_implementation="eager"`` for attention weights, ...)."""

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
    def directory(self) -> Path | None:
        """The local Hugging Face directory holding this backbone's files, if there is one."""
        return None

    @property
    def max_length(self) -> int:
        """The longest input, in tokens, the encoder's position table allows."""
        limit = getattr(self.tokenizer, "model_max_length", None) or 512
        return int(min(limit, 512)) if limit > 100_000 else int(limit)

    def describe(self) -> dict[str, Any]:
        """Metadata saved with trained models and shown in model cards."""
        return {"spec": self.spec}


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' loading messages (a table of new or unused weights) off for the block: tasuki says what
    matters of them in one line."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)


TASK_HEADS = ("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering", "ForMultipleChoice")
"""Heads of fine-tuned models: a backbone with one of them is another task's model (pretraining heads are not)."""


class BackboneError(TasukiError):
    """A backbone that cannot be loaded: not found, offline, pickle-only weights, remote code."""


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
        self.from_pretrained_options = True

    def _load_kwargs(self) -> dict[str, Any]:
        return {"revision": self.revision, "trust_remote_code": self.trust_remote_code}

    @property
    def directory(self) -> Path | None:
        path = Path(self.name_or_path).expanduser()
        return path if path.is_dir() else None

    def _load(self, what: str, load: Any) -> Any:
        """Run a ``from_pretrained`` call; its failure becomes one line that says what to do."""
        check_remote_code(self.name_or_path, self.trust_remote_code)
        try:
            return load()
        except (OSError, ValueError) as exc:
            raise BackboneError(f"backbone {self.spec!r}: cannot load its {what}: {self._advice(exc)}") from None

    def _advice(self, exc: Exception) -> str:
        directory = self.directory
        reason = " ".join(str(exc).split())[:300]
        if directory is not None:
            if not (directory / "model.safetensors").exists() and any(directory.glob("*.bin")):
                return ("it has pickle weights only (*.bin), which tasuki never loads (they can run code); convert them "
                        "to model.safetensors with transformers' save_pretrained after checking their source")
            return reason
        if "trust_remote_code" in reason:
            return ("the model needs its own Python code, which tasuki runs only where Python passes "
                    "trust_remote_code=True, and never trains on (no trained model that needs code is ever loaded)")
        return (f"{reason}. Is {self.name_or_path!r} a Hub id? It is not a local directory, and the Hub could not be "
                f"reached or has no such model (offline: HF_HUB_OFFLINE); pass a local directory or an embedded "
                f"backbone (minilm, e5-small)")

    @cached_property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        from transformers import AutoTokenizer

        return self._load("tokenizer", lambda: AutoTokenizer.from_pretrained(self.name_or_path, **self._load_kwargs()))

    def build_model(self, auto_class: Any, **config: Any) -> torch.nn.Module:
        trained = self._trained_head(auto_class, config)
        if trained:  # another task's model (a trained classifier, say): its encoder under a fresh head
            logger.info("%s is a trained %s: its encoder is used, under a new head", self.spec, trained)
            return self._encoder_under_new_head(auto_class, config)
        # transformers prints a table of new head weights; one line of ours says the same
        with quiet_transformers():
            # a head of another size (other labels) is re-initialised, and said so below, not a traceback
            model, info = self._load("weights", lambda: auto_class.from_pretrained(
                self.name_or_path, use_safetensors=True, output_loading_info=True, ignore_mismatched_sizes=True,
                **self._load_kwargs(), **config
            ))
        if info["missing_keys"]:
            logger.info("%s: new %s weights initialised: %s", self.spec, type(model).__name__,
                        ", ".join(sorted(info["missing_keys"])))
        if info["mismatched_keys"]:
            logger.warning("%s: weights re-initialised because their shapes differ: %s", self.spec,
                           ", ".join(sorted(str(k) for k in info["mismatched_keys"])))
        return model

    def _trained_head(self, auto_class: Any, config: dict[str, Any]) -> str | None:
        """``"BertForSequenceClassification (labels neg, pos)"`` when this local backbone is a model fine-tuned
        for a task and ``auto_class`` with ``config`` would be another head or other labels; else None."""
        import json

        directory = self.directory
        try:
            saved = json.loads((directory / "config.json").read_text(encoding="utf-8")) if directory else {}
        except (OSError, ValueError):
            return None  # the loader reports an unreadable config itself
        names = saved.get("architectures") if isinstance(saved, dict) else None
        architecture = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else ""
        if not architecture.endswith(TASK_HEADS):
            return None
        labels = [str(v) for _, v in sorted((saved.get("id2label") or {}).items(), key=lambda kv: int(kv[0]))]
        wanted = [str(v) for _, v in sorted((config.get("id2label") or {}).items(), key=lambda kv: int(kv[0]))]
        head = getattr(auto_class, "__name__", "").removeprefix("AutoModel")
        if architecture.endswith(head) and (not wanted or wanted == labels):
            return None  # the same head and labels: training goes on from it
        return f"{architecture} (labels {', '.join(labels)})" if labels else architecture

    def _encoder_under_new_head(self, auto_class: Any, config: dict[str, Any]) -> torch.nn.Module:
        """``auto_class`` built fresh, then given the encoder weights of this backbone."""
        from transformers import AutoConfig

        options = {**self._load_kwargs(), **config}
        head_config = self._load("config", lambda: AutoConfig.from_pretrained(self.name_or_path, **options))
        head_config.architectures = None
        model = auto_class.from_config(head_config, trust_remote_code=self.trust_remote_code)
        encoder = self.encoder()  # the old head's weights are unused on purpose: said in one line there
        missing, _ = model.base_model.load_state_dict(encoder.state_dict(), strict=False)  # a pooler may be left over
        if missing:
            raise BackboneError(f"backbone {self.spec!r}: its encoder does not fit a new {type(model).__name__} "
                                f"(missing {', '.join(sorted(missing)[:5])}); give the base encoder as --backbone")
        return model

    def encoder(self, **kwargs: Any) -> torch.nn.Module:
        from transformers import AutoModel

        with quiet_transformers():  # its table of a head's unused weights (an adapted MLM's cls.*): one line here
            model, info = self._load("weights", lambda: AutoModel.from_pretrained(
                self.name_or_path, use_safetensors=True, output_loading_info=True, **self._load_kwargs(), **kwargs))
        if info["missing_keys"]:
            logger.warning("%s: encoder weights not in the checkpoint, initialised at random: %s", self.spec,
                           ", ".join(sorted(info["missing_keys"])))
        if info["unexpected_keys"]:
            heads = sorted({key.split(".")[0] for key in info["unexpected_keys"]})
            logger.info("%s: weights outside the encoder left out (%s)", self.spec, ", ".join(f"{h}.*" for h in heads))
        return model

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "name_or_path": self.name_or_path, "revision": self.revision}
