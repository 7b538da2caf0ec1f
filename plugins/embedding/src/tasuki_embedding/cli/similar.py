"""``tasuki similar MODEL "a" "b" [...]``."""

from __future__ import annotations

import click

from tasuki_embedding.cli import encoder_options, load_encoder


@click.command("similar")
@click.argument("model")
@click.argument("texts", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the similarity matrix as JSON.")
@encoder_options
def command(model: str, texts: tuple[str, ...], as_json: bool, pooling: str | None, normalize: bool | None,
            max_length: int | None, device: str | None, dtype: str, batch_size: int) -> None:
    """Cosine similarity of two TEXTs (or the matrix of three or more)."""
    if len(texts) < 2:
        raise click.UsageError("give at least two texts to compare")
    encoder = load_encoder(model, pooling, normalize, max_length, device, dtype)
    scores = encoder.similarity(list(texts))
    if as_json:
        from tasuki.plugin import echo_json

        echo_json(scores.round(6).tolist())
    elif len(texts) == 2:
        click.echo(f"{scores[0, 1]:.4f}")
    else:
        for i, text in enumerate(texts):
            row = " ".join(f"{s:6.3f}" for s in scores[i])
            click.echo(f"{row}  {text[:50]}")
