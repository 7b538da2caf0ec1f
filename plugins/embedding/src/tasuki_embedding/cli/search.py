"""``tasuki search MODEL --corpus FILE "query" [...]``."""

from __future__ import annotations

import click

from tasuki.plugin import DataError
from tasuki_embedding.cli import encoder_options, load_encoder, read_texts


@click.command("search")
@click.argument("model")
@click.argument("queries", nargs=-1, required=True)
@click.option("--corpus", type=click.Path(exists=True),
              help="Documents: .txt (one a line), csv/tsv/jsonl/json/parquet/xlsx with --column, or a folder of text "
                   "files (one document each).")
@click.option("--index", "index_file", type=click.Path(dir_okay=False),
              help="A saved index (.npz): read it instead of encoding --corpus, or write it with --corpus.")
@click.option("--column", default="text", show_default=True, help="The text column of --corpus.")
@click.option("--encoding", help="Encoding of --corpus (default UTF-8).")
@click.option("--top-k", default=5, show_default=True, help="Results per query.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@encoder_options
def command(model: str, queries: tuple[str, ...], corpus: str | None, index_file: str | None, column: str,
            encoding: str | None, top_k: int, as_json: bool, pooling: str | None, normalize: bool | None,
            max_length: int | None, device: str | None, dtype: str, batch_size: int) -> None:
    """The --top-k documents of --corpus (or of a saved --index) nearest each QUERY.

    With both --corpus and --index, the corpus is encoded once and saved to --index.
    """
    from pathlib import Path

    from tasuki_embedding.similarity import EmbeddingIndex

    if not corpus and not index_file:
        raise click.UsageError("give --corpus FILE, or --index FILE.npz saved earlier")
    encoder = load_encoder(model, pooling, normalize, max_length, device, dtype)
    if corpus:
        index = encoder.index(read_texts(corpus, column, encoding), batch_size=batch_size)
        index.metadata.update({"model": model, "corpus": str(corpus)})
        if index_file:
            click.echo(f"saved the index of {len(index)} documents to {index.save(index_file)}", err=True)
    else:
        if not Path(index_file).is_file():
            raise DataError(f"{index_file}: no such index; build it with --corpus FILE --index {index_file}")
        index = EmbeddingIndex.load(index_file)
        if index.embeddings.shape[1] != encoder.dimension:
            raise DataError(f"{index_file}: vectors of size {index.embeddings.shape[1]} do not match {model!r} "
                            f"({encoder.dimension}); the index was built with {index.metadata.get('model', '?')!r}")
    results = encoder.search(list(queries), index, top_k=top_k)
    if as_json:
        from tasuki.plugin import echo_json

        echo_json([{"query": q, "hits": hits} for q, hits in zip(queries, results)])
        return
    for query, hits in zip(queries, results):
        click.echo(f"query: {query}")
        for rank, hit in enumerate(hits, start=1):
            text = hit.get("text", "")
            click.echo(f"  {rank}. {hit['score']:.4f}  {text[:100]}")
