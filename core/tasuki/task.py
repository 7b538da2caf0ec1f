"""The Task interface: everything task-specific, so that the runner has none of it.

A task turns raw examples into model features, collates them into batches, builds its
model on a backbone, and turns the model's outputs into metrics and user-facing
predictions. The runner (:mod:`tasuki.training.loop`) drives these methods for every task:

    examples --encode--> features --collate--> batch --model--> predict_step outputs
                                                         |--> training_loss
    outputs (one dict of numpy arrays per feature, in feature order)
        --compute_metrics--> {"accuracy": ...}
        --postprocess(context=)--> [prediction per example]

A feature may come from several examples' windows (long texts, QA contexts): a task that
splits examples keeps an ``example_index`` column in its features to map them back.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tasuki.errors import DataError
from tasuki.settings import SettingError, build

if TYPE_CHECKING:
    import torch
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from tasuki.args import TrainingArgs
    from tasuki.backbone import Backbone
    from tasuki.training.stages import Stage

Outputs = list[dict[str, np.ndarray]]
"""What :meth:`Task.predict_step` produced, one dict per feature, in the features' order."""


class LazyAutoModel:
    """``auto_model = LazyAutoModel("AutoModelForTokenClassification")``: transformers is imported on first use,
    so that plugin discovery, which imports every task module, keeps ``tasuki --help`` well under a second."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any) -> Any:
        import transformers

        return getattr(transformers, self.name)


@dataclass
class NoOptions:
    """The options of a task that has none."""


@dataclass(frozen=True)
class PredictionContext:
    """How the features of a prediction were made: what :meth:`Task.postprocess` may need besides them. Passed
    by keyword (``context=``, as spaCy's ``initialize(get_examples, nlp=...)``): a field can be added safely."""

    tokenizer: PreTrainedTokenizerBase
    """The tokenizer that encoded the features (to decode token ids, for instance)."""
    max_length: int
    """Tokens per feature, as given to :meth:`Task.encode`."""


class Task(ABC):
    """A registered NLP task (sentiment, ner, qa, ...).

    Subclasses set the class attributes and implement the abstract methods. An instance
    holds what is learnt from the training data (the label set) and the user's options;
    :meth:`state` / :meth:`from_state` carry it into a saved model directory.

    :meth:`encode` may run in other processes, or not at all when the features are cached, so a
    task keeps nothing from it: what :meth:`postprocess` needs of the encoding (the tokenizer,
    ``max_length``) comes as its ``context=`` argument, a :class:`PredictionContext`.
    """

    name: ClassVar[str]
    """The registered name (``tasuki train NAME``)."""
    description: ClassVar[str] = ""
    languages: ClassVar[tuple[str, ...]] = ("en", "ja")
    input_columns: ClassVar[tuple[str, ...]] = ("text",)
    """Columns every example needs, for prediction as well as training."""
    inputs_in_words: ClassVar[str] = ""
    """What one prediction reads, for the line that refuses a bare text to a task of two input columns
    (``"a question and its context"``); empty: the columns' names."""
    inputs_cli_hint: ClassVar[str] = ""
    """How to give those inputs on the command line, said in that line; empty: ``tasuki predict MODEL --input
    FILE`` with the input columns."""
    target_columns: ClassVar[tuple[str, ...]] = ("label",)
    """Columns training and evaluation data need besides the inputs."""
    optional_columns: ClassVar[tuple[str, ...]] = ()
    """Columns read where the data has them (NER's two layouts, embedding's ``negative``): with the input and
    target columns, the names a column mapping (``--column TASK_COLUMN=YOURS``) may give."""
    columns_note: ClassVar[str] = ""
    """In words, for tasks whose data comes in several layouts (``tasuki tasks NAME`` shows it)."""
    auto_model: ClassVar[Any] = None
    """The ``transformers`` Auto class of the head (e.g. ``AutoModelForSequenceClassification``)."""
    pipeline_tag: ClassVar[str | None] = None
    """The ``transformers.pipeline`` task that can load a saved model, if any."""
    default_backbones: ClassVar[dict[str, str]] = {"en": "minilm", "ja": "e5-small"}
    """Backbone spec per language when the user gives none (the embedded offline models)."""
    training_defaults: ClassVar[dict[str, Any]] = {}
    """Overrides of :class:`tasuki.args.TrainingArgs` defaults that suit this task."""
    Options: ClassVar[type] = NoOptions
    """The task's options: a dataclass whose fields (type, default, docstring; see :mod:`tasuki.settings`)
    are what ``task_options=`` / ``--option NAME=VALUE`` accept and what ``tasuki tasks NAME`` lists."""
    main_metric: ClassVar[str | tuple[str, ...]] = "accuracy"
    """The metric (of :meth:`compute_metrics`) that picks the best evaluation and drives early stopping;
    a tuple names alternatives, the first one present is used (e.g. per kind of evaluation data)."""
    greater_is_better: ClassVar[bool] = True
    """Whether a larger :attr:`main_metric` is better (False for a loss)."""

    # Presets (:class:`~tasuki.presets.Preset`): another name for this task with other defaults.
    preset_attributes: ClassVar[tuple[str, ...]] = ()
    """Class attributes of this task that a preset may set besides :data:`~tasuki.presets.PRESET_ATTRIBUTES`
    (e.g. a classifier's fixed main metric); declare only those the task reads back from the class."""
    preset_of: ClassVar[str | None] = None
    """On a preset's class (the registry builds it): the name of the task it is a preset of."""
    preset_options: ClassVar[Mapping[str, Any]] = {}
    """On a preset's class: its option defaults, which the options passed to ``__init__`` override."""

    # How the task is served and shown (``tasuki serve``'s API and page, ``tasuki predict``'s table).
    # The defaults suit a text classifier; the core knows no task by name, so a task declares its own.
    request_parameters: ClassVar[tuple[str, ...]] = ()
    """Fields of :attr:`Options` that one serve request may set (``{"parameters": {...}}``): only options
    that change how outputs become predictions (an aggregation, a threshold), never how inputs are
    encoded, since requests of one batch share the encoding. The registry refuses a name that is not a
    field of :attr:`Options`; types, ranges and help come from the field."""
    reading_options: ClassVar[tuple[str, ...]] = ()
    """Fields of :attr:`Options` about how labelled data is read (classify's ``label_separator``), which
    ``tasuki evaluate --option`` (Python: ``model.with_options(...)``) may set for data in another layout than the
    training data's; the registry refuses a name that is not a field of :attr:`Options`."""
    input_fields: ClassVar[tuple[str, ...]] = ("text",)
    """The boxes of the page's form, in order, by the input key each fills (``("question", "context")``)."""
    form_kind: ClassVar[str] = "text"
    """The page's form: ``"text"`` (one text, sent as a string), ``"question"`` (a one-line question about
    a text: both sent as ``{field: value}``) or ``"pair"`` (two texts compared, sent as ``{field: value}``)."""
    result_kind: ClassVar[str] = "labels"
    """How the page draws a prediction: ``"labels"`` (bars of ``scores`` or ``{label, score}``), ``"spans"``
    (``[{start, end, type, score}]`` marked over the text), ``"answer"`` (``{answer, start, end, score}``
    in its context), ``"score"`` (``{"score": cosine}``), ``"vector"`` (a list of numbers) or ``"json"``."""

    def served_parameters(self) -> tuple[str, ...]:
        """The :attr:`request_parameters` this model takes (fewer where some do not apply: ``tasuki serve``
        refuses them as unknown, e.g. a threshold to a single-label classifier)."""
        return type(self).request_parameters

    def describe(self, prediction: Any) -> str:
        """One prediction in words, for ``tasuki predict``'s table (the default: ``positive 0.97``, else JSON)."""
        if isinstance(prediction, dict) and "label" in prediction:
            return f"{prediction['label']} {prediction.get('score', 0.0):.2f}"
        return json.dumps(prediction, ensure_ascii=False, default=str)

    def __init__(self, lang: str = "en", labels: Sequence[str] | None = None, **options: Any) -> None:
        if lang not in self.languages:
            raise DataError(f"task {self.name!r} supports languages {list(self.languages)}, not {lang!r}")
        self.lang = lang
        self.labels: list[str] | None = _label_list(labels, self.name)
        options = {**self.preset_options, **options}  # a preset's defaults, under the caller's own
        self.options = build(self.Options, options, what=f"option of task {self.name!r}")
        self.given_options = frozenset(options)
        """The options the user (or the task's preset) set: what :meth:`fit` learns from the data never overrides these."""

    # --- state ---------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """JSON-serialisable state saved with a trained model (``tasuki.json``)."""
        return {"lang": self.lang, "labels": self.labels, "options": asdict(self.options)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Task:
        """Rebuild the task saved by :meth:`state`."""
        return cls(lang=state.get("lang", "en"), labels=state.get("labels"), **state.get("options", {}))

    # --- data ----------------------------------------------------------------------------

    @classmethod
    def readers(cls) -> dict[str, Callable[[Path, str], list[dict[str, Any]]]]:
        """Task-specific file formats: ``{".conll": read}``; ``read(path, text)`` returns rows.

        :mod:`tasuki.data` decodes the file (encoding, BOM) and calls the reader for its suffix.
        """
        return {}

    def fit(self, train: Dataset) -> None:  # noqa: B027 - optional hook
        """Learn what comes from the training data (e.g. the label set). Called once before training."""

    def strata(self, train: Dataset) -> list[Any] | None:
        """A key per row (its class) that the held-out split keeps in proportion, a key of one row all in
        training (:func:`tasuki.data.hold_out`); None: a random split."""
        return None

    def recipe_defaults(self) -> dict[str, Any]:
        """:class:`~tasuki.args.TrainingArgs` defaults chosen from the data :meth:`fit` saw (few examples: no
        held-out split, say); they replace :attr:`training_defaults`, and the user's own values still win."""
        return {}

    def stages(self, train: Dataset, args: TrainingArgs) -> list[Stage]:
        """Training runs before this task's own, each through the runner (:class:`~tasuki.training.stages.Stage`:
        e.g. contrastive tuning of the encoder on batches of labelled texts); none by default."""
        return []

    @classmethod
    def required_columns(cls, with_targets: bool) -> tuple[str, ...]:
        """Columns the data must have: inputs, plus targets for training and evaluation (override for tasks with
        other layouts, such as NER's ``tokens``/``tags`` or ``text``/``entities``)."""
        return (*cls.input_columns, *(cls.target_columns if with_targets else ()))

    @classmethod
    def known_columns(cls) -> tuple[str, ...]:
        """Every column this task reads: inputs, targets and :attr:`optional_columns`."""
        return tuple(dict.fromkeys((*cls.input_columns, *cls.target_columns, *cls.optional_columns)))

    def validate(self, data: Dataset, source: str, *, with_targets: bool) -> None:
        """Check every row and raise :class:`~tasuki.errors.DataError` naming source, row and column. The default
        checks the required columns, non-empty input texts and, with targets, that none is missing (empty, NaN)."""
        from tasuki.data import check_targets, check_texts, require_columns

        require_columns(data, self.required_columns(with_targets), source, task=self.name)
        check_texts(data, [c for c in self.input_columns if c in data.column_names], source)
        if with_targets:
            check_targets(data, [c for c in self.target_columns if c in data.column_names], source)

    def is_one_input(self, inputs: Any) -> bool:
        """Whether ``predict(inputs)`` is given one input (a text, a dict, a ``(first, second)`` tuple for a task of
        two input columns), answered with one prediction, rather than a list of them."""
        return isinstance(inputs, (str, dict)) or (isinstance(inputs, tuple) and self._is_pair(inputs))

    def _is_pair(self, item: Any) -> bool:
        return (len(self.input_columns) == 2 and isinstance(item, (tuple, list)) and len(item) == 2
                and all(isinstance(x, str) for x in item))

    def examples_from_inputs(self, inputs: Any) -> list[dict[str, Any]]:
        """Turn what a user passes to ``predict`` into example rows: a text, texts or dicts; for a task of two
        input columns, dicts or ``(first, second)`` tuples, and a bare text is refused (it is half an input)."""
        columns = self.input_columns
        two = len(columns) == 2
        if self.is_one_input(inputs):
            inputs = [inputs]
        rows = []
        for i, item in enumerate(inputs, start=1):
            if isinstance(item, dict):
                rows.append(dict(item))
            elif self._is_pair(item):
                rows.append(dict(zip(columns, item)))
            elif isinstance(item, str) and not two:
                rows.append({columns[0]: item})
            else:
                what = "one text" if isinstance(item, str) else type(item).__name__
                words = self.inputs_in_words or " and ".join(columns)
                hint = self.inputs_cli_hint or (f"tasuki predict MODEL --input FILE with {' and '.join(columns)} "
                                                 f"column{'s' if two else ''}")
                raise DataError(f"input {i}: {self.name} predicts from {words}, not from {what} ({str(item)[:40]!r}); "
                                f"give {{{', '.join(f'{c!r}: ...' for c in columns)}}} (CLI: {hint})")
        return rows

    @abstractmethod
    def encode(
        self, batch: dict[str, list], tokenizer: PreTrainedTokenizerBase, max_length: int
    ) -> dict[str, list]:
        """Turn a batch of examples into model features (with labels, when the batch has targets).

        Called through ``datasets.Dataset.map`` on batches of at most 1,000 examples (possibly in
        worker processes, possibly not at all when the features are cached: keep no state here
        that later methods need); may return more features than examples (windows), each with an
        ``example_index`` column: the example's position in ``batch``, which
        :func:`tasuki.features.encode` shifts to its position in the whole dataset.
        """

    def collate(self, features: list[dict[str, Any]], tokenizer: PreTrainedTokenizerBase) -> dict[str, torch.Tensor]:
        """Pad a list of features into a batch of tensors (dynamic padding to the longest)."""
        keep = {"input_ids", "attention_mask", "token_type_ids", "labels"}
        rows = [{k: v for k, v in f.items() if k in keep} for f in features]
        return tokenizer.pad(rows, return_tensors="pt")

    def feature_length(self, feature: dict[str, Any]) -> int:
        """Length used to group features of similar size into batches."""
        return len(feature["input_ids"])

    def batch_sampler(
        self, features: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0, group_by_length: bool = True
    ) -> Any:
        """The batches of one epoch: lists of feature positions, with ``set_epoch(n)`` and ``__len__``.

        The default groups similar lengths (:class:`~tasuki.sampling.LengthGroupedBatchSampler`).
        Override where batch composition matters to the loss (in-batch negatives: no text twice
        in a batch). The order must be a pure function of ``(seed, epoch)`` so a resumed run
        replays it.
        """
        from tasuki.sampling import LengthGroupedBatchSampler, feature_lengths

        return LengthGroupedBatchSampler(feature_lengths(self, features), batch_size, shuffle=shuffle, seed=seed,
                                         group_by_length=group_by_length)

    # --- model ---------------------------------------------------------------------------

    def model_config(self) -> dict[str, Any]:
        """Config overrides for building the head (``num_labels``, ``id2label``, ...)."""
        if not self.labels:
            return {}
        return {
            "num_labels": len(self.labels),
            "id2label": dict(enumerate(self.labels)),
            "label2id": {label: i for i, label in enumerate(self.labels)},
        }

    def build_model(self, backbone: Backbone) -> torch.nn.Module:
        """A fresh model for training: the backbone under this task's head."""
        return backbone.build_model(self.auto_model, **self.model_config())

    def load_model(self, directory: Path) -> torch.nn.Module:
        """Load a trained model saved by :meth:`save_model` (safetensors only)."""
        return self.auto_model.from_pretrained(directory, use_safetensors=True, trust_remote_code=False)

    def save_model(self, model: torch.nn.Module, directory: Path) -> None:
        """Save weights (safetensors) and config in the Hugging Face layout."""
        model.save_pretrained(directory, safe_serialization=True)

    def training_loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The loss to minimise on one batch: the *mean* over the batch's :meth:`loss_items` items.

        The runner weights it by the items of the whole accumulation window and of all
        processes, so that accumulated and distributed batches give the combined batch's gradient.
        """
        return model(**batch).loss

    def loss_items(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | int:
        """How many items :meth:`training_loss` averages over in ``batch``.

        Default: the ``labels`` that count (integer labels other than -100: tokens for token
        tasks, examples for sequence tasks), one per example for float labels, else the batch size.
        """
        labels = batch.get("labels")
        if labels is not None and not labels.is_floating_point():
            return (labels != -100).sum()
        if labels is not None:
            return labels.shape[0]
        return next(iter(batch.values())).shape[0]

    def predict_step(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Per-feature tensors (first dim = batch) kept from one evaluation/prediction batch."""
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        return {"logits": model(**inputs).logits}

    # --- results -------------------------------------------------------------------------

    @abstractmethod
    def compute_metrics(self, outputs: Outputs, features: Dataset, examples: Dataset) -> dict[str, float]:
        """Metrics over a whole evaluation set (``examples`` has the targets).

        While training, the runner calls it after each evaluation, and its last call is always on the outputs of
        the weights the model keeps: a task that learns from the held-out data (classify's thresholds) keeps
        what it learnt in the last call."""

    @abstractmethod
    def postprocess(
        self, outputs: Outputs, features: Dataset, examples: Dataset, *, context: PredictionContext | None = None
    ) -> list[Any]:
        """One user-facing prediction per example (labels with scores, spans with offsets, ...).

        :param context: the tokenizer and ``max_length`` that made the features; tasuki always passes
            it (by keyword), a caller of a task that needs none of it may leave it out.
        """

    def plot(self, outputs: Outputs, features: Dataset, examples: Dataset, directory: Path) -> list[Path]:
        """Write the figures a person wants after evaluation (PNG); return their paths."""
        return []


def _label_list(labels: Any, task: str) -> list[str] | None:
    """``labels`` as a list of names; a JSON text is read (``--option labels='["neg","pos"]'``), never split."""
    if labels is None:
        return None
    if isinstance(labels, str):
        try:
            labels = json.loads(labels)
        except json.JSONDecodeError:
            labels = None
    if not isinstance(labels, (list, tuple)) or not labels or not all(isinstance(x, str) and x for x in labels):
        raise SettingError(f"option of task {task!r} 'labels': expected a list of label names, "
                           f'e.g. ["negative", "positive"] (CLI: --option labels=\'["negative","positive"]\')')
    if len(set(labels)) != len(labels):
        raise SettingError(f"option of task {task!r} 'labels': names repeat in {list(labels)}")
    return list(labels)
