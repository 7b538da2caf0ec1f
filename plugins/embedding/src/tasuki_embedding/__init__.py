"""tasuki-embedding: sentence embeddings on any tasuki backbone.

Encode without training, compare and search::

    from tasuki_embedding import Encoder, encode
    vectors = encode("minilm", ["A man is eating.", "Someone eats."])   # (2, 384), normalized
    encoder = Encoder.load("minilm")
    encoder.similarity("A man is eating.", "Someone eats.")
    encoder.search("who eats?", corpus_texts, top_k=3)

Fine-tune through the core runner (``tasuki.train("embedding", data=pairs, ...)``); the saved
directory loads in ``SentenceTransformer(dir)`` as well as in ``tasuki.load(dir)``.
"""

from __future__ import annotations

from tasuki_embedding.encoder import Encoder, encode
from tasuki_embedding.model import SentenceEncoder
from tasuki_embedding.pooling import Pooling
from tasuki_embedding.similarity import EmbeddingIndex, cos_sim, search
from tasuki_embedding.task import EmbeddingTask

__all__ = ["EmbeddingIndex", "EmbeddingTask", "Encoder", "Pooling", "SentenceEncoder", "cos_sim", "encode", "search"]
