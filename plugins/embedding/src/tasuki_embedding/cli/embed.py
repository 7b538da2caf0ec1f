"""``tasuki embed MODEL --input FILE --output FILE.npy``."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from tasuki.plugin import SettingError, atomic_path
from tasuki_embedding.cli import encoder_options, load_encoder, read_texts


@click.command("embed")
@click.argument("model")
@click.option("--input", "input_file", required=True, type=click.Path(exists=True),
              help="Texts: .txt (one a line), csv/tsv/jsonl/json/parquet/xlsx with --column, or a folder of text "
                   "files (one text each, in file name order).")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Where to write the (N, H) .npy array.")
@click.option("--column", default="text", show_default=True,
              help="The text column of --input (NAME, or text=NAME as train and predict take it).")
@click.option("--encoding", help="Encoding of --input (default UTF-8).")
@click.option("--long-texts", type=click.Choice(["truncate", "window"]), default="truncate", show_default=True,
              help="Texts over the limit: keep the first tokens (with a warning) or average overlapping windows.")
@encoder_options
def command(model: str, input_file: str, output: str, column: str, encoding: str | None, long_texts: str,
            pooling: str | None, normalize: bool | None, max_length: int | None, device: str | None, dtype: str,
            batch_size: int) -> None:
    """Encode the texts of --input with MODEL (a backbone spec or model directory) into a .npy file."""
    path = Path(output)
    if path.suffix.lower() != ".npy":  # numpy would write FILE.npy beside the name given
        raise SettingError(f"--output {output}: the vectors are written as a numpy array; allowed: a file name "
                           f"ending in .npy (np.load reads it)")
    texts = read_texts(input_file, column, encoding)
    encoder = load_encoder(model, pooling, normalize, max_length, device, dtype)
    vectors = encoder.encode(texts, batch_size=batch_size, long_texts=long_texts)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # a reader never sees half an array
        np.save(handle, vectors, allow_pickle=False)
    click.echo(f"wrote {vectors.shape[0]} x {vectors.shape[1]} vectors to {path}")
