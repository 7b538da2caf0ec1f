"""``tasuki adapt CORPUS``: adapt an encoder to a domain corpus with masked-language modelling."""

from __future__ import annotations

from typing import Any

import click

from tasuki.plugin import TasukiError, given, settings_options, training_options
from tasuki_mlm.task import MlmOptions

ADAPT_DEFAULTS = {"epochs": 1, "max_length": 128, "batch_size": 16, "learning_rate": 5e-5, "seed": 42}
"""adapt()'s own defaults, shown in --help (the other training options keep TrainingArgs' defaults)."""


@click.command("adapt")
@click.argument("corpus")
@click.option("--backbone", default=None,
              help="Backbone spec, Hub id or directory (default: minilm; e5-small for Japanese).")
@click.option("--output", "-o", "output_dir", required=True, help="Directory for the adapted model.")
@click.option("--lang", default=None, type=click.Choice(["en", "ja"]),
              help="Language of the corpus (default: detected from it).")
@click.option("--held-out", type=float, default=0.05, show_default=True, help="Share of documents held out.")
@click.option("--encoding", default=None, help="Encoding of the corpus files (default UTF-8).")
@click.option("--text-column", default="text", show_default=True, help="Text column of csv/jsonl corpora.")
@click.option("--no-compare", is_flag=True, help="Skip the baseline run (before / head-only).")
@settings_options(MlmOptions, include=("mlm_probability", "whole_word", "line_by_line"))
@training_options(exclude=("eval_split",), defaults=ADAPT_DEFAULTS, aliases={"max_steps": ["--steps"]})
def adapt_command(corpus: str, output_dir: str, no_compare: bool, **options: Any) -> None:
    """Adapt a backbone to CORPUS (a folder of .txt files, a file, or a Hub dataset) with MLM.

    Prints held-out perplexity and masked-token accuracy of the baseline (the unadapted
    model, or, when the backbone has no MLM head, the same budget spent on the head alone)
    next to the adapted model's. OUTPUT is a backbone for every task:
    tasuki train sentiment --backbone OUTPUT ...
    """
    from tasuki_mlm.adapt import adapt

    try:
        result = adapt(corpus, output_dir=output_dir, compare=not no_compare, **given(options))
    except TasukiError as exc:  # one line and exit 2, as every tasuki command (also outside the tasuki group)
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    if result.head_initialized:
        click.echo("note: the backbone had no masked-LM head; one was initialised (tied to the embeddings)")
    if result.baseline:
        click.echo(result.table())
    else:
        click.echo(", ".join(f"{k}={v:.4f}" for k, v in result.adapted.items() if isinstance(v, float)))
    click.echo(f"adapted backbone saved to {result.output_dir}")
