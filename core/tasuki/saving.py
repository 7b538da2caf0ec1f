"""Trained-model directories: the Hugging Face layout plus tasuki's own metadata.

A directory holds ``config.json`` (with ``id2label``/``label2id``), ``model.safetensors``,
the tokenizer files, a model card (``README.md``) with data, arguments and metrics, and
``tasuki.json`` (task name, task state, plugin and versions), written last: a directory
without it is incomplete. The ``AutoModelFor...`` classes load the same directory, and so does
``transformers.pipeline`` for the tasks it still has (transformers 5 dropped question answering).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.checkpoint import atomic_write_json, atomic_write_text
from tasuki.errors import CheckpointError

if TYPE_CHECKING:
    import torch

    from tasuki.task import Task

METADATA_FILE = "tasuki.json"


def save_trained(
    directory: str | Path,
    *,
    task: Task,
    model: torch.nn.Module,
    tokenizer: Any,
    backbone: dict[str, Any],
    plugin: dict[str, str],
    args: dict[str, Any],
    metrics: dict[str, Any],
    data: dict[str, Any],
) -> Path:
    """Write a trained model into ``directory``; each file lands atomically, ``tasuki.json`` last."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory, prefix=".tmp-model-"))
    try:
        task.save_model(model, staging)
        tokenizer.save_pretrained(staging)
        metadata = {
            "task": task.name,
            "task_state": task.state(),
            "plugin": plugin,
            "backbone": backbone,
            "training_args": args,
            "metrics": metrics,
            "data": data,
            "versions": _versions(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        atomic_write_text(staging / "README.md", model_card(task, metadata))
        for entry in staging.iterdir():  # move into place; a reader sees old or new files, never half
            target = directory / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
        atomic_write_json(directory / METADATA_FILE, metadata)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def read_metadata(directory: str | Path) -> dict[str, Any]:
    """``tasuki.json`` of a trained model, with a clear error for anything else."""
    directory = Path(directory)
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


def model_card(task: Task, metadata: dict[str, Any]) -> str:
    """A Hugging Face model card: front matter for the Hub, then data, arguments and metrics."""
    metrics = metadata["metrics"]
    tag = getattr(task, "pipeline_tag", None)
    front = ["---", "library_name: transformers", "tags:", "- tasuki", f"- {task.name}", f"language: {task.lang}"]
    if tag:
        front.append(f"pipeline_tag: {tag}")
    front.append("---")
    rows = "\n".join(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items())
    args = "\n".join(f"- `{k}`: {v}" for k, v in sorted(metadata["training_args"].items()))
    data = "\n".join(f"- {k}: {v}" for k, v in metadata["data"].items())
    return "\n".join([
        *front,
        "",
        f"# {task.name} model trained with tasuki",
        "",
        f"Task `{task.name}` ({metadata['plugin'].get('distribution', '?')} "
        f"{metadata['plugin'].get('version', '')}), language `{task.lang}`, "
        f"backbone `{metadata['backbone'].get('spec')}`.",
        "",
        "```python",
        "import tasuki",
        "model = tasuki.load('path/to/this/directory')",
        "```",
        "",
        "## Training data",
        "",
        data or "- (not recorded)",
        "",
        "## Evaluation",
        "",
        "| metric | value |",
        "|---|---|",
        rows or "| (no evaluation data) | |",
        "",
        "## Training arguments",
        "",
        args,
        "",
    ])


def _versions() -> dict[str, str]:
    found = {}
    for name in ("tasuki", "torch", "transformers", "accelerate", "datasets"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found
