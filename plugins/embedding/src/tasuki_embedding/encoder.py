"""Encoding texts into sentence vectors, without training: :class:`Encoder` and :func:`encode`.

Texts are tokenized once (fast tokenizer, all at once), sorted by token length so that a
batch pads little, run in batches under ``torch.inference_mode``, and put back in the
caller's order. Texts longer than the model's limit are truncated with a warning, or cut
into overlapping windows whose vectors are averaged (``long_texts="window"``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tasuki.plugin import E5_PROMPTS, DataError, SentenceEncoder, checked_device, read_prompts

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from tasuki_embedding.similarity import EmbeddingIndex

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
AUTO_PROGRESS = 1000
"""Show a progress bar by default from this many texts on."""
MIN_MAX_LENGTH = 8
"""The shortest ``max_length`` an encoder takes, as ``tasuki train --max-length`` (room for the special tokens
and a few words)."""


class Encoder:
    """A :class:`SentenceEncoder` with its tokenizer, ready to turn texts into vectors.

    :param model: the sentence encoder.
    :param tokenizer: its (fast) tokenizer.
    :param max_length: the longest input in tokens (default: the model's own limit).
    :param device: ``cpu``, ``cuda``, ``cuda:1``...; default: CUDA when available.
    :param dtype: ``float32``; ``float16`` / ``bfloat16`` for the model weights on a GPU.
    :param prompts: prefixes by role, e.g. ``{"query": "query: ", "passage": "passage: "}`` for E5;
        default: the model's own (saved with it).
    """

    def __init__(
        self,
        model: SentenceEncoder,
        tokenizer: PreTrainedTokenizerBase,
        *,
        max_length: int | None = None,
        device: str | torch.device | None = None,
        dtype: str = "float32",
        prompts: dict[str, str] | None = None,
    ) -> None:
        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                       or max_length < MIN_MAX_LENGTH):  # 0 is a value, refused, never the default
            raise DataError(f"max_length (--max-length): {max_length!r} is not allowed; allowed: an integer >= "
                            f"{MIN_MAX_LENGTH}, or none for the model's limit")
        if dtype not in DTYPES:
            raise DataError(f"dtype must be one of {list(DTYPES)}, not {dtype!r}")
        device = torch.device(checked_device(device))
        if dtype == "float16" and device.type == "cpu":
            raise DataError("dtype 'float16' needs a GPU; use 'float32' (or 'bfloat16') on CPU")
        self.model = model.to(device=device, dtype=DTYPES[dtype]).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.dtype = dtype
        self.prompts = dict(model.prompts if prompts is None else prompts)
        self.max_length = int(max_length or model.max_seq_length or _model_limit(model, tokenizer))
        self.name: str | None = None
        """The model's name or directory (set by :meth:`load`), recorded in the indexes it builds."""
        self._source: tuple[Path | None, dict[str, Any] | None] = (None, None)
        self._fingerprint: str | bool | None = False  # False: not computed yet

    @property
    def fingerprint(self) -> str | None:
        """:func:`~tasuki_embedding.similarity.model_fingerprint` of the loaded weights (None: unknown)."""
        if self._fingerprint is False:
            from tasuki_embedding.similarity import model_fingerprint

            self._fingerprint = model_fingerprint(*self._source)
        return self._fingerprint

    def _loaded_from(self, name: str, directory: Path | None, metadata: dict[str, Any] | None = None) -> Encoder:
        self.name, self._source = name, (directory, metadata)
        return self

    @property
    def dimension(self) -> int:
        """The size of a sentence vector."""
        return self.model.dimension

    @classmethod
    def load(
        cls,
        spec: Any,
        *,
        pooling: str | None = None,
        normalize: bool | None = None,
        trust_remote_code: bool = False,
        **options: Any,
    ) -> Encoder:
        """An encoder from a backbone spec (``minilm``, ``e5-small``, ``hf:ID``), a model directory
        (transformers, sentence-transformers, or trained by tasuki), or a loaded ``tasuki`` model.

        A sentence-transformers directory keeps its own pooling and normalization unless
        ``pooling`` / ``normalize`` say otherwise; other encoders default to mean pooling and
        normalization. ``options`` go to :class:`Encoder` (``device``, ``dtype``, ``max_length``).
        """
        if isinstance(spec, Encoder):
            return spec
        options["device"] = checked_device(options.get("device"))  # refused before minutes of loading
        model = getattr(spec, "model", None)
        if isinstance(model, SentenceEncoder):  # a tasuki.load(...) result
            if pooling is not None or normalize is not None:
                raise DataError("pooling/normalize are fixed by a trained embedding model; load the directory instead")
            directory = getattr(spec, "directory", None)
            return cls(model, spec.tokenizer, **options)._loaded_from(str(directory), directory,
                                                                       getattr(spec, "metadata", None))
        from transformers import AutoTokenizer

        from tasuki.plugin import resolve_backbone

        path = Path(str(spec)).expanduser()
        name = str(spec)
        if not path.is_dir():
            backbone = resolve_backbone(spec, trust_remote_code=trust_remote_code)
            if backbone.directory is None:  # a Hub id or a from-scratch encoder: no directory of sentence-transformers files
                encoder = SentenceEncoder(backbone.encoder(), pooling or "mean", True if normalize is None else normalize)
                return cls(encoder, backbone.tokenizer, **options)._loaded_from(name, None)
            path, name = backbone.directory, backbone.spec
        model = SentenceEncoder.load(path, pooling=pooling, normalize=normalize, trust_remote_code=trust_remote_code)
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        if "prompts" not in options and read_prompts(path) is None:
            options["prompts"] = _guess_prompts(name)
        return cls(model, tokenizer, **options)._loaded_from(name, Path(path))

    # --- encoding ------------------------------------------------------------------------

    def encode(
        self,
        texts: str | Sequence[str],
        *,
        batch_size: int = 32,
        normalize: bool | None = None,
        output: str = "numpy",
        progress: bool | None = None,
        long_texts: str = "truncate",
        stride: int | None = None,
        prompt: str | None = None,
        allow_empty: bool = False,
        batch_tokens: int | None = None,
    ) -> np.ndarray | torch.Tensor:
        """Sentence vectors, shape (N, H) (or (H,) for a single string), in the order of ``texts``.

        :param batch_size: texts per forward pass at full length (``max_length`` tokens).
        :param normalize: L2-normalize (default: the model's setting).
        :param output: ``numpy`` (float32 array) or ``torch`` (float32 tensor on the model's device).
        :param progress: show a progress bar (default: from 1,000 texts on).
        :param long_texts: ``truncate`` (warn, keep the first ``max_length`` tokens) or ``window``
            (overlapping windows whose vectors are averaged).
        :param stride: tokens shared by consecutive windows (default: a quarter of ``max_length``).
        :param prompt: a role in :attr:`prompts` (``query``, ``passage``) whose prefix is prepended.
        :param allow_empty: encode empty strings (as sentence-transformers does) instead of raising.
        :param batch_tokens: a padded-token budget per forward pass: batches of short texts grow
            past ``batch_size`` up to it (the memory bound of ``batch_tokens / max_length`` long
            texts). Off by default: on CPU, measured slower than ``batch_size`` texts a batch.
        """
        if output not in ("numpy", "torch"):
            raise DataError(f"output must be 'numpy' or 'torch', not {output!r}")
        if long_texts not in ("truncate", "window"):
            raise DataError(f"long_texts must be 'truncate' or 'window', not {long_texts!r}")
        if batch_size < 1:
            raise DataError(f"batch_size must be at least 1, not {batch_size}")
        single = isinstance(texts, str)
        texts = _check_texts([texts] if single else texts, allow_empty)
        if prompt is not None:
            texts = [self.prompts.get(prompt, "") + t for t in texts]
        if not texts:
            empty = np.zeros((0, self.dimension), dtype=np.float32)
            return empty if output == "numpy" else torch.from_numpy(empty).to(self.device)
        normalize = self.model.normalize if normalize is None else normalize

        windows, owners, lengths = self._tokenize(texts, long_texts, stride)
        pooled = self._run(windows, lengths, batch_size, batch_tokens or 0, progress)  # (W, H) float32, window order
        vectors = _combine_windows(pooled, owners, lengths, len(texts), self.model.pooling.mode)  # (N, H)
        if normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=-1)
        if single:
            vectors = vectors[0]
        return vectors.cpu().numpy() if output == "numpy" else vectors.to(self.device)

    def _tokenize(
        self, texts: list[str], long_texts: str, stride: int | None
    ) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
        """Token ids per window, the text each window belongs to, and window lengths."""
        window = long_texts == "window"
        if stride is None:
            stride = self.max_length // 4 if window else 0
        specials = self.tokenizer.num_special_tokens_to_add(pair=False)
        if window and not 0 <= stride < self.max_length - specials:
            raise DataError(f"stride must be between 0 and {self.max_length - specials - 1}, not {stride}")
        encoded = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        ids: list[list[int]] = encoded["input_ids"]
        owners = np.asarray(encoded.get("overflow_to_sample_mapping", range(len(ids))), dtype=np.int64)
        if len(ids) > len(texts):
            long = np.flatnonzero(np.bincount(owners, minlength=len(texts)) > 1)
            if not window:
                first = np.ones(len(ids), dtype=bool)
                first[1:] = owners[1:] != owners[:-1]  # keep the first window of each text
                ids = [x for x, keep in zip(ids, first) if keep]
                owners = owners[first]
                shown = ", ".join(str(i) for i in long[:5]) + (", ..." if len(long) > 5 else "")
                warnings.warn(
                    f"{len(long)} text(s) longer than {self.max_length} tokens were truncated (positions {shown}); "
                    "pass long_texts='window' to average over the whole text",
                    stacklevel=3,
                )
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        return ids, owners, lengths

    @torch.inference_mode()
    def _run(
        self, ids: list[list[int]], lengths: np.ndarray, batch_size: int, batch_tokens: int, progress: bool | None
    ) -> torch.Tensor:
        """Pooled (not yet normalized) vectors (W, H) for token windows, longest first in batches."""
        from tqdm.auto import tqdm

        order = np.argsort(-lengths, kind="stable")
        pad_id = self.tokenizer.pad_token_id or 0
        out = torch.empty((len(ids), self.dimension), dtype=torch.float32, device=self.device)
        show = len(ids) >= AUTO_PROGRESS if progress is None else progress
        with tqdm(total=len(ids), disable=not show, desc="encoding", unit="text") as bar:
            start = 0
            while start < len(ids):
                width = int(lengths[order[start]])  # sorted longest first: the batch's width
                count = max(batch_size, batch_tokens // max(width, 1))
                rows = order[start : start + count]
                start += len(rows)
                input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # (B, T)
                attention_mask = torch.zeros((len(rows), width), dtype=torch.long)  # (B, T)
                for i, row in enumerate(rows):
                    n = int(lengths[row])
                    input_ids[i, :n] = torch.as_tensor(ids[row])
                    attention_mask[i, :n] = 1
                pooled = self.model(
                    input_ids.to(self.device), attention_mask.to(self.device), normalize=False
                )  # (B, H)
                out[torch.as_tensor(rows, device=self.device)] = pooled.float()
                bar.update(len(rows))
        return out

    # --- similarity and search -----------------------------------------------------------

    def similarity(self, a: str | Sequence[str], b: str | Sequence[str] | None = None) -> np.ndarray:
        """Cosine similarities: (len(a), len(b)), or (len(a), len(a)) without ``b``."""
        from tasuki_embedding.similarity import cos_sim

        x = self.encode([a] if isinstance(a, str) else a)
        y = x if b is None else self.encode([b] if isinstance(b, str) else b)
        return cos_sim(x, y)

    def index(self, corpus: Sequence[str], **encode_options: Any) -> EmbeddingIndex:
        """An in-memory :class:`~tasuki_embedding.similarity.EmbeddingIndex` of ``corpus`` (savable), which
        records this model (name and weights fingerprint) so that no other model searches it."""
        from tasuki_embedding.similarity import FINGERPRINT, EmbeddingIndex

        prompt = "passage" if "passage" in self.prompts else None
        vectors = self.encode(list(corpus), prompt=prompt, normalize=True, **encode_options)
        return EmbeddingIndex(vectors, list(corpus), {"model": self.name, FINGERPRINT: self.fingerprint,
                                                      "pooling": self.model.pooling.mode})

    def search(
        self, queries: str | Sequence[str], corpus: Sequence[str] | EmbeddingIndex, top_k: int = 5
    ) -> list[list[dict[str, Any]]]:
        """The ``top_k`` corpus entries nearest each query: ``[[{"index", "score", "text"}, ...], ...]``.

        An index built by another model is refused (:meth:`EmbeddingIndex.check_model`).
        """
        from tasuki_embedding.similarity import EmbeddingIndex

        if isinstance(corpus, EmbeddingIndex):
            corpus.check_model(self.fingerprint, self.name, self.model.pooling.mode)
        index = corpus if isinstance(corpus, EmbeddingIndex) else self.index(corpus)
        queries = [queries] if isinstance(queries, str) else list(queries)
        prompt = "query" if "query" in self.prompts else None
        return index.search(self.encode(queries, prompt=prompt, normalize=True), top_k=top_k)


def encode(model_or_spec: Any, texts: str | Sequence[str], **options: Any) -> np.ndarray | torch.Tensor:
    """Encode ``texts`` with any backbone spec, model directory or loaded model.

    ``pooling``, ``normalize``, ``device``, ``dtype`` and ``max_length`` choose the encoder (see
    :meth:`Encoder.load`); the rest go to :meth:`Encoder.encode`. Load an :class:`Encoder` once
    to encode many times.
    """
    load_keys = ("pooling", "device", "dtype", "max_length", "trust_remote_code")
    load_options = {k: options.pop(k) for k in load_keys if k in options}
    if "normalize" in options:
        load_options["normalize"] = options["normalize"]
    encoder = Encoder.load(model_or_spec, **load_options)
    return encoder.encode(texts, **options)


def _check_texts(texts: Iterable[str], allow_empty: bool) -> list[str]:
    if isinstance(texts, (bytes, dict)) or not isinstance(texts, Iterable):
        raise DataError(f"expected a string or a list of strings, got {type(texts).__name__}")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"text {i}: expected a string, got {type(text).__name__} {text!r:.40}")
    if not allow_empty:
        empty = [i for i, t in enumerate(texts) if not t.strip()]
        if empty:
            shown = ", ".join(map(str, empty[:5])) + (", ..." if len(empty) > 5 else "")
            raise DataError(f"{len(empty)} empty text(s) at position(s) {shown} (from 0); remove them (in Python, "
                            f"encode(..., allow_empty=True) encodes them; the CLI has no such option)")
    return texts


def _combine_windows(
    pooled: torch.Tensor, owners: np.ndarray, lengths: np.ndarray, n: int, mode: str
) -> torch.Tensor:
    """One vector per text from its windows' vectors: token-weighted mean (``max``: element-wise max)."""
    if len(owners) == n:
        return pooled  # one window per text, in text order
    owner = torch.as_tensor(owners, device=pooled.device)
    if mode == "max":
        out = torch.full((n, pooled.shape[1]), float("-inf"), device=pooled.device)
        return out.index_reduce_(0, owner, pooled, "amax")
    weights = torch.as_tensor(lengths, dtype=torch.float32, device=pooled.device)
    if mode == "cls":
        weights = torch.ones_like(weights)
    summed = torch.zeros((n, pooled.shape[1]), device=pooled.device).index_add_(0, owner, pooled * weights[:, None])
    total = torch.zeros(n, device=pooled.device).index_add_(0, owner, weights)
    return summed / total[:, None]  # (N, H)


def _model_limit(model: SentenceEncoder, tokenizer: PreTrainedTokenizerBase) -> int:
    limit = getattr(tokenizer, "model_max_length", None) or 512
    limit = 512 if limit > 100_000 else int(limit)
    positions = getattr(model.encoder.config, "max_position_embeddings", None)
    if positions:
        # RoBERTa-style encoders offset positions by padding_idx + 1.
        offset = (getattr(model.encoder.config, "pad_token_id", 0) or 0) + 1 if "roberta" in str(
            getattr(model.encoder.config, "model_type", "")
        ) else 0
        limit = min(limit, int(positions) - offset)
    return limit


def _guess_prompts(name: str) -> dict[str, str]:
    """Prefixes for a directory that saved none: an E5 checkpoint from the Hub (``intfloat/...-e5-...``)
    in the plain transformers layout was trained with ``query: `` / ``passage: ``.

    Only for directories without a ``prompts`` entry: a model saved by tasuki or sentence-transformers
    says its own prompts (``{}`` included), whatever its directory is called.
    """
    if "e5" in os.path.basename(str(name).rstrip("/")).lower():
        warnings.warn(f"{name}: no saved prompts; using the E5 prefixes {E5_PROMPTS} because the name says E5 "
                      "(pass prompts={} to encode without them)", stacklevel=3)
        return dict(E5_PROMPTS)
    return {}
