"""The tasuki hooks of the attention plugin: the ``scratch`` backbone and ``tasuki attention``.

Importing :mod:`tasuki_attention.model` registers the ``tasuki-scratch`` model type with the
``transformers`` Auto classes, so that models trained on the scratch backbone load back with
``tasuki.load`` (or ``AutoModelFor*.from_pretrained``) in any process that loads the plugins.
"""

from __future__ import annotations

from typing import Any

import tasuki_attention.model  # noqa: F401 - registers the Auto classes
from tasuki.hookspecs import hookimpl
from tasuki_attention.backbone import scratch_backbone


@hookimpl
def register_backbones(register: Any) -> None:
    """``--backbone scratch:...``."""
    register("scratch", scratch_backbone)


@hookimpl
def register_commands(cli: Any) -> None:
    """``tasuki attention plot`` and ``tasuki attention positional``."""
    from tasuki_attention.cli import attention

    cli.add_command(attention)
