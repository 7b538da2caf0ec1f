"""The FastAPI app: the routes, the error bodies, the page; one :class:`Batcher` per model.

Routes (``/docs`` has them with their schemas):

- ``POST /models/{name}`` and, with one model, ``POST /predict``: ``{"inputs": ..., "parameters": {...}}``
  -> what ``TrainedModel.predict`` returns, as JSON;
- ``POST /models/{name}/PATH`` and, with one model, ``POST /PATH``: the routes plugins add
  (:mod:`tasuki.serve.routes`; the attachments they need are loaded by :func:`attach`);
- ``GET /models``, ``GET /models/{name}``: task, languages, labels, backbone, parameters, routes;
- ``GET /health`` (the process answers), ``GET /ready`` (models loaded, not shutting down);
- ``GET /metrics`` (Prometheus text), ``GET /`` (the page), ``/static/...``.

Every error is ``{"error": "...", "field": "..."}`` with its status; nothing a request sends
reaches ``predict`` before :meth:`ServedModel.check` has passed it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from tasuki import __version__
from tasuki.serve.batching import Batcher
from tasuki.serve.metrics import ServeMetrics
from tasuki.serve.models import RequestError, ServedModel
from tasuki.serve.routes import Route, RouteCall, described
from tasuki.serve.settings import ServeSettings

if TYPE_CHECKING:
    from tasuki.registry import Registry

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


class PredictBody(BaseModel):
    """The request body (for the OpenAPI schema; the route checks the body itself, to name fields)."""

    inputs: Any = Field(description="What the task's predict takes: a text or texts; {'question', 'context'} "
                                    "for qa; {'text', 'pair'} for an embedding similarity", examples=["I love it"])
    parameters: dict[str, Any] | None = Field(None, description="Per-request options the task accepts "
                                                                "(GET /models lists them)")


ERROR_SCHEMA = {"description": "an error", "content": {"application/json": {"example": {
    "error": "inputs[1]: empty text", "field": "inputs[1]"}}}}
ERRORS = {code: ERROR_SCHEMA for code in (400, 404, 413, 422, 500, 503, 504)}


def build_app(served: list[ServedModel], settings: ServeSettings, routes: Mapping[str, Route] | None = None) -> FastAPI:
    """The app over models already loaded (see :func:`tasuki.serve.create_app`), with the routes plugins
    registered (``routes``: by path; default: the registry's).

    The route groups are added in a fixed order, which is the order of the OpenAPI schema and of matching:
    predict, models, health/metrics (and the page), then the plugins' routes, so ``/models/{name}`` stays the core's.
    """
    from tasuki.registry import get_registry

    registry = get_registry()
    routes = dict(registry.serve_routes() if routes is None else routes)
    metrics = ServeMetrics()
    batchers = {s.name: Batcher(s, metrics) for s in served}
    state = {"ready": False}
    app = FastAPI(title="tasuki serve", version=__version__, lifespan=_lifespan(state, batchers),
                  description="Predictions of tasuki models; POST /models/{name} with {\"inputs\": ...}.")
    app.state.batchers = batchers
    app.state.metrics = metrics
    app.state.settings = settings
    app.state.routes = routes
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_error_handlers(app)
    answering = _Answering(batchers, metrics)
    _add_predict_routes(app, answering, settings)
    _add_model_routes(app, batchers, routes)
    _add_health_routes(app, batchers, metrics, state)
    _add_plugin_routes(app, registry, routes, answering, settings.max_body_bytes)
    return app


def _lifespan(state: dict[str, bool], batchers: dict[str, Batcher]) -> Callable[[FastAPI], Any]:
    """Ready while the server runs; on shutdown, not ready, then each batcher closed."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["ready"] = True
        yield
        # uvicorn calls this after the requests in flight have had their answers (SIGTERM drains)
        state["ready"] = False
        for batcher in batchers.values():
            await batcher.close()

    return lifespan


def _add_error_handlers(app: FastAPI) -> None:
    """Every error answers ``{"error": ..., "field": ...}`` with its status; an unexpected one is logged."""

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}", "field": where}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)


class _Answering:
    """What every route that runs a model shares (predict and the plugins' routes): the batchers by name
    and the metrics each request is counted in."""

    def __init__(self, batchers: dict[str, Batcher], metrics: ServeMetrics) -> None:
        self.batchers = batchers
        self.metrics = metrics

    async def answer(self, name: str, request: Request,
                     respond: Callable[[Batcher, Request], Awaitable[Any]]) -> JSONResponse:
        """Run one route for model ``name``, counting it in the metrics whatever happens."""
        started = time.perf_counter()
        batcher = self.batchers.get(name)
        label = name if batcher else "unknown"
        status = 200
        try:
            if batcher is None:
                raise RequestError(404, f"no model {name!r}; this server has {sorted(self.batchers)} (GET /models)")
            return JSONResponse(await respond(batcher, request))
        except RequestError as exc:
            status = exc.status
            raise
        except Exception:
            status = 500
            raise
        finally:
            self.metrics.requests.labels(label, str(status)).inc()
            if batcher is not None:
                self.metrics.latency.labels(label).observe(time.perf_counter() - started)

    def only_model(self, route: str) -> str:
        """The one model's name, for the routes without ``/models/{name}``; a 404 on a server with several."""
        if len(self.batchers) != 1:
            raise RequestError(404, f"POST /{route} needs a server with one model; this one has {len(self.batchers)}: "
                               f"use POST /models/{{name}}{'' if route == 'predict' else '/' + route} "
                               f"with one of {sorted(self.batchers)}")
        return next(iter(self.batchers))


def _add_predict_routes(app: FastAPI, answering: _Answering, settings: ServeSettings) -> None:
    """``POST /models/{name}`` and, with one model, ``POST /predict`` (the body limit is read per request)."""

    async def predict(batcher: Batcher, request: Request) -> Any:
        body = await _read_json(request, settings.max_body_bytes)
        return await batcher.submit(batcher.served.check(body))

    body_doc = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": PredictBody.model_json_schema()}}}}

    @app.post("/models/{name}", responses=ERRORS, openapi_extra=body_doc, summary="Predict with one model")
    async def predict_named(name: str, request: Request) -> JSONResponse:
        """``{"inputs": ..., "parameters": {...}}`` -> the model's predictions (one per input, or one)."""
        return await answering.answer(name, request, predict)

    @app.post("/predict", responses=ERRORS, openapi_extra=body_doc, summary="Predict with the only model")
    async def predict_only(request: Request) -> JSONResponse:
        """The same as ``POST /models/{name}`` when the server has exactly one model."""
        return await answering.answer(answering.only_model("predict"), request, predict)


def _add_model_routes(app: FastAPI, batchers: dict[str, Batcher], routes: dict[str, Route]) -> None:
    """``GET /models`` and ``GET /models/{name}``: what each model is, takes and offers."""

    @app.get("/models", summary="The models served")
    async def list_models() -> list[dict[str, Any]]:
        """Name, task, language(s), labels, backbone, accepted inputs and parameters of every model."""
        return [b.served.info() | described(b.served, routes) for b in batchers.values()]

    @app.get("/models/{name}", responses={404: ERROR_SCHEMA}, summary="One model")
    async def show_model(name: str) -> dict[str, Any]:
        if name not in batchers:
            raise RequestError(404, f"no model {name!r}; this server has {sorted(batchers)}")
        return batchers[name].served.info() | described(batchers[name].served, routes)


def _add_health_routes(app: FastAPI, batchers: dict[str, Batcher], metrics: ServeMetrics,
                       state: dict[str, bool]) -> None:
    """``GET /health``, ``GET /ready``, ``GET /metrics``, and the page at ``GET /``."""

    @app.get("/health", summary="The process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Models loaded and accepting requests", responses={503: ERROR_SCHEMA})
    async def ready() -> JSONResponse:
        if not state["ready"]:
            return JSONResponse({"error": "not ready (starting or shutting down)"}, status_code=503)
        return JSONResponse({"status": "ready", "models": sorted(batchers),
                             "waiting": {name: b.waiting for name, b in batchers.items()}})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))


def _add_plugin_routes(app: FastAPI, registry: Registry, routes: dict[str, Route], answering: _Answering,
                       max_body_bytes: int) -> None:
    """The plugins' routes, after the core's (``/models/{name}`` stays the core's); a path two plugins
    registered answers why it is withdrawn."""
    for route in routes.values():
        _mount(app, route, answering.answer, answering.only_model, max_body_bytes)
    for key in registry.clashes:
        kind, _, path = key.partition(" ")
        if kind == "route" and path not in routes:
            _mount_withdrawn(app, path, str(registry.clash("route", path)))


def _mount(app: FastAPI, route: Route, answer: Callable[..., Awaitable[JSONResponse]],
           only_model: Callable[[str], str], max_body_bytes: int) -> None:
    """Mount a plugin's route: ``POST /models/{name}/PATH`` and, for a one-model server, ``POST /PATH``."""

    async def respond(batcher: Batcher, request: Request) -> Any:
        served = batcher.served
        if not route.serves(served.task):
            raise RequestError(404, route.wrong_task.format(name=served.name, task=served.task.name, path=route.path,
                                                            tasks=", ".join(route.tasks)))
        attachment = None
        if route.attachment is not None:
            attachment = served.attachments.get(route.attachment.option)
            if attachment is None:
                raise RequestError(404, route.attachment.missing.format(name=served.name,
                                                                        option=route.attachment.option))
        body = await _read_json(request, max_body_bytes)
        return await route.handler(RouteCall(served, body, attachment, batcher.submit))

    doc = {} if route.request_schema is None else {"requestBody": {"required": True, "content": {
        "application/json": {"schema": route.request_schema()}}}}

    async def named(name: str, request: Request) -> JSONResponse:
        return await answer(name, request, respond)

    async def only(request: Request) -> JSONResponse:
        return await answer(only_model(route.path), request, respond)

    app.add_api_route(f"/models/{{name}}/{route.path}", named, methods=["POST"], responses=ERRORS, openapi_extra=doc,
                      summary=route.summary, description=route.description, name=f"{route.path}_named")
    app.add_api_route(f"/{route.path}", only, methods=["POST"], responses=ERRORS, openapi_extra=doc,
                      summary=route.only_summary or f"{route.summary} (the only model)",
                      description=f"The same as ``POST /models/{{name}}/{route.path}`` when the server has exactly "
                                  "one model.", name=f"{route.path}_only")


def _mount_withdrawn(app: FastAPI, path: str, message: str) -> None:
    """A route two plugins registered: withdrawn from both; a request to it is told which and why."""

    async def withdrawn(name: str = "") -> JSONResponse:
        raise RequestError(404, message)

    for url in (f"/models/{{name}}/{path}", f"/{path}"):
        app.add_api_route(url, withdrawn, methods=["POST"], include_in_schema=False)


def attach(app: FastAPI, option: str, files: Mapping[str, str | Path]) -> None:
    """Load the attachment ``option`` of the app's routes for served models: ``{model name: file}``
    (an embedding index: ``attach(app, "index", {"embedding": "corpus.npz"})``).

    Every refusal (an unknown model, a model of another task, a missing or unreadable file) is one
    :class:`~tasuki.errors.DataError` line.
    """
    from tasuki.serve.routes import attach as attach_to

    batchers: dict[str, Batcher] = app.state.batchers
    attach_to({name: b.served for name, b in batchers.items()}, app.state.routes, option, files)


async def _read_json(request: Request, limit: int) -> Any:
    """The body as JSON, read no further than ``limit`` bytes (413), with a 400 that says where it breaks."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"body: {declared} bytes; the limit is {limit} (max_body_bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"body: more than {limit} bytes (max_body_bytes)")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise RequestError(400, 'body: empty; send JSON {"inputs": ...}')
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"body: not UTF-8 ({exc})") from None
    except json.JSONDecodeError as exc:
        raise RequestError(400, f"body: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise RequestError(400, "body: JSON nested too deeply") from None
