"""Length-grouped batches: similar lengths share a batch, so dynamic padding wastes little.

Training order is a pure function of ``(seed, epoch)`` — no global RNG is touched — which
is what lets an interrupted run resume on exactly the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch


class LengthGroupedBatchSampler:
    """Yields lists of indices; shuffled and length-grouped for training, sorted for evaluation.

    Training: shuffle, cut into mega-batches of ``batch_size * group_size`` examples, sort
    each mega-batch by length, cut into batches, shuffle the batches (so the epoch does not
    run from long to short). Evaluation (``shuffle=False``): sort everything by length.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        group_size: int = 50,
        group_by_length: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.group_size = group_size
        self.group_by_length = group_by_length
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order to produce (called by the runner before each epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size

    def _chunks(self, order: list[int]) -> list[list[int]]:
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self.lengths)
        if not self.shuffle:
            order = sorted(range(n), key=lambda i: -self.lengths[i]) if self.group_by_length else list(range(n))
            yield from self._chunks(order)
            return
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(n, generator=generator).tolist()
        if not self.group_by_length:
            yield from self._chunks(order)
            return
        mega = self.batch_size * self.group_size
        batches: list[list[int]] = []
        for start in range(0, n, mega):
            group = sorted(order[start : start + mega], key=lambda i: -self.lengths[i])
            batches.extend(self._chunks(group))
        for position in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[position]
