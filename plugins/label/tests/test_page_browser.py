"""The page in headless Chromium: label with number keys, undo, skip, kill the server, restart, continue.

Needs Debian's ``chromium`` and ``chromium-driver`` and selenium (as ``tests/test_serve_browser.py``); skips
otherwise. The server runs as ``python -m tasuki label ...`` in its own process, so it can be killed with
SIGKILL like a crashed one. ``TASUKI_LABEL_SCREENSHOT=plugins/label/docs/label-page.png`` saves the page after a round.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("selenium", reason="selenium is not installed")

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import POLITICS, SPORT, WEATHER
from tasuki.testing import headless_chromium

POOL = SPORT[:3] + POLITICS[:3] + WEATHER[:2]
LABELS = "sport,politics,weather"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with headless_chromium("1100,700") as driver:
        yield driver


class Server:
    """``tasuki label`` in a child process, its output in a file (a pipe nobody reads would fill and block it)."""

    def __init__(self, log: Path, *args: object) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
        self.log = log
        with log.open("w", encoding="utf-8") as handle:
            self.process = subprocess.Popen([sys.executable, "-m", "tasuki", "label", *map(str, args), "--port", "0"],
                                            stdout=handle, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.process.poll() is None:
            found = re.search(r"http://\S+/", log.read_text(encoding="utf-8"))
            if found:
                self.url = found.group(0)
                return
            time.sleep(0.2)
        self.kill()
        raise AssertionError("the server did not start:\n" + log.read_text(encoding="utf-8"))

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: nothing runs after it, as in a crash
        self.process.wait(timeout=30)


def _lines(path: Path) -> list[dict]:
    if not path.exists():  # before the first answer
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _shown(browser: webdriver.Chrome, after: str | None = None) -> tuple[str, str]:
    """Wait for a text (a new one when ``after`` names the last id) and return ``(id, text)``."""
    def ready(driver: webdriver.Chrome) -> bool:
        item = driver.find_element(By.ID, "text").get_attribute("data-item")
        return bool(item) and item != after
    WebDriverWait(browser, 60).until(ready)
    element = browser.find_element(By.ID, "text")
    return element.get_attribute("data-item"), element.text


def _key(browser: webdriver.Chrome, key: str) -> None:
    browser.find_element(By.TAG_NAME, "body").send_keys(key)


def test_label_undo_skip_kill_restart_continue(tmp_path: Path, browser: webdriver.Chrome, backbone: Path,
                                               model_dir: Path) -> None:
    pool = tmp_path / "pool.txt"
    pool.write_text("\n".join(POOL) + "\n", encoding="utf-8")
    out = tmp_path / "labels.jsonl"
    args = [pool, "--task", "classify", "--labels", LABELS, "--output", out, "--backbone", backbone, "--every", 0]
    server = Server(tmp_path / "server.log", *args)
    try:
        browser.get(server.url)
        item, first = _shown(browser)
        assert first in POOL
        _key(browser, "1")  # sport
        item, second = _shown(browser, item)
        assert _lines(out) == [{"text": first, "label": "sport"}]  # on disk before the next text was shown
        _key(browser, "2")
        item, _ = _shown(browser, item)
        assert _lines(out)[-1] == {"text": second, "label": "politics"}
        _key(browser, "u")  # undo: the second text again, and off the file
        item, again = _shown(browser, item)
        assert again == second and _lines(out) == [{"text": first, "label": "sport"}]
        _key(browser, "s")  # skip it
        item, after_skip = _shown(browser, item)
        assert after_skip not in (first, second) and len(_lines(out)) == 1
        _key(browser, "3")
        _shown(browser, item)
        assert _lines(out)[-1] == {"text": after_skip, "label": "weather"}
        assert browser.find_element(By.ID, "count").get_attribute("data-labelled") == "2"
    finally:
        server.kill()
    assert [row["text"] for row in _lines(out)] == [first, after_skip]  # intact after SIGKILL

    server = Server(tmp_path / "server2.log", *args, "--model", model_dir)  # restart, now with a model's guesses
    try:
        browser.get(server.url)
        labelled, item = {first, after_skip}, None
        for _ in range(len(POOL) - 2):
            item, text = _shown(browser, item)
            assert text not in labelled  # a labelled text is never shown again
            guess = browser.find_element(By.ID, "guess").text
            assert re.fullmatch(r"model's guess: (sport|politics|weather) \(\d+%\)", guess), guess
            _key(browser, "1")
            labelled.add(text)
            WebDriverWait(browser, 30).until(lambda b: len(_lines(out)) == len(labelled))
        WebDriverWait(browser, 30).until(lambda b: "Every text is labelled" in b.find_element(By.ID, "text").text)
    finally:
        server.kill()
    rows = _lines(out)
    assert sorted(row["text"] for row in rows) == sorted(POOL)  # each text once, the skipped one included


def test_a_round_trains_in_the_background_and_the_page_shows_its_estimate(tmp_path: Path, browser: webdriver.Chrome,
                                                                          backbone: Path) -> None:
    pool = tmp_path / "pool.txt"
    pool.write_text("\n".join(SPORT + POLITICS + WEATHER) + "\n", encoding="utf-8")
    out = tmp_path / "labels.jsonl"
    answers = {**dict.fromkeys(SPORT, "1"), **dict.fromkeys(POLITICS, "2"), **dict.fromkeys(WEATHER, "3")}
    fast = "--max-steps 20 --learning-rate 3e-3 --batch-size 8"
    server = Server(tmp_path / "server.log", pool, "--task", "classify", "--labels", LABELS, "--output", out,
                    "--backbone", backbone, "--every", 6, "--folds", 2, "--train-args", fast)
    try:
        browser.get(server.url)
        item = None
        for count in range(1, 7):
            item, text = _shown(browser, item)
            _key(browser, answers[text])
            WebDriverWait(browser, 30).until(lambda b, n=count: len(_lines(out)) == n)
        training = browser.find_element(By.ID, "training")
        # the page keeps answering while the round runs (it is another process)
        item, text = _shown(browser, item)
        _key(browser, answers[text])
        WebDriverWait(browser, 30).until(lambda b: len(_lines(out)) == 7)
        try:
            WebDriverWait(browser, 600).until(lambda b: "cross-validated accuracy" in training.text)
        except Exception:
            logs = [p.read_text(encoding="utf-8")[-3000:] for p in sorted(tmp_path.rglob("*.log"))]
            raise AssertionError(f"page: {training.text}\n" + "\n".join(logs)) from None
        assert re.search(r"round 1: 6 labels, cross-validated accuracy \d+\.\d%", training.text), training.text
        WebDriverWait(browser, 60).until(lambda b: "model " in b.find_element(By.ID, "strategy").text)
        assert browser.find_element(By.ID, "curve").get_attribute("data-points") == "1"
        assert "next texts: typical" in browser.find_element(By.ID, "strategy").text  # the default, with a model too
        model_dir = out.with_name("labels-models") / "round-0001" / "model"
        assert (model_dir / "tasuki.json").is_file()
        WebDriverWait(browser, 60).until(lambda b: "model's guess" in b.find_element(By.ID, "guess").text)
        if os.environ.get("TASUKI_LABEL_SCREENSHOT"):
            browser.save_screenshot(os.environ["TASUKI_LABEL_SCREENSHOT"])
    finally:
        server.kill()


def test_a_pair_is_shown_as_two_texts_and_labelled_with_the_same_keys(tmp_path: Path, browser: webdriver.Chrome,
                                                                      backbone: Path) -> None:
    from conftest import PAIRS

    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps({"Q1": r["text"], "Q2": r["text_pair"]}) + "\n" for r in PAIRS[:4]),
                    encoding="utf-8")
    out = tmp_path / "pairs.jsonl"
    server = Server(tmp_path / "server.log", pool, "--task", "classify-pairs", "--labels", "same,different", "--output",
                    out, "--column", "text=Q1", "--column", "text_pair=Q2", "--backbone", backbone, "--every", 0)

    def pair() -> tuple[str, str]:
        return tuple(browser.find_element(By.ID, f"text-{name}").text for name in ("first", "second"))

    try:
        browser.get(server.url)
        item, _ = _shown(browser)
        first = pair()
        assert first in {(r["text"], r["text_pair"]) for r in PAIRS[:4]}
        assert [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#text .name")] == ["FIRST", "SECOND"]
        _key(browser, "2")  # different
        item, _ = _shown(browser, item)
        assert _lines(out) == [{"text": first[0], "text_pair": first[1], "label": "different"}]
        second = pair()
        _key(browser, "s")
        item, _ = _shown(browser, item)
        assert pair() not in (first, second)
        _key(browser, "u")  # the skip
        item, _ = _shown(browser, item)
        assert pair() == second
        _key(browser, "u")  # the answer
        item, _ = _shown(browser, item)
        assert pair() == first and _lines(out) == []
    finally:
        server.kill()
