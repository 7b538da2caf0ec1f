"""tasuki: a multilingual, plugin-based registry of NLP tasks.

The Python API mirrors the CLI::

    import tasuki
    tasuki.list_tasks()
    tasuki.train("sentiment", data="train.csv", output_dir="out/")
    model = tasuki.load("out/")
    model.predict(["What a lovely day"])
"""

from __future__ import annotations

__version__ = "0.1.0"

from tasuki.api import TrainedModel, evaluate, list_tasks, load, make_task, train
from tasuki.export import export
from tasuki.runner import TrainingArgs, TrainResult
from tasuki.task import Task

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
