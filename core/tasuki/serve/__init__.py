"""Serving: every loaded model behind one HTTP app, with dynamic batching (``pip install 'tasuki[serve]'``).

``tasuki serve DIR [DIR ...]`` runs it with uvicorn. To run it under your own server, build the
app in a module of yours::

    # myapp.py                                  uvicorn myapp:app --host 0.0.0.0 --port 8000
    from tasuki.serve import create_app
    app = create_app(["models/sentiment", "models/ner"], max_wait_ms=2)

or let ``uvicorn --factory tasuki.serve:app_from_env`` read ``TASUKI_SERVE_MODELS`` (directories,
or ``NAME=DIR``, separated by commas) and ``TASUKI_SERVE_INDEXES`` (``NAME=FILE.npz``: search
indexes of embedding models). Each worker process loads its own copy of the models.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tasuki.errors import TasukiError
from tasuki.serve.settings import ServeSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tasuki.api import TrainedModel

__all__ = ["MissingExtraError", "ServeSettings", "app_from_env", "create_app"]


class MissingExtraError(TasukiError):
    """The serving libraries (fastapi, uvicorn, prometheus-client) are not installed."""


def require_serve_extra() -> None:
    """Raise one clear line when the ``serve`` extra is missing (the CLI prints it and exits 2)."""
    missing = []
    for module in ("fastapi", "uvicorn", "prometheus_client"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module.replace("_", "-"))
    if missing:
        raise MissingExtraError(f"serving needs {', '.join(missing)}: pip install 'tasuki[serve]'")


def create_app(models: Sequence[str | os.PathLike | TrainedModel] | Mapping[str, Any],
               settings: ServeSettings | None = None, *, device: str | None = None,
               indexes: Mapping[str, str | os.PathLike] | None = None, **overrides: Any) -> FastAPI:
    """A FastAPI app serving ``models``: directories, loaded :class:`~tasuki.TrainedModel` objects,
    ``"NAME=DIR"`` strings, or a ``{name: directory or model}`` mapping.

    A model's URL name is its directory's name unless given; two equal names are an error.
    ``indexes`` gives embedding models a search index (``{model name: index .npz}``, see
    ``POST /models/{name}/search``). ``overrides`` are :class:`ServeSettings` fields
    (``max_wait_ms=2``, ``max_batch_tokens=4096``...).
    """
    require_serve_extra()
    from tasuki.api import TrainedModel, load
    from tasuki.serve.app import build_app
    from tasuki.serve.models import ServedModel, model_names

    if settings is not None and overrides:
        raise TasukiError("give either settings= or setting keywords, not both")
    settings = settings or ServeSettings.build(**overrides)
    named = model_names(models)
    served = [ServedModel(name, source if isinstance(source, TrainedModel) else load(source, device=device), settings)
              for name, source in named]
    app = build_app(served, settings)
    if indexes:
        from tasuki.serve.app import load_indexes

        load_indexes(app, indexes)
    return app


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory tasuki.serve:app_from_env``: models from ``TASUKI_SERVE_MODELS`` and search
    indexes from ``TASUKI_SERVE_INDEXES`` (``NAME=FILE.npz``), each comma-separated."""
    value = os.environ.get("TASUKI_SERVE_MODELS", "")
    models = [part.strip() for part in value.split(",") if part.strip()]
    if not models:
        raise TasukiError("set TASUKI_SERVE_MODELS to the model directories to serve (comma-separated)")
    indexes: dict[str, str] = {}
    for part in (p.strip() for p in os.environ.get("TASUKI_SERVE_INDEXES", "").split(",") if p.strip()):
        name, sep, path = part.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise TasukiError(f"TASUKI_SERVE_INDEXES: {part!r} is not NAME=FILE.npz")
        indexes[name.strip()] = path.strip()
    return create_app(models, indexes=indexes)
