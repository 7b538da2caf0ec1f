"""``tasuki train sentiment`` on a few rows a label gets classify's few-shot recipe (it used to fine-tune end to
end, and end below chance)."""

from __future__ import annotations

import json
import logging

import tasuki
from tasuki.testing import run_cli

ROWS = {
    "positive": ["i love this film", "what a wonderful day", "happy with the service", "the best food",
                 "love the best day", "wonderful happy film", "happy happy day", "the best service"],
    "negative": ["i hate this film", "what a horrible day", "sad with the service", "the worst food",
                 "horrible worst day", "sad broken film", "broken sad day", "the worst service"],
    "neutral": ["the meeting is monday", "the report is a film", "the report on monday", "a meeting on monday",
                "monday report", "the meeting report", "a report", "the monday meeting"],
}  # 8 a label


def test_cli_train_sentiment_on_8_rows_a_label_uses_the_few_shot_recipe(tmp_path, bert_dir, caplog):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for label, texts in ROWS.items() for t in texts),
                    encoding="utf-8")
    out = tmp_path / "model"
    with caplog.at_level(logging.INFO):
        code, _, stderr = run_cli("train", "sentiment", "--data", data, "--backbone", bert_dir, "--output", out,
                                  "--max-length", "16", "--no-progress")
    assert code == 0, stderr
    assert "few-shot recipe" in caplog.text
    meta = json.loads((out / "tasuki.json").read_text())
    assert meta["task"] == "sentiment"
    assert meta["task_state"]["options"]["recipe"] == "few-shot" and meta["task_state"]["main_metric"] == "f1_macro"
    assert meta["data"]["eval"].startswith("none")  # the recipe holds nothing out: every row trains
    assert (out / "classifier.safetensors").is_file()  # the head fitted on the tuned encoder
    model = tasuki.load(out)
    assert model.task.name == "sentiment"
    assert model.evaluate([{"text": t, "label": label} for label, texts in ROWS.items() for t in texts])["f1_macro"] > 0.5

