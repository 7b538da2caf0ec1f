"""``tasuki sentiment demo`` and ``tasuki sentiment explore``."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def sentiment() -> None:
    """Sentiment: the end-to-end demo and a look at a dataset."""


@sentiment.command()
@click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True,
              help="English tweets with MiniLM, or the shipped Japanese sentences with e5-small.")
@click.option("--output", "output_dir", type=click.Path(path_type=Path), default=Path("sentiment-demo"),
              show_default=True, help="Directory for the model and the figures.")
@click.option("--limit", type=int, default=-1, help="Examples of the default data (en default 8000; 0: all).")
@click.option("--backbone", default=None, help="Backbone spec (default: minilm for en, e5-small for ja).")
@click.option("--epochs", type=int, default=None, help="Training epochs (default: en 3, ja 5).")
@click.option("--batch-size", type=int, default=None, help="Examples per step (default: en 32, ja 16).")
@click.option("--cross-lingual", is_flag=True, help="Fine-tune e5-small on English, evaluate on the Japanese test set.")
@click.option("--no-frozen-features", is_flag=True, help="Skip the frozen-encoder logistic regression.")
def demo(lang: str, output_dir: Path, limit: int, backbone: str | None, epochs: int | None, batch_size: int | None,
         cross_lingual: bool, no_frozen_features: bool) -> None:
    """Explore, baselines, fine-tune, evaluate, plot, save, reload, predict: all offline."""
    from tasuki_sentiment.demo import run

    run(lang=lang, output_dir=output_dir, limit=None if limit == 0 else limit, backbone=backbone, epochs=epochs,
        batch_size=batch_size, cross_lingual=cross_lingual, frozen_features=not no_frozen_features, echo=click.echo)


@sentiment.command()
@click.argument("data", required=False)
@click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True,
              help="Language of the texts (Japanese words are counted with MeCab).")
@click.option("--output", "output_dir", type=click.Path(path_type=Path), default=Path("sentiment-explore"),
              show_default=True, help="Directory for the figures.")
@click.option("--backbone", default=None, help="Show how this backbone's tokenizer splits a sentence.")
@click.option("--example", default=None, help="The sentence to tokenize (default: the first text).")
@click.option("--encoding", default=None, help="The file's encoding (default UTF-8).")
@click.option("--column", "columns", multiple=True, metavar="TASK_COLUMN=YOUR_COLUMN",
              help="Read the task's column from yours: --column text=review --column label=stars (repeatable).")
def explore(data: str | None, lang: str, output_dir: Path, backbone: str | None, example: str | None,
            encoding: str | None, columns: tuple[str, ...]) -> None:
    """Label counts, words per text by label, and a tokenized example. DATA: a file (default: the embedded set)."""
    import tasuki
    from tasuki.plugin import load_data, parse_pairs, resolve_backbone
    from tasuki_sentiment import datasets
    from tasuki_sentiment.explore import explore as run_explore

    if example is not None and not example.strip():  # given, it is shown; an empty one was the first text instead
        raise click.BadParameter("an empty text; give a sentence to tokenize, or leave --example out", param_hint="--example")
    task = tasuki.make_task("sentiment", lang=lang)  # the registered preset: its columns and default backbones
    mapping = parse_pairs(columns, "--column") if columns else None
    if data is None:
        if mapping:
            raise click.BadParameter("maps the columns of DATA, and no DATA file was given", param_hint="--column")
        rows = datasets.load_default(lang)["train"]
    else:
        rows, source = load_data(data, type(task), columns=mapping, encoding=encoding)
        task.validate(rows, source, with_targets=True)  # what train refuses (a missing label, an empty text) is refused
    spec = backbone or task.default_backbones[lang]
    tokenizer = resolve_backbone(spec).tokenizer
    found = run_explore(rows, output_dir, lang=lang, tokenizer=tokenizer, example=example)
    click.echo(found.report())
    click.echo("figures:")
    for path in found.figures:
        click.echo(f"  {path}")
