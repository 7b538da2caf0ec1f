"""``tasuki predict DIR TEXT... | --input FILE [--output FILE.jsonl|FILE.csv|FILE.tsv [--resume]]``."""

from __future__ import annotations

from typing import Any

import click

from tasuki.cli.common import echo_json, parse_pairs
from tasuki.devices import local_rank, world

SHOWN = 60  # characters of each input shown in the table


@click.command("predict")
@click.argument("model_dir", type=click.Path())
@click.argument("texts", nargs=-1)
@click.option("--input", "input_file", type=click.Path(exists=True),
              help="A file of inputs (one text per line, or csv/tsv/jsonl/parquet/xlsx with the task's columns), or "
                   "a folder of text files (one text each, in file name order).")
@click.option("--output", "output_file", type=click.Path(dir_okay=False),
              help="Stream the predictions of --input into this file, in input order, read and written in chunks; "
                   "it appears when complete. JSON lines (one per row), or a table when named .csv/.tsv/.xlsx (row, the "
                   "input's columns, prediction.* columns).")
@click.option("--resume", is_flag=True, help="With --output: keep the rows a stopped run wrote, predict the rest.")
@click.option("--overwrite", is_flag=True,
              help="With --output: replace an existing file that is not an earlier output of tasuki predict.")
@click.option("--column", "columns", multiple=True, metavar="TASK_COLUMN=FILE_COLUMN",
              help="Map a column of --input to the task's (default: the mapping the model was trained with).")
@click.option("--encoding", help="Encoding of --input (default UTF-8).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--chunk-size", default=1000, show_default=True, type=click.IntRange(min=1),
              help="With --output: rows read, predicted and written at a time.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Decide with another value of an option a serve request may set (classify: threshold, top_k; "
                   "ner: aggregation; 'tasuki tasks TASK' lists them): --option threshold=0.7.")
@click.option("--json", "as_json", is_flag=True, help="Print predictions as JSON (one list).")
def command(model_dir: str, texts: tuple[str, ...], input_file: str | None, output_file: str | None, resume: bool,
            overwrite: bool, columns: tuple[str, ...], encoding: str | None, batch_size: int, chunk_size: int,
            options: tuple[str, ...], as_json: bool) -> None:
    """Predict with a trained model on TEXTs or on the rows of --input.

    Under torchrun / accelerate launch, --output splits the input across the processes and
    still writes one file in input order.
    """
    from tasuki.api import load

    if not texts and not input_file:
        raise click.UsageError("give TEXT arguments or --input FILE")
    if output_file and texts:
        raise click.UsageError("--output streams the rows of --input; give TEXTs or --input, not both")
    if output_file and not input_file:
        raise click.UsageError("--output needs --input FILE")
    if resume and not output_file:
        raise click.UsageError("--resume continues an --output file; give --output")
    if overwrite and not output_file:
        raise click.UsageError("--overwrite replaces an --output file; give --output")
    mapping = parse_pairs(columns, "--column") if columns else None
    model = load(model_dir, device=_device())
    if options:
        model = model.with_options(**parse_pairs(options, "--option"))
    if output_file:
        count = model.predict_file(input_file, output_file, columns=mapping, batch_size=batch_size,
                                   chunk_size=chunk_size, resume=resume, overwrite=overwrite, encoding=encoding)
        rank, size = world()
        if rank == 0:
            click.echo(f"wrote {output_file} ({count} rows predicted{' by this process' if size > 1 else ''})", err=True)
        return
    inputs: list = list(texts)
    if input_file:
        from tasuki.data import load_data

        rows, _ = load_data(input_file, type(model.task), columns=mapping, with_targets=False, encoding=encoding,
                            saved_columns=model.columns)
        inputs += [dict(row) for row in rows]
    predictions = model.predict(inputs, batch_size=batch_size, progress=len(inputs) > 1000)
    if as_json:
        echo_json(plain(predictions))
        return
    for line in table(model.task, inputs, predictions):
        click.echo(line)


def _device() -> str | None:
    """Under a launcher with GPUs each process takes its own (``LOCAL_RANK``); else the default."""
    if world()[1] > 1:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{local_rank()}"
        return "cpu"
    return None


def table(task: Any, inputs: list[Any], predictions: list[Any]) -> list[str]:
    """Lines a person reads: each input (shortened), then its prediction in the task's words (``Task.describe``)."""
    columns = task.input_columns
    shown = [_shorten(item if isinstance(item, str) else str(item.get(columns[0], next(iter(item.values()), ""))))
             for item in inputs]
    width = min(SHOWN, max((len(s) for s in shown), default=4))
    return [f"{text.ljust(width)}  {task.describe(prediction)}" for text, prediction in zip(shown, predictions)]


def _shorten(text: str) -> str:
    text = " ".join(text.split())  # line breaks and tabs would break the table
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def plain(value: Any) -> Any:
    """``value`` with numpy arrays and scalars (embeddings, scores) as JSON lists and numbers, not their text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars; torch tensors
        return value.tolist()
    return value
