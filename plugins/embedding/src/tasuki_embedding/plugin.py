"""The plugin's registrations: the ``embedding`` task and the ``embed`` / ``similar`` / ``search`` commands."""

from __future__ import annotations

from typing import Any

from tasuki.plugin import hookimpl


@hookimpl
def register_tasks(register: Any) -> None:
    """Register :class:`~tasuki_embedding.task.EmbeddingTask`."""
    from tasuki_embedding.task import EmbeddingTask

    register(EmbeddingTask)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``tasuki embed``, ``tasuki similar`` and ``tasuki search``."""
    from tasuki_embedding.cli import embed, search, similar

    for module in (embed, similar, search):
        cli.add_command(module.command)
