"""In-batch negatives: no text twice in a batch (no false negatives), no length grouping."""

from __future__ import annotations

from collections import Counter

from datasets import Dataset

from tasuki.sampling import LengthGroupedBatchSampler
from tasuki_embedding.sampling import NoDuplicatesBatchSampler
from tasuki_embedding.task import EmbeddingTask


def _features() -> Dataset:
    """Query 1 has two relevant passages (rows 0 and 1); passage 7 answers two queries (rows 2 and 3)."""
    rows = [([1], [5]), ([1], [6]), ([2], [7]), ([3], [7])] + [([10 + i], [20 + i]) for i in range(12)]
    return Dataset.from_list([{"input_ids": a, "pair_input_ids": b} for a, b in rows])


def _texts(features: Dataset, batch: list[int]) -> list[tuple]:
    return [tuple(features[i][c]) for i in batch for c in ("input_ids", "pair_input_ids")]


def test_no_text_twice_in_a_batch_and_every_example_once_per_epoch() -> None:
    features = _features()
    task = EmbeddingTask(loss="mnrl")
    sampler = task.batch_sampler(features, 8, shuffle=True, seed=3)
    assert isinstance(sampler, NoDuplicatesBatchSampler)
    for epoch in range(20):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert sorted(i for b in batches for i in b) == list(range(16))
        for batch in batches:
            counts = Counter(_texts(features, batch))
            assert max(counts.values()) == 1, (epoch, batch)
        sampler.set_epoch(epoch)
        assert list(sampler) == batches  # a pure function of (seed, epoch): exact resume
    # the default sampler does put the repeats together: with batches of 16, every epoch
    plain = LengthGroupedBatchSampler([1] * 16, 16, shuffle=True, seed=3)
    assert max(Counter(_texts(features, next(iter(plain)))).values()) == 2


def test_rows_that_all_clash_make_smaller_batches_not_lost_rows() -> None:
    sampler = NoDuplicatesBatchSampler([["same"]] * 3 + [["a"], ["b"]], 4, seed=0)
    batches = list(sampler)
    assert sorted(len(b) for b in batches) == [1, 1, 3] and sorted(i for b in batches for i in b) == [0, 1, 2, 3, 4]


def test_other_losses_and_evaluation_keep_length_grouping() -> None:
    features = Dataset.from_list([{"input_ids": [1] * n, "pair_input_ids": [2], "score": 0.5} for n in (1, 5, 2, 4)])
    for task, shuffle in ((EmbeddingTask(loss="cosent"), True), (EmbeddingTask(loss="mnrl"), False)):
        sampler = task.batch_sampler(features, 2, shuffle=shuffle, seed=0)
        assert isinstance(sampler, LengthGroupedBatchSampler)
    evaluation = EmbeddingTask(loss="mnrl").batch_sampler(features, 2, shuffle=False)
    assert list(evaluation) == [[1, 3], [2, 0]]  # longest first: 5, 4 | 2, 1


def test_the_runner_trains_on_the_tasks_batches() -> None:
    from tasuki.features import INDEX, make_loader

    features = _features().add_column(INDEX, list(range(16)))
    loader, sampler = make_loader(EmbeddingTask(loss="mnrl"), features, None, 4, shuffle=True, seed=3)
    assert isinstance(sampler, NoDuplicatesBatchSampler)
    for batch in loader.batch_sampler:
        texts = _texts(features, batch)
        assert len(texts) == len(set(texts)), batch
