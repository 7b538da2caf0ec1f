"""The output directory of a training run: checked, locked and (with ``--overwrite``) cleared of the earlier run.

Before any model or data is loaded, :func:`claim_output` makes sure the run cannot lose or mix
anything: a directory that holds a trained model, checkpoints of another run, or files tasuki
did not write is refused (:class:`OutputError`, exit 2) with the two ways forward, ``--resume``
and ``--overwrite``; ``--overwrite`` refuses a directory with anything tasuki did not write in it,
naming it, clears the previous run's state (checkpoints, logs) and leaves the previous model in
place until the new one is saved and swapped in whole: a run refused for its data, failed or
killed never costs the model that was there. An unfinished run whose process is gone and that
left no checkpoint (nothing to resume) is cleared without asking. A symlink is followed: the run
writes into its target. The directory must be writable, and so must its parent, where the
finished model is staged and swapped in (:mod:`tasuki.saving`).

A lock file beside the directory (``.NAME.tasuki.lock``, a :class:`tasuki.files.FileLock`) keeps a second run
out while one is in progress; the error names the holder's pid, host and start time. The kernel
releases the lock when its process dies, so a lock left by a killed run is simply taken over.
Under several processes only the main one checks and locks; the others get its verdict.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tasuki.errors import TasukiError
from tasuki.files import FileLock, atomic_write_json, clear_stale_staging, hold_lock, pid_alive
from tasuki.model_dir import METADATA_FILE
from tasuki.training.checkpoint import CHECKPOINTS_DIR, run_checkpoints

RUN_MARKER = ".tasuki-run.json"
"""Written into the directory when a run starts: marks it as tasuki's until the model replaces it."""


class OutputError(TasukiError):
    """The output directory cannot take this run (holds something, is in use, or is not writable)."""


def lock_path(directory: Path) -> Path:
    """The lock of ``directory``: a hidden sibling, so that swapping the directory leaves it in place."""
    return directory.parent / f".{directory.name}.tasuki.lock"


def acquire(directory: Path) -> FileLock:
    """The lock of an output directory (:func:`lock_path`): one run at a time, its file gone with it; or
    :class:`OutputError` naming the run that holds it."""
    return hold_lock(lock_path(directory), f"--output {directory} is in use by another tasuki run ({{holder}}); wait for "
                "it to finish or choose another --output", OutputError)


FIGURES_LEDGER = ".tasuki-figures.json"
"""In a folder ``tasuki evaluate --plots`` wrote into: the figures it wrote there, so that a folder of them inside a
model's directory is tasuki's to replace with the model (``--overwrite``), not a folder of the user's."""


def record_figures(directory: Path, figures: list[str]) -> None:
    """Add ``figures`` (paths in ``directory``) to its :data:`FIGURES_LEDGER`."""
    ledger = directory / FIGURES_LEDGER
    try:
        known = set(json.loads(ledger.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        known = set()
    atomic_write_json(ledger, sorted(known | {Path(f).name for f in figures}))


def _figures_of(path: Path) -> set[str]:
    """The file names ``path``'s :data:`FIGURES_LEDGER` lists, and the ledger's own; none without one."""
    try:
        listed = json.loads((path / FIGURES_LEDGER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {str(f) for f in listed} | {FIGURES_LEDGER} if isinstance(listed, list) else set()


def _only_figures(path: Path) -> bool:
    """Whether ``path`` is a folder of nothing but the figures its ledger lists (and the ledger)."""
    listed = _figures_of(path)
    return bool(listed) and all(p.is_file() and p.name in listed for p in path.iterdir())


def _foreign(directory: Path, entries: set[str]) -> list[str]:
    """Entries of ``directory``, and files inside the model's folders, that tasuki did not write.

    Tasuki's are the run's marker and checkpoints, an unfinished run's tracker ``logs``, and what the
    model's ``tasuki.json`` lists: top-level names under ``files`` and, inside folders, each file under
    ``written`` (a model saved before that field lists its top-level names only). A ``logs`` or
    ``plots`` folder of the user's is not tasuki's.
    """
    try:
        metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        metadata = {}
    metadata = metadata if isinstance(metadata, dict) else {}
    names = set(metadata.get("files", ()))
    written = metadata.get("written")
    whole = {CHECKPOINTS_DIR, RUN_MARKER, METADATA_FILE} | ({"logs"} if RUN_MARKER in entries else set())
    found = []
    for name in sorted(entries - whole):
        path = directory / name
        if name not in names:
            if not (path.is_dir() and not path.is_symlink() and _only_figures(path)):  # evaluate --plots wrote it
                found.append(name)
        elif isinstance(written, list) and path.is_dir() and not path.is_symlink():
            inside = (p.relative_to(directory).as_posix() for p in path.rglob("*") if not p.is_dir())
            found += sorted(set(inside) - set(written) - {f"{name}/{f}" for f in _figures_of(path)})
    return found


def survey(directory: Path) -> dict[str, Any]:
    """What ``directory`` holds: a model, checkpoints, an unfinished run, and entries tasuki did not write."""
    entries = {p.name for p in directory.iterdir()} if directory.is_dir() else set()
    checkpoints = run_checkpoints(directory / CHECKPOINTS_DIR)
    return {
        "entries": entries,
        "model": METADATA_FILE in entries,
        "checkpoints": checkpoints,
        "unfinished": RUN_MARKER in entries,
        "foreign": _foreign(directory, entries),
    }


def _describe(directory: Path, found: dict[str, Any]) -> str:
    parts = []
    if found["model"]:
        parts.append("a trained model")
    if found["checkpoints"]:
        parts.append(f"checkpoints of a run (up to {found['checkpoints'][0].name})")
    elif found["unfinished"] or (directory / CHECKPOINTS_DIR).exists():
        parts.append("an unfinished run" + _holder(directory))
    if found["foreign"]:
        parts.append(f"files tasuki did not write ({', '.join(found['foreign'][:5])}"
                     + (", ..." if len(found["foreign"]) > 5 else "") + ")")
    return " and ".join(parts) or ", ".join(sorted(found["entries"]))


def _holder(directory: Path) -> str:
    """`` (pid N on HOST, started T)`` from the run marker, or nothing."""
    try:
        run = json.loads((directory / RUN_MARKER).read_text(encoding="utf-8"))
        return f" (pid {run['pid']} on {run['host']}, started {run['started']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _clear_dead_run(directory: Path, found: dict[str, Any]) -> bool:
    """Clear what a killed run without a checkpoint left (its marker, logs, partial checkpoints); True if cleared.

    Only a run of this machine whose process is gone: there is nothing to resume, and the lock held
    now proves no run is writing here.
    """
    if not found["unfinished"] or found["checkpoints"] or found["foreign"]:  # a model stays (--overwrite killed)
        return False
    try:
        run = json.loads((directory / RUN_MARKER).read_text(encoding="utf-8"))
        dead = run["host"] == socket.gethostname() and not pid_alive(int(run["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if dead:
        for name in (CHECKPOINTS_DIR, "logs"):
            shutil.rmtree(directory / name, ignore_errors=True)
        (directory / RUN_MARKER).unlink(missing_ok=True)
    return dead


def check_output(directory: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse a directory this run could damage; with ``overwrite``, clear the previous run's files."""
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"--output {directory} is a file, not a directory; choose another --output")
    found = survey(directory)
    if _clear_dead_run(directory, found):
        found = survey(directory)
    if found["foreign"]:
        raise OutputError(
            f"--output {directory} holds {_describe(directory, found)}; tasuki only writes into an empty "
            f"directory or one of its own runs (--resume to continue it, --overwrite to replace it), and never "
            f"deletes what it did not write: choose another --output or move those files"
        )
    if resume:
        if not found["checkpoints"]:
            raise OutputError(f"--resume: no checkpoint under {directory / CHECKPOINTS_DIR}; train without "
                              f"--resume (with --overwrite to replace what is in {directory})")
        return
    if not found["entries"]:
        return
    if not overwrite:
        raise OutputError(
            f"--output {directory} already holds {_describe(directory, found)}; pass --resume to continue an "
            f"interrupted run, or --overwrite to replace it (or choose another --output)"
        )
    # All of it is tasuki's (checked above). The previous model stays until the new one is saved and swapped in
    # whole (tasuki.saving), so a run refused for its data, or killed, leaves it as it was; only the previous
    # run's state (marker, checkpoints, logs) goes now, so that nothing of it is mixed into this run's.
    for name in sorted(found["entries"] & {RUN_MARKER, CHECKPOINTS_DIR, "logs"}):
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _check_writable(directory: Path) -> None:
    """Create the directory and a file in it and in its parent (where the model is staged), or explain."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for where in (directory, directory.parent):
            probe = where / f".tasuki-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
    except OSError as exc:
        raise OutputError(f"--output {directory}: cannot write there ({exc.strerror or exc}); choose another "
                          f"--output or fix its permissions") from None


def _claim(directory: Path, *, resume: bool, overwrite: bool) -> FileLock:
    _check_writable(directory)
    lock = acquire(directory)
    try:
        clear_stale_staging(directory)  # what a killed run's save left beside the directory
        check_output(directory, resume=resume, overwrite=overwrite)
        atomic_write_json(directory / RUN_MARKER, {"pid": os.getpid(), "host": socket.gethostname(),
                                                   "started": datetime.now(timezone.utc).isoformat()})
    except BaseException:
        lock.release()
        raise
    return lock


@contextmanager
def claim_output(directory: str | Path, *, resume: bool, overwrite: bool, cpu: bool = False) -> Iterator[Path]:
    """Check, lock and (``overwrite``) clear ``directory`` for the duration of a run.

    Call it before loading any model or data. Under ``torchrun`` / ``accelerate launch`` the main
    process does the work and every process raises the same :class:`OutputError` if it fails.
    """
    from accelerate import PartialState

    from tasuki.devices import cpu_only

    directory = Path(directory).expanduser().resolve()  # a symlink: the run writes into its target
    existed = directory.exists()
    state = PartialState(cpu=cpu_only(cpu))
    lock: FileLock | None = None
    message = None
    if state.is_main_process:
        try:
            lock = _claim(directory, resume=resume, overwrite=overwrite)
        except OutputError as exc:
            message = str(exc)
    if state.num_processes > 1:
        import torch.distributed as dist

        verdict = [message]
        dist.broadcast_object_list(verdict, src=0)
        message = verdict[0]
    if message is not None:
        if state.is_main_process and not existed and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
        raise OutputError(message)
    try:
        yield directory
    finally:
        if lock is not None:
            _forget_if_nothing_to_resume(directory)
            if not existed and directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()  # a refused run leaves nothing behind, not even the directory it made
            lock.release()


def _forget_if_nothing_to_resume(directory: Path) -> None:
    """A run that failed before its first checkpoint (bad data, say) leaves nothing to resume: drop
    its marker, so that the corrected command runs without --overwrite. Killed runs keep theirs."""
    if (directory / RUN_MARKER).exists() and not run_checkpoints(directory / CHECKPOINTS_DIR):
        (directory / RUN_MARKER).unlink(missing_ok=True)
        for name in (CHECKPOINTS_DIR, "logs"):  # half-written checkpoints and logs of nothing
            shutil.rmtree(directory / name, ignore_errors=True)


def claims_output(train: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``train(..., output_dir=..., resume=..., overwrite=..., cpu=...)`` inside :func:`claim_output`.

    The directory is checked, locked and cleared before the body loads any model or data, and the
    lock is let go however the body ends.
    """
    signature = inspect.signature(train)

    @functools.wraps(train)
    def claimed(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        options = bound.arguments.get("training_args", {})
        with claim_output(bound.arguments["output_dir"], resume=bool(options.get("resume")),
                          overwrite=bool(options.get("overwrite")), cpu=bool(options.get("cpu"))):
            return train(*args, **kwargs)

    return claimed
