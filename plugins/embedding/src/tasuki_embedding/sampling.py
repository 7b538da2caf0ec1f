"""Batches for in-batch-negative losses: no text twice in a batch, and no grouping by length.

Under multiple-negatives ranking every other text of a batch is a negative. A text that
appears twice (a query with two relevant passages, a passage shared by two queries) makes a
right answer count as a wrong one: a false negative. :class:`NoDuplicatesBatchSampler` does
what sentence-transformers' ``NoDuplicatesBatchSampler`` does: walk a shuffled epoch and put
an example into the current batch only if none of its texts is already there; skipped
examples wait for a later batch, so every example is still seen once per epoch. Grouping by
length would let length decide which sentences are each other's negatives, so there is none.

The order is a pure function of ``(seed, epoch)``, as for the core's length-grouped sampler,
so an interrupted run resumes on the same batches.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence

import torch


class NoDuplicatesBatchSampler:
    """Yields lists of indices such that no two examples in a batch share a text.

    :param keys: per example, the identities of its texts (e.g. the token ids of text, pair
        and negative as tuples); two examples clash when they share any key.
    :param batch_size: examples per batch; a batch is smaller only where the remaining
        examples all clash with it (the end of an epoch, or data with many repeats).
    :param seed: with the epoch, fixes the order.
    """

    def __init__(self, keys: Sequence[Sequence[Hashable]], batch_size: int, *, seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.keys = [frozenset(k) for k in keys]
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order to produce (the runner calls this before each epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        # An estimate, as in sentence-transformers: repeats can make an epoch a few batches longer.
        return (len(self.keys) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        remaining = dict.fromkeys(torch.randperm(len(self.keys), generator=generator).tolist())
        while remaining:
            batch: list[int] = []
            seen: set[Hashable] = set()
            for index in remaining:
                if self.keys[index] & seen:
                    continue  # a text already in this batch: wait for a later one
                batch.append(index)
                seen |= self.keys[index]
                if len(batch) == self.batch_size:
                    break
            for index in batch:
                del remaining[index]
            yield batch
