"""tasuki-ner's hooks: the ``ner`` task and the ``tasuki ner`` command group."""

from __future__ import annotations

from typing import Any

from tasuki.plugin import hookimpl


@hookimpl
def register_tasks(register: Any) -> None:
    """Register :class:`tasuki_ner.task.NerTask` as ``ner``."""
    from tasuki_ner.task import NerTask

    register(NerTask)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``tasuki ner`` (``show``, ``data``)."""
    from tasuki_ner.cli import ner

    cli.add_command(ner)
