"""``tasuki evaluate DIR --data ...``."""

from __future__ import annotations

import click

from tasuki.cli.common import echo_json, parse_pairs


@click.command("evaluate")
@click.argument("model_dir", type=click.Path())
@click.option("--data", required=True, help="Labelled data: a file or a Hub dataset.")
@click.option("--column", "columns", multiple=True, metavar="TASK_COLUMN=YOUR_COLUMN", help="Map a column name.")
@click.option("--encoding", help="Encoding of the data file (default UTF-8).")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False), help="Write the evaluation figures here (a directory).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="An option of how the data is read (classify: label_separator, for a CSV of 'a|b' cells when the "
                   "model was trained on lists) or decided (threshold...): --option label_separator='|'.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def command(model_dir: str, data: str, columns: tuple[str, ...], encoding: str | None, plots_dir: str | None,
            options: tuple[str, ...], as_json: bool) -> None:
    """Score a trained model on labelled data."""
    from tasuki.api import evaluate, load

    model = load(model_dir).with_options(**parse_pairs(options, "--option")) if options else model_dir
    metrics = evaluate(model, data, columns=parse_pairs(columns, "--column"), encoding=encoding, plots_dir=plots_dir)
    if as_json:
        echo_json(metrics)
        return
    for name, value in metrics.items():
        click.echo(f"{name}: {value:.4f}" if isinstance(value, float) else f"{name}: {value}")
