"""The labelling page: a local HTTP server (the standard library's) over one :class:`~tasuki_label.session.Session`.

Why not ``tasuki serve``: its routes (``register_routes``) are requests to a served model, while this page
holds a person's session (the queue, undo, a file being written) and runs before any model exists.

``GET /`` the page, ``GET /state`` its view as JSON; ``POST /answer {"item", "label"}``, ``POST /skip {"item"}``
and ``POST /undo`` change it and return the new view. A refused request is a 4xx with ``{"error": ...}``.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from tasuki.plugin import TasukiError
from tasuki_label.session import Conflict, Session

MAX_BODY = 1 << 20


def page_html() -> bytes:
    """The page (one file: markup, style and script)."""
    return resources.files("tasuki_label").joinpath("page.html").read_bytes()


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the server's session."""

    server: LabelServer

    def log_message(self, format: str, *args: Any) -> None:  # one line per request would drown the CLI's own
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def do_GET(self) -> None:
        if self.path == "/":
            self._send(HTTPStatus.OK, page_html(), "text/html; charset=utf-8")
        elif self.path == "/state":
            self._json(HTTPStatus.OK, self.server.session.state())
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {self.path}"})

    def do_POST(self) -> None:
        session = self.server.session
        actions = {"/answer": lambda body: session.answer(body.get("item"), body.get("label")),
                   "/skip": lambda body: session.skip(body.get("item")),
                   "/undo": lambda body: session.undo()}
        if self.path not in actions:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no action {self.path}"})
            return
        try:
            body = self._body()
            actions[self.path](body)
        except Conflict as exc:
            self._json(HTTPStatus.CONFLICT, {"error": str(exc)})
            return
        except (TasukiError, ValueError) as exc:  # an unknown label, a body that is not JSON
            self._json(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": str(exc)})
            return
        self._json(HTTPStatus.OK, session.state())

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError(f"body: {length} bytes is more than {MAX_BODY}")
        raw = self.rfile.read(length) if length else b"{}"
        body = json.loads(raw.decode("utf-8"))
        if not isinstance(body, dict):
            raise ValueError("body: expected a JSON object")
        return body


class LabelServer(ThreadingHTTPServer):
    """A threading HTTP server that holds the session."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], session: Session) -> None:
        super().__init__(address, Handler)
        self.session = session


def serve(data: Path, *, task: str = "classify", text_column: str, pair_column: str | None = None,
          encoding: str | None, labels: list[str], output: Path, model: Path | None, host: str, port: int,
          task_options: dict[str, str], multi_label: bool, strategy: str | None, every: int, folds: int,
          models_dir: Path, backbone: str | None, train_args: list[str], candidates: int, seed: int) -> None:
    """Read the pool (texts, or with ``pair_column`` pairs) and the labels so far, start the trainer, and serve
    the page until Ctrl+C."""
    import click

    import tasuki
    from tasuki.plugin import DataError, hold_lock
    from tasuki_label.pool import read_texts
    from tasuki_label.store import LabelStore
    from tasuki_label.trainer import Trainer

    pool = read_texts(data, text_column, pair=pair_column, encoding=encoding)
    output.parent.mkdir(parents=True, exist_ok=True)
    # two sessions appending to one file (one of them undoing by a rewrite) would lose the other's answers
    lock = hold_lock(output.parent / f".{output.name}.tasuki.lock", f"--output {output} is being labelled by "
                     "another tasuki label ({holder}); stop it first or choose another --output", DataError)
    trainer = server = None
    try:
        store = LabelStore(output, labels, multi_label, pairs=pair_column is not None)
        round_args = [arg for name, value in task_options.items() for arg in ("--option", f"{name}={value}")]
        round_args += ["--backbone", backbone] if backbone else []
        trainer = (Trainer(store, models_dir, every=every, folds=folds, train_args=round_args + train_args, task=task)
                   if every else None)
        directory = model or (trainer.latest_model if trainer is not None else None)
        loaded = tasuki.load(directory, device="cpu") if directory is not None else None
        session = Session(pool, store, strategy=strategy, batch=every or 16, candidates=candidates, backbone=backbone,
                          seed=seed, trainer=trainer, model=loaded, task=task)
        server = LabelServer((host, port), session)
        session.start_choosing()
        click.echo(f"{len(pool)} {'pairs' if pair_column else 'texts'}, {len(store.rows)} labelled in {output}"
                   + (f"; model {directory}" if directory else "") + (f"; rounds in {models_dir}" if trainer else ""))
        click.echo(f"tasuki label: http://{host}:{server.server_address[1]}/  (Ctrl+C to stop)", err=False)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.server_close()
        if trainer is not None:
            trainer.stop()
        lock.release()
