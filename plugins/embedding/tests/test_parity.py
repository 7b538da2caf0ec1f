"""Parity with sentence-transformers: the packaged MiniLM, and directories saved by either library."""

from __future__ import annotations

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling as STPooling
from sentence_transformers.sentence_transformer.modules import Transformer

from conftest import bbc_articles, tweets
from tasuki.plugin import SentenceEncoder
from tasuki_embedding import Encoder


def test_minilm_matches_sentence_transformers_on_1000_sentences(minilm_dir: str) -> None:
    # Mixed lengths: 950 tweets and 50 BBC first paragraphs (some near the 256-token limit).
    texts = tweets(950) + [paragraph for _, _, paragraph in bbc_articles(50)]
    assert len(texts) == 1000
    reference = SentenceTransformer(minilm_dir, device="cpu").encode(texts, batch_size=64, normalize_embeddings=True)
    encoder = Encoder.load(minilm_dir, device="cpu")
    assert (encoder.model.pooling.mode, encoder.model.normalize, encoder.max_length) == ("mean", True, 256)
    ours = encoder.encode(texts, batch_size=64)
    cosines = (ours * reference).sum(axis=1) / np.linalg.norm(reference, axis=1)
    assert cosines.min() >= 0.9999, cosines.min()


def test_minilm_through_the_backbone_spec(minilm_dir: str) -> None:
    texts = ["A man is eating food.", "Someone is eating a meal.", "The stock market fell."]
    scores = Encoder.load("minilm", device="cpu").similarity(texts)
    assert scores[0, 1] > 0.6 > scores[0, 2]


@pytest.mark.parametrize("mode", ["cls", "max"])
def test_sentence_transformers_directory_keeps_its_pooling(tmp_path, tiny_dir: str, mode: str) -> None:
    st = SentenceTransformer(modules=[Transformer(tiny_dir), STPooling(32, pooling_mode=mode)], device="cpu")
    st.save(str(tmp_path / "st"))
    texts = ["the cat sat on the mat", "dog", "a red car ran fast on the road"]
    encoder = Encoder.load(str(tmp_path / "st"), device="cpu")
    assert encoder.model.pooling.mode == mode and not encoder.model.normalize  # no Normalize module saved
    np.testing.assert_allclose(encoder.encode(texts), st.encode(texts), atol=1e-5)


def test_saved_directory_loads_in_sentence_transformers(tmp_path, tiny_dir: str) -> None:
    texts = ["the cat sat on the mat", "dog", "a red car ran fast on the road"]
    encoder = Encoder.load(tiny_dir, pooling="max", device="cpu")
    encoder.model.save(tmp_path / "out")
    encoder.tokenizer.save_pretrained(tmp_path / "out")
    st = SentenceTransformer(str(tmp_path / "out"), device="cpu")
    np.testing.assert_allclose(st.encode(texts), encoder.encode(texts), atol=1e-5)
    again = SentenceEncoder.load(tmp_path / "out")
    assert (again.pooling.mode, again.normalize) == ("max", True)
