"""``tasuki plugins``: what is installed, what each plugin registered, and what is broken."""

from __future__ import annotations

from dataclasses import asdict

import click

from tasuki.cli.common import echo_json


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(as_json: bool) -> None:
    """List plugins with their distribution, version and registrations; broken ones with their error."""
    from tasuki.registry import get_registry

    registry = get_registry()
    context = click.get_current_context()
    context.find_root().command.list_commands(context)  # the tasuki group: plugin commands show up in the listing
    registry.serve_routes()  # and the routes they add to tasuki serve
    infos = list(registry.plugins.values())
    if as_json:
        echo_json([asdict(info) | {"broken": info.broken} for info in infos])
        return
    for info in infos:
        status = click.style("BROKEN", fg="red") if info.broken else click.style("ok", fg="green")
        click.echo(f"{info.name:<12} {info.distribution} {info.version}  [{status}]")
        for kind in ("tasks", "presets", "backbones", "commands", "routes"):
            names = getattr(info, kind)
            if names:
                click.echo(f"  {kind}: {', '.join(names)}")
        for clash in info.clashes:
            click.echo(f"  {click.style('clash', fg='red')}: {clash} (withdrawn; the plugin's other names work)")
        if info.error:
            click.echo(f"  error: {info.error}")
