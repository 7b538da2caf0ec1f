"""Atomic files and checkpoints, and finding the checkpoint to resume from.

A checkpoint is written into a hidden temporary directory and renamed into place only
when complete (the rename is atomic), with ``trainer_state.json`` written last as the
completion marker: a crash mid-write leaves a ``.tmp-*`` directory that resume ignores.
A checkpoint that is complete but corrupt (a truncated weight file, say) is reported and
skipped in favour of the previous one; nothing is deleted.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"
CHECKPOINT_PREFIX = "step-"


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, value: Any) -> None:
    """:func:`atomic_write_text` for JSON."""
    atomic_write_text(path, json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def checkpoint_dir(root: Path, global_step: int) -> Path:
    return root / f"{CHECKPOINT_PREFIX}{global_step:08d}"


def temporary_dir(root: Path, global_step: int) -> Path:
    return root / f".tmp-{CHECKPOINT_PREFIX}{global_step:08d}"


def publish_checkpoint(tmp: Path, final: Path, state: dict[str, Any]) -> None:
    """Mark ``tmp`` complete and rename it to ``final`` (main process only)."""
    atomic_write_json(tmp / STATE_FILE, state)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def complete_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints under ``root``, newest first (half-written ``.tmp-*`` ones excluded)."""
    if not root.is_dir():
        return []
    found = [p for p in root.glob(f"{CHECKPOINT_PREFIX}*") if (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: p.name, reverse=True)


def read_state(checkpoint: Path) -> dict[str, Any]:
    return json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8"))


def prune(root: Path, keep: int) -> None:
    """Keep the ``keep`` newest complete checkpoints (0 keeps all)."""
    if keep > 0:
        for old in complete_checkpoints(root)[keep:]:
            shutil.rmtree(old, ignore_errors=True)
