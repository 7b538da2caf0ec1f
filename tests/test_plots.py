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


def test_numbers_read_as_people_write_them() -> None:
    assert plots.value_label(2710) == "2,710"  # a count, never 2.71e+03
    assert plots.value_label(27100.4) == "27,100"
    assert plots.value_label(0.8734) == "0.873"
    assert plots.value_label(0.8734, percent=True) == "87%"
    assert plots.value_label(0.05, percent=True) == "5.0%"


def test_bar_labels_and_headroom(tmp_path: Path, monkeypatch) -> None:
    seen = {}
    real_save = plots.save

    def keep_axes(fig, path, dpi=120):  # look at the figure before it is written and closed
        ax = fig.axes[0]
        seen["labels"] = [t.get_text() for t in ax.texts]
        seen["top"] = ax.get_ylim()[1]
        return real_save(fig, path, dpi)

    monkeypatch.setattr(plots, "save", keep_axes)
    plots.bar_chart({"neg": 2710, "pos": 1290}, tmp_path / "bar.png", title="labels", show_share=True)
    assert seen["labels"] == ["2,710 (68%)", "1,290 (32%)"]
    assert seen["top"] >= 2710 * 1.1  # room above the tallest bar for its label
