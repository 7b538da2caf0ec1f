"""Examples -> features -> batches: bounded, cached, optionally parallel tokenization.

``encode`` runs ``task.encode`` through ``datasets.Dataset.map`` in batches of
:data:`MAP_BATCH` examples, so memory holds one batch of Python objects at a time and the
features land in an Arrow file that is memory-mapped, not held. A task that splits examples
into windows writes an ``example_index`` relative to the map batch; the wrapper here shifts it
to the example's position in the whole dataset. The map also writes each feature's length
(:data:`LENGTH`), which the batch sampler reads as one array.

The Arrow file is named by a fingerprint of everything the features depend on (the examples'
content, the task and its state, the tokenizer's vocabulary and settings, ``max_length``,
the versions of tasuki and of the task's plugin), so a second run on the same data reuses it.
It lives under ``$TASUKI_CACHE/features`` (default ``~/.cache/tasuki/features``): data loaded
from files or lists is held in memory by ``datasets`` and has no cache directory of its own.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import inspect
import json
import logging
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tasuki.cache import cache_root
from tasuki.errors import DataError
from tasuki.files import pid_alive
from tasuki.sampling import LENGTH

if TYPE_CHECKING:
    from datasets import Dataset

    from tasuki.task import Task

logger = logging.getLogger(__name__)

INDEX = "_index"  # feature position, carried through batches so outputs return in feature order
PRIVATE = (INDEX, LENGTH)
MAP_BATCH = 1000
"""Examples per ``task.encode`` call: bounds the Python objects alive while tokenizing."""
CACHE_MIN_EXAMPLES = 10_000
"""With ``cache=None``, datasets at least this large are cached; smaller ones tokenize in about
a second, and prediction calls (``model.predict``, a server) must not leave a file per call."""


_CACHING: ContextVar[bool | None] = ContextVar("tasuki_feature_cache", default=None)


@contextlib.contextmanager
def caching(enabled: bool | None) -> Iterator[None]:
    """Within the block, ``encode(cache=None)`` means ``cache=enabled`` (streaming prediction turns
    it off: every chunk is new data, and caching it would copy the whole input to disk)."""
    token = _CACHING.set(enabled)
    try:
        yield
    finally:
        _CACHING.reset(token)


def cache_dir() -> Path:
    """Where feature files go: ``$TASUKI_CACHE/features``, else ``~/.cache/tasuki/features``."""
    return cache_root() / "features"


_SCRATCH: list[Path] = []


def scratch_file(name: str) -> Path:
    """A new file name in this process's scratch folder under :func:`cache_dir` (removed when the process
    exits): for features that must not stay in memory but are not to be cached."""
    if not _SCRATCH:
        root = cache_dir().parent / "scratch"
        root.mkdir(parents=True, exist_ok=True)
        for folder in root.iterdir():  # left by killed processes: their pid is gone
            pid = folder.name.split("-")[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)
        _SCRATCH.append(Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root)))
        atexit.register(shutil.rmtree, _SCRATCH[0], True)
    return _SCRATCH[0] / f"{name}-{uuid.uuid4().hex}.arrow"


class _EncodeBatch:
    """``task.encode`` on one map batch, with global ``example_index`` and a length column.

    A class rather than a closure: ``num_proc`` pickles it into the worker processes.
    """

    def __init__(self, task: Task, tokenizer: Any, max_length: int) -> None:
        from tasuki.task import Task

        self.task = task
        self.tokenizer = tokenizer
        self.max_length = max_length
        # tasks that override feature_length (several inputs per feature) get per-feature dicts
        self.default_length = type(task).feature_length is Task.feature_length

    def __call__(self, batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        out = dict(self.task.encode(batch, self.tokenizer, self.max_length))
        if "example_index" in out:
            # the task counted within this batch; the rest of tasuki counts over the dataset
            out["example_index"] = [indices[i] for i in out["example_index"]]
        if self.default_length:
            out[LENGTH] = [len(ids) for ids in out.get("input_ids", [])]
        else:
            keys = list(out)
            count = len(out[keys[0]]) if keys else 0
            out[LENGTH] = [self.task.feature_length({k: out[k][i] for k in keys}) for i in range(count)]
        return out


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hash of what decides a tokenizer's output: its class, settings, vocabulary and rules."""
    digest = hashlib.sha256(type(tokenizer).__qualname__.encode())
    settings = getattr(tokenizer, "init_kwargs", {}) or {}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(json.dumps(getattr(tokenizer, "model_max_length", None), default=str).encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        digest.update(backend.to_str().encode())  # the whole fast tokenizer: vocab, normalizer, ...
    elif hasattr(tokenizer, "get_vocab"):
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    else:
        raise DataError(f"cannot fingerprint tokenizer {type(tokenizer).__name__}: pass cache=False")
    return digest.hexdigest()


def _task_code(task: Task) -> str:
    """The plugin's version and the source of the task's module: a changed ``encode`` is a new cache."""
    module = sys.modules.get(type(task).__module__)
    top = sys.modules.get(type(task).__module__.split(".")[0])
    digest = hashlib.sha256(str(getattr(top, "__version__", "")).encode())
    try:
        digest.update(Path(inspect.getsourcefile(type(task)) or "").read_bytes())
    except (OSError, TypeError):
        digest.update(repr(module).encode())  # a class defined in a notebook or a test
    return digest.hexdigest()


def features_fingerprint(task: Task, examples: Dataset, tokenizer: Any, max_length: int) -> str:
    """The name of the feature file for these examples, task, tokenizer and ``max_length``."""
    import tasuki

    parts = {
        "examples": examples._fingerprint,
        "task": task.name,
        "class": f"{type(task).__module__}.{type(task).__qualname__}",
        "state": task.state(),
        "code": _task_code(task),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "max_length": max_length,
        "tasuki": tasuki.__version__,
        "map_batch": MAP_BATCH,  # block-cutting tasks (MLM) cut per map batch
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def encode(
    task: Task,
    examples: Dataset,
    tokenizer: Any,
    max_length: int,
    *,
    num_proc: int | None = None,
    cache: bool | None = None,
) -> Dataset:
    """Examples -> features through ``task.encode`` in bounded batches, each feature tagged with its
    position (:data:`INDEX`) and length (:data:`LENGTH`).

    :param num_proc: worker processes for tokenizing (``None`` or 1: this process).
    :param cache: reuse / write the feature file under :func:`cache_dir`; ``None``: only for
        datasets of :data:`CACHE_MIN_EXAMPLES` examples or more (unless :func:`caching` says). Several processes of one run
        should call this under ``accelerator.main_process_first()``: the main process writes the
        file, the others read it.
    """
    from datasets.utils import logging as datasets_logging

    if num_proc is not None and num_proc < 1:
        raise DataError(f"num_proc must be >= 1, got {num_proc}")
    if cache is None:
        cache = _CACHING.get()
    use_cache = len(examples) >= CACHE_MIN_EXAMPLES if cache is None else cache
    cache_file = None
    # Without a cache, a random fingerprint: datasets would otherwise hash the map function (the
    # task and the tokenizer, pickled) on every call, a cost each prediction chunk would pay.
    fingerprint = uuid.uuid4().hex
    if use_cache:
        fingerprint = features_fingerprint(task, examples, tokenizer, max_length)
        cache_file = cache_dir() / f"{task.name}-{fingerprint}.arrow"
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        if cache_file.exists():
            logger.info("features: reusing %s", cache_file)
    if not use_cache and len(examples) <= MAP_BATCH and not (num_proc and num_proc > 1):
        return _encode_in_memory(task, examples, tokenizer, max_length)
    keep_in_memory = False
    if not use_cache and examples.cache_files:
        # a memory-mapped dataset: datasets would write the features beside its file, one file per
        # call that nothing removes; small results stay in memory, large ones go to a scratch file
        keep_in_memory = len(examples) < CACHE_MIN_EXAMPLES
        cache_file = None if keep_in_memory else scratch_file(task.name)
    quiet = len(examples) < 5000  # a progress bar only where tokenizing takes a noticeable time
    was_enabled = datasets_logging.is_progress_bar_enabled()
    if quiet:
        datasets_logging.disable_progress_bar()
    try:
        features = examples.map(
            _EncodeBatch(task, tokenizer, max_length),
            batched=True,
            batch_size=MAP_BATCH,
            with_indices=True,
            remove_columns=examples.column_names,
            num_proc=num_proc if num_proc and num_proc > 1 else None,
            cache_file_name=str(cache_file) if cache_file else None,
            load_from_cache_file=use_cache,
            keep_in_memory=keep_in_memory,
            new_fingerprint=fingerprint,
            desc=f"tokenizing ({task.name})",
        )
    finally:
        if quiet and was_enabled:
            datasets_logging.enable_progress_bar()
    if len(features) == 0:
        raise DataError(f"task {task.name!r} produced no features from {len(examples)} examples")
    return features.add_column(INDEX, np.arange(len(features), dtype=np.int64))


def _encode_in_memory(task: Task, examples: Dataset, tokenizer: Any, max_length: int) -> Dataset:
    """One ``task.encode`` call, without ``Dataset.map``: the same features for a prediction call or a
    server batch, at a fraction of the cost (the map's bookkeeping took longer than the tokenizing)."""
    from tasuki.data import unnamed_dataset

    out = _EncodeBatch(task, tokenizer, max_length)(examples.to_dict(), list(range(len(examples))))
    count = len(out[LENGTH])
    if count == 0:
        raise DataError(f"task {task.name!r} produced no features from {len(examples)} examples")
    out[INDEX] = list(range(count))
    return unnamed_dataset(out)


class Collator:
    """Wraps ``task.collate`` and carries each feature's position along in the batch."""

    def __init__(self, task: Task, tokenizer: Any) -> None:
        self.task = task
        self.tokenizer = tokenizer

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        index = torch.tensor([f[INDEX] for f in features])
        batch = self.task.collate([{k: v for k, v in f.items() if k not in PRIVATE} for f in features],
                                  self.tokenizer)
        batch = dict(batch)
        batch[INDEX] = index
        return batch


def make_loader(
    task: Task, features: Dataset, tokenizer: Any, batch_size: int, *, shuffle: bool, seed: int = 0,
    group_by_length: bool = True,
) -> tuple[torch.utils.data.DataLoader, Any]:
    """A DataLoader with the task's batches (:meth:`~tasuki.task.Task.batch_sampler`) and dynamic padding."""
    sampler = task.batch_sampler(features, batch_size, shuffle=shuffle, seed=seed, group_by_length=group_by_length)
    loader = torch.utils.data.DataLoader(
        features,
        batch_sampler=sampler,
        collate_fn=Collator(task, tokenizer),
        # A private generator: creating an iterator must not draw from the global RNG, or a
        # resumed run would see different dropout masks than an uninterrupted one.
        generator=torch.Generator().manual_seed(seed),
        pin_memory=torch.cuda.is_available(),
    )
    return loader, sampler
