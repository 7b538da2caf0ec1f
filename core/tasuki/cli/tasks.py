"""``tasuki tasks [NAME]``: the registered tasks; with NAME, its columns and options."""

from __future__ import annotations

from typing import Any

import click

from tasuki.cli.common import echo_json


@click.command("tasks")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(name: str | None, as_json: bool) -> None:
    """List the tasks you can train; with NAME, the columns its data needs and its options."""
    from tasuki.api import describe_task, list_tasks

    if name is not None:
        info = describe_task(name)
        if as_json:
            echo_json(info)
            return
        click.echo(f"{info['name']} [{','.join(info['languages'])}]: {info['description']}  "
                   f"({_source(info)})")
        if info["columns"]["note"]:
            click.echo(f"columns: {info['columns']['note']}")
        else:
            click.echo(f"columns for prediction: {', '.join(info['columns']['predict'])}")
            click.echo(f"columns for training and evaluation: {', '.join(info['columns']['train'])}")
            if info["columns"]["optional"]:
                click.echo(f"columns read where present: {', '.join(info['columns']['optional'])}")
        click.echo("  map yours with --column TASK_COLUMN=YOUR_COLUMN (saved with the model)")
        if info["options"]:
            click.echo("options (--option NAME=VALUE):")
            for option in info["options"]:
                click.echo(f"  {option['name']} ({option['type']}, default {option['default']!r}): {option['help']}")
        else:
            click.echo("options: none")
        return
    tasks = list_tasks()
    if as_json:
        echo_json(tasks)
        return
    if not tasks:
        click.echo("no tasks installed: pip install a plugin ('tasuki doctor' lists them)")
    for task_name, info in tasks.items():
        click.echo(f"{task_name:<16} [{','.join(info['languages'])}]  {info['description']}  ({_source(info)})")


def _source(info: dict[str, Any]) -> str:
    """``tasuki-x 0.1.0``, or for a preset ``preset of classify; tasuki-x 0.1.0``."""
    preset = f"preset of {info['preset_of']}; " if info.get("preset_of") else ""
    return f"{preset}{info['plugin']} {info['version']}"
