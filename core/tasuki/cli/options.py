"""Command-line options generated from settings dataclasses (``TrainingArgs``, a task's ``Options``).

Every command that trains (``train``, ``mlm adapt``, the demos) decorates itself with
:func:`training_options`, so each :class:`~tasuki.args.TrainingArgs` field is an option with its
type, help and default, and a new field reaches every command. Options default to ``None``
("not given"); :func:`given` keeps exactly the values the user typed, ``0`` and ``False`` included.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import click

from tasuki.settings import default_of, flag_of, help_of, hints


def _click_type(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    base = args[0] if typing.get_origin(annotation) is not Literal else annotation
    if typing.get_origin(base) is Literal:
        return click.Choice([str(c) for c in typing.get_args(base)])
    return {int: int, float: float, str: str}.get(base, str)


def _is_bool(annotation: Any) -> bool:
    return annotation is bool or (set(typing.get_args(annotation)) == {bool, type(None)})


def settings_options(
    cls: type,
    *,
    exclude: Iterable[str] = (),
    include: Iterable[str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    aliases: Mapping[str, Iterable[str]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator adding one click option per field of ``cls`` (booleans as ``--x/--no-x``).

    :param include: only these fields (default: all but ``exclude``).
    :param defaults: the defaults this command uses instead of the class's (shown in the help).
    :param aliases: extra option names, e.g. ``{"max_steps": ["--steps"]}``.
    """
    excluded = set(exclude)
    types = hints(cls)
    shown = {**{f.name: default_of(f) for f in dataclasses.fields(cls)}, **(defaults or {})}

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for field in reversed(dataclasses.fields(cls)):
            if field.name in excluded or (include is not None and field.name not in include):
                continue
            annotation = types[field.name]
            flag = flag_of(field)
            names = [*(aliases or {}).get(field.name, ())]
            default = shown[field.name]
            text = help_of(cls, field)
            if defaults and field.name in defaults:  # this command's own default replaces the class's words
                text = text.split(" (default")[0].rstrip(".") + "."
            if default is not None and default is not dataclasses.MISSING and "(default" not in text:
                shown_default = str(default).lower() if isinstance(default, bool) else default
                text = f"{text} [default: {shown_default}]".strip()
            if _is_bool(annotation):
                option = click.option(f"{flag}/--no-{flag[2:]}", *names, field.name, default=None, help=text)
            else:
                option = click.option(flag, *names, field.name, type=_click_type(annotation), default=None, help=text)
            function = option(function)
        return function

    return decorate


def training_options(
    *, exclude: Iterable[str] = (), defaults: Mapping[str, Any] | None = None,
    aliases: Mapping[str, Iterable[str]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """:func:`settings_options` for :class:`~tasuki.args.TrainingArgs` (``output_dir`` is each command's own)."""
    from tasuki.args import TrainingArgs

    return settings_options(TrainingArgs, exclude={"output_dir", *exclude}, defaults=defaults, aliases=aliases)


def given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The options the user gave (not ``None``): ``--seed 0`` and ``--no-checkpoints`` included."""
    return {k: v for k, v in values.items() if v is not None}
