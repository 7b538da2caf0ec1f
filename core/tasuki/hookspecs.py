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
    from tasuki.presets import Preset
    from tasuki.serve.routes import Route
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
def register_presets(register: Callable[[Preset], None]) -> None:
    """Register presets: names for installed tasks with other defaults (:class:`tasuki.plugin.Preset`).

    :param register: call ``register(Preset(name=..., task=..., attributes={...}, options={...}))`` once per
        preset. The registry makes each one a subclass of its task named ``name`` and registers it as a task
        (``tasuki train NAME``; a name registered twice is an error that names both distributions, as for tasks).
        A preset whose task is not installed, or that sets an attribute or option its task does not offer,
        marks its plugin broken with one line that says which.

    Called once, when the registry is first built, after every plugin's ``register_tasks``.
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


@hookspec
def register_routes(register: Callable[[Route], None]) -> None:
    """Add routes to ``tasuki serve`` (as datasette's ``register_routes``).

    :param register: call ``register(Route(path=..., tasks=(...), handler=..., summary=...))``
        (:class:`tasuki.plugin.Route`) once per route. The server mounts ``POST /models/{name}/PATH``
        (and ``POST /PATH`` when it serves one model) for models of the route's ``tasks``; the handler
        gets a :class:`tasuki.plugin.RouteCall`: the model, the JSON body, the model's attachment and
        ``submit``, which runs a checked request (``call.model.check(body)``) in the model's predict
        batches. ``GET /models`` lists each model's routes, and the page draws the route's ``form``.
        A route may need an :class:`tasuki.plugin.Attachment`, a file each model loads at start-up:
        ``tasuki serve --OPTION NAME=FILE`` (the CLI option comes from the attachment),
        ``create_app(PLURAL={name: file})``, ``TASUKI_SERVE_<PLURAL>``. A path registered by two plugins is
        withdrawn from both and named, as a task name is; so are the routes of two plugins whose attachments
        declare one option or plural (one plugin may give several of its routes one attachment).

    Called the first time a server is built or ``tasuki serve`` reads its options, not at discovery:
    import the route's module (and pydantic, for ``request_schema``) inside the hook or later.
    """
