"""Heatmaps and the ``tasuki attention`` commands."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from tasuki.cli import cli as core_cli
from tasuki_attention import plugin
from tasuki_attention.plots import plot_positional_encoding, sentence_attentions


def _cli() -> click.Group:
    @click.group()
    def cli() -> None:
        """Stand-in for the tasuki group."""

    plugin.register_commands(cli)
    return cli


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000


def test_positional_heatmap(tmp_path: Path) -> None:
    assert _is_png(plot_positional_encoding(tmp_path / "pe.png", max_len=32, d_model=16))


def test_attentions_of_hf_and_scratch_backbones_are_distributions(bert_dir: Path) -> None:
    for spec in (str(bert_dir), f"scratch:tokenizer={bert_dir},layers=3,hidden=16,heads=2,max_positions=32"):
        tokens, weights = sentence_attentions(spec, "a sunny day")
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
        layers = 2 if spec == str(bert_dir) else 3
        assert weights.shape == (layers, 2, len(tokens), len(tokens))
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)


def test_cli_plot_one_head_a_layer_and_the_grid(tmp_path: Path, bert_dir: Path) -> None:
    runner = CliRunner()
    for extra, name in ((["--layer", "1", "--head", "0"], "one.png"), (["--layer", "0"], "layer.png"), ([], "grid.png")):
        out = tmp_path / name
        result = runner.invoke(_cli(), ["attention", "plot", str(bert_dir), "a rainy day", *extra, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert _is_png(out)


def test_one_layer_or_head_is_labelled_with_its_own_number(tmp_path: Path, bert_dir: Path, monkeypatch) -> None:
    from tasuki_attention import plots

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or Path(path))
    plots.plot_sentence(str(bert_dir), "a rainy day", tmp_path / "l.png", layer=1)  # was labelled "layer 0"
    plots.plot_sentence(str(bert_dir), "a rainy day", tmp_path / "h.png", head=1)  # was titled "head 0"
    assert figures[0].axes[0].get_ylabel() == "layer 1"
    assert figures[1].axes[0].get_title() == "head 1"


def test_cli_plot_scratch_spec_and_positional(tmp_path: Path, bert_dir: Path) -> None:
    runner = CliRunner()
    spec = f"scratch:tokenizer={bert_dir},layers=2,hidden=16,heads=2,positional=sinusoidal"
    result = runner.invoke(_cli(), ["attention", "plot", spec, "hello", "--head", "1", "-o", str(tmp_path / "s.png")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(_cli(), ["attention", "positional", "--max-len", "20", "--dim", "8", "-o", str(tmp_path / "pe.png")])
    assert result.exit_code == 0, result.output
    assert _is_png(tmp_path / "pe.png")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--layer", "2"], "layer 2 is out of range: the model has layers 0..1"),
        (["--head", "-1"], "head -1 is out of range: the model has heads 0..1"),
    ],
)
def test_cli_plot_out_of_range(bert_dir: Path, tmp_path: Path, extra: list[str], message: str) -> None:
    result = CliRunner().invoke(core_cli, ["attention", "plot", str(bert_dir), "hi", *extra, "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2  # one line, exit 2, as every refusal of the CLI (was 1)
    assert message in result.output
    assert not (tmp_path / "x.png").exists()


def test_cli_plot_bad_model_and_empty_sentence(tmp_path: Path, bert_dir: Path) -> None:
    result = CliRunner().invoke(core_cli, ["attention", "plot", "scratch:layers=2", "hi"])
    assert result.exit_code == 2 and "exactly one of bert=... or tokenizer=..." in result.output
    result = CliRunner().invoke(core_cli, ["attention", "plot", str(bert_dir), "  "])
    assert result.exit_code == 2 and "the sentence to plot is empty" in result.output


def test_an_output_that_is_not_a_png_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(core_cli, ["attention", "positional", "-o", str(tmp_path / "x.txt")])
    assert result.exit_code == 2 and "allowed: a file name ending in .png" in result.output  # PNG bytes in x.txt
    assert not (tmp_path / "x.txt").exists()
