"""The Python API; the CLI is a thin layer over these functions."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.args import TrainingArgs
from tasuki.backbone import Backbone
from tasuki.data import encodings, is_dataframe, load_data
from tasuki.errors import ArgumentError, CheckpointError, DataError, count_argument, path_argument, shown
from tasuki.files import blocking_file
from tasuki.model_dir import read_metadata, verify_weights
from tasuki.output import claims_output
from tasuki.registry import get_registry
from tasuki.training import phases

if TYPE_CHECKING:
    import torch
    from datasets import Dataset

    from tasuki.task import Task
    from tasuki.training.result import TrainResult

# tasuki.training's loop (torch) is imported where a model trains or predicts: ``tasuki tasks`` lists tasks
# through this module and must start without torch (tasuki.training.phases imports the loop only when it runs).

logger = logging.getLogger(__name__)


def list_tasks() -> dict[str, dict[str, Any]]:
    """Registered tasks: ``{name: {"languages", "description", "plugin", "version", "preset_of"}}`` (``preset_of``:
    the task a preset is a preset of, else None)."""
    registry = get_registry()
    return {
        name: {
            "languages": list(entry.obj.languages),
            "description": entry.obj.description or (entry.obj.__doc__ or "").strip().split("\n")[0],
            "plugin": entry.plugin.distribution,
            "version": entry.plugin.version,
            "preset_of": entry.obj.preset_of,
        }
        for name, entry in sorted(registry.tasks.items())
    }


def describe_task(name: str) -> dict[str, Any]:
    """What ``tasuki tasks NAME`` shows: languages, the columns data needs, and the declared options (with a
    preset's defaults)."""
    from tasuki.settings import describe

    registry = get_registry()
    task_cls = registry.task(name)
    entry = registry.tasks[name]
    return {
        "name": name,
        "languages": list(task_cls.languages),
        "description": task_cls.description or (task_cls.__doc__ or "").strip().split("\n")[0],
        "plugin": entry.plugin.distribution,
        "version": entry.plugin.version,
        "columns": {"predict": list(task_cls.required_columns(False)), "train": list(task_cls.required_columns(True)),
                    "optional": list(task_cls.optional_columns), "note": task_cls.columns_note},
        "preset_of": task_cls.preset_of,
        "options": [{**row, "default": task_cls.preset_options.get(row["name"], row["default"])}
                    for row in describe(task_cls.Options)],
    }


def make_task(name: str, lang: str = "en", **options: Any) -> Task:
    """An instance of the registered task ``name``."""
    return get_registry().task(name)(lang=lang, **options)


def _checks_task_and_output(train: Callable[..., TrainResult]) -> Callable[..., TrainResult]:
    """Check the types of ``task`` and ``output_dir`` before :func:`claims_output` claims the directory."""

    @functools.wraps(train)
    def checked(task: Any, *args: Any, **kwargs: Any) -> TrainResult:
        from tasuki.task import Task

        if not isinstance(task, (str, Task)):
            raise ArgumentError(f"task: expected a task name (str) or a Task, got {shown(task)}")
        if "output_dir" in kwargs:
            path_argument("output_dir", kwargs["output_dir"])
        _check_lang_and_backbone(kwargs.get("lang"), kwargs.get("backbone"))
        return train(task, *args, **kwargs)

    return checked


def _check_lang_and_backbone(lang: Any, backbone: Any) -> None:
    """Refuse a ``lang`` or ``backbone`` that is not one: ``0``, ``False`` and ``""`` were read as "not given"
    (the language detected, the default backbone) where every other argument refuses them."""
    if lang is not None and (not isinstance(lang, str) or not lang.strip()):
        raise ArgumentError(f"lang: expected a language code ('en', 'ja'...), or None to detect it, got {shown(lang)}")
    if backbone is not None and (not isinstance(backbone, (str, os.PathLike, Backbone)) or not str(backbone).strip()):
        raise ArgumentError(f"backbone: expected a spec (minilm, e5-small, hf:ID), a directory or a Backbone, or None "
                            f"for the task's default, got {shown(backbone)}")


@_checks_task_and_output
@claims_output  # the output directory is checked and locked before anything is loaded
def train(
    task: str | Task,
    data: Any,
    *,
    eval_data: Any = None,
    backbone: str | Backbone | None = None,
    lang: str | None = None,
    output_dir: str | Path = "tasuki-model",
    columns: Mapping[str, str] | None = None,
    encoding: str | None = None,
    data_config: str | None = None,
    task_options: Mapping[str, Any] | None = None,
    **training_args: Any,
) -> TrainResult:
    """Fine-tune ``backbone`` for ``task`` on ``data``; save the model into ``output_dir``.

    :param data: a file, a Hub dataset name, a ``datasets.Dataset``, a pandas DataFrame or a list of dicts.
    :param eval_data: held-out data; without it ``eval_split`` of ``data`` is held out.
    :param backbone: Hub id, local directory or registered spec; default: the task's for ``lang``.
    :param lang: ``"en"``, ``"ja"``...; default: detected from the training data (kana/kanji or not).
    :param training_args: fields of :class:`~tasuki.args.TrainingArgs` (``epochs=2``, ...).

    The phases (load data -> choose the held-out set -> resolve the backbone -> run -> save) are the
    functions of :mod:`tasuki.training.phases`, called here in that order.
    """
    if eval_data is not None and training_args.get("eval_split"):  # it held nothing out, and said nothing
        raise ArgumentError("--eval-split (eval_split=) is not used with --eval-data (eval_data=), which is the "
                            "held-out set: give one of them")
    task_cls = get_registry().task(task) if isinstance(task, str) else type(task)
    args = TrainingArgs.build(task_cls.training_defaults, output_dir=str(output_dir), **training_args)
    read = {"columns": columns, "config": data_config}
    train_encoding, eval_encoding = encodings(encoding, [data, eval_data], task_cls)
    task_obj, lang, sets = phases.load_training_data(task, task_cls, data, lang, task_options, args,
                                                     {**read, "encoding": train_encoding})
    chosen = task_obj.recipe_defaults()  # e.g. a few-shot recipe's, from the data fit() saw
    if chosen:
        args = TrainingArgs.build({**task_cls.training_defaults, **chosen}, output_dir=str(output_dir), **training_args)
    phases.choose_held_out_set(sets, task_obj, task_cls, eval_data, args, {**read, "encoding": eval_encoding})
    backbone_obj = phases.resolve_training_backbone(backbone, task_cls, lang, args)
    run = phases.run(task_obj, backbone_obj, sets, args)
    output_dir = Path(output_dir)
    figures: list[Path] = []
    if run.accelerator.is_main_process:
        figures = phases.save(output_dir, task_obj, backbone_obj, run, sets, args, columns)
    run.accelerator.wait_for_everyone()
    return run.result(output_dir, figures)


class TrainedModel:
    """A model loaded from a tasuki directory: ``predict`` and ``evaluate`` on new data."""

    def __init__(self, directory: Path, task: Task, model: torch.nn.Module, tokenizer: Any,
                 metadata: dict[str, Any]) -> None:
        self.directory = directory
        self.task = task
        self.model = model
        self.tokenizer = tokenizer
        self.metadata = metadata
        self.max_length = int(metadata.get("training_args", {}).get("max_length") or 512)

    @property
    def columns(self) -> dict[str, str]:
        """The column mapping the model was trained with (``{task_column: your_column}``); reused by default."""
        return dict(self.metadata.get("columns") or {})

    def __repr__(self) -> str:
        return f"TrainedModel(task={self.task.name!r}, lang={self.task.lang!r}, directory={str(self.directory)!r})"

    def _outputs(self, examples: Dataset, batch_size: int, progress: bool = False) -> tuple[Any, Dataset]:
        from tasuki.prediction.predict import predict

        # one-off inputs are never cached (and a cache hit would skip the task state encode sets)
        done = predict(self.task, self.model, self.tokenizer, examples, max_length=self.max_length,
                       batch_size=batch_size, progress=progress, cache=False)
        return done.outputs, done.features

    def with_options(self, **options: Any) -> TrainedModel:
        """This model deciding with other options: those a ``tasuki serve`` request may set
        (``task.served_parameters()``: a multi-label classifier's ``threshold`` and ``top_k``, NER's ``aggregation``)
        and those of reading labelled data (``Task.reading_options``: classify's ``label_separator``),
        each checked as its setting declares. A copy that shares the weights; this model is unchanged."""
        import copy
        import dataclasses

        from tasuki.settings import convert, hints

        allowed = (*self.task.served_parameters(), *type(self.task).reading_options)
        declared = {f.name: f for f in dataclasses.fields(type(self.task).Options)} if options else {}
        types = hints(type(self.task).Options) if options else {}
        task = copy.copy(self.task)
        task.options = copy.copy(self.task.options)
        for name, value in options.items():
            if name not in allowed:
                raise ArgumentError(f"option {name!r}: not one a prediction of task {self.task.name!r} may change; "
                                    f"allowed: {', '.join(allowed) or 'none'}")
            value = convert(value, types[name], declared[name], "option")
            if isinstance(getattr(type(task), name, None), property):
                setattr(task, name, value)  # the task's own setter checks it too (ner.aggregation)
            else:
                setattr(task.options, name, value)
        model = copy.copy(self)
        model.task = task
        return model

    def predict(self, inputs: Any = None, *, batch_size: int = 32, progress: bool = False, **fields: Any) -> Any:
        """Predictions for one input (returns one result) or a list of inputs (returns a list).

        Inputs are what the task reads: texts, or dicts such as ``{"question", "context"}``;
        keyword fields (``predict(question=..., context=...)``) make one input, and so does a
        ``(question, context)`` tuple for a task of two input columns.
        """
        from tasuki.data import rows_to_dataset
        from tasuki.task import PredictionContext

        unread = [name for name in fields if name not in self.task.known_columns()]
        if unread:  # predict(text=..., threshold=0.9) made the threshold a field of the input, and dropped it
            how = (f"; it is an option: model.with_options({unread[0]}=...).predict(...)"
                   if unread[0] in self.task.served_parameters() else "")
            raise ArgumentError(f"predict: {unread[0]!r} is not a field of task {self.task.name!r}'s inputs "
                                f"({', '.join(self.task.input_columns)}){how}")
        inputs = _predict_inputs(inputs, fields)
        batch_size = count_argument("batch_size", batch_size)
        single = self.task.is_one_input(inputs)
        rows = self.task.examples_from_inputs(inputs)
        if not rows:
            return []
        examples = rows_to_dataset(rows, "input", content_fingerprint=False)
        answers = [c for c in self.task.target_columns if c in examples.column_names and c not in self.task.input_fields]
        if answers:  # a test file's labels, another label set's, or a blank column to fill: prediction reads none
            examples = examples.remove_columns(answers)
        self.task.validate(examples, "input", with_targets=False)
        outputs, features = self._outputs(examples, batch_size, progress)
        prediction_context = PredictionContext(tokenizer=self.tokenizer, max_length=self.max_length)
        predictions = self.task.postprocess(outputs, features, examples, context=prediction_context)
        return predictions[0] if single else predictions

    def evaluate(self, data: Any, *, columns: Mapping[str, str] | None = None, encoding: str | None = None,
                 batch_size: int = 64, plots_dir: str | Path | None = None) -> dict[str, Any]:
        """Metrics on labelled ``data`` (a file, dataset or rows); with ``plots_dir``, also the figures."""
        batch_size = count_argument("batch_size", batch_size)
        plots_dir = _plots_dir(plots_dir)
        examples, source = load_data(data, type(self.task), columns=columns, encoding=encoding,
                                     saved_columns=self.columns)
        self.task.validate(examples, source, with_targets=True)
        outputs, features = self._outputs(examples, batch_size, progress=True)
        metrics = self.task.compute_metrics(outputs, features, examples)
        if plots_dir is not None:
            from tasuki.output import record_figures

            plots_dir.mkdir(parents=True, exist_ok=True)
            metrics["figures"] = [str(p) for p in self.task.plot(outputs, features, examples, plots_dir)]
            record_figures(plots_dir, metrics["figures"])  # tasuki's own: a later --overwrite of the model may go
        return metrics

    def predict_file(self, input: str | Path, output: str | Path, *, columns: Mapping[str, str] | None = None,
                     batch_size: int = 32, chunk_size: int = 1000, resume: bool = False, overwrite: bool = False,
                     encoding: str | None = None, progress: bool = True) -> int:
        """Predict every row of a file (csv/tsv/jsonl/txt/parquet/xlsx) into JSON lines, streaming in chunks.

        See :func:`tasuki.prediction.files.predict_file`; returns the number of rows this call predicted.
        """
        from tasuki.prediction.files import predict_file

        return predict_file(self, path_argument("input", input), path_argument("output", output), columns=columns,
                            batch_size=count_argument("batch_size", batch_size),
                            chunk_size=count_argument("chunk_size", chunk_size),
                            resume=resume, overwrite=overwrite, encoding=encoding, progress=progress)


def load(directory: str | Path, *, device: str | None = None) -> TrainedModel:
    """Load a model trained by tasuki (its task must be installed).

    ``tasuki.json`` is checked first (fields, types, labels against ``config.json``), and a
    directory that asks to run its own Python code is refused: tasuki never runs it.
    """
    from transformers import AutoTokenizer

    from tasuki.devices import checked_device
    from tasuki.model_dir import check_finite, check_head, check_labels, check_metadata, task_from_metadata
    from tasuki.prediction import runtimes
    from tasuki.security import check_remote_code

    directory = path_argument("directory", directory, "a model directory (str or pathlib.Path)")
    device = checked_device(device)  # before loading anything: "gpu" was a torch traceback after it
    metadata = check_metadata(directory, read_metadata(directory))
    verify_weights(directory, metadata)
    registry = get_registry()
    if metadata["task"] not in registry.tasks:
        plugin = metadata.get("plugin", {})
        raise CheckpointError(
            f"{directory} was trained for task {metadata['task']!r} ({plugin.get('distribution', '?')} "
            f"{plugin.get('version', '')}), which is not installed; known tasks: {', '.join(registry.tasks) or 'none'}"
        )
    task = task_from_metadata(registry.task(metadata["task"]), directory, metadata)
    check_labels(task, directory)
    check_head(task, directory)
    check_remote_code(directory, False, flag=False)
    try:
        model = runtimes.load_model(task, directory, metadata)  # torch, or an ONNX export
        tokenizer = AutoTokenizer.from_pretrained(directory, trust_remote_code=False)
    except Exception as exc:  # truncated weights, missing files: say which directory and why
        raise CheckpointError(f"{directory}: cannot load the model ({type(exc).__name__}: {exc})") from None
    check_finite(model, directory)
    model.to(device).eval()
    return TrainedModel(directory, task, model, tokenizer, metadata)


def evaluate(model: str | Path | TrainedModel, data: Any, **kwargs: Any) -> dict[str, Any]:
    """Metrics of a trained model (a directory or a loaded model) on labelled data."""
    if not isinstance(model, TrainedModel):
        path_argument("model", model, "a model directory (str or pathlib.Path) or a TrainedModel")
        _plots_dir(kwargs.get("plots_dir"))  # before loading the model
    loaded = model if isinstance(model, TrainedModel) else load(model)
    return loaded.evaluate(data, **kwargs)


ONE_INPUT = "a text (str) or a dict of the task's fields"


def _predict_inputs(inputs: Any, fields: Mapping[str, Any]) -> Any:
    """What ``predict`` was given, checked: one input (a text or a dict), or a batch as a list or tuple.

    Items may also be lists or tuples (pre-split tokens, a ``(question, context)`` pair), which the task reads;
    other iterables (a generator, an array of texts) become a list; a pandas DataFrame, its rows as dicts. A
    task of two input columns reads one ``(first, second)`` tuple as one input
    (:meth:`~tasuki.task.Task.is_one_input`), answered once.
    """
    if fields:
        if inputs is not None:
            raise ArgumentError("predict: give inputs or keyword fields (question=..., context=...), not both")
        return dict(fields)
    if isinstance(inputs, (str, dict)):
        return inputs
    if is_dataframe(inputs):  # its rows; iterated, a frame gives its column names
        return inputs.to_dict("records")
    if inputs is None or isinstance(inputs, (bytes, bytearray, Mapping)) or not isinstance(inputs, Iterable):
        raise ArgumentError(f"predict: inputs: expected {ONE_INPUT}, or a list of them; got {shown(inputs)}")
    batch = inputs if isinstance(inputs, (list, tuple)) else list(inputs)
    for i, item in enumerate(batch):
        if not isinstance(item, (str, dict, list, tuple)):
            raise ArgumentError(f"predict: inputs[{i}]: expected {ONE_INPUT}, got {shown(item)}")
    return batch


def _plots_dir(value: Any) -> Path | None:
    """``plots_dir`` as a directory path (or ``None``): an existing file is refused before any evaluation."""
    if value is None:
        return None
    path = path_argument("plots_dir", value, "a directory (str or pathlib.Path)")
    if path.exists() and not path.is_dir():
        raise DataError(f"plots_dir {path} is a file; give a directory (or leave it out)")
    blocked = blocking_file(path.parent)
    if blocked is not None:  # found now, not after the whole evaluation
        raise DataError(f"plots_dir {path}: {blocked} is a file, not a folder")
    return path
