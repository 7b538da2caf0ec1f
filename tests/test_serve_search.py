"""``tasuki serve --index``: search routes over an embedding model's saved index, and every refusal.

The models are tiny and offline (a random BERT trained two steps); the index holds the model's own
vectors, so the server must answer exactly what ``EmbeddingIndex.search`` answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'tasuki[serve]')")
pytest.importorskip("tasuki_embedding", reason="the embedding plugin is not installed")

import tasuki
from tasuki.api import TrainedModel
from tasuki.errors import DataError
from tasuki.registry import Registry, set_registry
from tasuki.serve import create_app
from tasuki.serve.app import attach
from tasuki_embedding.serve import MAX_TOP_K
from tasuki_embedding.similarity import EmbeddingIndex
from test_serve import PAIRS, TEXTS, CountingPredict, ThreadedServer, _call, _post, _train

pytestmark = pytest.mark.integration

def load_indexes(app: Any, indexes: dict[str, Any]) -> None:
    """Load search indexes (the embedding plugin's route attachment ``index``) into a built app."""
    attach(app, "index", indexes)


CORPUS = ["good movie", "great film", "bad food", "terrible food", "nice people", "awful place", "the food was okay"]


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tasuki.testing import tiny_bert

    root = tmp_path_factory.mktemp("serve-search")
    set_registry(Registry())  # the installed plugins
    try:
        bert = str(tiny_bert(root / "bert", words=["movie", "film", "food", "people", "place"]))
        sentiment = [{"text": t, "label": ("positive", "negative")[i % 2]} for i, t in enumerate(TEXTS)] * 2
        return {"embedding": _train("embedding", PAIRS, bert, root / "embedding"),
                "sentiment": _train("sentiment", sentiment, bert, root / "sentiment")}
    finally:
        set_registry(None)


@pytest.fixture(scope="module")
def models(dirs: dict[str, Path]) -> dict[str, TrainedModel]:
    set_registry(Registry())
    try:
        return {name: tasuki.load(path, device="cpu") for name, path in dirs.items()}
    finally:
        set_registry(None)


@pytest.fixture(scope="module")
def index_file(models: dict[str, TrainedModel], tmp_path_factory: pytest.TempPathFactory) -> Path:
    vectors = np.stack(models["embedding"].predict(CORPUS))
    return EmbeddingIndex(vectors, CORPUS, {"model": "embedding"}).save(tmp_path_factory.mktemp("index") / "corpus")


def _expected(model: TrainedModel, index_file: Path, queries: list[str], top_k: int) -> list[list[dict[str, Any]]]:
    """What the saved index answers for the model's own vectors of ``queries``."""
    return EmbeddingIndex.load(index_file).search(np.stack(model.predict(queries)), top_k)


def _same_hits(served: list[dict[str, Any]], direct: list[dict[str, Any]]) -> None:
    assert [(h["index"], h["text"]) for h in served] == [(h["index"], h["text"]) for h in direct]
    assert [h["score"] for h in served] == pytest.approx([h["score"] for h in direct], abs=1e-5)


@pytest.fixture
def app_with_index(models: dict[str, TrainedModel], index_file: Path) -> Any:
    return create_app({"embedding": models["embedding"]}, max_wait_ms=100, indexes={"embedding": index_file})


def test_the_uvicorn_factory_reads_indexes_from_the_environment(models: dict[str, TrainedModel], index_file: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from tasuki.errors import TasukiError
    from tasuki.serve import app_from_env

    monkeypatch.setenv("TASUKI_SERVE_MODELS", f"embedding={models['embedding'].directory}")
    monkeypatch.setenv("TASUKI_SERVE_INDEXES", f"embedding={index_file}")
    listed = _call(app_from_env(), [("GET", "/models", None)])[0].json()
    assert listed[0]["index"]["size"] == len(CORPUS)
    monkeypatch.setenv("TASUKI_SERVE_INDEXES", str(index_file))
    with pytest.raises(TasukiError, match="TASUKI_SERVE_INDEXES: .* is not NAME=FILE.npz"):
        app_from_env()


def test_search_answers_what_the_index_search_answers(models: dict[str, TrainedModel], app_with_index: Any,
                                                      index_file: Path) -> None:
    model = models["embedding"]
    single, many, only, everything = _call(app_with_index, [
        ("POST", "/models/embedding/search", {"inputs": "a good film"}),
        ("POST", "/models/embedding/search", {"inputs": ["bad food", "nice place"], "parameters": {"top_k": 2}}),
        ("POST", "/search", {"inputs": "terrible food", "parameters": {"top_k": 3}}),
        ("POST", "/search", {"inputs": ["people"], "parameters": {"top_k": MAX_TOP_K}}),
    ])
    assert [r.status_code for r in (single, many, only, everything)] == [200] * 4, single.text
    _same_hits(single.json(), _expected(model, index_file, ["a good film"], 5)[0])
    assert len(many.json()) == 2
    for served, direct in zip(many.json(), _expected(model, index_file, ["bad food", "nice place"], 2)):
        assert len(served) == 2
        _same_hits(served, direct)
    _same_hits(only.json(), _expected(model, index_file, ["terrible food"], 3)[0])
    assert len(everything.json()[0]) == len(CORPUS)  # top_k past the index's size: all of it, best first
    scores = [h["score"] for h in everything.json()[0]]
    assert scores == sorted(scores, reverse=True)


def test_search_queries_join_the_predict_batches(models: dict[str, TrainedModel], app_with_index: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingPredict(models["embedding"])
    monkeypatch.setattr(models["embedding"], "predict", counter)
    vector, hits = _call(app_with_index, [("POST", "/models/embedding", {"inputs": "good movie"}),
                                          ("POST", "/models/embedding/search", {"inputs": "good movie"})])
    assert vector.status_code == hits.status_code == 200
    assert counter.calls == [2]  # one predict call for both requests
    assert hits.json()[0]["text"] == "good movie" and hits.json()[0]["score"] == pytest.approx(1.0, abs=1e-5)


def test_queries_get_the_model_s_query_prompt(models: dict[str, TrainedModel], index_file: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    model = models["embedding"]
    monkeypatch.setattr(model.model, "prompts", {"query": "query: ", "passage": "passage: "})
    app = create_app({"embedding": model})
    load_indexes(app, {"embedding": index_file})
    response = _post(app, "/models/embedding/search", {"inputs": "good movie"})
    assert response.status_code == 200
    direct = EmbeddingIndex.load(index_file).search(model.predict(["query: good movie"]), 5)[0]
    _same_hits(response.json(), direct)


def test_get_models_shows_the_index(models: dict[str, TrainedModel], index_file: Path) -> None:
    app = create_app(models)
    load_indexes(app, {"embedding": str(index_file)})
    listed = {m["name"]: m for m in _call(app, [("GET", "/models", None)])[0].json()}
    assert listed["embedding"]["index"] == {"size": len(CORPUS), "dimension": 32, "texts": True,
                                            "path": str(index_file)}
    assert listed["sentiment"]["index"] is None
    one, schema = _call(app, [("GET", "/models/embedding", None), ("GET", "/openapi.json", None)])
    assert one.json()["index"]["size"] == len(CORPUS)
    assert {"/models/{name}/search", "/search"} <= set(schema.json()["paths"])


def test_search_requests_are_checked(models: dict[str, TrainedModel], app_with_index: Any,
                                     index_file: Path) -> None:
    url = "/models/embedding/search"
    cases: list[tuple[Any, int, str | None]] = [
        ({"inputs": "x", "parameters": {"top_k": 0}}, 422, "parameters.top_k"),
        ({"inputs": "x", "parameters": {"top_k": "3"}}, 422, "parameters.top_k"),
        ({"inputs": "x", "parameters": {"top_k": 2.5}}, 422, "parameters.top_k"),
        ({"inputs": "x", "parameters": {"top_k": True}}, 422, "parameters.top_k"),
        ({"inputs": "x", "parameters": {"top_k": MAX_TOP_K + 1}}, 422, "parameters.top_k"),
        ({"inputs": "x", "parameters": {"k": 3}}, 422, "parameters.k"),
        ({"inputs": "x", "parameters": [3]}, 422, "parameters"),
        ({"inputs": {"text": "a", "pair": "b"}}, 422, "inputs"),
        ({"inputs": ["a", 1]}, 422, "inputs[1]"),
        ({"inputs": []}, 422, "inputs"),
        ({"inputs": ["a", " "]}, 422, "inputs[1]"),
        ({"query": "a"}, 422, "query"),
        ({}, 422, "inputs"),
        (["a"], 422, None),
        (b"{not json", 400, None),
        ({"inputs": "x" * 100_001}, 413, "inputs"),
        ({"inputs": ["a"] * 257}, 413, "inputs"),
    ]
    responses = _call(app_with_index, [("POST", url, body) for body, _, _ in cases])
    for (body, status, field), response in zip(cases, responses):
        assert response.status_code == status, (str(body)[:80], response.text)
        assert response.json()["error"]
        assert response.json().get("field") == field, (str(body)[:80], response.json())
    assert "top_k" in responses[0].json()["error"] and "1 to 1000" in responses[0].json()["error"]
    small = create_app({"embedding": models["embedding"]}, max_body_bytes=100)
    load_indexes(small, {"embedding": index_file})
    assert _post(small, url, {"inputs": "x" * 200}).status_code == 413


def test_search_without_an_index_is_404_saying_why(models: dict[str, TrainedModel], index_file: Path) -> None:
    app = create_app(models)
    no_index, not_embedding, unknown, only = _call(app, [
        ("POST", "/models/embedding/search", {"inputs": "good movie"}),
        ("POST", "/models/sentiment/search", {"inputs": "good movie"}),
        ("POST", "/models/nope/search", {"inputs": "good movie"}),
        ("POST", "/search", {"inputs": "good movie"}),
    ])
    assert [r.status_code for r in (no_index, not_embedding, unknown, only)] == [404] * 4
    assert "no search index" in no_index.json()["error"] and "--index embedding=" in no_index.json()["error"]
    assert "is a sentiment model" in not_embedding.json()["error"]
    assert "no model 'nope'" in unknown.json()["error"]
    assert "one model" in only.json()["error"] and "/search" in only.json()["error"]


def _pickle_bomb(path: Path, marker: Path) -> Path:
    """An .npz whose object array, once unpickled, writes ``marker``."""

    class Bomb:
        def __reduce__(self) -> tuple[Any, ...]:
            return (marker.write_text, ("loaded",))

    np.savez(path, embeddings=np.array([Bomb()], dtype=object),
             metadata=np.array('{"format": "tasuki-embedding-index/1"}'))
    return path


def test_bad_indexes_are_refused_in_one_line(models: dict[str, TrainedModel], index_file: Path,
                                             tmp_path: Path) -> None:
    app = create_app(models)
    small = EmbeddingIndex(np.ones((3, 16)), ["a", "b", "c"], {"model": "minilm"}).save(tmp_path / "small")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(index_file.read_bytes()[:100])
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not an index at all")
    np.savez(tmp_path / "text.npz", embeddings=np.array(["a", "b"]),
             metadata=np.array('{"format": "tasuki-embedding-index/1"}'))
    np.savez(tmp_path / "nan.npz", embeddings=np.full((2, 32), np.nan),
             metadata=np.array('{"format": "tasuki-embedding-index/1"}'))
    marker = tmp_path / "executed"
    bomb = _pickle_bomb(tmp_path / "bomb.npz", marker)
    cases = [
        ({"sentiment": index_file}, r"model 'sentiment' is a sentiment model; a search index needs an embedding"),
        ({"embedding": small}, r"vectors of size 16, but model 'embedding' makes vectors of size 32.*'minilm'"),
        ({"embedding": tmp_path / "missing.npz"}, r"missing.npz: no such file"),
        ({"embedding": tmp_path}, r"no such file"),
        ({"embedding": truncated}, r"not an embedding index saved by tasuki"),
        ({"embedding": junk}, r"not an embedding index saved by tasuki"),
        ({"embedding": tmp_path / "text.npz"}, r"2-D array of finite floats"),
        ({"embedding": tmp_path / "nan.npz"}, r"2-D array of finite floats"),
        ({"embedding": bomb}, r"not an embedding index saved by tasuki"),
        ({"nope": index_file}, r"no model 'nope' on this server"),
    ]
    for indexes, message in cases:
        with pytest.raises(DataError, match=message) as caught:
            load_indexes(app, indexes)
        assert "\n" not in str(caught.value)
    assert not marker.exists()  # loading never unpickled the payload...
    np.load(bomb, allow_pickle=True)["embeddings"]
    assert marker.read_text() == "loaded"  # ...which does run when unpickled
    assert all(not b.served.attachments for b in app.state.batchers.values())


def test_cli_refuses_bad_indexes_in_one_line(dirs: dict[str, Path], index_file: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tasuki.cli import cli

    def serve(*args: str) -> str:
        result = CliRunner().invoke(cli, ["serve", *args])
        assert result.exit_code == 2, result.output
        # one error line, last (transformers may print a weight-loading progress bar before it)
        lines = result.output.replace("\r", "\n").strip().splitlines()
        assert "Traceback" not in result.output and [x for x in lines if "error" in x] == lines[-1:], result.output
        assert lines[-1].startswith("error: "), result.output
        return lines[-1]

    assert "missing.npz: no such file" in serve(str(dirs["embedding"]), "--index", str(tmp_path / "missing.npz"))
    assert "is a sentiment model" in serve(f"sentiment={dirs['sentiment']}", "--index", f"sentiment={index_file}")
    assert "which model?" in serve(str(dirs["embedding"]), str(dirs["sentiment"]), "--index", str(index_file))
    assert "no model 'other'" in serve(str(dirs["embedding"]), "--index", f"other={index_file}")
    assert "two indexes for model 'embedding'" in serve(str(dirs["embedding"]), "--index", str(index_file),
                                                        "--index", f"embedding={index_file}")


@pytest.fixture
def browser() -> Iterator[Any]:
    """The browser test's headless Chromium; skips as it does when selenium or Chromium is missing."""
    pytest.importorskip("selenium", reason="selenium is not installed")
    import test_serve_browser

    yield from test_serve_browser.browser.__wrapped__()


def test_the_page_searches_the_index(models: dict[str, TrainedModel], app_with_index: Any, index_file: Path,
                                     browser: Any) -> None:
    """The embedding card gets a search box when an index is loaded; headless Chromium submits it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with ThreadedServer(app_with_index) as url:
        browser.get(f"{url}/")
        WebDriverWait(browser, 30).until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
        card = browser.find_element(By.CSS_SELECTOR, 'section.card[data-model="embedding"]')
        box = card.find_element(By.NAME, "query")
        box.clear()
        box.send_keys("bad food")
        card.find_element(By.CSS_SELECTOR, ".form-search button[type=submit]").click()
        result = card.find_element(By.CSS_SELECTOR, ".search-result")
        WebDriverWait(browser, 30).until(lambda _: result.find_elements(By.CSS_SELECTOR, ".took, .error"))
        assert not result.find_elements(By.CSS_SELECTOR, ".error")
        shown = [(h.find_element(By.CSS_SELECTOR, ".hit-text").text, h.find_element(By.CSS_SELECTOR, ".hit-score").text)
                 for h in result.find_elements(By.CSS_SELECTOR, ".hit")]
        direct = _expected(models["embedding"], index_file, ["bad food"], 5)[0]
        assert shown == [(h["text"], f"{h['score']:.3f}") for h in direct]
