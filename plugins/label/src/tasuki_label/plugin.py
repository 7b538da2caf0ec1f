"""The plugin's registrations: the ``tasuki label`` command (the page) and ``tasuki label suggest``."""

from __future__ import annotations

from typing import Any

from tasuki.plugin import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``tasuki label`` (the labelling page) and ``tasuki label suggest`` (the next texts to label, as a file)."""
    from tasuki_label.cli import label

    cli.add_command(label)
