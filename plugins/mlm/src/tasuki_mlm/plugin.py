"""The plugin's registrations: the ``mlm`` task and the ``tasuki adapt`` command."""

from __future__ import annotations

from typing import Any

from tasuki.plugin import hookimpl


@hookimpl
def register_tasks(register: Any) -> None:
    """Register :class:`~tasuki_mlm.task.MaskedLMTask` as ``mlm``."""
    from tasuki_mlm.task import MaskedLMTask

    register(MaskedLMTask)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``tasuki adapt``."""
    from tasuki_mlm.cli import adapt_command

    cli.add_command(adapt_command)
