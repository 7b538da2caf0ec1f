"""Which device a run uses: the CPU when asked for, or when the machine has no accelerator."""

from __future__ import annotations

import torch


def has_accelerator() -> bool:
    """True when torch sees a GPU (CUDA/ROCm), an Apple GPU (MPS) or another accelerator backend."""
    accelerator = getattr(torch, "accelerator", None)  # torch >= 2.6
    return accelerator.is_available() if accelerator is not None else torch.cuda.is_available()


def cpu_only(requested: bool) -> bool:
    """Accelerate's ``cpu=`` for this run: True when asked for, or when there is no accelerator.

    Under ``torchrun`` without an accelerator, Accelerate (1.16) joins the processes into one gloo
    group only when ``cpu=True`` is passed; otherwise each process runs alone and believes it is the
    main one (two writers of one output). So the CPU is asked for explicitly wherever it is all there is.
    """
    return requested or not has_accelerator()
