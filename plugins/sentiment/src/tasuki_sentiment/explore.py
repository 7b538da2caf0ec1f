"""Look at the data before training: label counts, text lengths per label, how the tokenizer splits text."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasuki.plugin import bar_chart, box_plot

NO_LABEL = "(no label)"
"""Where a multi-label row of no label (``[]``) is counted."""


@dataclass
class Exploration:
    """What :func:`explore` found and wrote."""

    label_counts: dict[str, int]
    """Rows by label; a multi-label row under each of its labels (so they may add up to more than the rows)."""
    words_per_text: dict[str, float]
    """Median words per text, by label."""
    tokenization: dict[str, Any] = field(default_factory=dict)
    """``{"text", "tokens", "ids"}`` for one example sentence (when a tokenizer was given)."""
    figures: list[Path] = field(default_factory=list)
    examples: int = 0
    """The rows (the shares are of them)."""

    def report(self) -> str:
        """A few readable lines for a terminal."""
        total = self.examples or sum(self.label_counts.values())
        lines = [f"{total} examples: " + ", ".join(
            f"{label} {n} ({n / total:.0%})" for label, n in self.label_counts.items())]
        lines.append("median words per text: " + ", ".join(f"{k} {v:g}" for k, v in self.words_per_text.items()))
        if self.tokenization:
            t = self.tokenization
            lines.append(f"tokenizer on {t['text']!r}:")
            lines.append(f"  tokens: {t['tokens']}")
            lines.append(f"  ids:    {t['ids']}")
        return "\n".join(lines)


def count_words(text: str, lang: str) -> int:
    """Words in ``text``: whitespace-separated for English, MeCab words for Japanese."""
    if lang == "ja":
        from tasuki.plugin import split_words

        return len(split_words(text))
    return len(text.split())


def tokenization_view(tokenizer: Any, text: str) -> dict[str, Any]:
    """How ``tokenizer`` splits ``text``: its tokens (special tokens included) and their ids."""
    ids = tokenizer(text)["input_ids"]
    return {"text": text, "tokens": tokenizer.convert_ids_to_tokens(ids), "ids": list(ids)}


def explore(
    data: Any,
    output_dir: str | Path,
    *,
    lang: str = "en",
    tokenizer: Any = None,
    example: str | None = None,
    text_column: str = "text",
    label_column: str = "label",
) -> Exploration:
    """Write ``label_distribution.png`` and ``words_per_text.png`` into ``output_dir``.

    :param data: a ``datasets.Dataset`` or a list of ``{"text", "label"}`` rows.
    :param tokenizer: with one, also show how it splits ``example`` (default: the first text).
    """
    import numpy as np

    rows = data.to_list() if hasattr(data, "to_list") else list(data)
    # a multi-label row counts under each of its labels (its list), a row of none under NO_LABEL: counted by
    # combination, ["food", "sports"] was a class of its own
    labels = [[str(v) for v in value] or [NO_LABEL] if isinstance(value, (list, tuple)) else [str(value)]
              for value in (r[label_column] for r in rows)]
    counts = dict(sorted(Counter(name for names in labels for name in names).items()))
    lengths: dict[str, list[int]] = {label: [] for label in counts}
    for row, names in zip(rows, labels):
        words = count_words(str(row[text_column]), lang)
        for name in names:
            lengths[name].append(words)
    output_dir = Path(output_dir)
    unit = "MeCab words" if lang == "ja" else "words"
    figures = [
        bar_chart(counts, output_dir / "label_distribution.png", title="Label distribution", ylabel="examples",
                  show_share=True),
        box_plot(lengths, output_dir / "words_per_text.png", title=f"{unit.capitalize()} per text, by label",
                 ylabel=f"{unit} per text"),
    ]
    exploration = Exploration(
        label_counts=counts,
        words_per_text={k: float(np.median(v)) for k, v in lengths.items()},
        figures=figures,
        examples=len(rows),
    )
    if tokenizer is not None and rows:
        exploration.tokenization = tokenization_view(tokenizer, example or str(rows[0][text_column]))
    return exploration
