"""Streaming training: batches tokenized a shuffle buffer at a time, split across processes, chosen by size.

Exact resume of a streamed run after ``kill -9`` (one and two processes) is in tests/test_resume.py.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch
from datasets import Dataset
from transformers import AutoTokenizer

import tasuki
from tasuki.features import INDEX
from tasuki.training import stream_batches
from tasuki.training.stream_batches import StreamedBatches
from tasuki_template.task import TemplateClassificationTask

WORDS = ["good", "bad", "movie", "very", "food", "i", "love", "this", "film", "great"]


@pytest.fixture
def examples() -> Dataset:
    """103 examples of 1 to 9 words: the last buffer is short and lengths differ."""
    rows = [{"text": " ".join(WORDS[: 1 + i % 9]), "label": "pos" if i % 2 else "neg"} for i in range(103)]
    return Dataset.from_list(rows)


def _batches(examples: Dataset, tokenizer, *, world: int = 1, rank: int = 0, epoch: int = 0,
             group_by_length: bool = True) -> list[dict[str, torch.Tensor]]:
    task = TemplateClassificationTask(labels=["neg", "pos"])
    loader = StreamedBatches(task, examples, tokenizer, 32, 4, seed=7, group_by_length=group_by_length, rank=rank,
                             world=world, group_size=5)
    loader.set_epoch(epoch)
    return list(loader)


def _rows(batches: list[dict[str, torch.Tensor]]) -> list[int]:
    return [i for b in batches for i in b[INDEX].tolist()]


def test_every_example_once_per_epoch_in_a_new_order_each_epoch(examples, backbone_dir) -> None:
    tokenizer = AutoTokenizer.from_pretrained(backbone_dir)
    first, second = _batches(examples, tokenizer), _batches(examples, tokenizer, epoch=1)
    assert sorted(_rows(first)) == list(range(103)) == sorted(_rows(second))
    assert _rows(first) != _rows(second)
    assert _rows(first) == _rows(_batches(examples, tokenizer))  # a pure function of seed and epoch
    assert len(StreamedBatches(TemplateClassificationTask(labels=["neg", "pos"]), examples, tokenizer, 32, 4,
                               group_size=5)) == len(first) == 26  # 5 buffers of 20 examples (5 batches) and one of 3


def test_batches_group_lengths_within_a_buffer(examples, backbone_dir) -> None:
    tokenizer = AutoTokenizer.from_pretrained(backbone_dir)

    def padding(batches: list[dict[str, torch.Tensor]]) -> int:  # pad tokens over the epoch
        return sum(int((b["attention_mask"] == 0).sum()) for b in batches)

    assert padding(_batches(examples, tokenizer)) < padding(_batches(examples, tokenizer, group_by_length=False)) / 2


def test_two_processes_split_the_batches_and_take_the_same_number_of_steps(examples, backbone_dir) -> None:
    tokenizer = AutoTokenizer.from_pretrained(backbone_dir)
    ranks = [_batches(examples, tokenizer, world=2, rank=r) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1])
    seen = Counter(_rows(ranks[0]) + _rows(ranks[1]))
    assert set(seen) == set(range(103))
    # a buffer with an odd number of batches lends its first batch again: 5 buffers of 5 batches, one of 1
    assert sum(n - 1 for n in seen.values()) == 4 * 5 + 3


def test_streamed_training_learns_like_the_usual_path(toy_registry, toy_rows, backbone_dir, tmp_path) -> None:
    common = {"backbone": backbone_dir, "eval_data": toy_rows[:12], "batch_size": 4, "learning_rate": 3e-3,
              "epochs": 4, "progress": False, "save_steps": 0, "seed": 3}
    usual = tasuki.train("template-classify", toy_rows, output_dir=tmp_path / "usual", streaming=False, **common)
    streamed = tasuki.train("template-classify", toy_rows, output_dir=tmp_path / "streamed", streaming=True, **common)
    assert usual.metrics["accuracy"] == streamed.metrics["accuracy"] == 1.0
    saved = json.loads((tmp_path / "streamed" / "tasuki.json").read_text(encoding="utf-8"))["training_args"]
    assert saved["streaming"] is True
    assert streamed.global_step == usual.global_step == 4 * 12


def test_large_training_data_streams_automatically_and_says_so(toy_registry, toy_rows, backbone_dir, tmp_path,
                                                               monkeypatch, capsys) -> None:
    monkeypatch.setattr(stream_batches, "STREAM_ABOVE_BYTES", 100)  # the toy rows are a few hundred bytes
    tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "m", max_steps=2,
                 progress=False, eval_split=0.0, save_steps=0)
    assert "streaming: the training data is 0 MiB, so it is tokenized while training runs" in capsys.readouterr().err
    saved = json.loads((tmp_path / "m" / "tasuki.json").read_text(encoding="utf-8"))["training_args"]
    assert saved["streaming"] is True
    tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=tmp_path / "n", max_steps=2,
                 progress=False, eval_split=0.0, save_steps=0, streaming=False)
    saved = json.loads((tmp_path / "n" / "tasuki.json").read_text(encoding="utf-8"))["training_args"]
    assert saved["streaming"] is False  # given: never overridden by the size
