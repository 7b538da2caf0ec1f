"""The plugin module named by the entry point: it registers the ``classify``, ``classify-pairs`` and ``regression`` tasks."""

from __future__ import annotations

from typing import Any

from tasuki.plugin import hookimpl


@hookimpl
def register_tasks(register: Any) -> None:
    """Register :class:`~tasuki_classify.task.ClassifyTask`, :class:`~tasuki_classify.pairs.PairClassifyTask` and
    :class:`~tasuki_classify.regression_task.RegressionTask` (imported here: discovery stays light)."""
    from tasuki_classify.pairs import PairClassifyTask
    from tasuki_classify.regression_task import RegressionTask
    from tasuki_classify.task import ClassifyTask

    register(ClassifyTask)
    register(PairClassifyTask)
    register(RegressionTask)
