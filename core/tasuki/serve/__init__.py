"""Serving: every loaded model behind one HTTP app, with dynamic batching (``pip install 'tasuki[serve]'``).

``tasuki serve DIR [DIR ...]`` runs it with uvicorn. To run it under your own server, build the
app in a module of yours::

    # myapp.py                                  uvicorn myapp:app --host 0.0.0.0 --port 8000
    from tasuki.serve import create_app
    app = create_app(["models/reviews", "models/names"], max_wait_ms=2)

or let ``uvicorn --factory tasuki.serve:app_from_env`` read ``TASUKI_SERVE_MODELS`` (directories,
or ``NAME=DIR``, separated by commas) and, for each attachment a plugin's route needs,
``TASUKI_SERVE_<PLURAL>`` (``NAME=FILE``, e.g. ``TASUKI_SERVE_INDEXES`` for search indexes).
Each worker process loads its own copy of the models.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tasuki.errors import MissingExtraError, TasukiError
from tasuki.serve.settings import ServeSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tasuki.api import TrainedModel

__all__ = ["MissingExtraError", "ServeSettings", "app_from_env", "create_app"]


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
               settings: ServeSettings | None = None, *, device: str | None = None, **overrides: Any) -> FastAPI:
    """A FastAPI app serving ``models``: directories, loaded :class:`~tasuki.TrainedModel` objects,
    ``"NAME=DIR"`` strings, or a ``{name: directory or model}`` mapping.

    A model's URL name is its directory's name unless given; two equal names are an error.
    ``overrides`` are :class:`ServeSettings` fields (``max_wait_ms=2``, ``max_batch_tokens=4096``...)
    and the attachments of plugin routes by their plural, ``{model name: file}`` (``indexes=`` gives
    embedding models a search index for ``POST /models/{name}/search``).
    """
    require_serve_extra()
    from tasuki.api import TrainedModel, load
    from tasuki.registry import get_registry
    from tasuki.serve.app import attach, build_app
    from tasuki.serve.models import ServedModel, model_names
    from tasuki.serve.routes import attachments

    routes = get_registry().serve_routes()
    plurals = {attachment.plural: option for option, (attachment, _) in attachments(routes).items()}
    files = {plurals[key]: overrides.pop(key) for key in list(overrides) if key in plurals}
    if settings is not None and overrides:
        raise TasukiError("give either settings= or setting keywords, not both")
    settings = settings or ServeSettings.build(**overrides)
    named = model_names(models)
    served = [ServedModel(name, source if isinstance(source, TrainedModel) else load(source, device=device), settings)
              for name, source in named]
    app = build_app(served, settings, routes)
    for option, given in files.items():
        if given:
            attach(app, option, given)
    return app


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory tasuki.serve:app_from_env``: models from ``TASUKI_SERVE_MODELS`` and the
    attachments of plugin routes from ``TASUKI_SERVE_<PLURAL>`` (``NAME=FILE``), each comma-separated."""
    value = os.environ.get("TASUKI_SERVE_MODELS", "")
    models = [part.strip() for part in value.split(",") if part.strip()]
    if not models:
        raise TasukiError("set TASUKI_SERVE_MODELS to the model directories to serve (comma-separated)")
    from tasuki.registry import get_registry
    from tasuki.serve.routes import attachments

    files: dict[str, dict[str, str]] = {}
    for attachment, _ in attachments(get_registry().serve_routes()).values():
        variable = f"TASUKI_SERVE_{attachment.plural.upper()}"
        chosen = files.setdefault(attachment.plural, {})
        for part in (p.strip() for p in os.environ.get(variable, "").split(",") if p.strip()):
            name, sep, path = part.partition("=")
            if not sep or not name.strip() or not path.strip():
                raise TasukiError(f"{variable}: {part!r} is not {attachment.metavar}")
            chosen[name.strip()] = path.strip()
    return create_app(models, **files)
