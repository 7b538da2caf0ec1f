"""``tasuki serve DIR [DIR ...]``: the models behind one HTTP server (FastAPI + uvicorn)."""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path
from typing import Any

import click

from tasuki.cli.options import given, settings_options
from tasuki.errors import DataError, TasukiError
from tasuki.serve.settings import ServeSettings


def _stopped(signum: int, frame: Any) -> None:
    # uvicorn drains on SIGTERM/SIGINT, then raises the signal again with the handler it found:
    # this one, so that a clean, drained stop exits 0 instead of dying by the signal.
    sys.exit(0)


def _index_names(indexes: tuple[str, ...], models: tuple[str, ...]) -> dict[str, str]:
    """``--index NAME=FILE`` values as ``{model name: file}``; a bare FILE belongs to the only model."""
    from tasuki.serve.models import model_names

    names = [name for name, _ in model_names(list(models))]
    chosen: dict[str, str] = {}
    for value in indexes:
        if "=" in value and not Path(value).exists():
            name, _, path = value.partition("=")
        elif len(names) == 1:
            name, path = names[0], value
        else:
            raise DataError(f"--index {value}: which model? give --index NAME=FILE with NAME one of {names}")
        if name in chosen:
            raise DataError(f"--index: two indexes for model {name!r} ({chosen[name]} and {path}); one per model")
        if not Path(path).expanduser().is_file():  # before loading any model: the quickest refusal
            raise DataError(f"index {path}: no such file; build one with tasuki search MODEL --corpus FILE "
                            f"--index {path} QUERY")
        chosen[name] = path
    return chosen


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (uvicorn listens on it): a busy port is refused before any model loads."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart need not wait out TIME_WAIT
    try:
        sock.bind((host, port))
    except OSError as exc:  # in use, no such address, a privileged port
        sock.close()
        raise TasukiError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc}); "
                          f"choose another --port or --host") from None
    return sock


@click.command("serve")
@click.argument("models", nargs=-1, required=True, metavar="DIR|NAME=DIR...")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--device", default=None, help="Device of the models (default: cuda when available, else cpu).")
@click.option("--index", "indexes", multiple=True, metavar="NAME=FILE.npz",
              help="A search index for embedding model NAME (saved by tasuki search --corpus ... --index FILE.npz): "
                   "POST /models/NAME/search. NAME may be left out with one model; repeat for several.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]), help="uvicorn's log level.")
@settings_options(ServeSettings)
def command(models: tuple[str, ...], host: str, port: int, device: str | None, indexes: tuple[str, ...],
            log_level: str, **settings: Any) -> None:
    """Serve trained models over HTTP: POST /models/NAME with {"inputs": ...}; a page at /.

    Each model is named after its directory (or NAME=DIR). Requests to a model are batched
    together (--max-batch-tokens, --max-wait-ms). SIGTERM or Ctrl-C finishes the requests in
    flight and exits 0. With --index, an embedding model also answers POST /models/NAME/search.
    See docs/serving.md.
    """
    from tasuki.serve import create_app, require_serve_extra

    require_serve_extra()
    import uvicorn

    serve_settings = ServeSettings.build(**given(settings))
    chosen = _index_names(indexes, models)
    with _bind(host, port) as sock:
        app = create_app(list(models), serve_settings, device=device, indexes=chosen)
        names = [f"{name} (search: {len(b.served.index)} entries)" if b.served.index is not None else name
                 for name, b in app.state.batchers.items()]
        address = f"[{host}]" if ":" in host else host
        click.echo(f"serving {', '.join(names)} on http://{address}:{sock.getsockname()[1]}/ (API docs: /docs)",
                   err=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _stopped)
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level,
                                               timeout_graceful_shutdown=None))
        server.run(sockets=[sock])
    if not server.started:
        raise TasukiError("the server did not start; uvicorn's log above says why")
