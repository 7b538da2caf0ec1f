"""Routes plugins add to ``tasuki serve`` (the ``register_routes`` hook), and what a model carries for them.

A plugin describes a route with :class:`Route`; the core mounts it as ``POST /models/{name}/PATH``
(and ``POST /PATH`` on a server with one model), lists it in ``GET /models``, and draws its form
on the page. A route may need an :class:`Attachment`, loaded for one model at start-up from a
file (``tasuki serve --OPTION NAME=FILE``): an embedding index, say. Nothing here imports the
serving libraries, so that registering a route costs nothing until a server starts.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.errors import DataError

if TYPE_CHECKING:
    from tasuki.serve.models import Checked, ServedModel
    from tasuki.task import Task

PATH = re.compile(r"^[a-z][a-z0-9_-]*$")
RESERVED = frozenset({"predict", "models", "health", "ready", "metrics", "static", "docs", "redoc", "openapi.json"})
"""Top-level paths of the core's own (``POST /PATH`` is mounted for a one-model server too)."""


@dataclass(frozen=True)
class Attachment:
    """Something a model carries for a route, loaded from a file when the server starts (a search index).

    ``tasuki serve --OPTION NAME=FILE`` (``NAME`` may be left out with one model), ``create_app(PLURAL={name:
    file})`` and ``TASUKI_SERVE_<PLURAL>=NAME=FILE,...`` load it; ``GET /models`` shows it under ``OPTION``.
    """

    option: str
    """The CLI option's name (``index``: ``--index``) and the key of ``GET /models``."""
    plural: str
    """``create_app``'s keyword and the environment variable's suffix (``indexes``)."""
    load: Callable[[ServedModel, Path], Any]
    """Load the file for a model; refuse a bad one with one :class:`~tasuki.errors.DataError` line."""
    describe: Callable[[Any], dict[str, Any]]
    """What ``GET /models`` shows of a loaded attachment."""
    summary: Callable[[Any], str]
    """A few words for the CLI's start-up line (``search: 120 entries``)."""
    help: str = ""
    metavar: str = "NAME=FILE"
    wrong_task: str = "model {name!r} is a {task} model"
    """Why a model of another task cannot carry it (``{name}``, ``{task}``)."""
    missing: str = "model {name!r} has no {option}; start the server with --{option} {name}=FILE"
    """The 404 of a route that needs it on a model without it (``{name}``, ``{option}``)."""
    hint: str = ""
    """Said after ``no such file`` (``{path}``): how to make one."""


@dataclass(frozen=True)
class RouteCall:
    """What a route's handler gets: the model, the request's JSON body, its attachment, and the batcher."""

    model: ServedModel
    body: Any
    attachment: Any
    """The model's :class:`Attachment` object (None when the route needs none)."""
    submit: Callable[[Checked], Awaitable[Any]]
    """Run a checked request (``model.check(body)``) in the model's predict batches, with other requests."""


@dataclass(frozen=True)
class Route:
    """A route a plugin adds to ``tasuki serve``: ``POST /models/{name}/PATH`` for models of ``tasks``.

    The handler reads the body (raising :class:`~tasuki.serve.models.RequestError` to refuse it) and
    returns a JSON value. Two plugins registering one ``path`` are both withdrawn, as task names are, and so
    are the routes of two plugins whose attachments declare one ``option`` or ``plural``.
    """

    path: str
    tasks: tuple[str, ...]
    handler: Callable[[RouteCall], Awaitable[Any]]
    summary: str
    description: str = ""
    only_summary: str = ""
    """The summary of ``POST /PATH`` (the server's only model)."""
    request_schema: Callable[[], dict[str, Any]] | None = None
    """The request body's JSON schema for ``/docs`` (a function: pydantic is imported only when serving)."""
    attachment: Attachment | None = None
    """What a model needs for this route; without it the route answers 404 (:attr:`Attachment.missing`)."""
    wrong_task: str = "model {name!r} is a {task} model; {path} needs a model of {tasks}"
    """The 404 for a model of another task (``{name}``, ``{task}``, ``{path}``, ``{tasks}``)."""
    form: Callable[[ServedModel, Any], dict[str, Any] | None] | None = None
    """The page's form for a model and its attachment, or None for none: ``{"field", "label", "value",
    "button", "parameters", "result"}`` (``result``: a result kind of :class:`~tasuki.task.Task`, or ``"hits"``:
    ``[{index, score, text}]``)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Anything else ``GET /models`` should say of the route."""

    def serves(self, task: Task) -> bool:
        """Whether models of ``task`` answer this route: it names their task, or the task it is a preset of."""
        return task.name in self.tasks or (task.preset_of is not None and task.preset_of in self.tasks)


def check_route(route: Any) -> None:
    """Refuse a registration that is not a :class:`Route` or takes a path the core uses."""
    if not isinstance(route, Route):
        raise TypeError(f"{route!r} is not a tasuki.plugin.Route")
    if not PATH.match(route.path) or route.path in RESERVED:
        raise ValueError(f"route path {route.path!r}: use lower-case letters, digits, '_' or '-', "
                         f"and none of {sorted(RESERVED)}")


def attachments(routes: Mapping[str, Route]) -> dict[str, tuple[Attachment, Route]]:
    """The attachments of ``routes`` by option, each with (the first) route that needs it."""
    found: dict[str, tuple[Attachment, Route]] = {}
    for route in routes.values():
        if route.attachment is not None:
            found.setdefault(route.attachment.option, (route.attachment, route))
    return found


def attach(served: Mapping[str, ServedModel], routes: Mapping[str, Route], option: str,
           files: Mapping[str, str | Path]) -> None:
    """Load attachment ``option`` for models: ``{model name: file}``; every refusal is one DataError line."""
    known = attachments(routes)
    if option not in known:
        raise DataError(f"--{option}: no route of this server takes it; known: {sorted(known) or 'none'}")
    attachment, route = known[option]
    for name, path in files.items():
        if name not in served:
            raise DataError(f"{option} {path}: no model {name!r} on this server; it has {sorted(served)}")
        model = served[name]
        if not route.serves(model.task):
            raise DataError(f"{option} {path}: " + attachment.wrong_task.format(name=name, task=model.task.name))
        model.attachments[option] = attachment.load(model, Path(path).expanduser())


def described(model: ServedModel, routes: Mapping[str, Route]) -> dict[str, Any]:
    """What ``GET /models`` adds to a model: each attachment (or None), and the routes it answers."""
    info: dict[str, Any] = {}
    for option, (attachment, _) in attachments(routes).items():
        loaded = model.attachments.get(option)
        info[option] = None if loaded is None else attachment.describe(loaded)
    info["routes"] = []
    for route in routes.values():
        if route.serves(model.task):
            loaded = model.attachments.get(route.attachment.option) if route.attachment else None
            info["routes"].append({"path": route.path, "summary": route.summary, **route.extra,
                                   "attachment": route.attachment.option if route.attachment else None,
                                   "form": route.form(model, loaded) if route.form else None})
    return info
