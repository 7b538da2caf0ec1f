"""``tasuki tasks``: the registered tasks."""

from __future__ import annotations

import click

from tasuki.cli import echo_json


@click.command("tasks")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(as_json: bool) -> None:
    """List the tasks you can train, with languages and the plugin that provides each."""
    from tasuki.api import list_tasks

    tasks = list_tasks()
    if as_json:
        echo_json(tasks)
        return
    if not tasks:
        click.echo("no tasks installed: pip install a plugin, e.g. tasuki-sentiment")
    for name, info in tasks.items():
        click.echo(f"{name:<16} [{','.join(info['languages'])}]  {info['description']}  ({info['plugin']} {info['version']})")
