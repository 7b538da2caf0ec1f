"""``tasuki predict DIR TEXT... | --input FILE``."""

from __future__ import annotations

import click

from tasuki.cli import echo_json


@click.command("predict")
@click.argument("model_dir", type=click.Path())
@click.argument("texts", nargs=-1)
@click.option("--input", "input_file", type=click.Path(exists=True, dir_okay=False),
              help="A file of inputs (one text per line, or csv/jsonl with the task's columns).")
@click.option("--encoding", help="Encoding of --input (default UTF-8).")
@click.option("--batch-size", default=32, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print predictions as JSON (one list).")
def command(model_dir: str, texts: tuple[str, ...], input_file: str | None, encoding: str | None,
            batch_size: int, as_json: bool) -> None:
    """Predict with a trained model on TEXTs or on the rows of --input."""
    from tasuki.api import load
    from tasuki.data import load_data

    if not texts and not input_file:
        raise click.UsageError("give TEXT arguments or --input FILE")
    model = load(model_dir)
    inputs: list = list(texts)
    if input_file:
        rows, _ = load_data(input_file, type(model.task), with_targets=False, encoding=encoding)
        inputs += [dict(row) for row in rows]
    predictions = model.predict(inputs, batch_size=batch_size, progress=len(inputs) > 1000)
    if as_json:
        echo_json(predictions)
        return
    for item, prediction in zip(inputs, predictions):
        shown = item if isinstance(item, str) else next(iter(item.values()))
        click.echo(f"{str(shown)[:60]!r}\t{prediction}")
