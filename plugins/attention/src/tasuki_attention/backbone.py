"""The ``scratch`` backbone: the scratch encoder under any task's head.

``--backbone scratch:KEY=VALUE,KEY=VALUE``:

- ``bert=DIR_OR_SPEC`` — initialise from a BERT checkpoint (a directory, or a backbone spec such as
  ``minilm``) and reuse its tokenizer: ``scratch:bert=minilm``. ``dropout`` may be changed.
- ``tokenizer=DIR_OR_SPEC`` — random initialisation with that tokenizer's vocabulary (a tokenizer
  directory, or a backbone spec whose tokenizer to take): ``scratch:tokenizer=minilm,layers=4,hidden=256,heads=4``.
  Shape keys: ``layers``, ``hidden``, ``heads``, ``ffn`` (default ``4 * hidden``), ``max_positions``
  (default: the tokenizer's limit, at most 512), ``dropout``, ``attention_dropout``,
  ``norm=post|pre``, ``positional=learned|sinusoidal``, ``activation=gelu|relu``.
- ``seed=N`` (either form) — fixes the random initialisation; otherwise the global seed (the
  runner's ``seed``) decides.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.plugin import Backbone, UnknownNameError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

    from tasuki_attention.model import ScratchConfig

# tasuki_attention.model (torch + transformers) is imported where a model is built: plugin
# discovery imports this module, and ``tasuki --help`` must not pay for torch.

_INT_KEYS = {
    "layers": "num_layers",
    "hidden": "hidden_size",
    "heads": "num_heads",
    "ffn": "intermediate_size",
    "max_positions": "max_positions",
    "seed": "seed",
}
_FLOAT_KEYS = {"dropout": "dropout", "attention_dropout": "attention_dropout"}
_CHOICES = {"norm": ("post", "pre"), "positional": ("learned", "sinusoidal"), "activation": ("gelu", "relu")}
KNOWN_KEYS = ("bert", "tokenizer", *_INT_KEYS, *_FLOAT_KEYS, *_CHOICES)


def parse_scratch_arg(arg: str | None) -> dict[str, Any]:
    """``"tokenizer=minilm,layers=2"`` -> ``{"tokenizer": "minilm", "layers": 2}``, with clear errors."""
    usage = "e.g. scratch:bert=minilm or scratch:tokenizer=minilm,layers=4,hidden=256,heads=4"
    if not arg:
        raise UnknownNameError(f"backbone 'scratch' needs bert=... or tokenizer=...: {usage}")
    options: dict[str, Any] = {}
    for item in arg.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key or not value:
            raise UnknownNameError(f"backbone scratch:{arg}: {item!r} is not KEY=VALUE ({usage})")
        if key not in KNOWN_KEYS:
            raise UnknownNameError(f"backbone scratch:{arg}: unknown key {key!r}; known keys: {', '.join(KNOWN_KEYS)}")
        if key in options:
            raise UnknownNameError(f"backbone scratch:{arg}: {key!r} is given twice")
        try:
            if key in _INT_KEYS:
                options[key] = int(value)
            elif key in _FLOAT_KEYS:
                options[key] = float(value)
            else:
                options[key] = value
        except ValueError:
            kind = "an integer" if key in _INT_KEYS else "a number"
            raise UnknownNameError(f"backbone scratch:{arg}: {key}={value!r} must be {kind}") from None
        if key in _CHOICES and value not in _CHOICES[key]:
            raise UnknownNameError(f"backbone scratch:{arg}: {key} must be one of {_CHOICES[key]}, not {value!r}")
    if ("bert" in options) == ("tokenizer" in options):
        raise UnknownNameError(f"backbone scratch:{arg}: give exactly one of bert=... or tokenizer=... ({usage})")
    if "bert" in options:
        shape = sorted(set(options) - {"bert", "seed", "dropout", "attention_dropout"})
        if shape:
            raise UnknownNameError(f"backbone scratch:{arg}: {shape} cannot change a BERT checkpoint's shape")
    return options


def _model_directory(value: str) -> Path:
    """A directory as is, or the directory behind a Hugging Face backbone spec (``minilm``)."""
    path = Path(value).expanduser()
    if path.is_dir():
        return path
    from tasuki.plugin import resolve_backbone

    directory = resolve_backbone(value).directory
    if directory is None:
        raise UnknownNameError(f"scratch backbone: {value!r} is neither a directory nor a local backbone spec")
    return directory


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Seed torch for the block only, leaving the caller's random stream untouched."""
    if seed is None:
        yield
        return
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class ScratchBackbone(Backbone):
    """The scratch encoder, randomly initialised or loaded from BERT, with a Hugging Face tokenizer."""

    def __init__(self, options: dict[str, Any], *, spec: str = "scratch") -> None:
        self.options = dict(options)
        self.spec = spec

    @cached_property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        from transformers import AutoTokenizer

        source = self.options.get("bert") or self.options["tokenizer"]
        return AutoTokenizer.from_pretrained(_model_directory(source), trust_remote_code=False)

    @cached_property
    def _bert(self) -> tuple[ScratchConfig, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        from tasuki_attention.convert import load_bert

        return load_bert(_model_directory(self.options["bert"]))

    def config(self, **overrides: Any) -> ScratchConfig:
        """The :class:`ScratchConfig` this spec describes, with task overrides (``num_labels``, ...)."""
        from tasuki_attention.model import ScratchConfig

        o = self.options
        dropouts = {v: o[k] for k, v in _FLOAT_KEYS.items() if k in o}
        if "bert" in o:
            values = {**self._bert[0].to_dict(), **dropouts}
        else:
            hidden = o.get("hidden", 256)
            limit = getattr(self.tokenizer, "model_max_length", 512) or 512
            values = {
                "vocab_size": len(self.tokenizer),
                "hidden_size": hidden,
                "num_layers": o.get("layers", 4),
                "num_heads": o.get("heads", 4),
                "intermediate_size": o.get("ffn", 4 * hidden),
                "max_positions": o.get("max_positions", int(min(limit, 512))),
                "norm_first": o.get("norm", "post") == "pre",
                "positional": o.get("positional", "learned"),
                "activation": o.get("activation", "gelu"),
                "pad_token_id": self.tokenizer.pad_token_id or 0,
                **dropouts,
            }
        for drop in ("model_type", "transformers_version", "architectures"):
            values.pop(drop, None)
        try:
            return ScratchConfig(**{**values, **overrides})
        except ValueError as exc:
            raise UnknownNameError(f"backbone {self.spec}: {exc}") from None

    def build_model(self, auto_class: Any, **config: Any) -> torch.nn.Module:
        """The scratch model class registered for ``auto_class`` (e.g. ``ScratchForTokenClassification``)."""
        return self._build(auto_class, self.options.get("seed"), config)

    def _build(self, auto_class: Any, seed: int | None, config: dict[str, Any]) -> torch.nn.Module:
        from tasuki_attention.model import HEADS

        if auto_class not in HEADS:
            known = ", ".join(a.__name__ for a in HEADS)
            raise UnknownNameError(
                f"backbone {self.spec} has no head for {getattr(auto_class, '__name__', auto_class)}; it has: {known}"
            )
        with _seeded(seed):
            model = HEADS[auto_class](self.config(**config))
        if "bert" in self.options:
            self._load_bert_weights(model)
        return model

    def _load_bert_weights(self, model: torch.nn.Module) -> None:
        _, base, head = self._bert
        target = model.base_model
        if getattr(target, "pooler", None) is None:
            base = {k: v for k, v in base.items() if not k.startswith("pooler.")}
        missing, unexpected = target.load_state_dict(base, strict=False)
        if missing or unexpected:
            raise ValueError(f"BERT weights do not fit the scratch encoder: missing {missing}, unexpected {unexpected}")
        lm_head = getattr(model, "lm_head", None)
        if lm_head is not None and head:  # a BERT with an MLM head keeps it; otherwise it starts fresh
            lm_head.load_state_dict(head, strict=False)

    def encoder(self, **kwargs: Any) -> torch.nn.Module:
        """The bare :class:`~tasuki_attention.model.ScratchModel` in eval mode (seed 0 unless given: plots repeat).

        Loading options (``attn_implementation``) do not apply: the scratch encoder always can return weights.
        """
        from transformers import AutoModel

        return self._build(AutoModel, self.options.get("seed", 0), {}).eval()

    @property
    def max_length(self) -> int:
        """The positional table's length."""
        return self.config().max_positions

    def describe(self) -> dict[str, Any]:
        """Spec and the options it parsed to."""
        return {"spec": self.spec, "options": self.options, "model_type": "tasuki-scratch"}


def scratch_backbone(arg: str | None, **options: Any) -> Backbone:
    """Factory registered as ``scratch``: see the module docstring for ``ARG``."""
    return ScratchBackbone(parse_scratch_arg(arg), spec=f"scratch:{arg}")
