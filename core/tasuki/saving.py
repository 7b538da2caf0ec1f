"""Trained-model directories: the Hugging Face layout plus tasuki's own metadata.

A directory holds ``config.json`` (with ``id2label``/``label2id``), ``model.safetensors``,
the tokenizer files, a model card (``README.md``) with data, arguments and metrics, and
``tasuki.json`` (task name, task state, plugin, versions, every file the run wrote, and the SHA-256
of its weights and tokenizer files), written last: a directory without it is incomplete. The whole
directory is staged beside the target (a symlink's target, for a link) and swapped in, so a crash
never leaves old and new files mixed, and a staging directory a killed process left is removed by
the next save beside it; checkpoints
live in its ``checkpoints/`` folder only while a run is in progress (or with --keep-checkpoints),
and loading ignores them. The ``AutoModelFor...`` classes load the same directory, and so does
``transformers.pipeline`` for the tasks it still has (transformers 5 dropped question answering).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.checkpoint import CHECKPOINTS_DIR, atomic_write_json, atomic_write_text, file_sha256, follow_umask
from tasuki.errors import CheckpointError

if TYPE_CHECKING:
    import torch

    from tasuki.task import Task

METADATA_FILE = "tasuki.json"
TOKENIZER_CONFIGS = ("tokenizer_config.json", "tokenizer.json")
"""Files one of which every saved tokenizer has (checked in models saved before tokenizer hashes)."""


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
    SHA-256 of the weights and of the tokenizer files, which :func:`verify_weights` checks on loading,
    and ``written``, every file of the directory, which is what ``--overwrite`` may delete.
    """
    directory = Path(directory).expanduser().resolve()  # a symlink: write into its target, keep the link
    directory.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_staging(directory)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.staging-{os.getpid()}-"))
    try:
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
        for name in carry:
            if (directory / name).exists():
                os.replace(directory / name, staging / name)
        metadata["weights_sha256"] = {p.name: file_sha256(p) for p in sorted(staging.glob("*.safetensors"))}
        metadata["tokenizer_sha256"] = file_hashes(staging, tokenizer_files)
        metadata["files"] = sorted([p.name for p in staging.iterdir()] + [METADATA_FILE])
        # every file, for --overwrite to delete only these (kept checkpoints are tasuki's as a whole)
        written = [p.relative_to(staging) for p in staging.rglob("*") if p.is_file()]
        metadata["written"] = sorted([p.as_posix() for p in written if p.parts[0] != CHECKPOINTS_DIR] + [METADATA_FILE])
        atomic_write_json(staging / METADATA_FILE, metadata)  # last: a directory without it is incomplete
        follow_umask(staging)
        old = _swap_in(staging, directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def _swap_in(staging: Path, directory: Path) -> Path | None:
    """Put ``staging`` in ``directory``'s place; return where the old directory went (to delete).

    Linux exchanges the two atomically (``renameat2(RENAME_EXCHANGE)``); elsewhere the old directory
    is renamed aside first, so that a crash in between leaves it complete beside the new one.
    """
    if not directory.exists():
        os.replace(staging, directory)
        return None
    if _exchange(staging, directory):
        return staging  # now holds the old directory
    aside = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.old-{os.getpid()}-"))
    os.rmdir(aside)
    os.replace(directory, aside)
    os.replace(staging, directory)
    return aside


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths with Linux's ``renameat2``; False where it is not available."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return done == 0


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
                raise CheckpointError(f"{directory}: {name} does not match its {METADATA_FILE} (SHA-256 differs): "
                                      f"the {what} file was replaced or damaged after training; train it again")
    if "tokenizer_sha256" not in metadata and not any((directory / n).is_file() for n in TOKENIZER_CONFIGS):
        raise CheckpointError(f"{directory}: the tokenizer files ({', '.join(TOKENIZER_CONFIGS)}) are missing; "
                              f"the directory is incomplete (copy it again, or train it again)")


def clear_stale_staging(directory: Path) -> None:
    """Remove the staging and set-aside directories of ``directory`` left by processes that were killed."""
    prefix = f".{directory.name}."
    for path in directory.parent.iterdir():
        if not path.name.startswith(prefix):
            continue
        kind, _, rest = path.name[len(prefix):].partition("-")  # .NAME.staging-PID-random
        pid = rest.split("-")[0]
        if kind in ("staging", "old") and pid.isdigit() and path.is_dir() and not pid_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (another user's process counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
