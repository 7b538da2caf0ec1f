"""Checkpoints, the run fingerprint, and finding the checkpoint to resume from.

A checkpoint is written into a hidden temporary directory by every process (each writes its
RNG state; the main process writes model, optimizer and scheduler), and only after a barrier
does the main process mark it complete (``trainer_state.json``, written last) and rename it
into place (the rename is atomic): a crash mid-write leaves a ``.tmp-*`` directory that resume
ignores. A checkpoint that is complete but corrupt (a truncated weight file, or bytes changed in place: the
state records each file's SHA-256) is reported and skipped in favour of the previous one; nothing is deleted.

Every checkpoint carries the run's *fingerprint* (task and options, backbone, data, batch
size, accumulation, processes, max length, seed, learning rate and schedule): ``--resume``
with different arguments or data is an error that lists the differences, since skipping the
first N batches of another run's order would silently train on the wrong examples.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.errors import CheckpointError
from tasuki.files import atomic_path, atomic_write_json, file_sha256, follow_umask, free_space

if TYPE_CHECKING:
    import torch
    from accelerate import Accelerator

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"
CHECKPOINT_PREFIX = "step-"
CHECKPOINTS_DIR = "checkpoints"
BEST_DIR = "best"
BEST_WEIGHTS = "model.safetensors"
_STEP = re.compile(rf"^{CHECKPOINT_PREFIX}(\d+)$")


def checkpoint_dir(root: Path, global_step: int) -> Path:
    return root / f"{CHECKPOINT_PREFIX}{global_step:08d}"


def temporary_dir(root: Path, global_step: int) -> Path:
    return root / f".tmp-{CHECKPOINT_PREFIX}{global_step:08d}"


def publish_checkpoint(tmp: Path, final: Path, state: dict[str, Any]) -> None:
    """Mark ``tmp`` complete, with the SHA-256 of each of its files, and rename it to ``final`` (main process only)."""
    files = {str(p.relative_to(tmp)): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    atomic_write_json(tmp / STATE_FILE, {**state, "files": files})
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def step_of(checkpoint: Path) -> int:
    """The optimizer step in a checkpoint's name (``step-00000012`` -> 12); -1 for other names."""
    match = _STEP.match(checkpoint.name)
    return int(match.group(1)) if match else -1


def complete_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints under ``root``, newest (highest step) first; half-written ``.tmp-*`` excluded."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if step_of(p) >= 0 and (p / STATE_FILE).is_file()]
    return sorted(found, key=step_of, reverse=True)


def run_checkpoints(root: Path) -> list[Path]:
    """The complete checkpoints of a run: its own (newest first), then its stages' (``root/STAGE/step-*``)."""
    stages = [p for p in sorted(root.iterdir()) if p.is_dir() and step_of(p) < 0] if root.is_dir() else []
    return complete_checkpoints(root) + [c for stage in stages for c in complete_checkpoints(stage)]


def read_state(checkpoint: Path) -> dict[str, Any]:
    return json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8"))


def prune(root: Path, keep: int, current: int) -> None:
    """Keep the ``keep`` newest complete checkpoints up to step ``current`` (0 keeps all).

    Anything numbered above ``current`` cannot belong to this run (output safety keeps other runs
    out), so the step just written is never the one deleted.
    """
    if keep > 0:
        ours = [p for p in complete_checkpoints(root) if step_of(p) <= current]
        for old in ours[keep:]:
            shutil.rmtree(old, ignore_errors=True)


# --- the run fingerprint ---------------------------------------------------------------------


def fingerprint_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``field: saved -> current`` for every field of the fingerprint that changed."""
    names = sorted(set(saved) | set(current))
    return [f"{name}: {saved.get(name)!r} -> {current.get(name)!r}" for name in names
            if json.dumps(saved.get(name), sort_keys=True, default=str)
            != json.dumps(current.get(name), sort_keys=True, default=str)]


# --- saving and resuming (every process calls these) -------------------------------------------


def save_checkpoint(accelerator: Accelerator, root: Path, state: dict[str, Any], keep: int) -> None:
    """Write a checkpoint of the run at ``state["global_step"]``; every process must call this.

    Every process writes into the staging directory (its RNG state; the main process the
    rest), then all wait, and only then does the main process publish: a process still writing
    into a directory already renamed was the crash of two-process runs.
    """
    step = state["global_step"]
    tmp = temporary_dir(root, step)
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)  # the remains of a crash at this very step
    accelerator.wait_for_everyone()
    try:
        accelerator.save_state(str(tmp))
    except (OSError, RuntimeError) as exc:  # a full disk reaches torch's writer as "iostream error", not ENOSPC
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(f"could not write the checkpoint of step {step} into {root} ({free_space(root)}): {exc}. "
                              f"The run's earlier checkpoints are kept: free some space and run again with --resume") from exc
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        follow_umask(tmp)
        publish_checkpoint(tmp, checkpoint_dir(root, step), state)
        prune(root, keep, step)
    accelerator.wait_for_everyone()


def load_resume_point(accelerator: Accelerator, root: Path, fingerprint: dict[str, Any],
                      report: Any = None) -> dict[str, Any]:
    """Load the newest loadable checkpoint of this run; return its state.

    Corrupt checkpoints are reported and skipped; no readable checkpoint, or one of a run with
    other arguments or data, is a :class:`~tasuki.errors.CheckpointError`.
    """
    candidates = complete_checkpoints(root)
    if not candidates:
        raise CheckpointError(f"--resume: no checkpoint under {root}; train without --resume "
                              f"(with --overwrite to replace what is in {root.parent})")
    for candidate in candidates:
        try:
            state = read_state(candidate)
        except (OSError, json.JSONDecodeError) as exc:
            logger.warning("checkpoint %s is unreadable (%s); trying an older one", candidate, exc)
            continue
        differences = fingerprint_differences(state.get("fingerprint", {}), fingerprint)
        if differences:
            raise CheckpointError(
                f"--resume: {candidate} is of a run with other arguments or data; it differs in "
                + "; ".join(differences)
                + ". Resume with the same ones, or train anew with --overwrite"
            )
        damage = damaged_file(candidate, state)
        if damage is not None:  # bytes changed in place: safetensors would load them, NaN weights and all
            logger.warning("checkpoint %s is damaged (%s); trying an older one", candidate, damage)
            continue
        try:
            accelerator.load_state(str(candidate))
        except Exception as exc:  # a truncated or damaged file: fall back to an older checkpoint
            logger.warning("checkpoint %s is unreadable (%s); trying an older one", candidate, exc)
            continue
        if report is not None:
            report(f"resuming from {candidate} (step {state['global_step']})")
        return state
    raise CheckpointError(f"--resume: no readable checkpoint under {root}; remove it or train without --resume")


def damaged_file(checkpoint: Path, state: dict[str, Any]) -> str | None:
    """What of ``checkpoint`` differs from the SHA-256 its state recorded (none recorded: an older checkpoint)."""
    for name, digest in (state.get("files") or {}).items():
        path = checkpoint / name
        if not path.is_file():
            return f"{name} is missing"
        if file_sha256(path) != digest:
            return f"{name} is not the file that was saved (its SHA-256 differs)"
    return None


def save_best(accelerator: Accelerator, model: torch.nn.Module, root: Path) -> None:
    """Keep the weights of the best evaluation so far (``checkpoints/best``); every process calls this."""
    from safetensors.torch import save_model

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with atomic_path(root / BEST_DIR / BEST_WEIGHTS) as tmp:
            save_model(accelerator.unwrap_model(model), str(tmp))  # handles tied weights (MLM heads)
    accelerator.wait_for_everyone()


def load_best(accelerator: Accelerator, model: torch.nn.Module, root: Path) -> None:
    """Put the best evaluation's weights back into ``model`` (every process)."""
    from safetensors.torch import load_model

    accelerator.wait_for_everyone()
    path = root / BEST_DIR / BEST_WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"{path}: the best evaluation's weights are missing; train again with --overwrite")
    load_model(accelerator.unwrap_model(model), str(path))  # read on the CPU, copied onto the parameters


class BestWeights:
    """The weights of the best evaluation so far: in ``root/best`` when the run writes checkpoints
    (``--resume`` needs them), else in memory, so that ``--no-checkpoints`` writes no checkpoint at all."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.state: dict[str, torch.Tensor] | None = None

    def save(self, accelerator: Accelerator, model: torch.nn.Module) -> None:
        """Keep ``model``'s weights (every process calls this)."""
        if self.root is not None:
            save_best(accelerator, model, self.root)
        else:  # each process keeps its own copy (on the CPU): no process waits for another
            weights = accelerator.unwrap_model(model).state_dict()
            self.state = {k: v.detach().to("cpu", copy=True) for k, v in weights.items()}

    def load(self, accelerator: Accelerator, model: torch.nn.Module) -> None:
        """Put the kept weights back into ``model`` (every process)."""
        if self.root is not None:
            load_best(accelerator, model, self.root)
        elif self.state is not None:
            accelerator.unwrap_model(model).load_state_dict(self.state)
