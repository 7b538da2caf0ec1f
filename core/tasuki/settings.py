"""Declared settings: one dataclass field per setting, with its type, default, allowed values and help.

:class:`~tasuki.args.TrainingArgs` and every task's ``Options`` are such dataclasses. A value
reaches the run exactly as given, or is refused with one line that names the setting, the
value and what is allowed; nothing is dropped or guessed (``0`` and ``False`` are values).

    @dataclass
    class Options:
        threshold: float = setting(0.5, min=0.0, max=1.0)
        \"\"\"Scores below this are ignored.\"\"\"

Help comes from the attribute docstring under a field (as above) or ``setting(help=...)``.
Strings (``--option threshold=0.3`` on the command line) are converted by the declared type:
booleans accept ``true/false/1/0`` only, lists and dicts are JSON.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import json
import math
import numbers
import textwrap
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal, TypeVar

from tasuki.errors import TasukiError

T = TypeVar("T")
_TRUE, _FALSE = ("true", "1"), ("false", "0")


class SettingError(TasukiError, ValueError):
    """A setting with an unknown name or a value outside what it allows."""


def setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str = "",
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    flag: str | None = None,
) -> Any:
    """A dataclass field with its allowed range (``min``/``max``, exclusive when ``*_open``).

    :param flag: the command-line name when it differs from the field's (``--compile``).
    """
    metadata = {"help": help, "min": min, "max": max, "min_open": min_open, "max_open": max_open, "flag": flag}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# --- describing -----------------------------------------------------------------------------


@cache
def hints(cls: type) -> dict[str, Any]:
    """Resolved type hints of a settings dataclass (``from __future__ import annotations`` safe)."""
    return typing.get_type_hints(cls)


@cache
def field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (a string literal right under a field), for every class in the MRO."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in itertools.pairwise(body):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def help_of(cls: type, field: dataclasses.Field) -> str:
    return field.metadata.get("help") or field_docs(cls).get(field.name, "")


def flag_of(field: dataclasses.Field) -> str:
    """``batch_size`` -> ``--batch-size`` (or the declared ``flag``)."""
    return "--" + (field.metadata.get("flag") or field.name).replace("_", "-")


def default_of(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def allowed(annotation: Any, field: dataclasses.Field | None = None) -> str:
    """What a field accepts, in words: ``an integer >= 1``, ``one of 'no', 'bf16'``..."""
    base, optional = _unwrap(annotation)
    if typing.get_origin(base) is Literal:
        words = "one of " + ", ".join(repr(c) for c in typing.get_args(base))
    elif base is bool:
        words = "true or false"
    elif base is int:
        words = "an integer"
    elif base is float:
        words = "a number"
    elif base is str:
        words = "a text"
    elif typing.get_origin(base) in (list, tuple) or base in (list, tuple):
        words = "a JSON list"
    elif typing.get_origin(base) is dict or base is dict:
        words = "a JSON object"
    else:
        words = getattr(base, "__name__", str(base))
    meta = field.metadata if field is not None else {}
    bounds = []
    if meta.get("min") is not None:
        bounds.append(f"{'>' if meta.get('min_open') else '>='} {_bound(meta['min'])}")
    if meta.get("max") is not None:
        bounds.append(f"{'<' if meta.get('max_open') else '<='} {_bound(meta['max'])}")
    if bounds:
        words += " " + " and ".join(bounds)
    return words + (" (or unset)" if optional else "")


def describe(cls: type) -> list[dict[str, Any]]:
    """One row per setting: name, flag, type (in words), default, help (``tasuki tasks NAME``)."""
    types_ = hints(cls)
    return [
        {"name": f.name, "type": allowed(types_[f.name], f), "default": _jsonable(default_of(f)),
         "help": help_of(cls, f)}
        for f in dataclasses.fields(cls)
    ]


# --- building and checking -----------------------------------------------------------------


def build(cls: type[T], values: Mapping[str, Any], *, what: str) -> T:
    """An instance of ``cls`` from ``values``: unknown names refused, strings converted, ranges checked.

    :param what: how the error names a setting, e.g. ``"option of task 'ner'"``.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise SettingError(f"unknown {what} {', '.join(map(repr, unknown))}; known: {known}")
    types_ = hints(cls)
    converted = {name: convert(value, types_[name], fields[name], what) for name, value in values.items()}
    return cls(**converted)


def check(instance: Any, *, what: str) -> None:
    """Check every field of a settings instance (call it from ``__post_init__``)."""
    types_ = hints(type(instance))
    for f in dataclasses.fields(instance):
        convert(getattr(instance, f.name), types_[f.name], f, what)


def convert(value: Any, annotation: Any, field: dataclasses.Field, what: str) -> Any:
    """``value`` as the declared type, or :class:`SettingError` naming the field and what it allows."""
    base, optional = _unwrap(annotation)
    name = f"{what} {field.name!r}"

    def refuse(reason: str = "") -> SettingError:
        return SettingError(f"{name}: {value!r} is not allowed{reason}; allowed: {allowed(annotation, field)}")

    if value is None:
        if optional:
            return None
        raise refuse()
    origin = typing.get_origin(base)
    if origin is Literal:
        choices = typing.get_args(base)
        if value not in choices:
            raise refuse()
        return value
    if base is bool:
        if isinstance(value, str) and value.strip().lower() in (*_TRUE, *_FALSE):
            return value.strip().lower() in _TRUE
        if isinstance(value, bool):
            return value
        raise refuse()
    if base in (int, float):
        number = _number(value, base)
        if number is None:
            raise refuse()
        _check_range(number, field, refuse)
        return number
    if base is str:
        if not isinstance(value, str):
            raise refuse()
        return value
    if base in (list, tuple, dict) or origin in (list, tuple, dict):
        container = origin or base
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise refuse(" (not valid JSON)") from None
        if container in (list, tuple) and isinstance(value, (list, tuple)):
            item = (typing.get_args(base) or (Any,))[0]
            if item is str and not all(isinstance(v, str) for v in value):
                raise refuse(" (items must be texts)")
            return container(value)
        if container is dict and isinstance(value, dict):
            return value
        raise refuse()
    return value


def _number(value: Any, kind: type) -> int | float | None:
    """``value`` as ``kind``: a number (numpy's too: ``np.int64(3)`` is 3), or its text; None when it is none."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return None  # True is not 1 here: a flag given where a number belongs is a mistake
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if kind is int else float(text)
        except ValueError:
            return None
    if not isinstance(value, numbers.Real):
        return None
    if kind is int:
        if isinstance(value, numbers.Integral):
            return int(value)
        return int(value) if math.isfinite(value) and float(value).is_integer() else None
    return float(value) if math.isfinite(value) else None


def _check_range(number: float, field: dataclasses.Field, refuse: Any) -> None:
    meta = field.metadata
    low, high = meta.get("min"), meta.get("max")
    if low is not None and (number < low or (meta.get("min_open") and number == low)):
        raise refuse()
    if high is not None and (number > high or (meta.get("max_open") and number == high)):
        raise refuse()


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """``int | None`` -> ``(int, True)``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        base = args[0] if len(args) == 1 else typing.Union[tuple(args)]  # noqa: UP007 - built at run time
        return base, optional
    return annotation, False


def _jsonable(value: Any) -> Any:
    return None if value is dataclasses.MISSING else value


def _bound(value: float) -> str:
    """A range's bound as written: an integer whole (4294967295, not 4.29497e+09), a float short (0.5, 1e-08)."""
    return str(value) if isinstance(value, int) else f"{value:g}"
