"""Everything a plugin may use from the core, on one page: ``from tasuki.plugin import hookimpl, Task, DataError``.

A plugin imports the core through this module only (and the public API: ``tasuki.train``,
``tasuki.load``, ``tasuki.evaluate``...); the other ``tasuki.*`` modules are internals that may
change. ``tests/test_plugin_contract.py`` checks every plugin of this repository against it.

The names, by what they are for:

- **Hook marker**: ``hookimpl`` marks the functions of the module named by the plugin's entry
  point (``register_tasks``, ``register_presets``, ``register_backbones``, ``register_commands``, ``register_routes``;
  see :mod:`tasuki.hookspecs`).
- **Presets** (the ``register_presets`` hook): ``Preset``, a name for an installed task with other defaults
  (class attributes such as ``training_defaults``, option defaults); see :mod:`tasuki.presets`.
- **Task and its helpers**: ``Task``, the base class of every task (read its docstrings);
  ``Outputs``, what ``predict_step`` kept, as ``compute_metrics`` and ``postprocess`` receive it;
  ``PredictionContext``, the tokenizer and ``max_length`` that made the features (``postprocess``'s
  ``context=``);
  ``LazyAutoModel("AutoModelFor...")``, a ``Task.auto_model`` that imports transformers only when
  used; ``label_name`` and ``stripped_labels``, class labels read without surrounding whitespace.
- **Backbone and backbone resolution**: ``E5_PROMPTS`` (the prefixes E5 models expect by role,
  ``{"query": "query: ", "passage": "passage: "}``), ``Backbone`` (a pretrained or from-scratch encoder plus
  its tokenizer: what a registered backbone factory returns) and ``resolve_backbone(spec)``, the
  backbone ``--backbone SPEC`` names.
- **Declared options**: ``setting(default, ...)`` declares a field of a task's ``Options``
  dataclass with its allowed range; ``SettingError`` is the error of an option value.
- **Errors**: ``TasukiError`` is the base of every error the CLI prints as one line instead of a
  traceback; ``DataError`` (bad input data: name the source, row and column),
  ``UnknownNameError`` (a name that is not registered), ``CheckpointError`` (a saved directory
  that cannot be read), ``SettingError``.
- **Devices**: ``checked_device(device)``, the device to run on (default: the GPU when there is one), refused in one
  line when torch cannot read it or this machine lacks it, as ``tasuki.load`` and ``tasuki serve`` refuse it.
- **Column and text checks, readers**: ``require_columns``, ``check_texts``, ``column_values``
  (a column in chunks, never one list), ``load_data`` (a path, rows, a DataFrame or a Hub data set
  into a ``datasets.Dataset``), ``is_missing`` (a target that is not there: empty, null, NaN, or the words
  pandas, R and spreadsheets write for one: ``nan``, ``None``, ``N/A``...), ``read_text`` (a text file: UTF-8,
  LF), ``GENERIC_SUFFIXES`` (the file formats the core reads), ``iter_rows`` (a file's rows one at a time), ``cached_rows``
  (rows written once into a memory-mapped Arrow file) and ``detect_language`` (``"ja"`` or ``"en"``: the
  language ``tasuki train`` picks a default backbone by).
- **Sentence vectors** (shared by the embedding task and classification's few-shot recipe):
  ``SentenceEncoder`` (an encoder, ``Pooling`` and optional L2 normalization, saved in the
  sentence-transformers layout; ``read_prompts``, ``read_pooling_config``, ``read_normalize``,
  ``read_max_seq_length`` read that layout), ``POOLING_MODES``, and the losses on sentence vectors
  ``multiple_negatives_ranking_loss``, ``contrastive_loss``, ``cosent_loss``, ``cosine_similarity_loss``
  (each with sentence-transformers' arithmetic), ``supervised_contrastive_loss`` (SupCon over a labelled batch)
  and ``cosine_matrix``; for texts encoded apart (pairs,
  triplets): ``ROLES`` (their columns), ``role_prefix``, ``tokenize_roles``, ``pad_roles`` and ``embed_roles``.
- **Japanese word splitting**: ``split_words`` (MeCab words), ``word_owners`` and
  ``words_of_tokens`` (which word each character and each token belongs to), ``strip_span`` (a character
  span from token offsets without the whitespace at its ends: SentencePiece tokens hold the space before them).
- **Training and prediction**: ``Stage``, a run a task asks the runner for before its own
  (``Task.stages``: e.g. contrastive tuning of the encoder); ``predict(task, model, tokenizer, examples, ...)``,
  the runner's prediction loop.
- **Serving routes** (the ``register_routes`` hook): ``Route`` (``POST /models/{name}/PATH``),
  ``RouteCall`` (what its handler gets), ``Attachment`` (a file a model carries for it, loaded by
  ``tasuki serve --OPTION NAME=FILE``) and ``RequestError`` (a refused request: status, message, field).
- **Files**: ``atomic_write_text``, ``atomic_write_json`` and ``atomic_path`` (a temporary name beside the
  file for any writer, renamed into place when the block ends: a reader never sees half a file),
  ``write_rows`` (rows as a ``.csv``, ``.tsv`` or ``.xlsx`` table, as ``predict --output`` writes one, atomically),
  ``file_sha256`` (the hex SHA-256 of a file, e.g. to fingerprint weights), ``hold_lock(path, refusal)`` (one
  process at a time: an exclusive lock file, or an error naming the process that holds it) and ``METADATA_FILE``
  (``tasuki.json``, tasuki's own file in a trained model's directory).
- **Figures** (PNG, Agg backend): ``pyplot()`` (``matplotlib.pyplot``), ``save_figure(fig, path)``,
  ``bar_chart``, ``box_plot``, ``confusion_matrix``.
- **CLI helpers for plugin commands**: ``echo_json``, ``parse_pairs`` (``--x KEY=VALUE`` options),
  ``settings_options`` and ``training_options`` (click options from a dataclass and from
  ``TrainingArgs``), ``given`` (the options the user gave), and ``lazy_getattr``, for a plugin
  package that exports names of heavy modules without importing them at discovery.

Each name is imported from its core module on first use, so that ``from tasuki.plugin import hookimpl``
in a plugin module keeps torch, transformers and datasets out of the CLI's start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasuki.lazy import lazy_getattr

if TYPE_CHECKING:
    from tasuki.backbone import Backbone
    from tasuki.backbones.e5 import PREFIXES as E5_PROMPTS
    from tasuki.cli.common import echo_json, parse_pairs
    from tasuki.cli.options import given, settings_options, training_options
    from tasuki.data import (
        GENERIC_SUFFIXES,
        cached_rows,
        check_texts,
        column_values,
        detect_language,
        is_missing,
        iter_rows,
        label_name,
        load_data,
        read_text,
        require_columns,
        stripped_labels,
    )
    from tasuki.devices import checked_device
    from tasuki.errors import CheckpointError, DataError, TasukiError, UnknownNameError
    from tasuki.files import atomic_path, atomic_write_json, atomic_write_text, file_sha256, hold_lock
    from tasuki.hookspecs import hookimpl
    from tasuki.japanese import split_words, strip_span, word_owners, words_of_tokens
    from tasuki.model_dir import METADATA_FILE
    from tasuki.plots import bar_chart, box_plot, confusion_matrix, pyplot
    from tasuki.plots import save as save_figure
    from tasuki.prediction.predict import predict
    from tasuki.prediction.tables import write_rows
    from tasuki.presets import Preset
    from tasuki.registry import resolve_backbone
    from tasuki.sentences.encoder import SentenceEncoder, read_prompts
    from tasuki.sentences.losses import (
        contrastive_loss,
        cosent_loss,
        cosine_matrix,
        cosine_similarity_loss,
        multiple_negatives_ranking_loss,
        supervised_contrastive_loss,
    )
    from tasuki.sentences.pooling import POOLING_MODES, Pooling, read_max_seq_length, read_normalize, read_pooling_config
    from tasuki.sentences.roles import ROLES, embed_roles, pad_roles, role_prefix, tokenize_roles
    from tasuki.serve.models import RequestError
    from tasuki.serve.routes import Attachment, Route, RouteCall
    from tasuki.settings import SettingError, setting
    from tasuki.task import LazyAutoModel, Outputs, PredictionContext, Task
    from tasuki.training.stages import Stage

_SOURCES = {
    # hook marker
    "hookimpl": "tasuki.hookspecs",
    # presets
    "Preset": "tasuki.presets",
    # Task and its helpers
    "Task": "tasuki.task", "Outputs": "tasuki.task", "PredictionContext": "tasuki.task", "LazyAutoModel": "tasuki.task",
    "label_name": "tasuki.data", "stripped_labels": "tasuki.data",
    # Backbone and backbone resolution
    "Backbone": "tasuki.backbone", "resolve_backbone": "tasuki.registry",
    # declared options
    "setting": "tasuki.settings", "SettingError": "tasuki.settings",
    # errors
    "TasukiError": "tasuki.errors", "DataError": "tasuki.errors", "UnknownNameError": "tasuki.errors",
    "CheckpointError": "tasuki.errors",
    # devices
    "checked_device": "tasuki.devices",
    # column and text checks, readers
    "require_columns": "tasuki.data", "check_texts": "tasuki.data", "column_values": "tasuki.data",
    "load_data": "tasuki.data", "read_text": "tasuki.data", "GENERIC_SUFFIXES": "tasuki.data",
    "iter_rows": "tasuki.data", "cached_rows": "tasuki.data", "detect_language": "tasuki.data",
    "is_missing": "tasuki.data",
    # Japanese word splitting
    "split_words": "tasuki.japanese", "word_owners": "tasuki.japanese", "words_of_tokens": "tasuki.japanese",
    "strip_span": "tasuki.japanese",
    # prediction
    "predict": "tasuki.prediction.predict", "Stage": "tasuki.training.stages",
    # sentence vectors
    "SentenceEncoder": "tasuki.sentences.encoder", "read_prompts": "tasuki.sentences.encoder",
    "Pooling": "tasuki.sentences.pooling", "POOLING_MODES": "tasuki.sentences.pooling",
    "read_pooling_config": "tasuki.sentences.pooling", "read_normalize": "tasuki.sentences.pooling",
    "read_max_seq_length": "tasuki.sentences.pooling",
    "multiple_negatives_ranking_loss": "tasuki.sentences.losses", "contrastive_loss": "tasuki.sentences.losses",
    "cosent_loss": "tasuki.sentences.losses", "cosine_similarity_loss": "tasuki.sentences.losses",
    "cosine_matrix": "tasuki.sentences.losses", "supervised_contrastive_loss": "tasuki.sentences.losses",
    "ROLES": "tasuki.sentences.roles", "role_prefix": "tasuki.sentences.roles", "tokenize_roles": "tasuki.sentences.roles",
    "pad_roles": "tasuki.sentences.roles", "embed_roles": "tasuki.sentences.roles",
    # serving routes
    "Route": "tasuki.serve.routes", "RouteCall": "tasuki.serve.routes", "Attachment": "tasuki.serve.routes",
    "RequestError": "tasuki.serve.models",
    # files
    "atomic_write_text": "tasuki.files", "atomic_write_json": "tasuki.files", "atomic_path": "tasuki.files",
    "file_sha256": "tasuki.files", "hold_lock": "tasuki.files", "write_rows": "tasuki.prediction.tables",
    "METADATA_FILE": "tasuki.model_dir", "E5_PROMPTS": "tasuki.backbones.e5:PREFIXES",
    # figures
    "pyplot": "tasuki.plots", "save_figure": "tasuki.plots:save", "bar_chart": "tasuki.plots",
    "box_plot": "tasuki.plots", "confusion_matrix": "tasuki.plots",
    # CLI helpers for plugin commands
    "echo_json": "tasuki.cli.common", "parse_pairs": "tasuki.cli.common", "settings_options": "tasuki.cli.options",
    "training_options": "tasuki.cli.options", "given": "tasuki.cli.options", "lazy_getattr": "tasuki.lazy",
}
"""Each name of the contract and the core module that defines it (``module:attribute`` when renamed)."""

__getattr__ = lazy_getattr(__name__, _SOURCES)


def __dir__() -> list[str]:
    """The contract's names, with those already imported."""
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "E5_PROMPTS",
    "GENERIC_SUFFIXES",
    "METADATA_FILE",
    "POOLING_MODES",
    "ROLES",
    "Attachment",
    "Backbone",
    "CheckpointError",
    "DataError",
    "LazyAutoModel",
    "Outputs",
    "Pooling",
    "PredictionContext",
    "Preset",
    "RequestError",
    "Route",
    "RouteCall",
    "SentenceEncoder",
    "SettingError",
    "Stage",
    "Task",
    "TasukiError",
    "UnknownNameError",
    "atomic_path",
    "atomic_write_json",
    "atomic_write_text",
    "bar_chart",
    "box_plot",
    "cached_rows",
    "check_texts",
    "checked_device",
    "column_values",
    "confusion_matrix",
    "contrastive_loss",
    "cosent_loss",
    "cosine_matrix",
    "cosine_similarity_loss",
    "detect_language",
    "echo_json",
    "embed_roles",
    "file_sha256",
    "given",
    "hold_lock",
    "hookimpl",
    "is_missing",
    "iter_rows",
    "label_name",
    "lazy_getattr",
    "load_data",
    "multiple_negatives_ranking_loss",
    "pad_roles",
    "parse_pairs",
    "predict",
    "pyplot",
    "read_max_seq_length",
    "read_normalize",
    "read_pooling_config",
    "read_prompts",
    "read_text",
    "require_columns",
    "resolve_backbone",
    "role_prefix",
    "save_figure",
    "setting",
    "settings_options",
    "split_words",
    "strip_span",
    "stripped_labels",
    "supervised_contrastive_loss",
    "tokenize_roles",
    "training_options",
    "word_owners",
    "words_of_tokens",
    "write_rows",
]
