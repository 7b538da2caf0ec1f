"""An XLM-R backbone (the e5 family: SentencePiece pieces whose offsets hold the space before them), end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

import tasuki
from tasuki.testing import tiny_encoder

ROWS = [{"tokens": ["john", "lives", "in", "paris"], "tags": ["B-PER", "O", "O", "B-LOC"]},
        {"tokens": ["mary", "works", "at", "google"], "tags": ["B-PER", "O", "O", "B-ORG"]}] * 8


@pytest.mark.slow
def test_xlm_roberta_entities_start_at_their_word(tmp_path: Path) -> None:
    backbone = tiny_encoder(tmp_path / "xlmr", "xlm-roberta", words=["john", "mary", "paris", "google"])
    out = tmp_path / "model"
    tasuki.train("ner", ROWS, backbone=str(backbone), output_dir=out, max_steps=2, batch_size=8,
                 task_options={"aggregation": "none"})  # every token's tag: most are not O at random weights
    text = "john works at google in paris"
    entities = tasuki.load(out, device="cpu").predict([text])[0]
    assert entities, "a random tiny model tags some tokens: the check below must see spans"
    for entity in entities:
        assert text[entity["start"]:entity["end"]] == entity["text"] == entity["text"].strip() != ""
