"""What the server knows about each model: its name, how to check a request's body, how to run a batch.

A request is checked here, at the door, before it joins a batch: its shape (``inputs`` and
``parameters``), every text's length, and the task's reading of the inputs
(``Task.examples_from_inputs``). Whatever passes is run by :meth:`ServedModel.run` in a worker
thread together with other requests (see :mod:`tasuki.serve.batching`).

A model may carry attachments for the routes plugins add (:mod:`tasuki.serve.routes`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tasuki.errors import DataError, TasukiError
from tasuki.serve.settings import ServeSettings
from tasuki.settings import SettingError, convert, help_of, hints

if TYPE_CHECKING:
    from tasuki.api import TrainedModel
    from tasuki.task import Task

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class RequestError(TasukiError):
    """A request the server refuses: the HTTP status, the message, and the body field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response (``{"error": ..., "field": ...}``)."""
        return {"error": str(self), **({"field": self.field} if self.field else {})}


def approx_tokens(text: str, lang: str) -> int:
    """Tokens a text will take, without running the tokenizer on the event loop.

    Characters / 4 for English-like text (about what WordPiece and BPE give), / 1.5 for
    Japanese (a kanji or kana is roughly one token); +2 for the special tokens.
    """
    return 2 + math.ceil(len(text) / (1.5 if lang == "ja" else 4))


def to_json(value: Any) -> Any:
    """Predictions as JSON values: numpy arrays become lists, numpy scalars Python numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


@dataclass
class Checked:
    """A request that passed the door: its inputs as a list, and what batches it may join."""

    items: list[Any]
    single: bool
    parameters: dict[str, Any]
    tokens: int
    key: tuple
    """Requests batch together only when their keys match: same parameters, same input columns."""


class ServedModel:
    """One loaded model under its URL name."""

    def __init__(self, name: str, model: TrainedModel, settings: ServeSettings) -> None:
        if not NAME.match(name):
            raise DataError(f"model name {name!r}: use letters, digits, '.', '_' or '-' (it is part of the URL); "
                            f"give NAME=DIR to choose one")
        self.name = name
        self.model = model
        self.settings = settings
        options = getattr(type(model.task), "Options", None)
        declared = {f.name: f for f in dataclasses.fields(options)} if dataclasses.is_dataclass(options) else {}
        # The task declares them (Task.request_parameters, which the registry checked are Options fields);
        # the model may take fewer (Task.served_parameters)
        self.parameters = {name: declared[name] for name in model.task.served_parameters() if name in declared}
        """The ``parameters`` keys a request may set: fields of the task's Options."""
        self.attachments: dict[str, Any] = {}
        """What the model carries for plugin routes, by :attr:`~tasuki.serve.routes.Attachment.option`."""
        self.batch_size = settings.batch_size or (32 if _on_gpu(model) else 8)
        """Forward-pass batch size of one predict call."""

    @property
    def task(self) -> Task:
        return self.model.task

    def info(self) -> dict[str, Any]:
        """What ``GET /models`` says about this model."""
        task, meta = self.task, self.model.metadata
        backbone = meta.get("backbone") or {}
        return {
            "name": self.name,
            "task": task.name,
            "lang": task.lang,
            "languages": list(task.languages),
            "labels": list(task.labels) if task.labels else None,
            "backbone": backbone.get("spec") or backbone.get("name_or_path"),
            "runtime": meta.get("runtime", "torch"),
            "quantization": meta.get("quantization"),
            "input_columns": list(task.input_columns),
            "inputs": self.expected_inputs(),
            "input_fields": list(task.input_fields),
            "form_kind": task.form_kind,
            "result_kind": task.result_kind,
            "parameters": {name: help_of(type(task).Options, f) for name, f in self.parameters.items()},
            # the saved options (JSON by Task.state's contract): what a result is decided with, e.g. the
            # thresholds the page marks on a labels result's bars
            "options": to_json((task.state() or {}).get("options") or {}),
            "metrics": {k: v for k, v in (meta.get("metrics") or {}).items() if isinstance(v, (int, float))},
            "directory": str(self.model.directory),
        }

    def expected_inputs(self) -> str:
        columns = list(self.task.input_columns)
        if columns in ([], ["text"]):
            return "a text or a list of texts"
        shape = "{" + ", ".join(f'"{c}": ...' for c in columns) + "}"
        return f"an object {shape} or a list of them"

    # --- the door ------------------------------------------------------------------------

    def check(self, body: Any) -> Checked:
        """Check a parsed JSON body; raise :class:`RequestError` naming the field at fault."""
        if not isinstance(body, dict):
            raise RequestError(422, f"body: expected a JSON object {{\"inputs\": ...}}, got {type(body).__name__}")
        unknown = sorted(set(body) - {"inputs", "parameters"})
        if unknown:
            raise RequestError(422, f"body: unknown key(s) {unknown}; expected 'inputs' and optional 'parameters'",
                               unknown[0])
        if "inputs" not in body:
            raise RequestError(422, f"inputs: missing; expected {self.expected_inputs()}", "inputs")
        parameters = self.check_parameters(body.get("parameters"))
        inputs = body["inputs"]
        single = isinstance(inputs, (str, dict))
        items = [inputs] if single else inputs
        if not isinstance(items, list):
            raise RequestError(422, f"inputs: expected {self.expected_inputs()}, got {type(inputs).__name__}", "inputs")
        if not items:
            raise RequestError(422, "inputs: empty list", "inputs")
        if len(items) > self.settings.max_inputs:
            raise RequestError(413, f"inputs: {len(items)} items; the limit is {self.settings.max_inputs} per request",
                               "inputs")
        tokens = 0
        for path, text in _texts(items, single):
            if len(text) > self.settings.max_text_chars:
                raise RequestError(413, f"{path}: {len(text)} characters; the limit is {self.settings.max_text_chars}",
                                   path)
            if not text.strip():
                raise RequestError(422, f"{path}: empty text", path)
            tokens += approx_tokens(text, self.task.lang)
        rows = self._rows(items)
        columns = {tuple(sorted(row)) for row in rows}
        return Checked(items, single, parameters, tokens, (tuple(sorted(columns)), tuple(sorted(parameters.items()))))

    def check_parameters(self, given: Any) -> dict[str, Any]:
        if given is None:
            return {}
        if not isinstance(given, dict):
            raise RequestError(422, f"parameters: expected an object, got {type(given).__name__}", "parameters")
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            known = ", ".join(self.parameters) or "none"
            raise RequestError(422, f"parameters: unknown key(s) {unknown} for task {self.task.name!r}; known: {known}",
                               f"parameters.{unknown[0]}")
        options = type(self.task).Options
        types = hints(options)
        checked = {}
        for name, value in given.items():
            try:
                checked[name] = convert(value, types[name], self.parameters[name], "parameter")
            except SettingError as exc:
                raise RequestError(422, f"parameters.{name}: {exc}", f"parameters.{name}") from None
            if isinstance(value, str) and not isinstance(checked[name], str):  # "0.5" was read as the CLI reads it
                kind = {bool: "true or false", int: "integer", float: "number"}.get(type(checked[name]), "value")
                raise RequestError(422, f"parameters.{name}: expected a JSON {kind}, got the text {value!r}",
                                   f"parameters.{name}")
        return checked

    def _rows(self, items: list[Any]) -> list[dict[str, Any]]:
        """The task's own reading of the inputs, so that a wrong shape fails here and not in a batch."""
        for i, item in enumerate(items):
            if not isinstance(item, (str, dict, list)):
                raise RequestError(422, f"inputs[{i}]: expected {self.expected_inputs()}, got {type(item).__name__}",
                                   f"inputs[{i}]")
            if isinstance(item, str) and len(self.task.input_columns) > 1:
                raise RequestError(422, f"inputs[{i}]: expected {self.expected_inputs()}, got a text", f"inputs[{i}]")
            if isinstance(item, dict):  # named here, not as "row 1" of a batch (or pyarrow's words on mixed types)
                wrong = next((k for k in self.task.input_columns if k in item and not isinstance(item[k], (str, list))),
                             None)
                if wrong is not None:
                    raise RequestError(422, f"inputs[{i}].{wrong}: expected a text, got "
                                       f"{type(item[wrong]).__name__} {_short(item[wrong])}", f"inputs[{i}].{wrong}")
            unknown = sorted(set(item) - set(self.task.known_columns())) if isinstance(item, dict) else []
            if unknown:  # a text_pair sent to a one-text model was answered for the text alone
                raise RequestError(422, f"inputs[{i}].{unknown[0]}: task {self.task.name!r} reads no field "
                                   f"{unknown[0]!r}; its fields: {', '.join(self.task.known_columns())}",
                                   f"inputs[{i}].{unknown[0]}")
        # a shape the task refuses (DataError) or cannot read: name the item, in the request's own terms
        shape_errors = (DataError, TypeError, ValueError, KeyError)
        try:
            rows = self.task.examples_from_inputs(items)
        except shape_errors:
            for i, item in enumerate(items):  # which one: the task reads them one by one as well
                try:
                    self.task.examples_from_inputs([item])
                except shape_errors:
                    raise RequestError(422, f"inputs[{i}]: expected {self.expected_inputs()}, got "
                                       f"{type(item).__name__} {_short(item)}", f"inputs[{i}]") from None
            raise RequestError(422, f"inputs: expected {self.expected_inputs()}", "inputs") from None
        for i, row in enumerate(rows):
            missing = [c for c in self.task.input_columns if c not in row]
            if missing:
                raise RequestError(422, f"inputs[{i}]: missing {missing}; expected {self.expected_inputs()}",
                                   f"inputs[{i}]")
        return rows

    # --- the worker thread ---------------------------------------------------------------

    def run(self, items: list[Any], parameters: Mapping[str, Any]) -> list[Any]:
        """Predictions for ``items`` (one ``predict`` call), as JSON values. Runs in the model's worker thread."""
        model = self._with(parameters) if parameters else self.model
        return to_json(model.predict(items, batch_size=self.batch_size))

    def _with(self, parameters: Mapping[str, Any]) -> TrainedModel:
        """The model with a request's options (:meth:`~tasuki.api.TrainedModel.with_options`): a copy of its task,
        so a model served under two names, ``GET /models/NAME`` and the caller's own ``predict`` never see another
        request's threshold (setting them on the task for a batch did)."""
        model = self.model
        for name, value in parameters.items():
            try:
                model = model.with_options(**{name: value})
            except TasukiError as exc:
                raise RequestError(422, f"parameters.{name}: {exc}", f"parameters.{name}") from None
        return model


def _on_gpu(model: TrainedModel) -> bool:
    """Whether the model runs on a GPU (a torch model with CUDA parameters; ONNX exports run on the CPU)."""
    parameters = getattr(model.model, "parameters", None)
    first = next(iter(parameters()), None) if callable(parameters) else None
    return first is not None and first.device.type == "cuda"


def _texts(items: list[Any], single: bool) -> Iterator[tuple[str, str]]:
    """Every string inside the inputs with its path (``inputs[2].context``), for the length limits."""
    return _walk(items[0] if single else items, "inputs")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _walk(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _walk(inner, f"{path}[{i}]")


def model_names(models: Sequence[Any] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(name, directory or TrainedModel)`` pairs; names from ``NAME=DIR``, a mapping, or the directory's name."""
    from tasuki.api import TrainedModel

    pairs: list[tuple[str, Any]] = []
    if isinstance(models, Mapping):
        pairs = [(str(k), v) for k, v in models.items()]
    else:
        for model in models:
            if isinstance(model, TrainedModel):
                pairs.append((Path(model.directory).resolve().name, model))
            elif isinstance(model, str) and "=" in model and not Path(model).exists():
                name, _, directory = model.partition("=")
                pairs.append((name, directory))
            else:
                pairs.append((Path(model).resolve().name, model))
    if not pairs:
        raise DataError("no model to serve: give at least one model directory")
    seen: dict[str, Any] = {}
    for name, source in pairs:
        if name in seen:
            raise DataError(f"two models would both be served as {name!r} ({seen[name]} and {source}); "
                            f"name them: NAME=DIR (e.g. {name}-2={source})")
        seen[name] = source if not isinstance(source, TrainedModel) else source.directory
    return pairs

