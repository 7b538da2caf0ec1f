"""Helpers every subcommand (and plugins' commands, through :mod:`tasuki.plugin`) shares.

They live here, not in :mod:`tasuki.cli`, so that a subcommand module never imports the package that
imports it: the package registers the subcommands, the subcommands import only this module.
"""

from __future__ import annotations

from typing import Any

import click


def echo_json(value: Any) -> None:
    """Print ``value`` as strict JSON (for ``--json`` flags; :func:`tasuki.files.json_text`: NaN is null)."""
    from tasuki.files import json_text

    click.echo(json_text(value))


def parse_pairs(pairs: tuple[str, ...], option: str) -> dict[str, str]:
    """``("a=b", "c=1")`` -> ``{"a": "b", "c": "1"}``; values stay text (each setting converts by its type)."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint=option)
        if key in result and result[key] != value:
            raise click.BadParameter(f"{key!r} given twice ({result[key]!r} and {value!r})", param_hint=option)
        result[key] = value
    return result
