"""Saved states of tasks that classify now does: each read as the classify state that predicts alike."""

from __future__ import annotations

from typing import Any


def upgrade(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` as :meth:`~tasuki_classify.task.ClassifyTask.from_state` reads it.

    A state with ``label_kind`` was saved by tasuki-sentiment's own task, before ``sentiment`` became classify's
    preset: that model read long texts truncated (``windows=false``), and a ClassLabel column's integer ``i``
    as ``labels[i]`` (its ``class_names``). Any other state is returned as it is.
    """
    if "label_kind" not in state:
        return state
    names = state.get("labels") if state["label_kind"] == "classlabel" else None
    return {**state, "options": {"windows": False, **state.get("options", {})},
            "class_names": state.get("class_names") or names}
