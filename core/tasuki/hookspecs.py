"""The hook specifications: the whole contract between tasuki and its plugins.

A plugin is a module with ``@hookimpl`` functions, named in its distribution's
``[project.entry-points.tasuki]`` table. Each hook receives a ``register`` callback (or
the CLI group) and registers objects through it; the core's built-in backbones are
registered through the very same hooks (see :mod:`tasuki.builtin`). Hooks are called by
argument name: an implementation declares only the arguments it uses, in any order (pluggy's
rule), so a hook can grow an argument without breaking existing plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from tasuki.backbone import BackboneFactory
    from tasuki.task import Task

PROJECT = "tasuki"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    """Register task classes.

    :param register: call ``register(TaskClass)`` once per class; the name is ``TaskClass.name``.
        A name registered twice (by any two plugins) is an error that names both distributions.

    Called once, when the registry is first built.
    """


@hookspec
def register_backbones(register: Callable[[str, BackboneFactory], None]) -> None:
    """Register backbone factories under a prefix.

    :param register: call ``register(prefix, factory)``; ``--backbone prefix:ARG`` (or just
        ``prefix``) then calls ``factory(ARG or None, **options)``, which returns a
        :class:`tasuki.backbone.Backbone`.

    Called once, when the registry is first built.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``tasuki`` command line.

    :param cli: the top-level :class:`click.Group`; call ``cli.add_command(...)``.

    Called when the CLI needs the list of commands.
    """
