"""Where tasuki keeps what it builds once (converted backbones, tokenized features, Arrow row files)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "TASUKI_CACHE"
"""The environment variable that moves the cache (default ``~/.cache/tasuki``)."""


def cache_root() -> Path:
    """``$TASUKI_CACHE`` or ``~/.cache/tasuki``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tasuki").expanduser()
