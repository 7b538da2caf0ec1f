"""Writing trained-model directories: the Hugging Face layout plus tasuki's own metadata.

A directory holds ``config.json`` (with ``id2label``/``label2id``), ``model.safetensors``,
the tokenizer files, a model card (``README.md``) with data, arguments and metrics, and
``tasuki.json`` (task name, task state, plugin, versions, every file the run wrote, and the SHA-256
of its weights and tokenizer files), written last: a directory without it is incomplete. The whole
directory is staged beside the target (a symlink's target, for a link) and swapped in
(:func:`tasuki.files.staged_directory`), so a crash never leaves old and new files mixed; reading
and verifying it is :mod:`tasuki.model_dir`. Checkpoints live in its ``checkpoints/`` folder only
while a run is in progress (or with --keep-checkpoints), and loading ignores them. The
``AutoModelFor...`` classes load the same directory, and so does ``transformers.pipeline`` for the
tasks it still has (transformers 5 dropped question answering).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.files import (
    atomic_write_json,
    atomic_write_text,
    file_sha256,
    follow_umask,
    free_space,
    staged_directory,
)
from tasuki.model_dir import METADATA_FILE, file_hashes
from tasuki.training.checkpoint import CHECKPOINTS_DIR

if TYPE_CHECKING:
    import torch

    from tasuki.task import Task


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
    extras: Callable[[Path], list[Path]] | None = None,
    carry: Sequence[str] = (),
    columns: dict[str, str] | None = None,
) -> Path:
    """Write a trained model as a whole: staged in a sibling directory, then swapped in for ``directory``.

    A crash leaves the complete old directory or the complete new one, never a mix, and no file
    of the old model survives beside the new one. ``extras(staging)`` writes more files (the
    figures) into the staged directory; ``carry`` names entries of the old directory to keep
    (``checkpoints`` under --keep-checkpoints, tracker ``logs``). ``tasuki.json`` records the
    SHA-256 of the weights and of the tokenizer files, which :func:`tasuki.model_dir.verify_weights` checks on loading,
    and ``written``, every file of the directory, which is what ``--overwrite`` may delete.
    """
    directory = Path(directory).expanduser().resolve()  # a symlink: write into its target, keep the link
    try:
        return _save(directory, task, model, tokenizer, backbone, plugin, args, metrics, data, extras, carry, columns)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        from tasuki.output import OutputError

        raise OutputError(f"could not write the model into {directory} ({free_space(directory)}): {exc}; "
                          f"{directory} is as it was. Free some space and train again (--resume continues from the "
                          f"run's last checkpoint)") from exc


def _save(directory: Path, task: Task, model: torch.nn.Module, tokenizer: Any, backbone: dict[str, Any],
          plugin: dict[str, str], args: dict[str, Any], metrics: dict[str, Any], data: dict[str, Any],
          extras: Callable[[Path], list[Path]] | None, carry: Sequence[str], columns: dict[str, str] | None) -> Path:
    with staged_directory(directory) as staging:
        from tasuki.prediction.runtimes import no_transformers_bars

        with no_transformers_bars():
            task.save_model(model, staging)
        tokenizer_files = [Path(f).name for f in tokenizer.save_pretrained(staging) or ()]
        if extras is not None:
            extras(staging)
        metadata = {
            "task": task.name,
            "task_state": task.state(),
            "plugin": plugin,
            "backbone": backbone,
            "training_args": args,
            "metrics": metrics,
            "data": data,
            "columns": dict(columns or {}),  # the user's column names: evaluate and predict reuse them
            "versions": _versions(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        atomic_write_text(staging / "README.md", model_card(task, metadata))
        carried = [name for name in carry if (directory / name).exists()]
        for name in carried:
            os.replace(directory / name, staging / name)
        try:
            _write_metadata(staging, metadata, tokenizer_files)
        except BaseException:  # the staging directory is deleted: what it carried goes back first
            for name in carried:
                os.replace(staging / name, directory / name)
            raise
        follow_umask(staging)
    return directory


def _write_metadata(staging: Path, metadata: dict[str, Any], tokenizer_files: list[str]) -> None:
    """``tasuki.json``: the metadata, the hashes of weights and tokenizer files, and every file written."""
    metadata["weights_sha256"] = {p.name: file_sha256(p) for p in sorted(staging.glob("*.safetensors"))}
    metadata["tokenizer_sha256"] = file_hashes(staging, tokenizer_files)
    metadata["files"] = sorted([p.name for p in staging.iterdir()] + [METADATA_FILE])
    # every file, for --overwrite to delete only these (kept checkpoints are tasuki's as a whole)
    written = [p.relative_to(staging) for p in staging.rglob("*") if p.is_file()]
    metadata["written"] = sorted([p.as_posix() for p in written if p.parts[0] != CHECKPOINTS_DIR] + [METADATA_FILE])
    atomic_write_json(staging / METADATA_FILE, metadata)  # last: a directory without it is incomplete


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
