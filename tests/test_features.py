"""Bounded, cached tokenization: global example indices, the length column, the feature cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset
from transformers import AutoTokenizer

from tasuki.features import INDEX, encode, make_loader
from tasuki.sampling import LENGTH, feature_lengths
from tasuki_template.plugin import TemplateClassificationTask


class TwoWindows(TemplateClassificationTask):
    """Two features per example, ``example_index`` counted within the map batch."""

    calls = 0

    def encode(self, batch: dict[str, list], tokenizer: Any, max_length: int) -> dict[str, list]:
        type(self).calls += 1
        features = dict(tokenizer([t for t in batch["text"] for _ in range(2)], truncation=True, max_length=max_length))
        features["example_index"] = [i for i in range(len(batch["text"])) for _ in range(2)]
        return features


class LongestOfTwo(TemplateClassificationTask):
    """A task with its own feature length (as the embedding task has)."""

    def feature_length(self, feature: dict[str, Any]) -> int:
        return 1000 - len(feature["input_ids"])


@pytest.fixture
def tokenizer(backbone_dir: str) -> Any:
    return AutoTokenizer.from_pretrained(backbone_dir)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TASUKI_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "features"


def rows(n: int) -> list[dict[str, str]]:
    return [{"text": f"good movie {'very ' * (i % 7)}{i}", "label": "pos"} for i in range(n)]


@pytest.mark.parametrize("num_proc", [None, 2])
def test_example_index_counts_over_the_whole_dataset(tokenizer: Any, num_proc: int | None) -> None:
    examples = Dataset.from_list(rows(2500))  # three map batches of 1,000
    features = encode(TwoWindows(labels=["neg", "pos"]), examples, tokenizer, 16, num_proc=num_proc, cache=False)
    assert features["example_index"] == [i for i in range(2500) for _ in range(2)]
    assert features[INDEX] == list(range(5000))


def test_small_inputs_skip_the_map_and_give_the_same_features(tokenizer: Any, cache: Path) -> None:
    examples = Dataset.from_list(rows(40))
    task = TwoWindows(labels=["neg", "pos"])
    quick = encode(task, examples, tokenizer, 16, cache=False)  # 40 examples: one task.encode call, no map
    mapped = encode(task, examples, tokenizer, 16, cache=True)  # the cached path always maps
    assert quick.column_names == mapped.column_names
    assert quick.to_dict() == mapped.to_dict()
    remapped = mapped.select(range(len(mapped)))  # a dataset with an index mapping reads lengths another way
    assert feature_lengths(task, quick).tolist() == feature_lengths(task, remapped).tolist()


def test_lengths_come_from_the_map(tokenizer: Any) -> None:
    examples = Dataset.from_list(rows(50))
    task = TemplateClassificationTask(labels=["neg", "pos"])
    features = encode(task, examples, tokenizer, 8, cache=False)
    assert feature_lengths(task, features).tolist() == [len(ids) for ids in features["input_ids"]]
    assert sorted(set(features[LENGTH])) == [5, 6, 7, 8]  # texts of 5 to 12 tokens, truncated at 8
    # a task's own feature_length is what the column holds
    custom = LongestOfTwo(labels=["neg", "pos"])
    own = encode(custom, examples, tokenizer, 16, cache=False)
    assert own[LENGTH] == [1000 - len(ids) for ids in own["input_ids"]]
    # features without the column (built elsewhere) fall back to task.feature_length
    bare = own.remove_columns(LENGTH)
    assert feature_lengths(custom, bare).tolist() == own[LENGTH]


def test_loader_batches_group_by_length_and_keep_private_columns_out(tokenizer: Any) -> None:
    task = TemplateClassificationTask(labels=["neg", "pos"])
    features = encode(task, Dataset.from_list(rows(40)), tokenizer, 16, cache=False)
    loader, sampler = make_loader(task, features, tokenizer, 8, shuffle=False)
    lengths = features[LENGTH]
    planned = list(sampler)
    assert planned == [sorted(range(40), key=lambda i: -lengths[i])[k : k + 8] for k in range(0, 40, 8)]
    batch = next(iter(loader))
    assert LENGTH not in batch and batch[INDEX].tolist() == planned[0]
    assert batch["input_ids"].shape[1] == lengths[planned[0][0]]


def test_second_encode_reuses_the_cache(tokenizer: Any, cache: Path, backbone_dir: str) -> None:
    TwoWindows.calls = 0
    task = TwoWindows(labels=["neg", "pos"])
    first = encode(task, Dataset.from_list(rows(1500)), tokenizer, 16, cache=True)
    assert TwoWindows.calls == 2 and len(list(cache.glob("*.arrow"))) == 1
    # a new Dataset of the same rows (a second run reading the same file), a tokenizer loaded again
    second = encode(TwoWindows(labels=["neg", "pos"]), Dataset.from_list(rows(1500)),
                    AutoTokenizer.from_pretrained(backbone_dir), 16, cache=True)
    assert TwoWindows.calls == 2, "the second encode tokenized again"
    assert second["input_ids"] == first["input_ids"] and second["example_index"] == first["example_index"]
    assert second[INDEX] == first[INDEX]
    # anything the features depend on makes a new file: max_length, data, task state
    encode(task, Dataset.from_list(rows(1500)), tokenizer, 12, cache=True)
    assert TwoWindows.calls == 4
    encode(task, Dataset.from_list(rows(1499)), tokenizer, 16, cache=True)
    assert TwoWindows.calls == 6
    encode(TwoWindows(labels=["pos", "neg"]), Dataset.from_list(rows(1500)), tokenizer, 16, cache=True)
    assert TwoWindows.calls == 8
    assert len(list(cache.glob("*.arrow"))) == 4


def test_cache_only_for_large_data_by_default(tokenizer: Any, cache: Path) -> None:
    encode(TemplateClassificationTask(labels=["neg", "pos"]), Dataset.from_list(rows(30)), tokenizer, 16)
    assert not cache.exists() or not list(cache.glob("*.arrow"))  # a predict call leaves no file


def test_num_proc_must_be_positive(tokenizer: Any) -> None:
    from tasuki.errors import DataError

    with pytest.raises(DataError, match="num_proc must be >= 1"):
        encode(TemplateClassificationTask(labels=["neg", "pos"]), Dataset.from_list(rows(3)), tokenizer, 16, num_proc=0)


def test_uncached_features_of_a_memory_mapped_dataset_leave_no_file(tokenizer: Any, cache: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tasuki import features
    from tasuki.data import read_dataset

    data = tmp_path / "rows.jsonl"
    data.write_text("".join(f'{{"text": "good movie {i}", "label": "pos"}}\n' for i in range(1500)), encoding="utf-8")
    examples = read_dataset(data)  # an Arrow file in the data cache: datasets would map beside it
    task = TemplateClassificationTask(labels=["neg", "pos"])
    small = encode(task, examples, tokenizer, 16, cache=False)  # under CACHE_MIN_EXAMPLES: in memory
    assert not small.cache_files
    monkeypatch.setattr(features, "CACHE_MIN_EXAMPLES", 1000)  # large: a scratch file, removed at exit
    monkeypatch.setattr(features, "_SCRATCH", [])
    left = cache.parent / "scratch" / "999999999-killed"  # a folder a killed process left
    left.mkdir(parents=True)
    large = encode(task, examples, tokenizer, 16, cache=False)
    assert Path(large.cache_files[0]["filename"]).parent.parent.name == "scratch"
    assert not left.exists()
    assert sorted(p.name for p in (cache.parent / "data").iterdir()) == [examples.cache_files[0]["filename"].split("/")[-1]]
