"""``tasuki label DATA ...`` (the labelling page) and ``tasuki label suggest ...`` (the next texts, as a file)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from tasuki_label.selection import STRATEGIES


class LabelGroup(click.Group):
    """``tasuki label suggest ...`` runs the subcommand; anything else (``tasuki label DATA ...``) runs the page."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and "page" in self.commands and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["page", *args]
        return super().parse_args(ctx, args)


@click.group(cls=LabelGroup)
def label() -> None:
    """Label texts on a local page while tasuki chooses what to ask next and trains in the background.

    \b
    tasuki label DATA --task classify --labels A,B,C --output labels.jsonl   the page
    tasuki label suggest --data POOL --exclude labels.jsonl -k 20 --output next.csv
    """


def _text_column(columns: tuple[str, ...]) -> str:
    from tasuki.plugin import parse_pairs

    mapping = parse_pairs(columns, "--column")
    unknown = sorted(set(mapping) - {"text"})
    if unknown:
        raise click.BadParameter(f"{unknown[0]!r} is not a column tasuki label reads; allowed: text=YOUR_COLUMN",
                                 param_hint="--column")
    return mapping.get("text", "text")


@label.command()
@click.option("--data", "pool", required=True, type=click.Path(path_type=Path),
              help="The unlabelled texts: a file with a text column (csv/tsv/jsonl/json/parquet/txt).")
@click.option("--exclude", type=click.Path(path_type=Path), default=None,
              help="A labels file (text column): its texts are not suggested again.")
@click.option("-k", "k", type=click.IntRange(min=1), default=20, show_default=True, help="How many texts to suggest.")
@click.option("--output", type=click.Path(path_type=Path), required=True, help="The suggestions: .csv or .jsonl.")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="A tasuki classification model: its uncertainty and its encoder's embeddings choose.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None,
              help="diverse (the default without --model), uncertainty (the default with it), or random.")
@click.option("--backbone", default=None, help="Embeddings without a model: a backbone spec or directory (default minilm).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of k-means and of random.")
@click.option("--column", "columns", multiple=True, metavar="text=YOUR_COLUMN", help="Your text column in --data.")
def suggest(pool: Path, exclude: Path | None, k: int, output: Path, model: Path | None, strategy: str | None,
            backbone: str | None, seed: int, columns: tuple[str, ...]) -> None:
    """Write the next k texts of --data to label (the page's choice, for a loop without the page)."""
    from tasuki.plugin import atomic_write_text
    from tasuki_label import pool as texts_of
    from tasuki_label.selection import select

    if output.suffix.lower() not in (".csv", ".jsonl"):
        raise click.BadParameter(f"{str(output)!r}: allowed: a .csv or .jsonl file", param_hint="--output")
    strategy = strategy or ("uncertainty" if model is not None else "diverse")
    if strategy == "uncertainty" and model is None:
        raise click.BadParameter("'uncertainty' needs --model (without one: diverse or random)", param_hint="--strategy")
    if exclude is not None and not exclude.is_file():
        raise click.BadParameter(f"{str(exclude)!r}: no such file", param_hint="--exclude")
    texts = texts_of.read_texts(pool, _text_column(columns))
    done = texts_of.labelled_texts(exclude)
    candidates = [t for t in texts if t not in done]
    loaded = _load(model) if model is not None else None
    probs, labels, multi = (texts_of.probabilities(loaded, candidates) if loaded is not None else (None, [], False))
    embeddings = (texts_of.embed(candidates, model=loaded, backbone=backbone) if strategy != "random"
                  else _no_embeddings(candidates))
    picks = select(embeddings, k, strategy, probs=probs, multi_label=multi, seed=seed)
    guessed = list(texts_of.guesses(probs, labels, multi)) if probs is not None else []
    rows = [{"text": candidates[p.index], "cluster": p.cluster,
             **({"guess": guessed[p.index][0], "confidence": round(guessed[p.index][1], 4),
                 "margin": round(p.margin, 4)} if guessed else {})} for p in picks]
    atomic_write_text(output, _table(rows, output.suffix.lower()))
    if len(rows) < k:
        click.echo(f"note: {len(candidates)} unlabelled texts in {pool}, fewer than -k {k}: all of them written",
                   err=True)
    click.echo(f"{len(rows)} texts ({strategy}) -> {output}")


def _load(directory: Path) -> Any:
    import tasuki

    return tasuki.load(directory)


def _no_embeddings(candidates: list[str]) -> Any:
    import numpy as np

    return np.zeros((len(candidates), 1))  # random never reads them: no encoder run


def _table(rows: list[dict[str, Any]], suffix: str) -> str:
    if suffix == ".jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    fields = list(rows[0]) if rows else ["text", "cluster"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
