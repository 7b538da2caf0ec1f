"""``tasuki serve DIR [DIR ...]``: the models behind one HTTP server (FastAPI + uvicorn)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import click

from tasuki.serve.settings import ServeSettings
from tasuki.settings import default_of, flag_of, help_of, hints


def _settings_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """One ``--option`` per :class:`ServeSettings` field, with its type, default and help."""
    types = hints(ServeSettings)
    for f in reversed(fields(ServeSettings)):
        function = click.option(flag_of(f), f.name, type=types[f.name], default=default_of(f), show_default=True,
                                help=help_of(ServeSettings, f))(function)
    return function


def _stopped(signum: int, frame: Any) -> None:
    # uvicorn drains on SIGTERM/SIGINT, then raises the signal again with the handler it found:
    # this one, so that a clean, drained stop exits 0 instead of dying by the signal.
    sys.exit(0)


@click.command("serve")
@click.argument("models", nargs=-1, required=True, metavar="DIR|NAME=DIR...")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--device", default=None, help="Device of the models (default: cuda when available, else cpu).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]), help="uvicorn's log level.")
@_settings_options
def command(models: tuple[str, ...], host: str, port: int, device: str | None, log_level: str,
            **settings: Any) -> None:
    """Serve trained models over HTTP: POST /models/NAME with {"inputs": ...}; a page at /.

    Each model is named after its directory (or NAME=DIR). Requests to a model are batched
    together (--max-batch-tokens, --max-wait-ms). SIGTERM or Ctrl-C finishes the requests in
    flight and exits 0. See docs/serving.md.
    """
    from tasuki.serve import create_app, require_serve_extra

    require_serve_extra()
    import uvicorn

    app = create_app(list(models), ServeSettings.build(**settings), device=device)
    click.echo(f"serving {', '.join(app.state.batchers)} on http://{host}:{port}/ (API docs: /docs)", err=True)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stopped)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=None)
