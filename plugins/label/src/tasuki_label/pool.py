"""The texts to choose from, and what a model (or the backbone) says about them: embeddings, probabilities."""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasuki.plugin import DataError, iter_rows
from tasuki_label.selection import normalised

DEFAULT_BACKBONE = "minilm"
"""The embeddings before any model exists: the packaged all-MiniLM-L6-v2, a sentence-embedding model."""
EMBED_MAX_LENGTH = 128
"""Tokens per text for embeddings: classify's own max_length, so the texts are seen as training sees them."""


Item = str | tuple[str, str]
"""One thing to label: a text, or a pair of texts ``(text, text_pair)`` (task ``classify-pairs``)."""


def read_texts(path: str | Path, column: str = "text", *, pair: str | None = None,
               encoding: str | None = None) -> list[Item]:
    """The distinct texts of ``column`` in a file, in file order (a text twice is one text to label); with
    ``pair`` (the ``text_pair`` column), the distinct pairs ``(text, text_pair)`` (a pair twice is one pair).

    An empty or missing cell is refused with its row: a pool with holes would silently lose those rows.
    """
    wanted = {"text": column, **({"text_pair": pair} if pair is not None else {})}
    items: dict[Item, None] = {}
    for row, values in enumerate(iter_rows(path, encoding=encoding), start=1):
        cells = []
        for field, name in wanted.items():
            if name not in values:
                raise DataError(f"{path}: missing column {name!r}; found columns: {', '.join(values) or 'none'}. "
                                f"Map yours with --column {field}=YOUR_{field.upper()}_COLUMN")
            text = values[name]
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"{path}: row {row}, column {name!r}: expected a non-empty text, got {text!r}")
            cells.append(text)
        items.setdefault(cells[0] if pair is None else (cells[0], cells[1]))
    return list(items)


def labelled_texts(path: str | Path | None, pairs: bool = False) -> set[Item]:
    """The texts (``pairs``: the pairs) already in a labels file; none when the file does not exist yet."""
    if path is None or not Path(path).exists():
        return set()
    fields = ("text", "text_pair") if pairs else ("text",)
    items: set[Item] = set()
    for row, values in enumerate(iter_rows(path), start=1):
        for field in fields:
            if field not in values:  # a file of other columns: not "row 1 ... got None"
                raise DataError(f"{path}: missing column {field!r}; found columns: {', '.join(values) or 'none'}. "
                                f"A labels file has the labelled texts in columns named {' and '.join(fields)} "
                                f"(as tasuki label writes them)")
            if not isinstance(values[field], str):
                raise DataError(f"{path}: row {row}, column {field!r}: expected a text, got {values[field]!r}")
        items.add(values["text"] if not pairs else (values["text"], values["text_pair"]))
    return items


def embedding_backbone(texts: Sequence[Item], given: str | None = None, task: str = "classify") -> str:
    """The backbone whose embeddings choose among ``texts``: ``given``, else ``task``'s default backbone for the
    texts' language, as ``tasuki train`` picks it (classify: ``minilm`` for English, ``e5-small`` for Japanese)."""
    if given:
        return given
    from datasets import Dataset

    import tasuki
    from tasuki.plugin import detect_language

    defaults = tasuki.make_task(task).default_backbones
    firsts = [t if isinstance(t, str) else t[0] for t in texts]  # a pair's language is its first text's
    lang = detect_language(Dataset.from_dict({"text": firsts})) if texts else "en"
    return defaults.get(lang, defaults.get("en", DEFAULT_BACKBONE))


def views(strategy: str, model: Any) -> list[Any]:
    """Whose embeddings ``strategy`` reads, side by side: ``None`` is the backbone, else ``model``'s encoder.

    ``uncertainty``: the model's (its clusters are drawn where its margins are); ``typical``: the backbone's
    (TypiClust's fixed embedding) and, once a model with an encoder exists, the model's too (the backbone's alone
    or the model's alone each lost the measured lead in one language: ``bench/RESULTS.md``, "Active learning:
    what typical clusters"); ``diverse`` and ``random``: the backbone's. Without a model whose encoder can be
    read (none yet, or an ONNX export), the backbone's alone.
    """
    if model is None or encoder_of(model.model) is None:  # no model yet, or an ONNX export: nothing to read
        return [None]
    if strategy == "uncertainty":
        return [model]
    return [None, model] if strategy == "typical" else [None]


def sample(texts: list[Item], most: int, seed: int) -> list[Item]:
    """At most ``most`` of ``texts``: all of them, or a seeded random sample (a page round's candidates and
    ``suggest``'s alike: embedding a whole large pool would take minutes on a CPU)."""
    return texts if len(texts) <= most else random.Random(seed).sample(texts, most)


def vectors(texts: Sequence[Item], strategy: str, *, model: Any = None, backbone: str | None = None,
            caches: dict[str, dict[str, np.ndarray]] | None = None, progress: bool = False) -> np.ndarray:
    """``(N, D)`` the vectors ``strategy`` chooses with: each of its :func:`views`' embeddings at unit length,
    side by side (the cosine of two rows is the mean of the views' cosines). ``caches``: a text's vector per
    view (``"backbone"``, ``"model"``), read and filled here, so a session embeds a text once per encoder;
    ``progress``: a progress bar on stderr per encoder."""
    parts = []
    for view in views(strategy, model):
        cache = {} if caches is None else caches.setdefault("backbone" if view is None else "model", {})
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            cache.update(zip(missing, normalised(embed(missing, model=view, backbone=backbone, progress=progress))))
        parts.append(np.stack([cache[t] for t in texts]) if len(texts) else np.zeros((0, 1)))
    return np.hstack(parts)


def embed(texts: Sequence[Item], *, model: Any = None, backbone: str | None = None, batch_size: int = 32,
          progress: bool = False) -> np.ndarray:
    """Mean-pooled last hidden states, ``(N, D)``: of the model's own encoder, else of ``backbone``
    (a spec or directory; default :data:`DEFAULT_BACKBONE`). Batches hold texts of like length (longest
    first, rows back in the given order), so a pool of short and long texts pads little.

    A pair ``(text, text_pair)`` is one input, the tokenizer's text pair (``[CLS] text [SEP] text_pair [SEP]``,
    twice the tokens), as the ``classify-pairs`` cross-encoder reads it: its encoder's vectors mean something
    only for a pair read together (it never saw one text alone), and one code path then serves the backbone
    and the model. Concatenating the two texts' own vectors would double the width and lose how they relate.
    """
    import torch
    from tqdm.auto import tqdm

    pairs = bool(texts) and not isinstance(texts[0], str)
    limit = EMBED_MAX_LENGTH * (2 if pairs else 1)
    encoder, prefix = encoder_of(model.model) if model is not None else None, ""
    if encoder is not None:
        tokenizer, max_length = model.tokenizer, min(model.max_length, limit)
    else:  # no model yet, or an ONNX export (no encoder to read): the backbone's embeddings
        from tasuki.plugin import read_prompts, resolve_backbone

        chosen = resolve_backbone(backbone or DEFAULT_BACKBONE)
        encoder, tokenizer = chosen.encoder(), chosen.tokenizer
        max_length = min(chosen.max_length, limit)
        # a sentence model's own prompt for texts compared with each other (E5: "query: ", its authors' advice
        # for clustering); the model's encoder was tuned without one
        directory = getattr(chosen, "directory", None)
        prefix = ((directory is not None and read_prompts(directory)) or {}).get("query", "")
    # the prompt once, at the input's start (a pair's first text), where the sentence model expects it
    firsts = [prefix + (t if isinstance(t, str) else t[0]) for t in texts]
    seconds = [t[1] for t in texts] if pairs else None
    encoder.eval()
    device = next(encoder.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: -len(firsts[i]) - (len(seconds[i]) if seconds else 0))
    rows = []
    with torch.inference_mode(), tqdm(total=len(texts), desc="embedding", unit=" texts", disable=not progress,
                                      file=sys.stderr, dynamic_ncols=True, leave=False) as bar:
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = tokenizer([firsts[i] for i in chunk], [seconds[i] for i in chunk] if seconds else None,
                              truncation=True, max_length=max_length, padding=True, return_tensors="pt").to(device)
            hidden = encoder(**batch).last_hidden_state  # (B, T, H)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            rows.append((hidden * mask).sum(1) / mask.sum(1).clamp(min=1))  # (B, H): padding left out
            bar.update(len(chunk))
    if not rows:
        return np.zeros((0, 1))
    out = np.empty((len(texts), rows[0].shape[1]), dtype=np.float32)
    out[order] = torch.cat(rows).float().cpu().numpy()
    return out


def encoder_of(module: Any) -> Any:
    """The transformer encoder inside a loaded model: the first transformers model that is its own base model
    (BertModel under ``AutoModelForSequenceClassification``, or under a head over pooled sentence vectors)."""
    import torch
    from transformers import PreTrainedModel

    if not isinstance(module, torch.nn.Module):
        return None
    return next((m for m in module.modules() if isinstance(m, PreTrainedModel) and m.base_model is m), None)


@dataclass(frozen=True)
class Scores:
    """What a classification model says about some texts, as its ``predict`` says it."""

    probs: np.ndarray
    """``(N, C)``: each text's score of every label, in ``labels`` order."""
    labels: list[str]
    multi_label: bool
    thresholds: np.ndarray | None
    """Multi-label: ``(C,)`` the threshold each label is decided at (the model's tuned ones, or its override)."""
    guesses: list[tuple[str, float]]
    """The model's answer per text and how sure it is: its label and score; multi-label, the labels it predicts
    joined by ``|`` and the lowest of their scores (none predicted: ``""`` and 1 minus the highest score)."""

    def selection_args(self) -> dict[str, Any]:
        """The keyword arguments of :func:`tasuki_label.selection.select` that carry these scores."""
        return {"probs": self.probs, "multi_label": self.multi_label, "thresholds": self.thresholds}


def probabilities(model: Any, texts: Sequence[Item], batch_size: int = 32, progress: bool = False) -> Scores:
    """What ``model.predict`` says about ``texts``: every label's score, and its answers (``progress``: its bar)."""
    labels = list(model.task.labels or [])
    if not texts:
        return Scores(np.zeros((0, len(labels))), labels, False, None, [])
    predictions = model.predict(list(texts), batch_size=batch_size, progress=progress)
    first = predictions[0]
    if not isinstance(first, dict) or not isinstance(first.get("scores"), dict):
        raise DataError(f"{model.directory}: task {model.task.name!r} predicts no class scores; "
                        f"tasuki label chooses with classification models")
    probs = np.array([[float(p["scores"].get(label, 0.0)) for label in labels] for p in predictions])
    if "labels" not in first:
        return Scores(probs, labels, False, None, [(p["label"], float(p["score"])) for p in predictions])
    guesses = [("|".join(c["label"] for c in p["labels"]),
                min(float(c["score"]) for c in p["labels"]) if p["labels"] else 1.0 - float(row.max(initial=0.0)))
               for p, row in zip(predictions, probs)]
    return Scores(probs, labels, True, _thresholds(model.task, labels), guesses)


def _thresholds(task: Any, labels: list[str]) -> np.ndarray:
    """Each label's threshold as the model decides with it: classify's options ``threshold`` (one for every
    label) over ``thresholds`` (tuned per label); 0.5 for a task that declares neither."""
    options = getattr(task, "options", None)
    override, own = getattr(options, "threshold", None), getattr(options, "thresholds", None) or {}
    return np.array([override if override is not None else own.get(label, 0.5) for label in labels], dtype=np.float64)
