"""Cosine similarity, top-k search, and an in-memory index that can be saved as one numpy file.

An index built by :meth:`Encoder.index <tasuki_embedding.encoder.Encoder.index>` records the model
that encoded it: its name and a fingerprint of its weights (:func:`model_fingerprint`). Searching it
with another model, whose vectors live in another space even at the same size, is refused
(:meth:`EmbeddingIndex.check_model`). An index that records no fingerprint (saved by tasuki before
it recorded one, or built from bare vectors) cannot be checked: using it warns once, with how to
rebuild it, rather than refusing every index saved so far.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tasuki.plugin import DataError, atomic_path

INDEX_FORMAT = "tasuki-embedding-index/1"
FINGERPRINT = "model_fingerprint"
"""The index metadata key of the fingerprint of the model that encoded the corpus (None: unknown)."""
WEIGHT_FILES = ("*.safetensors", "pytorch_model*.bin")


def model_fingerprint(directory: str | Path | None, metadata: dict[str, Any] | None = None) -> str | None:
    """A short hash of the weights that make a model's vectors, or None when they cannot be known.

    From ``tasuki.json`` (``metadata``, read from ``directory`` when not given): the SHA-256 of the
    weights it records; an ONNX export gives the weights it was exported from, so an index built with
    the torch model serves the export's queries. A directory without ``tasuki.json`` (transformers or
    sentence-transformers layout): its weight files are hashed, giving the same fingerprint as a
    tasuki model with the same weight files.
    """
    if directory is None and metadata is None:
        return None
    path = Path(directory) if directory is not None else None
    if metadata is None and path is not None and (path / "tasuki.json").is_file():
        try:
            metadata = json.loads((path / "tasuki.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            metadata = None
    if isinstance(metadata, dict):
        if metadata.get("runtime", "torch") == "onnx":
            weights = (metadata.get("source") or {}).get("weights_sha256")  # None: exported before it was recorded
        else:
            weights = metadata.get("weights_sha256")
    elif path is not None and path.is_dir():
        from tasuki.plugin import file_sha256

        files = sorted({p for pattern in WEIGHT_FILES for p in path.glob(pattern)})
        weights = {p.name: file_sha256(p) for p in files}
    else:
        weights = None
    if not weights:
        return None
    return hashlib.sha256(json.dumps(sorted(weights.items())).encode()).hexdigest()[:16]


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def cos_sim(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarity matrix (len(a), len(b)) of two sets of vectors (``b`` defaults to ``a``)."""
    a = normalize_rows(np.atleast_2d(a))
    b = a if b is None else normalize_rows(np.atleast_2d(b))
    if a.shape[1] != b.shape[1]:
        raise DataError(f"vectors of different sizes: {a.shape[1]} and {b.shape[1]}")
    return a @ b.T


def top_k_indices(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the ``k`` largest entries of each row of ``scores`` (Q, N), best first."""
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64), np.zeros((scores.shape[0], 0), dtype=scores.dtype)
    # argpartition then a sort of k entries: O(N + k log k) per query instead of a full sort.
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.tile(
        np.arange(scores.shape[1]), (scores.shape[0], 1)
    )
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)


def search(
    query_embeddings: np.ndarray, corpus_embeddings: np.ndarray, top_k: int = 5
) -> list[list[dict[str, Any]]]:
    """For each query vector, the ``top_k`` nearest corpus vectors by cosine: ``[{"index", "score"}, ...]``."""
    if top_k < 1:
        raise DataError(f"top_k must be at least 1, not {top_k}")
    scores = cos_sim(query_embeddings, corpus_embeddings)  # (Q, N)
    indices, values = top_k_indices(scores, top_k)
    return [
        [{"index": int(i), "score": float(s)} for i, s in zip(row_i, row_s)]
        for row_i, row_s in zip(indices, values)
    ]


class EmbeddingIndex:
    """Normalized corpus vectors (N, H) with their texts: search in memory, save once, load later.

    :param embeddings: the corpus vectors (normalized here).
    :param texts: the corpus texts, in the same order (optional).
    :param metadata: JSON-serialisable facts saved along (e.g. the model that encoded the corpus).
    """

    def __init__(
        self, embeddings: np.ndarray, texts: Sequence[str] | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        self.embeddings = normalize_rows(np.atleast_2d(embeddings))
        self.texts = list(texts) if texts is not None else None
        if self.texts is not None and len(self.texts) != len(self.embeddings):
            raise DataError(f"index: {len(self.texts)} texts for {len(self.embeddings)} vectors")
        self.metadata = dict(metadata or {})
        self.path: Path | None = None
        """The file the index was loaded from (None: built in memory)."""

    def __len__(self) -> int:
        return len(self.embeddings)

    def search(self, query_embeddings: np.ndarray, top_k: int = 5) -> list[list[dict[str, Any]]]:
        """The ``top_k`` nearest entries per query vector, with their text when the index has texts."""
        hits = search(np.atleast_2d(query_embeddings), self.embeddings, top_k)
        if self.texts is not None:
            for row in hits:
                for hit in row:
                    hit["text"] = self.texts[hit["index"]]
        return hits

    def check_model(self, fingerprint: str | None, name: str | None, pooling: str | None = None) -> None:
        """Refuse (:class:`DataError`) to search with a model other than the one that built the index, or with
        the same weights pooled otherwise (``--pooling cls`` on an index of mean-pooled vectors).

        :param fingerprint: :func:`model_fingerprint` of the model about to search (None: unknown).
        :param name: its name or directory, for the messages.
        :param pooling: how it pools token vectors (None: not checked; an index that records none is not).
        """
        where = f"index {self.path}" if self.path is not None else "the index"
        built_by = self.metadata.get("model") or "an unnamed model"
        pooled = self.metadata.get("pooling")
        if pooling and pooled and pooling != pooled:
            raise DataError(f"{where} holds {pooled}-pooled vectors and {name!r} pools with {pooling!r}: they do not "
                            f"compare; search with --pooling {pooled}, or rebuild the index with this pooling")
        recorded = self.metadata.get(FINGERPRINT)
        if recorded and fingerprint and recorded != fingerprint:
            raise DataError(f"{where} was built by model {built_by!r} (weights {recorded}), not by {name!r} (weights "
                            f"{fingerprint}): its vectors do not compare with this model's; rebuild the index with "
                            f"this model (tasuki search MODEL --corpus FILE --index FILE)")
        if recorded and fingerprint:
            return
        if FINGERPRINT not in self.metadata:
            warnings.warn(f"{where} does not record the model that built it (an index saved by an older tasuki, or "
                          f"built from bare vectors): if it was not {name!r}, its results mean nothing; rebuild it "
                          f"with this model to have it checked", stacklevel=3)
        elif recorded != fingerprint and built_by != name:
            warnings.warn(f"{where} was built by {built_by!r}; cannot check that {name!r} has the same weights "
                          f"(one of them has no weight files to fingerprint)", stacklevel=3)

    def save(self, path: str | Path) -> Path:
        """Write one ``.npz`` file (vectors, texts, metadata; no pickled objects). Returns its path."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays: dict[str, np.ndarray] = {
            "embeddings": self.embeddings,
            "metadata": np.array(json.dumps({"format": INDEX_FORMAT, **self.metadata})),
        }
        if self.texts is not None:
            arrays["texts"] = np.array(self.texts, dtype=np.str_)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # a reader never sees half an index
            np.savez(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> EmbeddingIndex:
        """Read an index written by :meth:`save` (``allow_pickle=False``: loading never runs code)."""
        path = Path(path)
        try:
            data = np.load(path, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("a single array, not an .npz index")
            with data:
                metadata = json.loads(str(data["metadata"]))
                texts = [str(t) for t in data["texts"]] if "texts" in data else None
                embeddings = data["embeddings"]
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: not an embedding index saved by tasuki ({exc})") from None
        if not isinstance(metadata, dict) or metadata.pop("format", None) != INDEX_FORMAT:
            raise DataError(f"{path}: unknown index format")
        if embeddings.ndim != 2 or embeddings.dtype.kind != "f" or not np.isfinite(embeddings).all():
            raise DataError(f"{path}: the embeddings must be a 2-D array of finite floats, got "
                            f"{embeddings.dtype} of shape {embeddings.shape}")
        if texts is not None and len(texts) != len(embeddings):
            raise DataError(f"{path}: {len(texts)} texts for {len(embeddings)} embeddings")
        index = cls(embeddings, texts, metadata)
        index.path = path
        return index
