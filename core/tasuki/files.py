"""Files written so that a reader, or a crash, never sees half of them.

- :func:`atomic_path`, :func:`atomic_write_text`, :func:`atomic_write_json`: a file written beside its place
  and renamed in.
- :func:`file_sha256`: the hex SHA-256 of a file (weights, tokenizer files, sources).
- :func:`staged_directory`: a whole directory built in a hidden sibling and swapped in for the old one;
  what a killed process left staged is removed by the next write beside it.
- :class:`FileLock`: an exclusive ``flock`` on a lock file; the kernel drops it when its process dies.
  :func:`hold_lock` takes one at once or refuses, naming the process that holds it.
- :func:`follow_umask`: the permissions the umask asks for, where ``mkstemp``/``mkdtemp`` give 0600/0700.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from tasuki.errors import TasukiError

# --- permissions --------------------------------------------------------------------------------


def _read_umask() -> int:
    """The process umask, read without changing it where the OS says it (Linux), else set and restored."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Permissions a new file gets under the umask (``mkstemp`` would give 0600)."""
    return 0o666 & ~_read_umask()


def dir_mode() -> int:
    """Permissions a new directory gets under the umask (``mkdtemp`` would give 0700)."""
    return 0o777 & ~_read_umask()


def follow_umask(root: Path) -> None:
    """Give ``root`` and everything under it the modes the umask asks for.

    Libraries that write through temporary files (safetensors, ``mkstemp``, ``mkdtemp``) leave
    0600 / 0700 behind, which other users of a shared model directory then cannot read.
    """
    files, dirs = file_mode(), dir_mode()
    for path in (root, *root.rglob("*")):
        if not path.is_symlink():
            os.chmod(path, dirs if path.is_dir() else files)


# --- single files ---------------------------------------------------------------------------------


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file name beside ``path``; what the block wrote there replaces ``path`` when it ends.

    Readers see the old file or the new one, never half; an error in the block leaves ``path`` as it
    was and no temporary file. The file gets the permissions of any file created under the umask,
    not ``mkstemp``'s 0600.
    """
    path = Path(path)
    make_parents(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def blocking_file(folder: Path) -> Path | None:
    """The first of ``folder`` and the folders above it that exists as a file (no folder can be made there)."""
    return next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), None)


def make_parents(path: Path) -> None:
    """Create ``path``'s folder (and theirs), or say in one line which part of it is a file."""
    blocked = blocking_file(path.parent)
    if blocked is not None:
        raise TasukiError(f"cannot write {path}: {blocked} is a file, not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8, synced to disk) so that readers see the old file or the new one, never half."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_json(path: str | Path, value: Any) -> None:
    """:func:`atomic_write_text` for JSON (:func:`json_text`)."""
    atomic_write_text(path, json_text(value) + "\n")


def json_text(value: Any) -> str:
    """``value`` as strict JSON: a NaN or infinite number (a Pearson of constant targets) is ``null``, as JSON has
    no NaN (Python wrote the bare token ``NaN``, which JavaScript and strict parsers refuse); numpy numbers are
    numbers; anything else JSON cannot hold is its text."""
    return json.dumps(_finite(value), indent=2, ensure_ascii=False, default=str, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def free_space(path: Path) -> str:
    """``"12.3 GB free on its disk"``: the free space of the disk that holds ``path`` (or its nearest existing
    parent), for the message of a write that failed."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return f"{shutil.disk_usage(path).free / 1e9:.1f} GB free on its disk"


def file_sha256(path: str | Path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB blocks (weights are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- whole directories ----------------------------------------------------------------------------


@contextmanager
def staged_directory(directory: Path) -> Iterator[Path]:
    """Yield an empty staging directory beside ``directory``; swap it in when the block ends without error.

    A crash leaves the complete old directory or the complete new one, never a mix, and no file of
    the old one survives beside the new one. The staging directory (``.NAME.staging-PID-...``) is
    private (``mkdtemp``): the block gives it the modes it needs. An error in the block, or in the
    swap, deletes it and leaves ``directory`` as it was.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_staging(directory)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.staging-{os.getpid()}-"))
    try:
        yield staging
        old = _swap_in(staging, directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
    try:
        os.replace(staging, directory)
    except OSError:
        os.replace(aside, directory)  # put the old one back: the caller sees the error, not a gap
        raise
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


def clear_stale_staging(directory: Path) -> None:
    """Remove the staging and set-aside directories of ``directory`` left by processes that were killed."""
    prefix = f".{directory.name}."
    if not directory.parent.is_dir():
        return
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


# --- locks ----------------------------------------------------------------------------------------


class FileLock:
    """An exclusive ``flock`` on the file ``path``, held until :meth:`release` (or the end of a ``with``).

    The kernel releases the lock when its process dies, so a lock file a killed process left is
    simply taken over. ``wait=False`` raises :class:`BlockingIOError` while another process holds it.
    ``unlink=True`` removes the file on release (while still holding it), for lock files that
    should not outlive their holder. Where ``fcntl`` is missing (Windows) nothing is locked.
    """

    def __init__(self, path: Path, *, wait: bool = True, unlink: bool = False) -> None:
        self.path = path
        self.unlink = unlink
        self.fd = _lock(path, wait)

    def note(self, holder: dict[str, Any]) -> None:
        """Write who holds the lock into its file, for :func:`lock_holder` to name in an error."""
        if self.fd >= 0:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, json.dumps(holder).encode(), 0)

    def release(self) -> None:
        """Let go of the lock (once; later calls do nothing)."""
        if self.fd < 0:
            return
        try:
            if self.unlink:
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.release()


def _lock(path: Path, wait: bool) -> int:
    """Open and ``flock`` ``path``; the descriptor, or -1 where there is no ``flock``."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; the staged directories still keep readers safe
        return -1
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BaseException:
            os.close(fd)
            raise
        try:  # the holder may have released (and unlinked) the file between our open and flock
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def lock_holder(path: Path) -> dict[str, Any]:
    """What :meth:`FileLock.note` wrote into the lock file ``path``; ``{}`` if nothing readable."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def hold_lock(path: Path, refusal: str, error: type[Exception] = TasukiError) -> FileLock:
    """Take the lock file ``path`` now (removed on release) and note this process in it; while another process
    holds it, raise ``error(refusal)`` with ``{holder}`` replaced by that process (pid, host, start time)."""
    try:
        lock = FileLock(path, wait=False, unlink=True)
    except BlockingIOError:
        holder = lock_holder(path)
        who = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, started {holder.get('started', '?')}"
        raise error(refusal.replace("{holder}", who)) from None
    lock.note({"pid": os.getpid(), "host": socket.gethostname(),
               "started": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    return lock
