"""``tasuki ner``: look at a model's entities, and write the bundled data sets as CoNLL files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group("ner")
def ner() -> None:
    """Named entity recognition tools (tasuki-ner)."""


@ner.command("show")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("texts", nargs=-1, required=True)
@click.option(
    "--aggregation",
    type=click.Choice(["none", "simple", "first", "average", "max"]),
    default=None,
    help="How sub-token predictions become entities (as in transformers' pipeline).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the highlighted texts to this HTML file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the entities as JSON lines instead.")
@click.option("--colour/--no-colour", default=None, help="ANSI colours (default: when writing to a terminal).")
def show(
    model_dir: Path, texts: tuple[str, ...], aggregation: str | None, html_path: Path | None, as_json: bool, colour: bool | None
) -> None:
    """Highlight the entities a trained ner model finds in TEXTS ("-" reads lines from stdin)."""
    from tasuki_ner.inference import load_directory
    from tasuki_ner.render import to_html, to_terminal

    lines = [line.rstrip("\n") for line in sys.stdin if line.strip()] if texts == ("-",) else list(texts)
    model = load_directory(model_dir)
    if aggregation:
        model.task.aggregation = aggregation
    results = model.predict(lines)  # the saved max_length, the one prediction path
    colour = sys.stdout.isatty() if colour is None else colour
    for text, entities in zip(lines, results):
        if as_json:
            click.echo(json.dumps({"text": text, "entities": entities}, ensure_ascii=False))
        else:
            click.echo(to_terminal(text, entities, colour=colour))
    if html_path is not None:
        html_path.write_text(to_html(list(zip(lines, results)), title=f"tasuki ner: {model_dir.name}"), encoding="utf-8")
        click.echo(f"wrote {html_path}", err=True)


@ner.command("data")
@click.argument("name", type=click.Choice(["english", "hironsan"]))
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True, help="Shuffle seed of the hironsan train/test split.")
@click.option("--test-fraction", default=0.2, show_default=True, help="Share of hironsan sentences kept for test.")
def data(name: str, out_dir: Path, seed: int, test_fraction: float) -> None:
    """Write a bundled data set as OUT_DIR/train.conll and OUT_DIR/test.conll."""
    from tasuki_ner import corpora
    from tasuki_ner.readers import write_conll

    out_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        rows = corpora.english(split) if name == "english" else corpora.hironsan(split, seed=seed, test_fraction=test_fraction)
        path = write_conll(rows, out_dir / f"{split}.conll")
        click.echo(f"{path}: {len(rows)} sentences")
