"""The plugin's registrations: the ``embedding`` task, the ``embed`` / ``similar`` / ``search`` commands, and the
server's ``search`` route."""

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


@hookimpl
def register_routes(register: Any) -> None:
    """Add ``POST /models/{name}/search`` to ``tasuki serve`` (with ``--index NAME=FILE.npz``)."""
    from tasuki_embedding.serve import ROUTE

    register(ROUTE)
