"""The shared figures are written as real PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tasuki import plots

PNG = b"\x89PNG\r\n\x1a\n"


def test_every_figure_is_a_png(tmp_path: Path) -> None:
    paths = [
        plots.bar_chart({"pos": 3, "neg": 5}, tmp_path / "bar.png", title="labels"),
        plots.heatmap(np.eye(4), tmp_path / "heat.png", title="h", xlabels=list("abcd"), ylabels=list("abcd")),
        plots.confusion_matrix(np.array([[3, 1], [0, 4]]), ["neg", "pos"], tmp_path / "cm.png"),
        plots.box_plot({"ポジ": [1, 2, 3], "ネガ": [2, 5]}, tmp_path / "box.png", title="len", ylabel="words"),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == PNG and path.stat().st_size > 1000
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
