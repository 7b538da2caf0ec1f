"""The page in headless Chromium: label with number keys, undo, skip, kill the server, restart, continue.

Needs Debian's ``chromium`` and ``chromium-driver`` and selenium (as ``tests/test_serve_browser.py``); skips
otherwise. The server runs as ``python -m tasuki label ...`` in its own process, so it can be killed with
SIGKILL like a crashed one. ``TASUKI_LABEL_SCREENSHOT=docs/label-page.png`` saves the page with a model.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("selenium", reason="selenium is not installed")

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import POLITICS, SPORT, WEATHER

CHROMIUM = os.environ.get("TASUKI_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TASUKI_CHROMEDRIVER", "/usr/bin/chromedriver")
POOL = SPORT[:3] + POLITICS[:3] + WEATHER[:2]
LABELS = "sport,politics,weather"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() and os.access(path, os.X_OK)) and not shutil.which(path):
            pytest.skip(f"{path} not found: install Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="tasuki-label-chromium-")
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                     "--disable-background-networking", f"--user-data-dir={profile}", "--window-size=1100,700"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Server:
    """``tasuki label`` in a child process; its URL read from the line it prints."""

    def __init__(self, *args: object) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
        self.process = subprocess.Popen([sys.executable, "-m", "tasuki", "label", *map(str, args), "--port", "0"],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        seen = []
        for line in self.process.stdout:
            seen.append(line)
            found = re.search(r"http://\S+/", line)
            if found:
                self.url = found.group(0)
                return
        raise AssertionError("the server did not start:\n" + "".join(seen))

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: nothing runs after it, as in a crash
        self.process.wait(timeout=30)


def _lines(path: Path) -> list[dict]:
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
    server = Server(*args)
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

    server = Server(*args, "--model", model_dir)  # restart, now with a model's guesses
    try:
        browser.get(server.url)
        labelled, item = {first, after_skip}, None
        for _ in range(len(POOL) - 2):
            item, text = _shown(browser, item)
            assert text not in labelled  # a labelled text is never shown again
            guess = browser.find_element(By.ID, "guess").text
            assert re.fullmatch(r"model's guess: (sport|politics|weather) \(\d+%\)", guess), guess
            if len(labelled) == 4 and os.environ.get("TASUKI_LABEL_SCREENSHOT"):
                browser.save_screenshot(os.environ["TASUKI_LABEL_SCREENSHOT"])
            _key(browser, "1")
            labelled.add(text)
            WebDriverWait(browser, 30).until(lambda b: len(_lines(out)) == len(labelled))
        WebDriverWait(browser, 30).until(lambda b: "Every text is labelled" in b.find_element(By.ID, "text").text)
    finally:
        server.kill()
    rows = _lines(out)
    assert sorted(row["text"] for row in rows) == sorted(POOL)  # each text once, the skipped one included
