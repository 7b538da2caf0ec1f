"""A trained model's directory as tasuki reads it: ``tasuki.json`` read, checked and verified.

A directory holds ``config.json`` (with ``id2label``/``label2id``), ``model.safetensors``, the
tokenizer files, a model card and ``tasuki.json`` (task, task state, plugin, versions, the files the
run wrote, and the SHA-256 of its weights and tokenizer files), written last by
:mod:`tasuki.saving`: a directory without it is incomplete.

Every problem is one :class:`~tasuki.errors.CheckpointError` naming the file and the field:
a metadata file that is not an object, lacks ``task``/``task_state``, holds the wrong types,
names labels that disagree with ``config.json``'s ``id2label`` (the model would print wrong names
without a word), names a task whose head is not the one in ``config.json``'s ``architectures``
(another task's head would be loaded with a fresh, untrained one), or weights and tokenizer files
that are not the ones it was written for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.errors import CheckpointError, TasukiError
from tasuki.files import file_sha256

if TYPE_CHECKING:
    from tasuki.task import Task

METADATA_FILE = "tasuki.json"
"""tasuki's own file in a model directory, written last: a directory without it is incomplete."""
TOKENIZER_CONFIGS = ("tokenizer_config.json", "tokenizer.json")
"""Files one of which every saved tokenizer has (checked in models saved before tokenizer hashes)."""
_FIELDS: dict[str, tuple[type, ...]] = {
    "task": (str,),
    "task_state": (dict,),
    "training_args": (dict,),
    "metrics": (dict,),
    "plugin": (dict,),
    "backbone": (dict,),
    "columns": (dict,),
}
_REQUIRED = ("task", "task_state")


def read_metadata(directory: str | Path) -> dict[str, Any]:
    """``tasuki.json`` of a trained model, with a clear error for anything else."""
    directory = Path(directory)
    if directory.is_file():
        raise CheckpointError(f"{directory} is a file; give the model's directory ({directory.parent})")
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: no such model directory")
    path = directory / METADATA_FILE
    if not path.is_file():
        raise CheckpointError(
            f"{directory}: not a complete tasuki model (no {METADATA_FILE}); it was never finished or was "
            f"trained by another tool. Train one with 'tasuki train', or resume with --resume"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: corrupt metadata ({exc})") from None


def file_hashes(directory: Path, names: Sequence[str]) -> dict[str, str]:
    """``{name: SHA-256}`` of the files ``names`` in ``directory`` that exist (for ``tasuki.json``)."""
    return {name: file_sha256(directory / name) for name in sorted(set(names)) if (directory / name).is_file()}


def verify_weights(directory: str | Path, metadata: dict[str, Any]) -> None:
    """Refuse a model directory whose weights or tokenizer files are not the ones its ``tasuki.json`` was written for.

    A model saved before tokenizer files were hashed must still have a tokenizer configuration: without
    one, transformers builds a tokenizer of special tokens only, and predictions are silently wrong.
    """
    directory = Path(directory)
    for key, what in (("weights_sha256", "weights"), ("tokenizer_sha256", "tokenizer")):
        for name, expected in metadata.get(key, {}).items():
            path = directory / name
            if not path.is_file():
                raise CheckpointError(f"{directory}: {name} ({what}) is missing; the directory is incomplete "
                                      f"(copy it again from where it was trained, or train it again)")
            if file_sha256(path) != expected:
                again = "export it again" if metadata.get("runtime") == "onnx" else "train it again"
                raise CheckpointError(f"{directory}: {name} does not match its {METADATA_FILE} (SHA-256 differs): "
                                      f"the {what} file was replaced or damaged after it was saved; {again}")
    if not (directory / "config.json").is_file():  # transformers' own error asks for a model_type key
        raise CheckpointError(f"{directory}: config.json is missing; the directory is incomplete (copy it again "
                              f"from where it was saved)")
    if "tokenizer_sha256" not in metadata and not any((directory / n).is_file() for n in TOKENIZER_CONFIGS):
        raise CheckpointError(f"{directory}: the tokenizer files ({', '.join(TOKENIZER_CONFIGS)}) are missing; "
                              f"the directory is incomplete (copy it again, or train it again)")


def check_metadata(directory: Path, metadata: Any) -> dict[str, Any]:
    """``metadata`` if its structure is right, else one error naming ``tasuki.json`` and the field."""
    path = directory / METADATA_FILE
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(metadata).__name__}")
    for name in _REQUIRED:
        if name not in metadata:
            raise CheckpointError(f"{path}: field {name!r} is missing; the directory was not written by tasuki "
                                  f"or was edited by hand")
    for name, kinds in _FIELDS.items():
        if name in metadata and not isinstance(metadata[name], kinds):
            raise CheckpointError(f"{path}: field {name!r} must be a JSON {_json_name(kinds[0])}, "
                                  f"got {type(metadata[name]).__name__}")
    state = metadata["task_state"]
    for name, kinds in (("lang", (str,)), ("labels", (list, type(None))), ("options", (dict,))):
        if name in state and not isinstance(state[name], kinds):
            raise CheckpointError(f"{path}: field 'task_state.{name}' must be a JSON {_json_name(kinds[0])}, "
                                  f"got {type(state[name]).__name__}")
    return metadata


def task_from_metadata(task_cls: type[Task], directory: Path, metadata: dict[str, Any]) -> Task:
    """Rebuild the saved task; a bad saved option or label is an error naming ``tasuki.json``."""
    try:
        return task_cls.from_state(metadata["task_state"])
    except TasukiError as exc:
        raise CheckpointError(f"{directory / METADATA_FILE}: field 'task_state': {exc}") from None


def check_labels(task: Task, directory: Path) -> None:
    """The task's ``id2label`` must be ``config.json``'s: otherwise predictions get wrong names."""
    config_path = directory / "config.json"
    expected = task.model_config().get("id2label")
    if not expected or not config_path.is_file():
        return
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{config_path}: unreadable ({exc})") from None
    saved = {str(k): v for k, v in (config.get("id2label") or {}).items()}
    expected = {str(k): v for k, v in expected.items()}
    if saved != expected:
        raise CheckpointError(
            f"{directory / METADATA_FILE}: labels {list(expected.values())} disagree with {config_path.name}'s "
            f"id2label {list(saved.values())}; one of the two files was changed after training"
        )


def check_head(task: Task, directory: Path) -> None:
    """The model in ``config.json`` (``architectures``) must carry ``task``'s head, not another task's.

    A task with an ``auto_model`` accepts an architecture named after that head
    (``...ForSequenceClassification``); a task that loads its own way (embeddings, masked LM, a
    classifier whose recipe saves another head) also accepts any architecture that is no task's head.
    """
    from tasuki.registry import get_registry
    from tasuki.task import Task

    config_path = directory / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{config_path}: unreadable ({exc})") from None
    names = config.get("architectures") if isinstance(config, dict) else None
    if not isinstance(names, list) or not names or not isinstance(names[0], str):
        return
    architecture, own = names[0], head_of(type(task))
    owners = sorted(name for name, cls in get_registry().tasks.items()
                    if (head := head_of(cls.obj)) and architecture.endswith(head))
    loads_its_own_way = type(task).load_model is not Task.load_model
    if (own and architecture.endswith(own)) or (loads_its_own_way and not owners):
        return
    of = f" (a model of task {', '.join(repr(o) for o in owners)})" if owners else ""
    raise CheckpointError(
        f"{directory / METADATA_FILE}: task {task.name!r} disagrees with {config_path.name}'s architecture "
        f"{architecture}{of}; one of the two files was changed after training: restore it, or train again"
    )


def check_finite(model: Any, directory: Path) -> None:
    """Refuse a model whose weights hold NaN or infinity (a diverged run, or a damaged checkpoint it resumed from):
    every prediction would be NaN, and the label picked from NaN scores a silent wrong answer."""
    import torch

    parameters = getattr(model, "named_parameters", None)  # an ONNX export has none to read
    for name, weight in parameters() if callable(parameters) else ():
        # a NaN or infinity anywhere makes the sum one (so do weights so large they overflow it: as broken); 23 ms for
        # e5-small's weights on one core, where isfinite().all() takes 630 ms
        if not weight.is_floating_point():
            continue
        wide = weight.detach() if weight.dtype in (torch.float32, torch.float64) else weight.detach().float()
        if not bool(torch.isfinite(wide.sum())):  # (a half's own sum would overflow)
            raise CheckpointError(f"{directory}: weight {name} holds NaN or infinite values, so every prediction "
                                  f"would be NaN: train it again (with --resume, from a checkpoint before it broke)")


def head_of(task_cls: type[Task]) -> str | None:
    """The end of the architecture name of ``task_cls``'s ``auto_model`` head (``ForSequenceClassification``);
    None for a task without one."""
    if task_cls.auto_model is None:
        return None
    name = getattr(task_cls.auto_model, "__name__", "")
    return name.removeprefix("AutoModel") if name.startswith("AutoModelFor") else None


def _json_name(kind: type) -> str:
    return {str: "string", dict: "object", list: "list"}.get(kind, kind.__name__)
