"""The plugin module named in the ``tasuki`` entry-point group: registers the ``qa`` task and CLI."""

from __future__ import annotations

from typing import Any

from tasuki.plugin import hookimpl


@hookimpl
def register_tasks(register: Any) -> None:
    """Register :class:`tasuki_qa.task.QATask` as ``qa``."""
    from tasuki_qa.task import QATask

    register(QATask)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``tasuki qa ...`` (``ask``, ``tune``)."""
    from tasuki_qa.cli import qa

    cli.add_command(qa)
