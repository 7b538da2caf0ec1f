"""tasuki: a multilingual, plugin-based registry of NLP tasks.

The Python API mirrors the CLI::

    import tasuki
    tasuki.list_tasks()
    tasuki.train("sentiment", data="train.csv", output_dir="out/")
    model = tasuki.load("out/")
    model.predict(["What a lovely day"])
"""

from __future__ import annotations

from tasuki.lazy import lazy_getattr

__version__ = "0.1.0"

# Heavy modules (torch, transformers, datasets) load on first use, so that ``tasuki --help``,
# ``tasuki tasks`` and plugin discovery start in well under a second.
_LAZY = {
    "TrainedModel": "tasuki.api", "evaluate": "tasuki.api", "list_tasks": "tasuki.api", "load": "tasuki.api",
    "make_task": "tasuki.api", "train": "tasuki.api", "export": "tasuki.onnx_export", "TrainingArgs": "tasuki.args",
    "TrainResult": "tasuki.training.result", "Task": "tasuki.task",
}

__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "Task",
    "TrainResult",
    "TrainedModel",
    "TrainingArgs",
    "__version__",
    "evaluate",
    "export",
    "list_tasks",
    "load",
    "make_task",
    "train",
]
