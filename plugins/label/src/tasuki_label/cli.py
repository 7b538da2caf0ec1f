"""``tasuki label DATA ...`` (the labelling page) and ``tasuki label suggest ...`` (the next texts, as a file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tasuki_label import DEFAULT_STRATEGY, STRATEGIES, TASKS, item_fields

SUGGESTION_FILES = (".csv", ".tsv", ".xlsx", ".jsonl")
"""What ``tasuki label suggest --output`` writes: a table (to label in a spreadsheet) or JSON lines."""


class LabelGroup(click.Group):
    """``tasuki label suggest ...`` runs the subcommand; ``tasuki label DATA ...`` runs the page on DATA."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None or name.startswith("-") or "page" not in self.commands:
            return command
        return _page_on(self.commands["page"], name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0].startswith("-") and args[0] not in ctx.help_option_names:
            args = ["page", *args]  # the page's options before DATA: tasuki label --port 8001 pool.csv ...
        return super().parse_args(ctx, args)


def _page_on(page_command: click.Command, data: str) -> click.Command:
    """The page command with DATA given: what ``tasuki label DATA`` resolves to."""
    def callback(**options: Any) -> Any:
        return page_command.callback(data=Path(data), **options)

    params = [param for param in page_command.params if param.name != "data"]
    return click.Command("label", params=params, callback=callback, help=page_command.help)


@click.group(cls=LabelGroup)
def label() -> None:
    """Label texts on a local page while tasuki chooses what to ask next and trains in the background.

    \b
    tasuki label DATA --task classify --labels A,B,C --output labels.jsonl   the page
    tasuki label DATA --task classify-pairs --labels same,different --output pairs.jsonl   pairs of texts
    tasuki label suggest --data POOL --exclude labels.jsonl -k 20 --output next.csv
    """


def _text_columns(columns: tuple[str, ...], task: str = "classify") -> tuple[str, str | None]:
    """DATA's text column and (``classify-pairs``) its text_pair column, by ``--column text=Q1 --column text_pair=Q2``."""
    from tasuki.plugin import parse_pairs

    mapping = parse_pairs(columns, "--column")
    unknown = sorted(set(mapping) - set(TASKS[task]))
    if unknown:
        allowed = ", ".join(f"{field}=YOUR_COLUMN" for field in TASKS[task])
        raise click.BadParameter(f"{unknown[0]!r} is not a column tasuki label reads for --task {task}; allowed: "
                                 f"{allowed}", param_hint="--column")
    return mapping.get("text", "text"), (mapping.get("text_pair", "text_pair") if task == "classify-pairs" else None)


TASK_HELP = ("classify (texts; the default) or classify-pairs (pairs of texts: columns text and text_pair, one class "
             "per pair)")


@label.command()
@click.option("--data", "pool", required=True, type=click.Path(path_type=Path),
              help="The unlabelled texts: a file with a text column (csv/tsv/jsonl/json/parquet/xlsx/txt).")
@click.option("--exclude", type=click.Path(path_type=Path), default=None,
              help="A labels file (text column): its texts are not suggested again.")
@click.option("-k", "k", type=click.IntRange(min=1), default=20, show_default=True, help="How many texts to suggest.")
@click.option("--output", type=click.Path(path_type=Path), required=True, help="The suggestions: .csv, .tsv, .xlsx or .jsonl.")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="A tasuki classification model: its guesses are written; its encoder's embeddings choose "
                   "(uncertainty: with its margins; typical: beside the backbone's).")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None,
              help="typical (the default; TypiClust: the densest text of the clusters with the fewest labels), "
                   "uncertainty (needs --model), diverse, or random.")
@click.option("--backbone", default=None, help="The embeddings of typical and diverse: a backbone spec or directory "
              "(default: minilm; e5-small for Japanese texts).")
@click.option("--candidates", "most", type=click.IntRange(min=1), default=None,
              help="Texts to choose among: a seeded random sample of a larger pool, as the page takes (default 2000).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of k-means, of random and of the sample.")
@click.option("--column", "columns", multiple=True, metavar="text=YOUR_COLUMN",
              help="Your text column in --data (classify-pairs: text_pair=YOURS too).")
@click.option("--encoding", default=None, help="Encoding of --data (csv/tsv/jsonl/txt), e.g. cp932 or shift_jis "
              "for a Japanese file saved by Excel (default UTF-8).")
@click.option("--task", type=click.Choice(list(TASKS)), default="classify", show_default=True, help=TASK_HELP)
def suggest(pool: Path, exclude: Path | None, k: int, output: Path, model: Path | None, strategy: str | None,
            backbone: str | None, most: int | None, seed: int, columns: tuple[str, ...], encoding: str | None,
            task: str) -> None:
    """Write the next k texts (or pairs) of --data to label (the page's choice, for a loop without the page)."""
    from tasuki.plugin import atomic_write_text, write_rows
    from tasuki_label import pool as texts_of
    from tasuki_label.selection import margins, select
    from tasuki_label.session import DEFAULT_CANDIDATES

    if output.suffix.lower() not in SUGGESTION_FILES:
        allowed = f"{', '.join(SUGGESTION_FILES[:-1])} or {SUGGESTION_FILES[-1]}"
        raise click.BadParameter(f"{str(output)!r}: allowed: a {allowed} file", param_hint="--output")
    strategy = strategy or DEFAULT_STRATEGY
    if strategy == "uncertainty" and model is None:
        raise click.BadParameter("'uncertainty' needs --model (without one: diverse, typical or random)", param_hint="--strategy")
    if exclude is not None and not exclude.is_file():
        raise click.BadParameter(f"{str(exclude)!r}: no such file", param_hint="--exclude")
    text_column, pair_column = _text_columns(columns, task)
    texts = texts_of.read_texts(pool, text_column, pair=pair_column, encoding=encoding)
    done = texts_of.labelled_texts(exclude, pairs=pair_column is not None)
    unit = "texts" if pair_column is None else "pairs"
    candidates = [t for t in texts if t not in done]
    most = most or DEFAULT_CANDIDATES
    if len(candidates) > most:
        click.echo(f"choosing among {most} of the {len(candidates)} unlabelled {unit} (a seeded random sample, as "
                   f"the page takes; --candidates to change)", err=True)
    candidates = texts_of.sample(candidates, most, seed + len(done))
    loaded = _load(model) if model is not None else None
    scores = texts_of.probabilities(loaded, candidates, progress=True) if loaded is not None else None
    if strategy != "random" and None in texts_of.views(strategy, loaded) and backbone is None:
        backbone = texts_of.embedding_backbone(texts, task=task)
        click.echo(f"embeddings: {backbone}, the default backbone for these texts' language (--backbone to choose)",
                   err=True)
    known = sorted(done) if strategy == "typical" else []  # typical covers what the labelled texts do not
    labelled = None
    if strategy == "random":
        embeddings = _no_embeddings(candidates)
    else:  # candidates and labelled texts in one pass: each encoder is loaded once
        every = texts_of.vectors(candidates + known, strategy, model=loaded, backbone=backbone, progress=True)
        embeddings, labelled = every[:len(candidates)], (every[len(candidates):] if known else None)
    picks = select(embeddings, k, strategy, seed=seed, labelled=labelled, **(scores.selection_args() if scores else {}))
    guessed = scores.guesses if scores is not None else []
    margin = margins(**scores.selection_args()) if guessed else None  # every strategy's picks, not only uncertainty's
    rows = [{**item_fields(candidates[p.index]), "cluster": p.cluster,
             **({"guess": guessed[p.index][0], "confidence": round(guessed[p.index][1], 4),
                 "margin": round(float(margin[p.index]), 4)} if guessed else {})} for p in picks]
    if output.suffix.lower() == ".jsonl":
        atomic_write_text(output, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    else:  # a table: a workbook to label in Excel keeps every text a text
        write_rows(output, list(rows[0]) if rows else [*TASKS[task], "cluster"], rows, sheet="suggestions")
    if len(rows) < k:
        click.echo(f"note: {len(candidates)} unlabelled {unit} in {pool}, fewer than -k {k}: all of them written",
                   err=True)
    click.echo(f"{len(rows)} {unit} ({strategy}) -> {output}")


def _load(directory: Path) -> Any:
    import tasuki

    return tasuki.load(directory)


def _no_embeddings(candidates: list[Any]) -> Any:
    import numpy as np

    return np.zeros((len(candidates), 1))  # random never reads them: no encoder run


@label.command("page", hidden=True)
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--task", type=click.Choice(list(TASKS)), required=True,
              help="What the answers are: classify (one label, or several with --option multi_label=true), or "
                   "classify-pairs (one label for a pair of texts, columns text and text_pair).")
@click.option("--labels", "label_names", default=None, help="The label set, comma-separated: --labels pos,neg,neutral.")
@click.option("--label", "label_list", multiple=True, metavar="NAME",
              help="One label, once per label, instead of --labels: for a name with a comma (--label 'a, b' --label c).")
@click.option("--output", type=click.Path(path_type=Path), required=True,
              help="The labels file (.jsonl), appended to; an existing one is continued.")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="A tasuki model to guess and choose with (default: the last round's, if any).")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8000, show_default=True, help="0: any free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (the page has no login).")
@click.option("--option", "options", multiple=True, metavar="NAME=VALUE",
              help="A task option, for the page and every training round: --option multi_label=true.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None,
              help="How the next texts are chosen: typical (the default), uncertainty (diverse until a model exists), "
                   "diverse, or random.")
@click.option("--every", type=click.IntRange(min=0), default=None,
              help="Train a model in the background after every N new labels (default 16; 0: never).")
@click.option("--folds", type=click.IntRange(min=0), default=None,
              help="Cross-validation folds of each round's accuracy estimate (default 4; 0: none).")
@click.option("--models", "models_dir", type=click.Path(path_type=Path), default=None,
              help="Where the rounds' models go (default: OUTPUT's name + '-models', beside it).")
@click.option("--backbone", default=None,
              help="Backbone of the embeddings typical and diverse choose with, and of training (default: minilm; "
                   "e5-small for Japanese texts).")
@click.option("--train-args", default="", help="More options for every 'tasuki train' round, e.g. '--max-steps 200'.")
@click.option("--candidates", type=click.IntRange(min=1), default=None,
              help="Texts each choice looks at, a random sample of a larger pool (default 2000).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the choices.")
@click.option("--column", "columns", multiple=True, metavar="text=YOUR_COLUMN",
              help="Your text column in DATA (classify-pairs: text_pair=YOURS too).")
@click.option("--encoding", default=None, help="Encoding of DATA (csv/tsv/jsonl/txt), e.g. cp932 or shift_jis "
              "for a Japanese file saved by Excel (default UTF-8).")
def page(data: Path, task: str, label_names: str | None, label_list: tuple[str, ...], output: Path, model: Path | None,
         port: int, host: str, options: tuple[str, ...], strategy: str | None, every: int | None, folds: int | None,
         models_dir: Path | None, backbone: str | None, train_args: str, candidates: int | None, seed: int,
         columns: tuple[str, ...], encoding: str | None) -> None:
    """The labelling page for DATA's texts or pairs (run as 'tasuki label DATA ...')."""
    import shlex

    from tasuki_label.page import serve
    from tasuki_label.session import DEFAULT_CANDIDATES, check_labels
    from tasuki_label.trainer import DEFAULT_EVERY, DEFAULT_FOLDS

    if label_names is not None and label_list:
        raise click.BadParameter("give the label set by --labels or by --label, not both", param_hint="--labels")
    if label_names is None and not label_list:
        raise click.BadParameter("missing: the label set, --labels A,B,C or --label A --label B (for a name with a "
                                 "comma)", param_hint="--labels")
    if folds == 1:
        raise click.BadParameter("1 is not allowed; allowed: 0 (no estimate) or 2 or more", param_hint="--folds")
    if output.suffix.lower() != ".jsonl":
        raise click.BadParameter(f"{str(output)!r}: allowed: a .jsonl file (one answer a line)", param_hint="--output")
    try:
        extra = shlex.split(train_args)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--train-args") from None
    task_options, multi_label = _task_options(task, options)
    labels = check_labels(label_names) if label_names is not None else check_labels(label_list, "--label")
    text_column, pair_column = _text_columns(columns, task)
    serve(data, task=task, text_column=text_column, pair_column=pair_column, encoding=encoding, labels=labels,
          output=output, model=model, host=host, port=port, task_options=task_options, multi_label=multi_label, strategy=strategy,
          every=DEFAULT_EVERY if every is None else every, folds=DEFAULT_FOLDS if folds is None else folds,
          models_dir=models_dir or output.with_name(output.stem + "-models"), backbone=backbone, train_args=extra,
          candidates=candidates or DEFAULT_CANDIDATES, seed=seed)


def _task_options(task: str, options: tuple[str, ...]) -> tuple[dict[str, str], bool]:
    """The --option pairs, checked by the task itself (an unknown name or a bad value is refused here, not later),
    and whether the answers are multi-label."""
    import tasuki
    from tasuki.plugin import parse_pairs

    pairs = parse_pairs(options, "--option")
    if task == "classify-pairs":
        if "multi_label" in pairs:  # not an option of classify-pairs: said plainly, not as an unknown option
            raise click.BadParameter("multi_label: --task classify-pairs labels one class per pair; multi-label "
                                     "pairs are not supported", param_hint="--option")
        pairs.setdefault("regression", "false")  # classes, whatever the label names look like ("0.5")
    declared = tasuki.make_task(task, **pairs).options
    if task == "classify-pairs" and declared.regression:
        raise click.BadParameter("regression=true: the page labels classes, not scores", param_hint="--option")
    multi_label = bool(getattr(declared, "multi_label", False))
    if hasattr(declared, "multi_label") and declared.multi_label is None:  # the answers are single-label: so must
        tasuki.make_task(task, **pairs, multi_label=False)                 # the options be (a threshold is refused)
    return pairs, multi_label
