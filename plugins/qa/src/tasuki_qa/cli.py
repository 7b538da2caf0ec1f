"""``tasuki qa``: ask a trained model a question about a text file; tune its no-answer threshold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.group("qa")
def qa() -> None:
    """Extractive question answering (the tasuki-qa plugin)."""


@qa.command("ask")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("questions", nargs=-1, required=True)
@click.option(
    "--context",
    "context_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A text file (UTF-8, or UTF-16 with its BOM) with the context the answers are taken from; offsets count "
         "its characters as Python's open().read() gives them (line ends as \\n).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per question.")
def ask(model_dir: Path, questions: tuple[str, ...], context_file: Path, as_json: bool) -> None:
    """Answer QUESTIONS about the text in --context with the model in MODEL_DIR.

    Prints the answer, its score and its character offsets in the context ("" = no answer).
    """
    import tasuki
    from tasuki.plugin import read_text

    context = read_text(context_file)  # an undecodable file is one line naming it; CRLF read as \n, as open() does
    model = tasuki.load(model_dir)
    answers = model.predict([{"question": q, "context": context} for q in questions])
    for question, answer in zip(questions, answers):
        if as_json:
            click.echo(json.dumps({"question": question, **answer}, ensure_ascii=False))
        else:
            shown = answer["answer"] or "(no answer)"
            click.echo(f"{question}\n  {shown}  [score {answer['score']:.3f}, chars {answer['start']}-{answer['end']}]")


@qa.command("tune")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--data", required=True, help="Evaluation data with answers (SQuAD v2 JSON, jsonl, ...).")
@click.option("--metric", type=click.Choice(["f1", "exact"]), default="f1", show_default=True)
def tune(model_dir: Path, data: str, metric: str) -> None:
    """Set the model's no-answer threshold to the one that maximises METRIC on --data."""
    import tasuki

    metrics = tasuki.evaluate(model_dir, data)
    key = f"best_{metric}_thresh"
    if key not in metrics:
        raise click.ClickException(f"evaluation gave no {key}: does --data have answers?")
    threshold = float(metrics[key])
    set_null_threshold(model_dir, threshold)
    click.echo(f"null_threshold = {threshold:.4f}: {metric} {metrics[metric]:.2f} -> {metrics[f'best_{metric}']:.2f} on {data}")


def set_null_threshold(model_dir: Path, threshold: float) -> None:
    """Write ``null_threshold`` into the task options saved in ``MODEL_DIR/tasuki.json``."""
    path = Path(model_dir) / "tasuki.json"
    saved = json.loads(path.read_text(encoding="utf-8"))
    options = _find_options(saved)
    if options is None:
        raise click.ClickException(f"{path}: no saved task options with 'null_threshold'")
    options["null_threshold"] = threshold
    from tasuki.plugin import atomic_write_json

    atomic_write_json(path, saved)  # a crash never leaves a half-written tasuki.json


def _find_options(obj: Any) -> dict[str, Any] | None:
    """The task's ``options`` dict wherever the core nests the task state."""
    if isinstance(obj, dict):
        if "null_threshold" in obj:
            return obj
        for value in obj.values():
            found = _find_options(value)
            if found is not None:
                return found
    return None
