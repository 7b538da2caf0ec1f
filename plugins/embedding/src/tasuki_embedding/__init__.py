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

from tasuki.plugin import lazy_getattr

# Loaded on first use: plugin discovery imports this package, and ``tasuki --help`` must not pay for torch.
_LAZY = {
    "Encoder": "tasuki_embedding.encoder", "encode": "tasuki_embedding.encoder",
    "SentenceEncoder": "tasuki.plugin", "Pooling": "tasuki.plugin",
    "EmbeddingIndex": "tasuki_embedding.similarity", "cos_sim": "tasuki_embedding.similarity",
    "search": "tasuki_embedding.similarity", "EmbeddingTask": "tasuki_embedding.task",
}

__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = ["EmbeddingIndex", "EmbeddingTask", "Encoder", "Pooling", "SentenceEncoder", "cos_sim", "encode", "search"]
