"""The plugin's subcommands (``tasuki embed``, ``tasuki similar``, ``tasuki search``), one module each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from tasuki.plugin import DataError


def encoder_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Options that choose how MODEL encodes: pooling, normalization, device, dtype, max length."""
    options = [
        click.option("--pooling", type=click.Choice(["mean", "max", "cls"]),
                     help="Pooling (default: the model's sentence-transformers config, else mean)."),
        click.option("--normalize/--no-normalize", default=None, help="L2-normalize vectors (default: the model's)."),
        click.option("--max-length", type=int, help="Tokens per text (default: the model's limit)."),
        click.option("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)."),
        click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16"]), default="float32",
                     show_default=True, help="Weights' precision (float16 needs a GPU)."),
        click.option("--batch-size", default=32, show_default=True, help="Texts per forward pass."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def load_encoder(model: str, pooling: str | None, normalize: bool | None, max_length: int | None,
                 device: str | None, dtype: str) -> Any:
    """An :class:`~tasuki_embedding.encoder.Encoder` for the command-line options."""
    from tasuki_embedding.encoder import Encoder

    return Encoder.load(model, pooling=pooling, normalize=normalize, max_length=max_length, device=device,
                        dtype=dtype)


def read_texts(path: str, column: str, encoding: str | None) -> list[str]:
    """Texts from a file tasuki reads (txt: one a line; csv/tsv/jsonl/json/parquet/xlsx: ``column``)."""
    from tasuki.plugin import check_texts, load_data

    rows, source = load_data(path, encoding=encoding, with_targets=False)
    if column not in rows.column_names and column.startswith("text="):
        column = column.removeprefix("text=")  # the TASK_COLUMN=YOUR_COLUMN form of train and predict
    if column not in rows.column_names:
        raise DataError(f"{source}: no column {column!r}; found columns: {', '.join(rows.column_names)}. "
                        f"Choose one with --column")
    check_texts(rows, [column], source)
    return list(rows[column])
