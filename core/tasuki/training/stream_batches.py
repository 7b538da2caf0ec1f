"""Streaming training batches: examples are tokenized while training runs, a buffer at a time.

The usual path (:func:`tasuki.features.encode`) tokenizes the whole training set before the
first step and keeps the features in an Arrow file: right for data that fits on disk twice and
is trained on again. With ``--streaming`` (chosen automatically above :data:`STREAM_ABOVE_BYTES`
of training data), :class:`StreamedBatches` reads the examples (a memory-mapped Arrow table,
which is what :func:`tasuki.data.read_file` makes of a large file) in the epoch's shuffled order
and tokenizes one *shuffle buffer* of ``batch_size * group_size`` examples at a time: the buffer
is sorted by length, cut into batches, and the batches are shuffled. Memory holds one buffer's
features and the epoch's order (4 bytes per example); nothing is written.

Order and batches are a pure function of (seed, epoch, buffer), so a checkpoint stores the
position as (buffer, batch within it) and a resumed run tokenizes only the buffer it stopped in.
Under N processes every process builds the same buffer and takes batches ``rank, rank + N, ...``;
a buffer whose batch count is not a multiple of N lends its first batches again to the
processes that would have none, so every process takes the same number of steps (what DDP
needs; Accelerate's ``even_batches`` does the same at the end of an epoch).
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tasuki.features import INDEX, Collator, _EncodeBatch
from tasuki.sampling import LENGTH

if TYPE_CHECKING:
    from datasets import Dataset

    from tasuki.task import Task

logger = logging.getLogger(__name__)

STREAM_ABOVE_BYTES = 1 << 30
"""With ``streaming`` unset, training data larger than this (its Arrow table) streams."""
GROUP_SIZE = 50
"""Batches per shuffle buffer: length grouping sorts within a buffer of this many batches."""


class StreamedBatches:
    """Training batches tokenized on the fly; iterate once per epoch (see the module docstring).

    :param examples: the training examples (random access: a ``datasets.Dataset``).
    :param rank, world: this process and the number of processes.
    :param device: where batches go (the loop does not pass them through ``accelerator.prepare``).
    """

    def __init__(self, task: Task, examples: Dataset, tokenizer: Any, max_length: int, batch_size: int, *,
                 seed: int = 0, group_by_length: bool = True, rank: int = 0, world: int = 1,
                 device: torch.device | str = "cpu", group_size: int | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.task = task
        self.examples = examples
        self.encode = _EncodeBatch(task, tokenizer, max_length)
        self.collate = Collator(task, tokenizer)
        self.batch_size = batch_size
        self.buffer_size = batch_size * (group_size or GROUP_SIZE)
        self.seed = seed
        self.group_by_length = group_by_length
        self.rank, self.world = rank, world
        self.device = torch.device(device)
        self.epoch = 0
        self.position = (0, 0)
        """(buffer, batch within the buffer) of the next batch this process yields."""
        self._start = (0, 0)
        self._features_per_example: float | None = None
        self._length: int | None = None

    # --- the epoch ---------------------------------------------------------------------------

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order to produce (the runner calls this before each epoch)."""
        self.epoch = epoch

    def resume_at(self, position: tuple[int, int] | list[int] | None) -> None:
        """Start the next iteration at ``position`` (from a checkpoint) instead of the epoch's start."""
        self._start = tuple(position) if position else (0, 0)  # type: ignore[assignment]

    @property
    def num_buffers(self) -> int:
        return math.ceil(len(self.examples) / self.buffer_size)

    def __len__(self) -> int:
        """Batches per process per epoch: exact for one feature per example, estimated for windowed tasks."""
        if self._length is None:
            ratio = self.features_per_example()
            sizes = [min(self.buffer_size, len(self.examples) - b * self.buffer_size) for b in range(self.num_buffers)]
            self._length = sum(math.ceil(math.ceil(n * ratio / self.batch_size) / self.world) for n in sizes)
        return self._length

    def features_per_example(self) -> float:
        """Features per example, measured on the first buffer (windows, MLM blocks; 1.0 for most tasks)."""
        if self._features_per_example is None:
            rows = list(range(min(self.buffer_size, len(self.examples))))
            features = self._encode(rows, 0)
            self._features_per_example = max(len(features[LENGTH]) / max(len(rows), 1), 1e-6)
        return self._features_per_example

    def _order(self) -> np.ndarray:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(len(self.examples), generator=generator, dtype=torch.int32).numpy()

    def _encode(self, rows: list[int], offset: int) -> dict[str, list]:
        batch = self.examples[rows]
        return self.encode(batch, list(range(offset, offset + len(rows))))

    def _buffer_batches(self, order: np.ndarray, buffer: int) -> tuple[list[list[int]], dict[str, list], int]:
        """One buffer's features and its batches (feature positions), the same on every process."""
        start = buffer * self.buffer_size
        rows = order[start:start + self.buffer_size].tolist()
        features = self._encode(rows, start)
        count = len(features[LENGTH])
        generator = torch.Generator().manual_seed(zlib.crc32(f"{self.seed}:{self.epoch}:{buffer}".encode()))
        positions = np.arange(count)
        if self.group_by_length:
            positions = positions[np.argsort(-np.asarray(features[LENGTH]), kind="stable")]
        batches = [positions[i:i + self.batch_size].tolist() for i in range(0, count, self.batch_size)]
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        if batches and len(batches) % self.world:  # every process the same number of steps
            batches += batches[: self.world - len(batches) % self.world]
        return batches, features, start

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        order = self._order()
        first_buffer, first_batch = self._start
        self._start = (0, 0)
        for buffer in range(first_buffer, self.num_buffers):
            batches, features, start = self._buffer_batches(order, buffer)
            mine = batches[self.rank::self.world]
            for j in range(first_batch if buffer == first_buffer else 0, len(mine)):
                self.position = (buffer, j + 1) if j + 1 < len(mine) else (buffer + 1, 0)
                yield self._collate(features, mine[j], start)
        self.position = (self.num_buffers, 0)

    def _collate(self, features: dict[str, list], positions: list[int], start: int) -> dict[str, torch.Tensor]:
        # the seed of a batch's random choices (MLM masks): its examples' places in the epoch
        rows = [{k: v[p] for k, v in features.items() if k != LENGTH} | {INDEX: start + p} for p in positions]
        key = zlib.crc32(np.asarray(positions, dtype=np.int64).tobytes(),
                         zlib.crc32(f"{self.seed}:{self.epoch}:{start}".encode()))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(key)
            batch = self.collate(rows)
        return {k: v.to(self.device) for k, v in batch.items()}


def should_stream(examples: Dataset, streaming: bool | None) -> bool:
    """``streaming`` when given; else whether ``examples`` is larger than :data:`STREAM_ABOVE_BYTES`."""
    if streaming is not None:
        return streaming
    return examples.data.nbytes > STREAM_ABOVE_BYTES
