"""``tasuki train TASK --data ... --output DIR``."""

from __future__ import annotations

import click

from tasuki.cli.common import echo_json, parse_pairs
from tasuki.cli.options import given, training_options


@click.command("train")
@click.argument("task")
@click.option("--data", required=True, help="Training data: a file (csv/tsv/jsonl/json/parquet/txt/xlsx/...) or a Hub dataset.")
@click.option("--eval-data", help="Held-out data; default: --eval-split of --data.")
@click.option("--output", "output_dir", required=True, type=click.Path(), help="Directory for the trained model.")
@click.option("--backbone", help="Hub id, local model directory, or spec (minilm, e5-small, scratch:...).")
@click.option("--lang", help="Language of the data (en, ja, ...); default: detected from --data.")
@click.option("--column", "columns", multiple=True, metavar="TASK_COLUMN=YOUR_COLUMN",
              help="Your column for one the task needs, e.g. --column text=review --column label=stars "
                   "('tasuki tasks TASK' lists them). Saved with the model for evaluate and predict.")
@click.option("--option", "options", multiple=True, metavar="NAME=VALUE",
              help="A task option ('tasuki tasks TASK' lists them with their types).")
@click.option("--encoding", help="Encoding of the data files (default UTF-8).")
@click.option("--data-config", help="Config name of a Hub dataset.")
@training_options()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(task: str, data: str, eval_data: str | None, output_dir: str, backbone: str | None, lang: str | None,
            columns: tuple[str, ...], options: tuple[str, ...], encoding: str | None, data_config: str | None,
            as_json: bool, **training_args: object) -> None:
    """Fine-tune a backbone for TASK and save the model into --output."""
    from tasuki.api import train

    result = train(
        task, data, eval_data=eval_data, backbone=backbone, lang=lang, output_dir=output_dir,
        columns=parse_pairs(columns, "--column"), task_options=parse_pairs(options, "--option"),
        encoding=encoding, data_config=data_config,
        **given(training_args),
    )
    from accelerate import PartialState

    if not PartialState().is_main_process:
        return  # under torchrun / accelerate launch, one report
    summary = {"output_dir": str(result.output_dir), "steps": result.global_step, "metrics": result.metrics,
               "figures": [str(p) for p in result.figures]}
    if as_json:
        echo_json(summary)
        return
    click.echo(f"saved {result.output_dir} after {result.global_step} steps")
    for name, value in result.metrics.items():
        click.echo(f"  {name}: {value:.4f}" if isinstance(value, float) else f"  {name}: {value}")
    for path in result.figures:
        click.echo(f"  figure: {path}")
