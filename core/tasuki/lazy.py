"""Lazy package attributes: a package names what it exports, and each module loads on first use.

Plugin discovery imports every plugin package, and ``tasuki --help`` must not pay for torch:
packages whose public names live in heavy modules export them through :func:`lazy_getattr`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, sources: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for ``package``: ``sources[name]`` is the module that
    defines ``name`` (or ``"module:attribute"`` where it is defined under another name), imported
    when the name is first used; the value is then kept on the package.

    Usage, in a package's ``__init__.py``: ``__getattr__ = lazy_getattr(__name__, {"Encoder": "pkg.encoder"})``.
    """

    def __getattr__(name: str) -> Any:
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = source.partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
