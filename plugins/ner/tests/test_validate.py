"""Bad input: each case of the issue gives an error naming the file and line (or row), or a documented repair."""

from __future__ import annotations

import json

import pytest
from datasets import ClassLabel, Dataset, Features, List, Value

from tasuki.data import load_data
from tasuki.errors import DataError
from tasuki.settings import SettingError
from tasuki_ner.task import NerTask


def _load(path, task: NerTask | None = None, *, fit: bool = False):
    task = task or NerTask()
    data, where = load_data(str(path), NerTask)
    task.validate(data, where, with_targets=True)
    if fit:
        task.fit(data)
    return task, data


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_tag_in_evaluation_data_names_file_and_line(tmp_path):
    task, _ = _load(_write(tmp_path, "train.conll", "Obama\tB-PER\nvisited\tO\nParis\tB-LOC\n"), fit=True)
    test = _write(tmp_path, "test.conll", "Sony\tB-ORG\nhired\tO\n\nObama\tB-PER\nin\tO\nRome\tB-CITY\n")
    with pytest.raises(DataError, match=r"test\.conll: line 1: unknown tag 'B-ORG'.*LOC.*PER"):
        _load(test, task)
    test = _write(
        tmp_path, "test.jsonl", json.dumps({"text": "Rome", "entities": [{"start": 0, "end": 4, "type": "CITY"}]}) + "\n"
    )
    with pytest.raises(DataError, match=r"test\.jsonl: row 1, entity 1: unknown type 'CITY'"):
        _load(test, task)


def test_i_without_b_names_the_line_and_repair_reads_it_as_b(tmp_path):
    text = "Obama\tB-PER\nvisited\tO\nParis\tB-LOC\n\nthen\tO\nLondon\tI-LOC\n"
    path = _write(tmp_path, "a.bio", text)
    with pytest.raises(DataError, match=r"a\.bio: line 6: tag 'I-LOC' continues an entity that never started"):
        _load(path)
    task, data = _load(path, NerTask(repair=True), fit=True)
    assert task._example(data[1]).tags == ["O", "B-LOC"]
    # the same tags declared IOB1 are legal: IOB1 starts entities with I-
    _load(path, NerTask(scheme="iob1"))


def test_mismatched_token_and_tag_counts(tmp_path):
    path = _write(
        tmp_path,
        "a.jsonl",
        json.dumps({"tokens": ["a", "b"], "tags": ["O", "O"]})
        + "\n"
        + json.dumps({"tokens": ["Obama", "spoke"], "tags": ["B-PER"]})
        + "\n",
    )
    with pytest.raises(DataError, match=r"a\.jsonl: row 2: 2 tokens but 1 tags"):
        _load(path)


def test_empty_sentence_and_empty_text(tmp_path):
    path = _write(tmp_path, "a.jsonl", json.dumps({"tokens": [], "tags": []}) + "\n")
    with pytest.raises(DataError, match=r"a\.jsonl: row 1: empty sentence"):
        _load(path)
    path = _write(tmp_path, "b.jsonl", json.dumps({"text": "  ", "entities": []}) + "\n")
    with pytest.raises(DataError, match=r"b\.jsonl: row 1, column 'text': empty text"):
        _load(path)


def test_entity_offsets_outside_the_text_and_overlaps(tmp_path):
    path = _write(tmp_path, "a.jsonl", json.dumps({"text": "Obama", "entities": [{"start": 0, "end": 9, "type": "PER"}]}))
    with pytest.raises(DataError, match=r"a\.jsonl: row 1, entity 1: offsets \[0, 9\) lie outside the text"):
        _load(path)
    path = _write(
        tmp_path,
        "b.jsonl",
        json.dumps(
            {"text": "New York City", "entities": [{"start": 0, "end": 8, "type": "LOC"}, {"start": 4, "end": 13, "type": "LOC"}]}
        ),
    )
    with pytest.raises(DataError, match="overlap; nested entities are not supported"):
        _load(path)
    path = _write(tmp_path, "c.jsonl", json.dumps({"text": "Obama", "entities": [{"start": 0, "end": 5}]}))
    with pytest.raises(DataError, match="entity 1: entity needs a non-empty 'type'"):
        _load(path)
    # each was read without a word: "end": true as 1, a span of spaces dropped from the labels, an empty span
    # refused for the wrong reason
    for name, span, message in [("d", {"start": 0, "end": True}, r"'start' and 'end' must be integers, got 0 and True"),
                                ("e", {"start": 5, "end": 7}, r"offsets \[5, 7\) cover only spaces \('  '\)"),
                                ("f", {"start": 3, "end": 3}, r"offsets \[3, 3\) cover no character")]:
        row = {"text": "Obama  Biden", "entities": [{**span, "type": "PER"}]}
        with pytest.raises(DataError, match=rf"{name}\.jsonl: row 1, entity 1: {message}"):
            _load(_write(tmp_path, f"{name}.jsonl", json.dumps(row)))


def test_missing_columns_and_tags_name_both_forms(tmp_path):
    with pytest.raises(DataError, match="'tokens' column .* or a 'text' column"):
        NerTask().validate(Dataset.from_list([{"sentence": "x"}]), "rows", with_targets=True)
    with pytest.raises(DataError, match="row 1: no 'tags'"):
        NerTask().validate(Dataset.from_list([{"tokens": ["x"]}]), "rows", with_targets=True)


def test_malformed_tag_names_line(tmp_path):
    with pytest.raises(DataError, match=r"a\.conll: line 2: tag 'PERSON' is not 'O'"):
        _load(_write(tmp_path, "a.conll", "Obama\tB-PER\nObama\tPERSON\n"))


def test_hub_style_integer_tags_are_read_by_class_names():
    names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=names))})
    data = Dataset.from_dict({"tokens": [["EU", "rejects", "German", "call"]], "ner_tags": [[3, 0, 7, 0]]}, features)
    task = NerTask()
    task.validate(data, "conll2003 (train)", with_targets=True)
    task.fit(data)
    assert task.labels == ["O", "B-MISC", "I-MISC", "B-ORG", "I-ORG"]
    assert task._example(data[0]).tags == ["B-ORG", "O", "B-MISC", "O"]


def test_unknown_options_and_strategies_are_errors():
    with pytest.raises(SettingError, match="unknown option of task 'ner' 'shceme'"):
        NerTask(shceme="bio")
    with pytest.raises(SettingError, match="unknown tag scheme"):
        NerTask(scheme="bilou2")
    with pytest.raises(SettingError, match="aggregation"):
        NerTask(aggregation="mean")


def test_validating_evaluation_data_leaves_the_training_scheme(tmp_path):
    """The scheme is read per data set: an IO or IOB1 evaluation set never changes the BIO training set's."""
    from transformers import AutoTokenizer

    from tasuki.testing import tiny_bert

    train = _write(tmp_path, "train.conll", "Obama\tB-PER\nvisited\tO\nNew\tB-LOC\nYork\tI-LOC\n\nParis\tB-LOC\n")
    task, train_set = _load(train, fit=True)
    assert task.training_scheme == "bio"
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert(tmp_path / "bert", "obama visited new york paris".split()))
    encoded = task.encode(train_set.to_dict(), tokenizer, 32)["labels"]
    # IO (no B- at all) and IOB1 (an entity starts with I-): each is valid in its own scheme
    _load(_write(tmp_path, "io.conll", "Rome\tI-LOC\nvisited\tO\nObama\tI-PER\n"), task)
    _load(_write(tmp_path, "iob1.conll", "Sony\tI-PER\nhired\tO\nRome\tI-LOC\nParis\tB-LOC\n"), task)
    assert task.training_scheme == "bio"
    assert task.encode(train_set.to_dict(), tokenizer, 32)["labels"] == encoded
    # labels by hand: [CLS] obama visited new york [SEP] / [CLS] paris [SEP] with O, B-LOC, I-LOC, B-PER, I-PER
    assert encoded == [[-100, 3, 0, 1, 2, -100], [-100, 1, -100]]
    # a BIO evaluation set is still held to BIO: an I- tag without B- is an error naming its line
    with pytest.raises(DataError, match=r"bio\.conll: line 3: tag 'I-PER' continues an entity that never started"):
        _load(_write(tmp_path, "bio.conll", "Rome\tB-LOC\nvisited\tO\nObama\tI-PER\n"), task)
