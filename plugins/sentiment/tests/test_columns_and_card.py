"""``tasuki sentiment explore --column``, and the demo's test metrics in the model card."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from tasuki.cli import cli as tasuki_cli
from tasuki_sentiment import demo


def explore(*args: str):
    return CliRunner().invoke(tasuki_cli, ["sentiment", "explore", *args])


def write_reviews(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "review", "stars"])
        writer.writerows([i, r["text"], r["label"]] for i, r in enumerate(rows))
    return path


def test_explore_reads_the_columns_it_is_told(tmp_path, bert_dir, rows):
    data = write_reviews(tmp_path / "reviews.csv", rows)
    out = tmp_path / "figs"
    result = explore(str(data), "--column", "text=review", "--column", "label=stars", "--output", str(out),
                     "--backbone", str(bert_dir))
    assert result.exit_code == 0, result.output
    assert "30 examples: negative 10 (33%), neutral 10 (33%), positive 10 (33%)" in result.output
    assert "tokens: ['[CLS]', 'i', 'love', 'this', 'film', '[SEP]']" in result.output  # the first review
    assert (out / "label_distribution.png").is_file() and (out / "words_per_text.png").is_file()


def test_explore_without_the_mapping_names_the_missing_columns(tmp_path, bert_dir, rows):
    data = write_reviews(tmp_path / "reviews.csv", rows)
    result = explore(str(data), "--output", str(tmp_path / "figs"), "--backbone", str(bert_dir))
    assert result.exit_code == 2
    assert "review" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "figs").exists()


def test_explore_column_needs_a_file_and_name_value(tmp_path):
    result = explore("--column", "text=review", "--output", str(tmp_path / "figs"))
    assert result.exit_code == 2 and "no DATA file was given" in result.output
    result = explore(str(tmp_path), "--column", "review", "--output", str(tmp_path / "figs"))
    assert result.exit_code == 2 and "expected NAME=VALUE" in result.output


CARD = """---
library_name: transformers
---

# sentiment model trained with tasuki

## Training data

- train: rows (384 examples)
- eval: none (0 examples)

## Evaluation

| metric | value |
|---|---|
| (no evaluation data) | |

## Training arguments

- `epochs`: 5
"""


def test_demo_writes_its_test_metrics_into_the_model_card(tmp_path):
    (tmp_path / "README.md").write_text(CARD, encoding="utf-8")
    metrics = {"accuracy": 0.8125, "f1_macro": 0.8, "f1_weighted": 0.81}
    for label, support in (("negative", 32), ("positive", 64)):
        metrics |= {f"precision/{label}": 0.75, f"recall/{label}": 0.5, f"f1/{label}": 0.6, f"support/{label}": support}
    demo.write_test_metrics(tmp_path, metrics, 96, "the ja test split")
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "eval: none" not in card and "(no evaluation data)" not in card
    assert "- test: the ja test split (96 examples), scores below" in card
    assert "| accuracy | 0.8125 |" in card and "| macro F1 | 0.8000 |" in card
    assert "| positive | 0.7500 | 0.5000 | 0.6000 | 64 |" in card
    assert card.index("## Evaluation") < card.index("## Training arguments") and "- `epochs`: 5" in card
    assert card.count("## Evaluation") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]  # written atomically: no temporary left


def test_explore_refuses_what_train_refuses(tmp_path, bert_dir):
    # a missing label was counted as the class None and an empty text as 0 words, with exit 0
    for name, text, expected in [("nulls.jsonl", '{"text": "a good one", "label": null}\n{"text": "bad", "label": "neg"}\n',
                                  "row 1, column 'label'"),
                                 ("empty.csv", 'text,label\n"",pos\nbad,neg\n', "row 1, column 'text': empty text")]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = explore(str(path), "--output", str(tmp_path / "figs"), "--backbone", str(bert_dir))
        assert result.exit_code == 2 and expected in result.output, result.output
        assert not (tmp_path / "figs").exists()


def test_an_empty_example_is_refused_not_replaced(tmp_path):
    result = explore("--example", " ", "--output", str(tmp_path / "figs"))
    assert result.exit_code == 2 and "--example" in result.output and "an empty text" in result.output


def test_explore_counts_a_multi_label_row_under_each_of_its_labels(tmp_path) -> None:
    # each combination of labels was a class of its own: ['food', 'sports'] 1, ['food'] 1, [] 1
    from tasuki_sentiment.explore import explore as look

    rows = [{"text": "pasta and football", "label": ["food", "sports"]}, {"text": "a tasty pie", "label": ["food"]},
            {"text": "a quiet day", "label": []}]
    found = look(rows, tmp_path)
    assert found.label_counts == {"(no label)": 1, "food": 2, "sports": 1} and found.examples == 3
    assert found.report().startswith("3 examples: (no label) 1 (33%), food 2 (67%), sports 1 (33%)")
