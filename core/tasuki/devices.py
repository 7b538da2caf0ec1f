"""Which device and process a run is: the launcher's rank, and the CPU when asked for or when there is no accelerator.

Imports nothing heavy at module level: the CLI reads the rank at start-up.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def world() -> tuple[int, int]:
    """``(rank, world size)`` from the launcher's environment (``torchrun``, ``accelerate launch``); ``(0, 1)`` alone."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def local_rank() -> int:
    """This process's index on its machine (``LOCAL_RANK``): the GPU it takes under a launcher."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def has_accelerator() -> bool:
    """True when torch sees a GPU (CUDA/ROCm), an Apple GPU (MPS) or another accelerator backend."""
    import torch

    accelerator = getattr(torch, "accelerator", None)  # torch >= 2.6
    return accelerator.is_available() if accelerator is not None else torch.cuda.is_available()


def cpu_only(requested: bool) -> bool:
    """Accelerate's ``cpu=`` for this run: True when asked for, or when there is no accelerator.

    Under ``torchrun`` without an accelerator, Accelerate (1.16) joins the processes into one gloo
    group only when ``cpu=True`` is passed; otherwise each process runs alone and believes it is the
    main one (two writers of one output). So the CPU is asked for explicitly wherever it is all there is.
    """
    return requested or not has_accelerator()


def checked_device(device: str | torch.device | None) -> str:
    """``device`` to run on (default: the GPU when there is one, else the CPU), refused in one line
    (:class:`~tasuki.errors.ArgumentError`) when torch cannot read it or this machine does not have it."""
    import torch

    from tasuki.errors import ArgumentError

    if isinstance(device, torch.device):
        device = str(device)
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        raise ArgumentError(f"device {device!r} is not allowed; allowed: cpu, cuda, cuda:N, mps") from None
    present = {"cpu": True, "cuda": torch.cuda.is_available(),
               "mps": bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()}
    if not present.get(kind, True):
        raise ArgumentError(f"device {device!r}: this machine's torch has no {kind} device; use cpu")
    return device
