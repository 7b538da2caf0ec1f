"""The plugin module named by the entry point: it registers the ``classify``, ``classify-pairs`` and ``score`` tasks."""

from __future__ import annotations

from typing import Any

from tasuki.plugin import hookimpl


@hookimpl
def register_tasks(register: Any) -> None:
    """Register :class:`~tasuki_classify.task.ClassifyTask`, :class:`~tasuki_classify.pairs.PairClassifyTask` and
    :class:`~tasuki_classify.score.ScoreTask` (imported here: discovery stays light)."""
    from tasuki_classify.pairs import PairClassifyTask
    from tasuki_classify.score import ScoreTask
    from tasuki_classify.task import ClassifyTask

    register(ClassifyTask)
    register(PairClassifyTask)
    register(ScoreTask)
