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


def _attachment_names(attachment: Any, values: tuple[str, ...], models: tuple[str, ...]) -> dict[str, str]:
    """``--OPTION NAME=FILE`` values as ``{model name: file}``; a bare FILE belongs to the only model."""
    from tasuki.serve.models import model_names

    option = attachment.option
    names = [name for name, _ in model_names(list(models))]
    chosen: dict[str, str] = {}
    for value in values:
        if "=" in value and not Path(value).exists():
            name, _, path = value.partition("=")
        elif len(names) == 1:
            name, path = names[0], value
        else:
            raise DataError(f"--{option} {value}: which model? give --{option} NAME=FILE with NAME one of {names}")
        if name in chosen:
            raise DataError(f"--{option}: two {attachment.plural} for model {name!r} ({chosen[name]} and {path}); "
                            "one per model")
        if not Path(path).expanduser().is_file():  # before loading any model: the quickest refusal
            hint = attachment.hint.format(path=path)
            raise DataError(f"{option} {path}: no such file{'; ' + hint if hint else ''}")
        chosen[name] = path
    return chosen


def _attachments() -> dict[str, Any]:
    """The attachments of the installed plugins' routes, by option (``--index``...)."""
    from tasuki.registry import get_registry
    from tasuki.serve.routes import attachments

    return {option: attachment for option, (attachment, _) in attachments(get_registry().serve_routes()).items()}


class ServeCommand(click.Command):
    """``tasuki serve`` with an option per attachment of the plugins' routes (``--index NAME=FILE.npz``)."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        added = [click.Option([f"--{option}", f"{ATTACH}{option}"], multiple=True, metavar=attachment.metavar,
                              help=attachment.help) for option, attachment in _attachments().items()]
        return params[:-1] + added + params[-1:]  # --help stays last


ATTACH = "attach_"
"""The prefix of the attachment options' parameter names (kept apart from the settings)."""


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


@click.command("serve", cls=ServeCommand)
@click.argument("models", nargs=-1, required=True, metavar="DIR|NAME=DIR...")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--device", default=None, help="Device of the models (default: cuda when available, else cpu).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]), help="uvicorn's log level.")
@settings_options(ServeSettings)
def command(models: tuple[str, ...], host: str, port: int, device: str | None, log_level: str,
            **settings: Any) -> None:
    """Serve trained models over HTTP: POST /models/NAME with {"inputs": ...}; a page at /.

    Each model is named after its directory (or NAME=DIR). Requests to a model are batched
    together (--max-batch-tokens, --max-wait-ms). SIGTERM or Ctrl-C finishes the requests in
    flight and exits 0. Plugins may add routes, and options for what they need (an embedding
    model's --index answers POST /models/NAME/search). See docs/serving.md.
    """
    from tasuki.serve import create_app, require_serve_extra

    require_serve_extra()
    import uvicorn

    from tasuki.serve.app import attach

    given_files = {key[len(ATTACH):]: settings.pop(key) for key in list(settings) if key.startswith(ATTACH)}
    serve_settings = ServeSettings.build(**given(settings))
    known = _attachments()
    files = {option: _attachment_names(known[option], values, models) for option, values in given_files.items() if values}
    with _bind(host, port) as sock:
        app = create_app(list(models), serve_settings, device=device)
        for option, chosen in files.items():
            attach(app, option, chosen)
        names = [_started(name, b.served, known) for name, b in app.state.batchers.items()]
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


def _started(name: str, served: Any, known: dict[str, Any]) -> str:
    """A model in the start-up line, with what it carries: ``embedding (search: 120 entries)``."""
    carried = [known[option].summary(obj) for option, obj in served.attachments.items() if option in known]
    return f"{name} ({', '.join(carried)})" if carried else name
