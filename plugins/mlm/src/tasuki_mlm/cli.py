"""``tasuki adapt CORPUS``: adapt an encoder to a domain corpus with masked-language modelling."""

from __future__ import annotations

from typing import Any

import click

from tasuki.errors import TasukiError
from tasuki_mlm.masking import check_probability


def _probability(ctx: click.Context, param: click.Parameter, value: float) -> float:
    try:
        return check_probability(value, "--mlm-probability")
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@click.command("adapt")
@click.argument("corpus")
@click.option("--backbone", default="minilm", show_default=True, help="Backbone spec, Hub id or directory.")
@click.option("--output", "-o", "output_dir", required=True, help="Directory for the adapted model.")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "ja"]))
@click.option("--steps", "max_steps", type=int, default=None, help="Optimizer steps (default: --epochs over the corpus).")
@click.option("--epochs", type=int, default=1, show_default=True)
@click.option("--whole-word", is_flag=True, help="Mask whole words (Japanese: MeCab words).")
@click.option("--line-by-line", is_flag=True, help="One block per line/document instead of concatenate-and-chunk.")
@click.option("--mlm-probability", type=float, default=0.15, show_default=True, callback=_probability)
@click.option("--held-out", type=float, default=0.05, show_default=True, help="Share of documents held out.")
@click.option("--max-length", type=int, default=128, show_default=True, help="Tokens per block.")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--learning-rate", type=float, default=5e-5, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--encoding", default=None, help="Encoding of the corpus files (default UTF-8).")
@click.option("--text-column", default="text", show_default=True, help="Text column of csv/jsonl corpora.")
@click.option("--no-compare", is_flag=True, help="Skip the baseline run (before / head-only).")
def adapt_command(corpus: str, output_dir: str, no_compare: bool, **options: Any) -> None:
    """Adapt a backbone to CORPUS (a folder of .txt files, a file, or a Hub dataset) with MLM.

    Prints held-out perplexity and masked-token accuracy of the baseline (the unadapted
    model, or, when the backbone has no MLM head, the same budget spent on the head alone)
    next to the adapted model's. OUTPUT is a backbone for every task:
    tasuki train sentiment --backbone OUTPUT ...
    """
    from tasuki_mlm.adapt import adapt

    try:
        result = adapt(corpus, output_dir=output_dir, compare=not no_compare, **options)
    except TasukiError as exc:
        raise click.ClickException(str(exc)) from None
    if result.head_initialized:
        click.echo("note: the backbone had no masked-LM head; one was initialised (tied to the embeddings)")
    if result.baseline:
        click.echo(result.table())
    else:
        click.echo(", ".join(f"{k}={v:.4f}" for k, v in result.adapted.items() if isinstance(v, float)))
    click.echo(f"adapted backbone saved to {result.output_dir}")
