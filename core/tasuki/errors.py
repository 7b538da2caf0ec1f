"""Errors a user can act on. Each message says what is wrong, where, and what to do."""

from __future__ import annotations

import os
from numbers import Integral
from pathlib import Path
from typing import Any


class TasukiError(Exception):
    """Base class: the CLI prints these as one clear message, without a traceback."""


class DataError(TasukiError, ValueError):
    """Input data is missing, malformed or inconsistent (names the file, row and column)."""


class UnknownNameError(TasukiError, KeyError):
    """An unknown task, backbone or label was asked for."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PluginClashError(TasukiError):
    """Two plugins registered the same name."""


class CheckpointError(TasukiError):
    """A checkpoint or saved model directory is incomplete or corrupt."""


class MissingExtraError(TasukiError, ImportError):
    """An optional dependency (an extra such as ``tasuki[onnx]`` or ``tasuki[serve]``) is not installed."""


class ArgumentError(TasukiError, TypeError, ValueError):
    """A Python API argument of the wrong type or out of range: names the argument and what it takes."""


def shown(value: Any) -> str:
    """A value as an error message shows it: its type and a short repr (``int 5``, ``None``)."""
    return "None" if value is None else f"{type(value).__name__} {value!r:.40}"


def path_argument(name: str, value: Any, what: str = "a path (str or pathlib.Path)") -> Path:
    """``value`` as a :class:`~pathlib.Path`, or an :class:`ArgumentError` (``None``, an int, bytes, ``""``)."""
    if not isinstance(value, (str, os.PathLike)) or not isinstance(os.fspath(value), str) or not os.fspath(value):
        raise ArgumentError(f"{name}: expected {what}, got {shown(value)}")
    return Path(value)


def count_argument(name: str, value: Any) -> int:
    """``value`` if it is an integer >= 1 (``True`` is not a count), else an :class:`ArgumentError`."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ArgumentError(f"{name}: expected an integer >= 1, got {shown(value)}")
    return int(value)
