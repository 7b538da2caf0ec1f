"""The tasuki hooks of the attention plugin: the ``scratch`` backbone and ``tasuki attention``.

Models trained on the scratch backbone have the ``tasuki-scratch`` model type, which the
``transformers`` Auto classes know once :mod:`tasuki_attention.model` is imported (it registers
them). That module needs torch and transformers, and plugin discovery (``tasuki --help``) must
not, so registration happens on first use instead. In any process that has loaded the plugins,
as soon as ``transformers``' Auto configuration module has been imported, ``AutoConfig`` learns the
model type (:mod:`tasuki_attention.hf_config`, configuration code only); creating a
``ScratchConfig`` (which ``from_pretrained`` does first) then imports the model module, which
registers the model classes. That is how ``tasuki.load`` (or ``AutoModelFor*.from_pretrained``) of a
saved scratch model works with no ``trust_remote_code`` and no import by hand.
"""

from __future__ import annotations

import importlib.abc
import logging
import sys
from typing import Any

from tasuki.plugin import hookimpl
from tasuki_attention.backbone import scratch_backbone

logger = logging.getLogger(__name__)

# Every Auto class (AutoConfig, AutoModel*, AutoTokenizer) imports this module before it reads a
# model type. Right after it has run, the import that asked for it may still be under way (e.g.
# modeling_auto), so only configuration code, which it has loaded itself, is safe to import then.
AUTO_MODULE = "transformers.models.auto.configuration_auto"


def _register_auto_classes() -> None:
    try:
        from tasuki_attention.hf_config import register_config

        register_config(sys.modules[AUTO_MODULE].AutoConfig)
    except Exception as exc:  # a broken optional registration must not break transformers for everyone
        logger.warning("tasuki-attention: the tasuki-scratch model type is not registered (%s: %s)",
                       type(exc).__name__, exc)


class _AfterImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Runs :func:`_register_auto_classes` right after :data:`AUTO_MODULE` has been imported (once)."""

    def __init__(self) -> None:
        self._loader: Any = None

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != AUTO_MODULE:
            return None
        for finder in sys.meta_path:  # the finder that would have found it without us
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                self._loader, spec.loader = spec.loader, self
                return spec
        return None

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        # the module keeps its real loader (source lookups, reloads); this one only adds the callback
        module.__loader__ = module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _remove_hook()
        _register_auto_classes()


def _remove_hook() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _AfterImport)]


def _install() -> None:
    if AUTO_MODULE in sys.modules:  # transformers' Auto classes are already in use: register now
        _register_auto_classes()
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())


_install()


@hookimpl
def register_backbones(register: Any) -> None:
    """``--backbone scratch:...``."""
    register("scratch", scratch_backbone)


@hookimpl
def register_commands(cli: Any) -> None:
    """``tasuki attention plot`` and ``tasuki attention positional``."""
    from tasuki_attention.cli import attention

    cli.add_command(attention)
