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

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tasuki.plugin import DataError, Outputs, PredictionContext, SettingError, Task, setting
from tasuki_ner.aggregate import STRATEGIES, aggregate, merged_examples, softmax
from tasuki_ner.align import Example
from tasuki_ner.features import pad_features, window_features
from tasuki_ner.metrics import entity_metrics, entity_report, plot_f1_by_type, word_tags
from tasuki_ner.readers import CONLL_SUFFIXES, read_conll
from tasuki_ner.rows import check_rows, entity, example_of, raw_tags, tag_names_of, text_of
from tasuki_ner.tags import bio_labels, detect_scheme, normalize_scheme, parse_tag

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
    optional_columns: ClassVar[tuple[str, ...]] = ("tokens", "tags", "ner_tags", "text", "entities")
    columns_note: ClassVar[str] = ("tokens + tags (lists of words and IOB/BIO/BIOES tags; CoNLL files), or text + "
                                   "entities (character offsets: start, end, label); prediction needs tokens or text")
    auto_model: ClassVar[Any] = _TokenClassificationHead()
    pipeline_tag: ClassVar[str | None] = "token-classification"
    training_scheme: str | None = None
    """The tag scheme of the training data (declared, or detected by :meth:`fit`); other sets keep their own."""
    main_metric: ClassVar[str] = "f1"  # entity-level micro F1 (seqeval)
    training_defaults: ClassVar[dict[str, Any]] = {"learning_rate": 5e-5, "max_length": 256}

    Options: ClassVar[type] = NerOptions
    # tasuki serve / predict: entities marked over the text; a request may choose the aggregation
    request_parameters: ClassVar[tuple[str, ...]] = ("aggregation",)
    result_kind: ClassVar[str] = "spans"

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

    def describe(self, prediction: Any) -> str:
        """Entities in words: ``東京 [LOC 0.99], 山田 [PER 0.97]``."""
        if not prediction:
            return "(none)"
        return ", ".join(f"{p.get('text', '')} [{p['type']} {p.get('score', 0.0):.2f}]" for p in prediction)

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

    def _raw_tags(self, row: dict[str, Any]) -> list[str] | None:
        return raw_tags(row, self._tag_names)

    def _read_tag_names(self, data: Dataset) -> None:
        self._tag_names = tag_names_of(data) or self._tag_names

    def _text_of(self, row: dict[str, Any]) -> str:
        return text_of(row, self.lang)

    def _example(self, row: dict[str, Any]) -> Example:
        """Text, words and (if the row has targets) BIO word tags of one row."""
        return example_of(row, self.lang, self._tag_names)

    def validate(self, data: Dataset, source: str, *, with_targets: bool) -> None:
        """Check every row; errors name the file and line (CoNLL) or row (jsonl) and the token or entity."""
        self._read_tag_names(data)
        known = {label[2:] for label in self.labels or [] if label != "O"}
        check_rows(data, source, with_targets=with_targets, known=known, scheme=self._scheme,
                   repair=self.options.repair, tag_names=self._tag_names)

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
                types.update(entity(e).type for e in row.get("entities") or [])
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
        out, split, lost = window_features(batch, tokenizer, max_length, example_of=self._example,
                                           labels=self.labels or [], by_word=self.lang == "ja",
                                           label_all_tokens=self.options.label_all_tokens,
                                           window_overlap=self.options.window_overlap)
        self._report_alignment(split, lost)
        return out

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
        return pad_features(features, tokenizer)

    # --- results -------------------------------------------------------------------------

    def _per_example(self, outputs: Outputs, features: Dataset, examples: Dataset) -> Iterator[tuple[dict, dict]]:
        """Per example: the row, and its merged token arrays ``logits (N, C)``, ``offsets``, ``word_ids``."""
        return merged_examples(outputs, features, examples, len(self.labels or []))

    def _tag_sequences(self, outputs: Outputs, features: Dataset, examples: Dataset) -> tuple[list, list]:
        """Gold and predicted BIO tags per word, for seqeval."""
        return word_tags(self._per_example(outputs, features, examples), self._example, self.labels or [])

    def compute_metrics(self, outputs: Outputs, features: Dataset, examples: Dataset) -> dict[str, float]:
        """Entity-level micro/macro precision, recall, F1 and per type (seqeval), and token accuracy."""
        y_true, y_pred = self._tag_sequences(outputs, features, examples)
        return entity_metrics(y_true, y_pred, strict=self.options.strict)

    def postprocess(
        self, outputs: Outputs, features: Dataset, examples: Dataset, *, context: PredictionContext | None = None
    ) -> list[list[dict[str, Any]]]:
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
