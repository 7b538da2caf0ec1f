"""The plugin's registrations: the ``sentiment`` task and the ``tasuki sentiment`` commands."""

from __future__ import annotations

from typing import Any

from tasuki.plugin import hookimpl


@hookimpl
def register_tasks(register: Any) -> None:
    """Register :class:`~tasuki_sentiment.task.SentimentTask` as ``sentiment``."""
    from tasuki_sentiment.task import SentimentTask

    register(SentimentTask)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``tasuki sentiment demo`` and ``tasuki sentiment explore``."""
    from tasuki_sentiment.cli import sentiment

    cli.add_command(sentiment)
