"""The page of ``tasuki serve`` in a real browser: headless Chromium loads ``/``, submits every form, reads the result.

Needs Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``, ``/usr/bin/chromedriver``) and
selenium; skips with the reason otherwise. The models are tiny but trained long enough on a few
sentences that the page shows sensible results; set ``TASUKI_SERVE_SCREENSHOT=docs/serve-page.png``
to refresh the README's screenshot (by default it goes to the test's temporary directory).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'tasuki[serve]')")
pytest.importorskip("selenium", reason="selenium is not installed")

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

import tasuki
from tasuki.api import TrainedModel
from tasuki.registry import Registry, set_registry
from tasuki.serve import create_app
from tasuki.testing import headless_chromium
from test_serve import CONTEXT, NER_EN, NER_JA, PAIRS, QA_ROWS, ThreadedServer, one_thread

pytestmark = pytest.mark.integration

POSITIVE = ["i love this film", "great food and nice people", "good movie", "very good service", "nice place"]
NEGATIVE = ["i hate this place", "terrible food", "bad movie", "awful service", "very bad day", "terrible film"]
SENTIMENT = [{"text": t, "label": "positive"} for t in POSITIVE] + [{"text": t, "label": "negative"} for t in NEGATIVE]
JAPANESE = "山田太郎は東京都に住む"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TrainedModel]:
    from tasuki.testing import tiny_bert

    root = tmp_path_factory.mktemp("serve-browser")
    set_registry(Registry())
    try:
        words = ["alice", "paris", "bob", "london", "lives", "where", "who", "went", "to", "does", "live", "hate",
                 "service"]
        en = str(tiny_bert(root / "bert-en", words=words))
        ja = str(tiny_bert(root / "bert-ja", japanese=True))
        # long enough on these few sentences that the page shows the trained answers
        fit = {"max_steps": 30, "learning_rate": 3e-3, "batch_size": 12, "max_length": 64, "warmup_ratio": 0.0,
               "checkpoints": False, "progress": False, "eval_split": 0.0}
        with one_thread():
            dirs = {
                "sentiment": tasuki.train("sentiment", SENTIMENT, backbone=en, output_dir=root / "sentiment", **fit),
                "ner": tasuki.train("ner", NER_EN, backbone=en, output_dir=root / "ner", **fit),
                "ner-ja": tasuki.train("ner", NER_JA, backbone=ja, lang="ja", output_dir=root / "ner-ja", **fit),
                "qa": tasuki.train("qa", QA_ROWS, backbone=en, output_dir=root / "qa", **fit),
                "embedding": tasuki.train("embedding", PAIRS, backbone=en, output_dir=root / "embedding", **fit),
            }
        return {name: tasuki.load(result.output_dir, device="cpu") for name, result in dirs.items()}
    finally:
        set_registry(None)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with headless_chromium("1300,1000") as driver:
        yield driver


def _submit(browser: webdriver.Chrome, name: str, fields: dict[str, str]) -> WebElement:
    """Fill the card's fields like a person, press its button, wait for the result; return the result element."""
    card = browser.find_element(By.CSS_SELECTOR, f'section.card[data-model="{name}"]')
    for field, value in fields.items():
        box = card.find_element(By.NAME, field)
        box.clear()
        box.send_keys(value)
    card.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    result = card.find_element(By.CSS_SELECTOR, ".result")
    WebDriverWait(browser, 30).until(lambda _: result.find_elements(By.CSS_SELECTOR, ".took, .error"))
    errors = result.find_elements(By.CSS_SELECTOR, ".error")
    assert not errors, errors[0].text
    return result


def _entities(result: WebElement) -> list[tuple[int, int, str, str]]:
    return [(int(m.get_attribute("data-start")), int(m.get_attribute("data-end")), m.get_attribute("data-type"),
             m.find_element(By.CSS_SELECTOR, ".surface").text) for m in result.find_elements(By.CSS_SELECTOR, "mark.entity")]


def test_the_page_shows_every_model_and_draws_its_results(models: dict[str, TrainedModel], browser: Any,
                                                          tmp_path: Path) -> None:
    with ThreadedServer(create_app(models)) as url:
        browser.get(f"{url}/")
        WebDriverWait(browser, 30).until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
        cards = browser.find_elements(By.CSS_SELECTOR, "section.card")
        assert [c.get_attribute("data-model") for c in cards] == list(models)

        # sentiment: one bar per label, the predicted one on top, percentages as predict gives them
        result = _submit(browser, "sentiment", {"text": "i love this film"})
        expected = models["sentiment"].predict("i love this film")
        bars = result.find_elements(By.CSS_SELECTOR, ".bar")
        assert len(bars) == len(models["sentiment"].task.labels)
        assert result.find_element(By.CSS_SELECTOR, ".bar.top .bar-label").text == expected["label"]
        assert bars[0].find_element(By.CSS_SELECTOR, ".bar-value").text == f"{expected['score'] * 100:.1f}%"

        # ner, English and Japanese: marks at the predicted character offsets, surface = text[start:end]
        for name, text in (("ner", "alice lives in paris"), ("ner-ja", JAPANESE)):
            result = _submit(browser, name, {"text": text})
            shown = _entities(result)
            predicted = models[name].predict(text)
            assert shown == [(e["start"], e["end"], e["type"], text[e["start"]:e["end"]]) for e in predicted]
            assert shown, f"{name}: the trained model found no entity in {text!r}"

        # qa: the answer highlighted inside its context
        result = _submit(browser, "qa", {"question": "where does alice live", "context": CONTEXT})
        answer = models["qa"].predict({"question": "where does alice live", "context": CONTEXT})
        if answer["answer"]:
            mark = result.find_element(By.CSS_SELECTOR, "mark.answer")
            assert (mark.text, int(mark.get_attribute("data-start"))) == (answer["answer"], answer["start"])
        else:
            assert result.find_element(By.CSS_SELECTOR, ".no-answer").text == "no answer in the context"

        # embedding: the cosine similarity of the two texts
        result = _submit(browser, "embedding", {"text": "good movie", "pair": "great film"})
        score = models["embedding"].predict({"text": "good movie", "pair": "great film"})["score"]
        assert result.find_element(By.CSS_SELECTOR, ".similarity").text == f"{score:.3f}"

        shot = Path(os.environ.get("TASUKI_SERVE_SCREENSHOT") or tmp_path / "serve-page.png")
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # the whole page, not the first screen
                                {"width": 1300, "height": int(height), "deviceScaleFactor": 1, "mobile": False})
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


# several labels per text, or none: the page marks each label's threshold on its bar
TAGS = ([{"text": "football match goal", "label": ["sports"]}, {"text": "election vote senate", "label": ["politics"]},
         {"text": "football vote", "label": ["politics", "sports"]}, {"text": "quiet morning tea", "label": []}] * 3)


def test_a_multi_label_result_marks_each_threshold_and_the_labels_that_pass(browser: Any, tmp_path: Path) -> None:
    from tasuki.testing import tiny_bert

    set_registry(Registry())
    try:
        bert = tiny_bert(tmp_path / "bert", words=["football", "match", "goal", "election", "vote", "senate", "quiet",
                                                   "morning", "tea"])
        with one_thread():
            trained = tasuki.train("classify", TAGS, backbone=str(bert), output_dir=tmp_path / "tags", max_steps=80,
                                   learning_rate=3e-3, batch_size=12, warmup_ratio=0.0, checkpoints=False,
                                   progress=False, eval_split=0.0)
        model = tasuki.load(trained.output_dir, device="cpu")
        texts = ["football vote", "football match goal", "quiet morning tea"]
        scores = [model.predict(text)["scores"] for text in texts]
        assert sorted(scores[0]) == ["politics", "sports"]
        # each label's threshold halfway between its lowest and highest score over the texts, whatever the
        # training reached: on every bar's label some text passes and some does not
        cuts = {label: (min(s[label] for s in scores) + max(s[label] for s in scores)) / 2 for label in scores[0]}
        assert all(max(s[label] for s in scores) - cuts[label] > 1e-3 for label in cuts), scores
        model.task.options.thresholds = cuts  # as if saved with the model: predict and GET /models both read it
        with ThreadedServer(create_app({"tags": model})) as url:
            browser.get(f"{url}/")
            WebDriverWait(browser, 30).until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
            shown = []
            for text in texts:
                expected = model.predict(text)
                result = _submit(browser, "tags", {"text": text})
                bars = {b.get_attribute("data-label"): b for b in result.find_elements(By.CSS_SELECTOR, ".bar")}
                assert sorted(bars) == ["politics", "sports"]
                passed = {p["label"] for p in expected["labels"]}
                assert {label for label, b in bars.items() if b.get_attribute("data-passed") == "true"} == passed
                assert {label for label, b in bars.items() if "top" in b.get_attribute("class").split()} == passed
                assert bool(result.find_elements(By.CSS_SELECTOR, ".no-label")) == (not passed)
                shown.append(passed)
                for label, bar in bars.items():
                    mark = bar.find_element(By.CSS_SELECTOR, ".bar-cut")
                    assert float(mark.get_attribute("data-threshold")) == pytest.approx(cuts[label], abs=1e-12)
                    track, cut = (browser.execute_script("const r = arguments[0].getBoundingClientRect(); "
                                                         "return [r.left, r.width];", e)
                                  for e in (bar.find_element(By.CSS_SELECTOR, ".bar-track"), mark))
                    # the mark's middle sits at the threshold's share of the track (the fill: the score's)
                    assert abs(cut[0] + cut[1] / 2 - (track[0] + cuts[label] * track[1])) <= 1.0
                    assert bar.find_element(By.CSS_SELECTOR, ".bar-value").text == \
                        f"{expected['scores'][label] * 100:.1f}%"
            assert all(any(label in p for p in shown) and any(label not in p for p in shown) for label in cuts)
    finally:
        set_registry(None)
