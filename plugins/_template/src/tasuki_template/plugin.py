"""The plugin module named by the entry point: it registers the task and a command."""

from __future__ import annotations

from typing import Any

import click

from tasuki.plugin import hookimpl
from tasuki_template.task import TemplateClassificationTask


@hookimpl
def register_tasks(register: Any) -> None:
    register(TemplateClassificationTask)


@click.command("template-info")
def template_info() -> None:
    """Show what the template plugin registers."""
    click.echo(f"task {TemplateClassificationTask.name}: {TemplateClassificationTask.description}")


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(template_info)
