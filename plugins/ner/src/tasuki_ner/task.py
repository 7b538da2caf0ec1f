"""The ``ner`` task: token classification with character offsets, English and Japanese.

Examples come in two forms, both for training and for evaluation:

- ``{"tokens": [...], "tags": [...]}`` (CoNLL files, jsonl, Hub sets such as conll2003,
  whose ``ner_tags`` ClassLabel ids are read by name), tags in IO, IOB1, BIO or BIOES;
- ``{"text": "...", "entities": [{"start": 0, "end": 5, "type": "PER"}, ...]}``
  (character offsets, end exclusive; ``label`` is accepted for ``type``).

Prediction takes texts (or pre-split token lists) and returns, per text, entities
``{text, type, start, end, score}`` with character offsets into that text. Texts longer
than ``max_length`` tokens are split into overlapping windows and merged, never truncated.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tasuki.errors import DataError
from tasuki.settings import SettingError, setting
from tasuki.task import Outputs, Task
from tasuki_ner.aggregate import STRATEGIES, aggregate, merge_windows, softmax
from tasuki_ner.align import (
    IGNORE,
    Example,
    join_tokens,
    special_tokens,
    split_at_entities,
    text_words,
    token_labels,
    tokenize,
    windows,
)
from tasuki_ner.metrics import entity_metrics, entity_report, plot_f1_by_type
from tasuki_ner.readers import CONLL_SUFFIXES, read_conll
from tasuki_ner.tags import Span, TagError, bio_labels, detect_scheme, normalize_scheme, parse_tag, to_bio

if TYPE_CHECKING:
    import torch
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

@dataclass
class NerOptions:
    """Options of the ``ner`` task, saved with the model."""

    scheme: str = "auto"
    """Tag scheme of token/tag data: auto (detected over the training data), io, iob1, bio (iob2), bioes (bilou)."""
    repair: bool = False
    """Read an I- tag without its B- as B- (BIO/BIOES) instead of refusing the row."""
    label_all_tokens: bool = True
    """Label every sub-token of a word (B- becomes I-), or only its first."""
    strict: bool = False
    """seqeval's strict IOB2 mode for the metrics."""
    aggregation: str = "simple"
    """How token predictions become entities: none, simple, first, average, max (as in transformers' pipeline)."""
    window_overlap: int = setting(32, min=0)
    """Tokens shared by consecutive windows of a long text."""


class _TokenClassificationHead:
    """``AutoModelForTokenClassification``, imported when first used (keeps plugin discovery fast)."""

    def __get__(self, obj: Any, owner: Any) -> Any:
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification


class NerTask(Task):
    """Named entity recognition: BIO token classification over sub-tokens, entity spans out.

    The main metric (best evaluation, early stopping) is entity-level micro F1 (``f1``).
    """

    name: ClassVar[str] = "ner"
    description: ClassVar[str] = "Named entity recognition (entity spans with character offsets)"
    languages: ClassVar[tuple[str, ...]] = ("en", "ja")
    # Either ("tokens", "tags") or ("text", "entities") will do, which one column list cannot say:
    # validate() checks the columns and names both forms in its error.
    input_columns: ClassVar[tuple[str, ...]] = ()
    target_columns: ClassVar[tuple[str, ...]] = ()
    columns_note: ClassVar[str] = ("tokens + tags (lists of words and IOB/BIO/BIOES tags; CoNLL files), or text + "
                                   "entities (character offsets: start, end, label); prediction needs tokens or text")
    auto_model: ClassVar[Any] = _TokenClassificationHead()
    pipeline_tag: ClassVar[str | None] = "token-classification"
    training_scheme: str | None = None
    """The tag scheme of the training data (declared, or detected by :meth:`fit`); other sets keep their own."""
    main_metric: ClassVar[str] = "f1"  # entity-level micro F1 (seqeval)
    training_defaults: ClassVar[dict[str, Any]] = {"learning_rate": 5e-5, "max_length": 256}

    Options: ClassVar[type] = NerOptions

    def __init__(self, lang: str = "en", labels: Sequence[str] | None = None, **options: Any) -> None:
        super().__init__(lang, labels, **options)
        try:
            self.options.scheme = normalize_scheme(self.options.scheme)
        except ValueError as exc:
            raise SettingError(f"option of task 'ner' 'scheme': {exc}") from None
        self.aggregation = self.options.aggregation
        self._scheme: str | None = None if self.options.scheme == "auto" else self.options.scheme
        self._tag_names: list[str] | None = None  # names of integer tags (Hub ClassLabel)
        self.alignment: Counter[str] = Counter()
        """Running counts: ``words_split`` (cut at entity boundaries), ``entities_unreachable``."""

    @property
    def aggregation(self) -> str:
        """The aggregation strategy :meth:`postprocess` uses; may be changed on a loaded model."""
        return self.options.aggregation

    @aggregation.setter
    def aggregation(self, value: str) -> None:
        if value not in STRATEGIES:
            raise SettingError(f"option of task 'ner' 'aggregation': {value!r} is not allowed; allowed: one of "
                               f"{', '.join(STRATEGIES)}")
        self.options.aggregation = value

    # --- data ----------------------------------------------------------------------------

    @classmethod
    def readers(cls) -> dict[str, Any]:
        """CoNLL-style files (token, optional columns, tag last; blank line between sentences)."""
        return dict.fromkeys(CONLL_SUFFIXES, read_conll)

    def examples_from_inputs(self, inputs: Any) -> list[dict[str, Any]]:
        """A text, texts, pre-split token lists (``[["New", "York"]]``), or example dicts."""
        if isinstance(inputs, (str, dict)):
            inputs = [inputs]
        inputs = list(inputs)
        rows = []
        for x in inputs:
            if isinstance(x, str):
                rows.append({"text": x})
            elif isinstance(x, (list, tuple)):
                rows.append({"tokens": list(x)})
            else:
                rows.append(dict(x))
        return rows

    def _tag_column(self, row: dict[str, Any]) -> str | None:
        for column in ("tags", "ner_tags"):
            if row.get(column) is not None:
                return column
        return None

    def _raw_tags(self, row: dict[str, Any]) -> list[str] | None:
        column = self._tag_column(row)
        if column is None:
            return None
        tags = list(row[column])
        if tags and all(isinstance(t, (int, np.integer)) for t in tags):
            if self._tag_names is None:
                raise DataError(f"column {column!r} holds integers but the data set gives no tag names (ClassLabel)")
            tags = [self._tag_names[int(t)] for t in tags]
        return tags

    def _read_tag_names(self, data: Dataset) -> None:
        feature = getattr(data, "features", {}).get("ner_tags") if hasattr(data, "features") else None
        names = getattr(getattr(feature, "feature", None), "names", None)
        if names:
            self._tag_names = list(names)

    def _text_of(self, row: dict[str, Any]) -> str:
        if row.get("tokens") is not None:
            return join_tokens(row["tokens"], "" if self.lang == "ja" else " ")[0]
        return row["text"]

    def _example(self, row: dict[str, Any]) -> Example:
        """Text, words and (if the row has targets) BIO word tags of one row."""
        if row.get("tokens") is not None:
            text, words = join_tokens(row["tokens"], "" if self.lang == "ja" else " ")
            raw = self._raw_tags(row)
            tags = None
            if raw is not None:
                # every scheme converts to BIO by the same rule (tags.py) and validate() has checked
                # this data set against its own scheme, so the lenient reading is exact: nothing learnt
                # from another data set decides how this one is encoded
                tags = to_bio(raw, "iob1")
            # whitespace tokens (the corpus's full-width spaces) carry no characters a model sees
            keep = [i for i, (s, e) in enumerate(words) if text[s:e].strip()]
            words = [words[i] for i in keep]
            if tags is not None:
                tags = to_bio([tags[i] for i in keep], "iob1")
            return Example(text, words, tags)
        text = row["text"]
        words = text_words(text, self.lang)
        if row.get("entities") is None:
            return Example(text, words)
        spans = [_entity(e) for e in row["entities"]]
        words, tags, split = split_at_entities(words, spans)
        return Example(text, words, tags, split)

    def validate(self, data: Dataset, source: str, *, with_targets: bool) -> None:
        """Check every row; errors name the file and line (CoNLL) or row (jsonl) and the token or entity."""
        self._read_tag_names(data)
        columns = set(data.column_names)
        if "tokens" not in columns and "text" not in columns:
            raise DataError(
                f"{source}: ner data needs a 'tokens' column (with 'tags') or a 'text' column (with 'entities'); "
                f"found columns {sorted(columns)}"
            )
        known = {label[2:] for label in self.labels or [] if label != "O"}
        sentences: list[tuple[int, dict[str, Any], list[str]]] = []
        for number, row in enumerate(data, start=1):
            if row.get("tokens") is not None:
                tags = self._check_token_row(row, number, source, with_targets)
                if tags is not None:
                    sentences.append((number, row, tags))
            else:
                self._check_text_row(row, number, source, with_targets, known)
        if not sentences:
            return
        # each data set is checked in its own scheme (declared, or detected over this set alone);
        # the training scheme is what fit() saw, and validating another set never changes it
        scheme = self._scheme or detect_scheme([tags for _, _, tags in sentences])
        for number, row, tags in sentences:
            try:
                bio = to_bio(tags, scheme, repair=self.options.repair)
            except TagError as exc:
                raise DataError(f"{_where(source, number, row, exc.position)}: {exc}") from None
            if known:
                for i, tag in enumerate(bio):
                    if tag != "O" and tag[2:] not in known:
                        raise DataError(
                            f"{_where(source, number, row, i)}: unknown tag {tags[i]!r}: the model knows the types "
                            f"{sorted(known)} (from its training data)"
                        )

    def _check_token_row(self, row: dict, number: int, source: str, with_targets: bool) -> list[str] | None:
        tokens = row["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise DataError(f"{_where(source, number, row)}: column 'tokens' must be a list of strings")
        if not tokens or not any(t.strip() for t in tokens):
            raise DataError(f"{_where(source, number, row)}: empty sentence (no tokens)")
        if not with_targets:
            return None
        tags = self._raw_tags(row)
        if tags is None:
            raise DataError(f"{_where(source, number, row)}: no 'tags' for the tokens (training/evaluation needs them)")
        if len(tags) != len(tokens):
            raise DataError(f"{_where(source, number, row)}: {len(tokens)} tokens but {len(tags)} tags; each token needs one tag")
        for i, tag in enumerate(tags):
            try:
                parse_tag(tag)
            except ValueError as exc:
                raise DataError(f"{_where(source, number, row, i)}: {exc}") from None
        return tags

    def _check_text_row(self, row: dict, number: int, source: str, with_targets: bool, known: set[str]) -> None:
        text = row.get("text")
        if not isinstance(text, str):
            raise DataError(f"{source}: row {number}, column 'text': expected text, got {text!r}")
        if not text.strip():
            raise DataError(f"{source}: row {number}, column 'text': empty text")
        if not with_targets:
            return
        entities = row.get("entities")
        if not isinstance(entities, list):
            raise DataError(f"{source}: row {number}: column 'entities' must be a list of {{start, end, type}}")
        spans = []
        for k, raw in enumerate(entities, start=1):
            where = f"{source}: row {number}, entity {k}"
            try:
                span = _entity(raw)
            except ValueError as exc:
                raise DataError(f"{where}: {exc}") from None
            if not 0 <= span.start < span.end <= len(text):
                raise DataError(
                    f"{where}: offsets [{span.start}, {span.end}) lie outside the text (length {len(text)}); "
                    "offsets are character positions, end exclusive"
                )
            if known and span.type not in known:
                raise DataError(f"{where}: unknown type {span.type!r}; the model knows {sorted(known)}")
            spans.append(span)
        spans.sort(key=lambda s: s.start)
        for a, b in itertools.pairwise(spans):
            if b.start < a.end:
                raise DataError(
                    f"{source}: row {number}: entities {text[a.start : a.end]!r} [{a.start}, {a.end}) and "
                    f"{text[b.start : b.end]!r} [{b.start}, {b.end}) overlap; nested entities are not supported"
                )

    def fit(self, train: Dataset) -> None:
        """Take the label set (O, then B-/I- per type, sorted) and the tag scheme from the training data."""
        self._read_tag_names(train)
        types: set[str] = set()
        sentences = []
        for row in train:
            if row.get("tokens") is not None:
                raw = self._raw_tags(row) or []
                sentences.append(raw)
                types.update(parse_tag(t)[1] for t in raw if t != "O")
            else:
                types.update(_entity(e).type for e in row.get("entities") or [])
        if self.labels is None:
            self.labels = bio_labels(types)
        missing = types - {label[2:] for label in self.labels if label != "O"}
        if missing:
            raise DataError(f"training data has types {sorted(missing)} that the given labels {self.labels} lack")
        if sentences:
            self.training_scheme = self._scheme or detect_scheme(sentences)
            log.info("ner: training tags read as %s", self.training_scheme.upper())

    # --- features ------------------------------------------------------------------------

    def encode(self, batch: dict[str, list], tokenizer: PreTrainedTokenizerBase, max_length: int) -> dict[str, list]:
        """Sub-token features, one per window of at most ``max_length`` tokens, with BIO label ids.

        Besides the model inputs each feature keeps ``positions`` (the token's index in the whole
        text, -1 for special tokens), ``offsets`` and ``word_ids`` per position, ``example_index``
        (within the batch) and ``window`` (0 for an example's first window).
        """
        prefix, suffix = special_tokens(tokenizer)
        size = max_length - len(prefix) - len(suffix)
        label2id = {label: i for i, label in enumerate(self.labels or [])}
        out: dict[str, list] = defaultdict(list)
        n = len(next(iter(batch.values())))
        split = lost = 0
        for i in range(n):
            row = {k: batch[k][i] for k in batch}
            example = self._example(row)
            tokens = tokenize(example.text, example.words, tokenizer, by_word=self.lang == "ja")
            labels = None
            if example.tags is not None and label2id:
                unknown = sorted({t for t in example.tags if t not in label2id})
                if unknown:
                    raise DataError(f"unknown tag(s) {unknown} in {example.text[:60]!r}; the model knows {self.labels}")
                labels, unreachable = token_labels(
                    tokens, example.tags, label2id, label_all_tokens=self.options.label_all_tokens
                )
                lost += unreachable
            split += example.split_words
            for w, (a, b) in enumerate(windows(len(tokens.ids), size, self.options.window_overlap)):
                pad_l, pad_r = [-1] * len(prefix), [-1] * len(suffix)
                ids = prefix + tokens.ids[a:b] + suffix
                out["input_ids"].append(ids)
                out["attention_mask"].append([1] * len(ids))
                out["positions"].append(pad_l + list(range(a, b)) + pad_r)
                out["offsets"].append([[0, 0]] * len(prefix) + [list(o) for o in tokens.offsets[a:b]] + [[0, 0]] * len(suffix))
                out["word_ids"].append(pad_l + tokens.word_ids[a:b] + pad_r)
                out["example_index"].append(i)
                out["window"].append(w)
                if labels is not None:
                    out["labels"].append([IGNORE] * len(prefix) + labels[a:b] + [IGNORE] * len(suffix))
        self._report_alignment(split, lost)
        return dict(out)

    def _report_alignment(self, split: int, lost: int) -> None:
        self.alignment["words_split"] += split
        self.alignment["entities_unreachable"] += lost
        if split:
            log.warning("ner: %d word(s) were cut in two where an entity boundary fell inside them", split)
        if lost:
            log.warning(
                "ner: %d entit(ies) start inside a sub-token that began in the previous word, so no token "
                "can carry their B- label (tokenizer and word boundaries disagree)",
                lost,
            )

    def collate(self, features: list[dict[str, Any]], tokenizer: PreTrainedTokenizerBase) -> dict[str, torch.Tensor]:
        """Pad to the longest feature: ``input_ids``/``attention_mask``/``labels`` as ``(B, T)`` tensors."""
        import torch

        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        length = max(len(f["input_ids"]) for f in features)
        batch = {
            "input_ids": torch.full((len(features), length), pad_id, dtype=torch.long),
            "attention_mask": torch.zeros((len(features), length), dtype=torch.long),
        }
        with_labels = all(f.get("labels") is not None for f in features)
        if with_labels:
            batch["labels"] = torch.full((len(features), length), IGNORE, dtype=torch.long)
        for i, f in enumerate(features):
            n = len(f["input_ids"])
            batch["input_ids"][i, :n] = torch.as_tensor(f["input_ids"])
            batch["attention_mask"][i, :n] = 1
            if with_labels:
                batch["labels"][i, :n] = torch.as_tensor(f["labels"])
        return batch

    # --- results -------------------------------------------------------------------------

    def _per_example(self, outputs: Outputs, features: Dataset, examples: Dataset) -> Iterator[tuple[dict, dict]]:
        """Per example: the row, and its merged token arrays ``logits (N, C)``, ``offsets``, ``word_ids``."""
        groups: list[list[int]] = []
        for f, window in enumerate(features["window"]):
            if window == 0:
                groups.append([])
            groups[-1].append(f)
        if len(groups) != len(examples):
            raise ValueError(f"{len(groups)} feature groups for {len(examples)} examples: features out of order?")
        columns = {name: features[name] for name in ("positions", "offsets", "word_ids")}
        for row, group in zip(examples, groups):
            pieces = []
            n = 1 + max((max(columns["positions"][f], default=-1) for f in group), default=-1)
            offsets = np.zeros((n, 2), dtype=np.int64)
            word_ids = np.full(n, -1, dtype=np.int64)
            for f in group:
                positions = columns["positions"][f]
                logits = np.asarray(outputs[f]["logits"])[: len(positions)]  # trim the runner's padding
                pieces.append((positions, logits))
                for j, g in enumerate(positions):
                    if g >= 0:
                        offsets[g] = columns["offsets"][f][j]
                        word_ids[g] = columns["word_ids"][f][j]
            logits = merge_windows(pieces) if n else np.zeros((0, len(self.labels or [])), dtype=np.float32)
            yield row, {"logits": logits, "offsets": offsets, "word_ids": word_ids}

    def _tag_sequences(self, outputs: Outputs, features: Dataset, examples: Dataset) -> tuple[list, list]:
        """Gold and predicted BIO tags per word, for seqeval."""
        id2label = dict(enumerate(self.labels or []))
        y_true, y_pred = [], []
        for row, merged in self._per_example(outputs, features, examples):
            example = self._example(row)
            best = merged["logits"].argmax(axis=-1) if len(merged["logits"]) else np.zeros(0, dtype=int)
            predicted = []
            for w, (start, _) in enumerate(example.words):
                hits = np.nonzero(merged["word_ids"] == w)[0]
                if len(hits):
                    predicted.append(id2label[int(best[hits[0]])])
                    continue
                # no token starts in this word: it continues the token that covers its first character
                cover = [t for t, (s, e) in enumerate(merged["offsets"]) if s <= start < e]
                tag = id2label[int(best[cover[0]])] if cover else "O"
                predicted.append("I-" + tag[2:] if tag.startswith("B-") else tag)
            y_true.append(example.tags or ["O"] * len(example.words))
            y_pred.append(predicted)
        return y_true, y_pred

    def compute_metrics(self, outputs: Outputs, features: Dataset, examples: Dataset) -> dict[str, float]:
        """Entity-level micro/macro precision, recall, F1 and per type (seqeval), and token accuracy."""
        y_true, y_pred = self._tag_sequences(outputs, features, examples)
        return entity_metrics(y_true, y_pred, strict=self.options.strict)

    def postprocess(self, outputs: Outputs, features: Dataset, examples: Dataset) -> list[list[dict[str, Any]]]:
        """Per example, entities ``{text, type, start, end, score}`` (character offsets into its text)."""
        id2label = dict(enumerate(self.labels or []))
        results = []
        for row, merged in self._per_example(outputs, features, examples):
            probs = softmax(merged["logits"])
            results.append(
                aggregate(self._text_of(row), probs, merged["offsets"], merged["word_ids"], id2label, self.aggregation)
            )
        return results

    def plot(self, outputs: Outputs, features: Dataset, examples: Dataset, directory: Path) -> list[Path]:
        """``ner_f1_by_type.png``: precision, recall and F1 per entity type."""
        y_true, y_pred = self._tag_sequences(outputs, features, examples)
        report = entity_report(y_true, y_pred, strict=self.options.strict)
        if not [k for k in report if not k.endswith(" avg")]:
            return []
        return [plot_f1_by_type(report, Path(directory) / "ner_f1_by_type.png")]


def _entity(raw: Any) -> Span:
    """A character span from ``{"start", "end", "type" | "label"}`` or ``[start, end, type]``."""
    if isinstance(raw, dict):
        kind = next((raw[k] for k in ("type", "label", "entity_group") if raw.get(k) is not None), None)
        start, end = raw.get("start"), raw.get("end")
    elif isinstance(raw, (list, tuple)) and len(raw) == 3:
        start, end, kind = raw
    else:
        raise ValueError(f"expected {{'start', 'end', 'type'}} or [start, end, type], got {raw!r}")
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool):
        raise ValueError(f"'start' and 'end' must be integers, got {start!r} and {end!r}")
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError(f"entity needs a non-empty 'type', got {kind!r}")
    return Span(start, end, kind.strip())


def _where(source: str, number: int, row: dict[str, Any], token: int | None = None) -> str:
    """``file: line N`` for CoNLL rows (which carry their first line), else ``file: row N, token K``."""
    line = row.get("line")
    if isinstance(line, int) and line > 0:
        return f"{source}: line {line + (token or 0)}"
    return f"{source}: row {number}" + (f", token {token + 1}" if token is not None else "")
