"""Errors a user can act on. Each message says what is wrong, where, and what to do."""

from __future__ import annotations


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
