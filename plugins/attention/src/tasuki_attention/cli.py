"""``tasuki attention ...``: heatmaps of attention weights and of the positional encoding."""

from __future__ import annotations

from pathlib import Path

import click

from tasuki.plugin import DataError


@click.group("attention")
def attention() -> None:
    """From-scratch attention: attention and positional-encoding heatmaps."""


@attention.command("plot")
@click.argument("model")
@click.argument("sentence")
@click.option("--layer", type=int, default=None, help="Layer to show (0-based); all layers if omitted.")
@click.option("--head", type=int, default=None, help="Head to show (0-based); all heads if omitted.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=lambda ctx, param, value: _png(value),
    default=Path("attention.png"),
    show_default=True,
    help="PNG file to write.",
)
def plot(model: str, sentence: str, layer: int | None, head: int | None, output: Path) -> None:
    """Attention weights of SENTENCE under MODEL (a backbone spec: minilm, a model directory, scratch:...)."""
    from tasuki_attention.plots import plot_sentence

    try:
        path = plot_sentence(model, sentence, output, layer=layer, head=head)
    except (ValueError, KeyError, OSError) as exc:
        raise DataError(str(exc)) from None  # one line, exit 2, as every command
    click.echo(f"wrote {path}")


@attention.command("positional")
@click.option("--max-len", type=click.IntRange(min=1), default=128, show_default=True, help="Positions (rows).")
@click.option("--dim", type=click.IntRange(min=1), default=384, show_default=True, help="Dimensions (columns).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=lambda ctx, param, value: _png(value),
    default=Path("positional.png"),
    show_default=True,
    help="PNG file to write.",
)
def positional(max_len: int, dim: int, output: Path) -> None:
    """Heatmap of the sinusoidal positional encoding (position × dimension)."""
    from tasuki_attention.plots import plot_positional_encoding

    click.echo(f"wrote {plot_positional_encoding(output, max_len=max_len, d_model=dim)}")


def _png(path: Path) -> Path:
    """``--output`` names a PNG file: another suffix would hold PNG bytes under a name that says otherwise."""
    if path.suffix.lower() != ".png":
        raise click.BadParameter(f"{str(path)!r}: allowed: a file name ending in .png", param_hint="--output")
    return path
