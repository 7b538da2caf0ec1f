"""Sub-token alignment: first or all sub-tokens, Japanese words through character offsets, slow tokenizers."""

from __future__ import annotations

import logging

from transformers import AutoTokenizer

from tasuki_ner.align import IGNORE, simple_words, split_at_entities, tokenize, windows
from tasuki_ner.tags import Span
from tasuki_ner.task import NerTask


def _features(task, rows, tokenizer, max_length=64):
    batch = {key: [row.get(key) for row in rows] for key in rows[0]}
    return task.encode(batch, tokenizer, max_length)


def _labelled(task, features, tokenizer, i=0):
    tokens = tokenizer.convert_ids_to_tokens(features["input_ids"][i])
    return [(t, task.labels[label] if label != IGNORE else None) for t, label in zip(tokens, features["labels"][i])]


def test_first_or_all_sub_tokens(tokenizer_en):
    rows = [{"tokens": ["Xavier", "visited", "Paris"], "tags": ["B-PER", "O", "B-LOC"]}]
    first = NerTask(labels=["O", "B-LOC", "I-LOC", "B-PER", "I-PER"], label_all_tokens=False)
    pairs = _labelled(first, _features(first, rows, tokenizer_en), tokenizer_en)
    # "xavier" is not in the tiny vocab: it splits into x ##a ##v ...; only "x" carries B-PER
    assert pairs[0] == ("[CLS]", None) and pairs[-1] == ("[SEP]", None)
    assert pairs[1] == ("x", "B-PER") and all(label is None for _, label in pairs[2:7])
    assert ("paris", "B-LOC") in pairs
    every = NerTask(labels=first.labels, label_all_tokens=True)
    pairs = _labelled(every, _features(every, rows, tokenizer_en), tokenizer_en)
    assert pairs[1] == ("x", "B-PER") and {label for _, label in pairs[2:7]} == {"I-PER"}


def test_text_with_character_entities_in_english(tokenizer_en):
    task = NerTask(labels=["O", "B-LOC", "I-LOC", "B-PER", "I-PER"], label_all_tokens=False)
    rows = [
        {
            "text": "Obama met people in New York.",
            "entities": [{"start": 0, "end": 5, "type": "PER"}, {"start": 20, "end": 28, "type": "LOC"}],
        }
    ]
    pairs = [p for p in _labelled(task, _features(task, rows, tokenizer_en), tokenizer_en) if p[1]]
    assert pairs[0] == ("obama", "B-PER")
    assert [label for _, label in pairs if label != "O"] == ["B-PER", "B-LOC", "I-LOC"]


def test_japanese_entity_cutting_a_mecab_word_is_split_and_counted(tiny_ja, caplog):
    tokenizer = AutoTokenizer.from_pretrained(tiny_ja)
    task = NerTask(lang="ja", labels=["O", "B-LOC", "I-LOC", "B-PSN", "I-PSN"], label_all_tokens=False)
    text = "大阪府警が山田太郎を発表した"  # MeCab: 大阪|府|警|が|山田|太郎|...
    # 大阪府 ends on a word boundary; 山田太 (a deliberately odd entity) ends inside 太郎: that word is cut
    rows = [{"text": text, "entities": [{"start": 0, "end": 3, "type": "LOC"}, {"start": 5, "end": 8, "type": "PSN"}]}]
    with caplog.at_level(logging.WARNING):
        features = _features(task, rows, tokenizer)
    assert task.alignment["words_split"] == 1
    assert "cut in two" in caplog.text
    example = task._example(rows[0])
    words = [text[s:e] for s, e in example.words]
    assert words[:8] == ["大阪", "府", "警", "が", "山田", "太", "郎", "を"]
    assert example.tags[:8] == ["B-LOC", "I-LOC", "O", "O", "B-PSN", "I-PSN", "O", "O"]
    # the tiny WordPiece splits per character; each MeCab word's first sub-token carries its tag
    pairs = _labelled(task, features, tokenizer)[1:11]
    assert pairs == [
        ("大", "B-LOC"),
        ("阪", None),
        ("[UNK]", "I-LOC"),
        ("[UNK]", "O"),
        ("が", "O"),
        ("山", "B-PSN"),
        ("田", None),
        ("太", "I-PSN"),
        ("郎", "O"),
        ("を", "O"),
    ]


def test_japanese_sentencepiece_tokens_never_cross_a_mecab_word(caplog):
    from tasuki.testing import tiny_sentencepiece_tokenizer

    text = "2004年の16日、東京都で会議があった。"
    # pieces that glue a particle to an entity, as E5's vocabulary does: 年の, 、東京, 都で
    tokenizer = tiny_sentencepiece_tokenizer(text, ["年の", "、東京", "都で", "▁2004", "2004", "東京"])
    assert "年の" in tokenizer.tokenize(text)  # the raw text would give a token across 年|の
    task = NerTask(lang="ja", labels=["O", "B-DAT", "I-DAT", "B-LOC", "I-LOC"])
    place = text.index("東京都")
    rows = [{"text": text, "entities": [{"start": 0, "end": 5, "type": "DAT"},
                                        {"start": place, "end": place + 3, "type": "LOC"}]}]
    with caplog.at_level(logging.WARNING):
        features = _features(task, rows, tokenizer)
    assert task.alignment["entities_unreachable"] == 0
    pairs = _labelled(task, features, tokenizer)
    tokens = [t for t, _ in pairs]
    assert "年の" not in tokens and "、東京" not in tokens and "都で" not in tokens
    assert ("▁2004", "B-DAT") in pairs and ("年", "I-DAT") in pairs and ("の", "O") in pairs
    assert ("東京", "B-LOC") in pairs and ("都", "I-LOC") in pairs and ("で", "O") in pairs
    assert "▁" not in tokens  # no lone word mark in front of words glued to the one before


def test_split_at_entities_and_simple_words():
    text = "Tokyo-based Sony"
    words = simple_words(text)
    assert [text[s:e] for s, e in words] == ["Tokyo", "-", "based", "Sony"]
    out, tags, split = split_at_entities([(0, 11)], [Span(0, 5, "LOC")])  # one word "Tokyo-based"
    assert out == [(0, 5), (5, 11)] and tags == ["B-LOC", "O"] and split == 1


def test_offsets_tie_tokens_to_words(tokenizer_en):
    text = "Obama visited Paris."
    tokens = tokenize(text, simple_words(text), tokenizer_en)
    assert [text[s:e] for s, e in tokens.offsets][:2] == ["Obama", "visited"]
    assert tokens.word_ids[:3] == [0, 1, 2] and tokens.word_ids[-1] == 3


def test_slow_tokenizer_tokenizes_word_by_word(tiny_ja):
    from transformers import BertJapaneseTokenizer

    slow = BertJapaneseTokenizer(
        str(tiny_ja / "vocab.txt"), word_tokenizer_type="mecab", mecab_kwargs={"mecab_dic": "unidic_lite"}
    )
    assert not slow.is_fast
    task = NerTask(lang="ja", labels=["O", "B-LOC", "I-LOC"])
    rows = [{"tokens": ["東京", "に", "住む"], "tags": ["B-LOC", "O", "O"]}]
    features = _features(task, rows, slow)
    assert features["word_ids"][0][1] == 0 and features["offsets"][0][1] == [0, 1]
    assert task.labels[features["labels"][0][1]] == "B-LOC"
    assert task.labels[features["labels"][0][2]] == "I-LOC"  # 京, the second sub-token of 東京


def test_windows_cover_everything_with_overlap():
    assert windows(5, 10, 3) == [(0, 5)]
    spans = windows(25, 10, 3)
    assert spans == [(0, 10), (7, 17), (14, 24), (21, 25)]
    assert spans[0][0] == 0 and spans[-1][1] == 25
