"""``tasuki serve``: the API, its errors and limits, dynamic batching, a loopback load test, SIGTERM drain.

Core tests serve a template-classify model (plugins/_template); the ``integration`` ones serve real
plugins' models (sentiment, ner in English and Japanese, qa, embedding), all tiny and offline.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'tasuki[serve]')")

import httpx
import uvicorn

import tasuki
from tasuki.api import TrainedModel
from tasuki.errors import DataError, TasukiError
from tasuki.registry import Registry, set_registry
from tasuki.serve import MissingExtraError, create_app, require_serve_extra

TEXTS = ["good movie", "terrible food", "i love this film", "awful place", "very good service", "bad day",
         "the food was okay", "nice people and a great day"]


@contextmanager
def one_thread() -> Iterator[None]:
    """Tiny models train fastest on one thread, and a busy machine's OpenMP spinning cannot slow them 50x."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(task: str, rows: list[dict[str, Any]], backbone: str, out: Path, **kwargs: Any) -> Path:
    with one_thread():
        return tasuki.train(task, rows, backbone=backbone, output_dir=out, max_steps=2, checkpoints=False,
                            progress=False, **kwargs).output_dir


@pytest.fixture(scope="module")
def toy_dir(backbone_dir: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tasuki_template import plugin as toy_plugin

    set_registry(Registry([("toy", toy_plugin)], entry_points=False))
    try:
        rows = [{"text": t, "label": "pos" if i % 2 == 0 else "neg"} for i, t in enumerate(TEXTS)] * 2
        return _train("template-classify", rows, backbone_dir, tmp_path_factory.mktemp("serve") / "toy")
    finally:
        set_registry(None)


@pytest.fixture(scope="module")
def toy(toy_dir: Path) -> TrainedModel:
    from tasuki_template import plugin as toy_plugin

    set_registry(Registry([("toy", toy_plugin)], entry_points=False))
    try:
        return tasuki.load(toy_dir, device="cpu")
    finally:
        set_registry(None)


def _call(app: Any, requests: list[tuple[str, str, Any]]) -> list[httpx.Response]:
    """Send requests concurrently to the app (in process, one event loop); return the responses in order."""

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve", timeout=60) as client:
            async def one(method: str, url: str, body: Any) -> httpx.Response:
                if isinstance(body, bytes):
                    return await client.request(method, url, content=body)
                return await client.request(method, url, json=body) if body is not None else await client.request(
                    method, url)
            return await asyncio.gather(*(one(*r) for r in requests))

    return asyncio.run(main())


def _post(app: Any, url: str, body: Any) -> httpx.Response:
    return _call(app, [("POST", url, body)])[0]


def _same(served: Any, direct: Any) -> None:
    """Results of the server equal those of ``predict``: strings and offsets exactly, floats to 1e-5."""
    if isinstance(direct, dict):
        assert set(served) == set(direct)
        for key in direct:
            _same(served[key], direct[key])
    elif isinstance(direct, (list, tuple)) or hasattr(direct, "tolist"):
        direct = direct.tolist() if hasattr(direct, "tolist") else direct
        assert len(served) == len(direct)
        for a, b in zip(served, direct):
            _same(a, b)
    elif isinstance(direct, float):
        assert served == pytest.approx(direct, abs=1e-5)
    else:
        assert served == direct


class CountingPredict:
    """Wraps ``model.predict``: counts the calls and the inputs of each; optionally slow or failing."""

    def __init__(self, model: TrainedModel, delay: float = 0.0, fail: BaseException | None = None,
                 fail_when: str | None = None) -> None:
        self.original, self.delay, self.fail, self.fail_when = model.predict, delay, fail, fail_when
        self.calls: list[int] = []

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        self.calls.append(len(inputs))
        time.sleep(self.delay)
        if self.fail is not None and (self.fail_when is None or self.fail_when in inputs):
            raise self.fail
        return self.original(inputs, **kwargs)


@pytest.fixture
def counted(toy: TrainedModel, monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingPredict]:
    counter = CountingPredict(toy)
    monkeypatch.setattr(toy, "predict", counter)
    yield counter


# --- the API ---------------------------------------------------------------------------------


def test_predict_routes_return_what_predict_returns(toy: TrainedModel) -> None:
    app = create_app({"toy": toy})
    single, many, only = _call(app, [("POST", "/models/toy", {"inputs": TEXTS[0]}),
                                     ("POST", "/models/toy", {"inputs": TEXTS[:3]}),
                                     ("POST", "/predict", {"inputs": TEXTS[3], "parameters": {}})])
    assert single.status_code == many.status_code == only.status_code == 200
    _same(single.json(), toy.predict(TEXTS[0]))
    _same(many.json(), toy.predict(TEXTS[:3]))
    _same(only.json(), toy.predict(TEXTS[3]))
    assert isinstance(single.json(), dict) and len(many.json()) == 3


def test_models_health_ready_metrics_and_docs(toy: TrainedModel, toy_dir: Path) -> None:
    from fastapi.testclient import TestClient

    app = create_app([toy_dir])  # named after its directory
    other = create_app({"other": toy})
    with TestClient(app) as client:  # runs the lifespan: /ready says yes inside it
        (info,) = client.get("/models").json()
        assert info["name"] == "toy" and info["task"] == "template-classify" and info["labels"] == ["neg", "pos"]
        assert info["lang"] == "en" and "en" in info["languages"] and info["backbone"]
        assert client.get("/models/toy").json() == info
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").status_code == 200
        assert client.post("/predict", json={"inputs": ["good movie", "bad day"]}).status_code == 200
        metrics = client.get("/metrics").text
        assert 'tasuki_requests_total{model="toy",status="200"} 1.0' in metrics
        assert 'tasuki_batch_inputs_sum{model="toy"} 2.0' in metrics
        assert "tasuki_request_seconds_bucket" in metrics and "tasuki_queue_depth" in metrics
        assert set(client.get("/openapi.json").json()["paths"]) >= {"/models/{name}", "/predict", "/models"}
        assert client.get("/docs").status_code == 200
        page = client.get("/")
        assert page.status_code == 200 and "static/app.js" in page.text
        assert "function card" in client.get("/static/app.js").text
    # each app counts in its own registry
    assert 'model="toy"' not in other.state.metrics.render().decode()


def test_settings_and_names_are_checked(toy: TrainedModel, toy_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TasukiError, match="max_wait_ms"):
        create_app({"toy": toy}, max_wait_ms=-1)
    with pytest.raises(TasukiError, match="unknown serve setting 'max_wait'"):
        create_app({"toy": toy}, max_wait=1)
    with pytest.raises(DataError, match="both be served as 'toy'.*NAME=DIR"):
        create_app([toy_dir, toy])
    with pytest.raises(DataError, match="model name 'a b'"):
        create_app({"a b": toy})
    app = create_app([f"first={toy_dir}", toy])
    assert set(app.state.batchers) == {"first", "toy"}


def test_missing_extra_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, toy_dir: Path) -> None:
    from click.testing import CliRunner

    from tasuki.cli import cli

    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi now raises ImportError
    with pytest.raises(MissingExtraError, match=r"needs fastapi: pip install 'tasuki\[serve\]'"):
        require_serve_extra()
    result = CliRunner().invoke(cli, ["serve", str(toy_dir)])
    assert result.exit_code == 2
    assert result.output.strip() == "error: serving needs fastapi: pip install 'tasuki[serve]'"


def test_cli_refuses_bad_settings_and_directories_in_one_line(toy_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tasuki.cli import cli

    result = CliRunner().invoke(cli, ["serve", str(toy_dir), "--max-wait-ms", "-1"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: serve setting 'max_wait_ms': -1.0 is not allowed; allowed: a number >= 0"
    result = CliRunner().invoke(cli, ["serve", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no such model directory" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_an_onnx_export_is_served_the_same_way(toy_dir: Path, toy: TrainedModel, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from tasuki.onnx_export import export
    from tasuki_template import plugin as toy_plugin

    set_registry(Registry([("toy", toy_plugin)], entry_points=False))
    try:
        with one_thread():
            export(toy_dir, tmp_path / "toy-onnx")
        exported = tasuki.load(tmp_path / "toy-onnx", device="cpu")
    finally:
        set_registry(None)
    app = create_app([exported, toy])
    onnx, torch_side, listed = _call(app, [("POST", "/models/toy-onnx", {"inputs": TEXTS[:3]}),
                                           ("POST", "/models/toy", {"inputs": TEXTS[:3]}), ("GET", "/models", None)])
    _same(onnx.json(), exported.predict(TEXTS[:3]))
    assert [r["label"] for r in onnx.json()] == [r["label"] for r in torch_side.json()]
    assert [m["runtime"] for m in listed.json()] == ["onnx", "torch"]


# --- errors and limits -----------------------------------------------------------------------


@pytest.mark.parametrize(("body", "status", "field", "words"), [
    (b"{not json", 400, None, "invalid JSON at line 1, column 2"),
    (b"", 400, None, "body: empty"),
    ([1, 2], 422, None, "expected a JSON object"),
    ({"parameters": {}}, 422, "inputs", "inputs: missing"),
    ({"inputs": "x", "options": {}}, 422, "options", "unknown key(s) ['options']"),
    ({"inputs": "good", "parameters": {"top_k": 2}}, 422, "parameters.top_k", "unknown key(s) ['top_k']"),
    ({"inputs": ["good", "  "]}, 422, "inputs[1]", "inputs[1]: empty text"),
    ({"inputs": ["good", 3]}, 422, "inputs[1]", "got int"),
    ({"inputs": [["nested"]]}, 422, "inputs[0]", "expected a text or a list of texts, got list"),
    ({"inputs": 5}, 422, "inputs", "got int"),
    # a field the task does not read was dropped: a pair sent to a one-text model was answered for its text alone
    ({"inputs": [{"text": "good"}, {"text": "good", "text_pair": "bad"}]}, 422, "inputs[1].text_pair",
     "task 'template-classify' reads no field 'text_pair'; its fields: text, label"),
    ({"inputs": {"text": "good", "label": "anything"}}, 200, None, None),  # a target is allowed, and not read
    ({"inputs": [{"text": "good"}, {"text": 5}]}, 422, "inputs[1].text", "inputs[1].text: expected a text, got int 5"),
    ({"inputs": []}, 422, "inputs", "empty list"),
    ({"inputs": ["a"] * 5}, 413, "inputs", "5 items; the limit is 4"),
    ({"inputs": "x" * 101}, 413, "inputs", "101 characters; the limit is 100"),
    ({"inputs": "x" * 600}, 413, None, "the limit is 500 (max_body_bytes)"),
])
def test_bad_requests_get_a_status_and_name_the_field(toy: TrainedModel, body: Any, status: int, field: str | None,
                                                      words: str) -> None:
    app = create_app({"toy": toy}, max_inputs=4, max_text_chars=100, max_body_bytes=500)
    response = _post(app, "/models/toy", body if isinstance(body, bytes) else json.dumps(body).encode())
    assert response.status_code == status, response.text
    if status == 200:
        return
    error = response.json()
    assert words in error["error"]
    assert error.get("field") == field


def test_deeply_nested_json_is_400_not_a_crash(toy: TrainedModel) -> None:
    response = _post(create_app({"toy": toy}), "/models/toy", b"[" * 100_000 + b"]" * 100_000)
    assert response.status_code == 400 and response.json() == {"error": "body: JSON nested too deeply"}


def test_unknown_model_and_predict_with_several_models(toy: TrainedModel) -> None:
    app = create_app({"a": toy, "b": toy})
    unknown, several = _call(app, [("POST", "/models/nope", {"inputs": "x"}), ("POST", "/predict", {"inputs": "x"})])
    assert unknown.status_code == 404 and "no model 'nope'" in unknown.json()["error"]
    assert several.status_code == 404 and "one of ['a', 'b']" in several.json()["error"]
    assert _call(app, [("GET", "/nowhere", None)])[0].json() == {"error": "Not Found"}


def test_timeout_is_504(toy: TrainedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toy, "predict", CountingPredict(toy, delay=0.6))
    app = create_app({"toy": toy}, request_timeout_s=0.2)
    response = _post(app, "/models/toy", {"inputs": "good movie"})
    assert response.status_code == 504 and "within 0.2 s" in response.json()["error"]


def test_full_queue_is_503_with_retry_after(toy: TrainedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toy, "predict", CountingPredict(toy, delay=0.3))
    app = create_app({"toy": toy}, max_queue=2, max_wait_ms=0)
    responses = _call(app, [("POST", "/models/toy", {"inputs": f"text {i}"}) for i in range(8)])
    refused = [r for r in responses if r.status_code == 503]
    assert refused and all(r.headers["retry-after"] == "1" for r in refused)
    assert "requests waiting" in refused[0].json()["error"]
    assert {r.status_code for r in responses} == {200, 503}


def test_predict_failure_is_500_for_its_batch_and_the_server_goes_on(toy: TrainedModel,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toy, "predict", CountingPredict(toy, fail=RuntimeError("boom"), fail_when="poison"))
    app = create_app({"toy": toy})
    failed, fine = _call(app, [("POST", "/models/toy", {"inputs": "poison"}),
                               ("POST", "/models/toy", {"inputs": ["good movie"]})])
    if fine.status_code == 500:  # both landed in one batch: it failed as a whole; the next one is served
        fine = _post(app, "/models/toy", {"inputs": ["good movie"]})
    assert failed.status_code == 500 and failed.json()["error"] == "prediction failed: RuntimeError: boom"
    assert fine.status_code == 200 and fine.json()[0]["label"] in ("neg", "pos")


def test_a_bad_input_the_task_refuses_fails_only_its_request(toy: TrainedModel, counted: CountingPredict) -> None:
    counted.fail, counted.fail_when = DataError("row 1, column 'text': not what this task reads"), "odd one"
    app = create_app({"toy": toy}, max_wait_ms=300)
    responses = _call(app, [("POST", "/models/toy", {"inputs": text}) for text in ["good movie", "odd one", "bad day"]])
    assert [r.status_code for r in responses] == [200, 422, 200]
    assert "not what this task reads" in responses[1].json()["error"]
    assert counted.calls[0] == 3  # tried together first, then one by one


# --- batching --------------------------------------------------------------------------------


def test_concurrent_requests_share_predict_calls_and_get_their_own_results(
        toy: TrainedModel, counted: CountingPredict) -> None:
    app = create_app({"toy": toy}, max_wait_ms=200)
    bodies = [{"inputs": text} if i % 3 else {"inputs": [text, TEXTS[-1]]} for i, text in enumerate(TEXTS)]
    responses = _call(app, [("POST", "/models/toy", body) for body in bodies])
    assert all(r.status_code == 200 for r in responses)
    assert len(counted.calls) < len(bodies), counted.calls  # fewer predict calls than requests
    assert sum(counted.calls) == sum(1 if isinstance(b["inputs"], str) else 2 for b in bodies)
    counted.delay = 0.0
    for body, response in zip(bodies, responses):
        _same(response.json(), counted.original(body["inputs"]))


def test_the_token_budget_bounds_a_batch(toy: TrainedModel, counted: CountingPredict) -> None:
    # each text is 16 characters: 2 + 16 / 4 = 6 estimated tokens; a budget of 13 holds two
    app = create_app({"toy": toy}, max_wait_ms=300, max_batch_tokens=13)
    responses = _call(app, [("POST", "/models/toy", {"inputs": f"good movie {i:05d}"}) for i in range(6)])
    assert all(r.status_code == 200 for r in responses)
    assert max(counted.calls) == 2 and sum(counted.calls) == 6


# --- over a real socket ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadedServer:
    """uvicorn on a loopback port in a thread of this process (no signal handlers there)."""

    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def load_test(url: str, bodies: list[dict[str, Any]], clients: int) -> tuple[list[tuple[int, Any]], list[float], float]:
    """``clients`` concurrent connections send ``bodies`` over loopback; (status, json) in order, latencies, seconds."""

    async def main() -> tuple[list[tuple[int, Any]], list[float], float]:
        results: list[tuple[int, Any]] = [(0, None)] * len(bodies)
        latencies: list[float] = []
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(len(bodies)):
            queue.put_nowait(i)
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            async def worker() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    started = time.perf_counter()
                    response = await client.post("/predict", json=bodies[i])
                    latencies.append(time.perf_counter() - started)
                    results[i] = (response.status_code, response.json())
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            return results, latencies, time.perf_counter() - started

    return asyncio.run(main())


def test_load_16_clients_no_errors_and_results_identical_to_predict(toy: TrainedModel, counted: CountingPredict) -> None:
    bodies = [{"inputs": TEXTS[i % len(TEXTS)] + " " + "very " * (i % 5)} for i in range(160)]
    with ThreadedServer(create_app({"toy": toy})) as url:
        results, latencies, seconds = load_test(url, bodies, clients=16)
    assert [status for status, _ in results] == [200] * len(bodies)
    direct = counted.original([b["inputs"] for b in bodies])
    for (_, served), expected in zip(results, direct):
        _same(served, expected)
    latencies.sort()
    print(f"\nload test: 16 clients, {len(bodies)} requests in {seconds:.2f} s ({len(bodies) / seconds:.0f} req/s), "
          f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {latencies[int(0.99 * len(latencies))] * 1000:.0f} ms,"
          f" {len(counted.calls)} predict calls")
    assert len(counted.calls) < len(bodies)


def test_sigterm_drains_requests_in_flight_and_exits_0(toy_dir: Path) -> None:
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TASUKI_PLUGINS": "template", "OMP_NUM_THREADS": "1"}
    # a long batching wait keeps the requests in flight when the signal arrives
    server = subprocess.Popen([sys.executable, "-m", "tasuki", "serve", str(toy_dir), "--port", str(port),
                               "--max-wait-ms", "1500", "--log-level", "warning"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "server did not start"
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        answers: list[httpx.Response] = []

        def ask(text: str) -> None:
            answers.append(httpx.post(f"{url}/predict", json={"inputs": text}, timeout=30))

        askers = [threading.Thread(target=ask, args=(text,)) for text in TEXTS[:4]]
        for thread in askers:
            thread.start()
        time.sleep(0.5)  # the requests are waiting for their batch
        server.send_signal(signal.SIGTERM)
        for thread in askers:
            thread.join(timeout=30)
        assert server.wait(timeout=30) == 0, server.communicate()[1][-2000:]
    finally:
        if server.poll() is None:
            server.kill()
    assert [r.status_code for r in answers] == [200] * 4
    assert all(r.json()["label"] in ("neg", "pos") for r in answers)


# --- every real task (tox env 'all') ---------------------------------------------------------

NER_EN = [{"text": "alice lives in paris", "entities": [{"start": 0, "end": 5, "type": "PER"},
                                                       {"start": 15, "end": 20, "type": "LOC"}]},
          {"text": "bob went to london", "entities": [{"start": 0, "end": 3, "type": "PER"},
                                                     {"start": 12, "end": 18, "type": "LOC"}]}] * 4
NER_JA = [{"text": "山田太郎は東京都に住む", "entities": [{"start": 0, "end": 4, "type": "PER"},
                                                         {"start": 5, "end": 8, "type": "LOC"}]}] * 6
CONTEXT = "alice lives in paris and bob lives in london"
QA_ROWS = [{"question": "where does alice live", "context": CONTEXT, "answers": {"text": ["paris"], "answer_start": [15]}},
           {"question": "who lives in london", "context": CONTEXT, "answers": {"text": ["bob"], "answer_start": [25]}}] * 4
PAIRS = [{"text": "good movie", "pair": "great film"}, {"text": "bad food", "pair": "terrible food"}] * 4


@pytest.fixture(scope="module")
def plugin_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TrainedModel]:
    from tasuki.testing import tiny_bert

    root = tmp_path_factory.mktemp("serve-plugins")
    set_registry(Registry())  # the installed plugins
    try:
        en = str(tiny_bert(root / "bert-en", words=["alice", "paris", "bob", "london", "lives", "where", "who"]))
        ja = str(tiny_bert(root / "bert-ja", japanese=True))
        sentiment = [{"text": t, "label": ("positive", "negative", "neutral")[i % 3]} for i, t in enumerate(TEXTS)] * 2
        dirs = {
            "sentiment": _train("sentiment", sentiment, en, root / "sentiment"),
            "ner": _train("ner", NER_EN, en, root / "ner"),
            "ner-ja": _train("ner", NER_JA, ja, root / "ner-ja", lang="ja"),
            "qa": _train("qa", QA_ROWS, en, root / "qa"),
            "embedding": _train("embedding", PAIRS, en, root / "embedding"),
        }
        return {name: tasuki.load(path, device="cpu") for name, path in dirs.items()}
    finally:
        set_registry(None)


@pytest.mark.integration
def test_every_task_is_served_as_predict_returns_it(plugin_models: dict[str, TrainedModel]) -> None:
    app = create_app(plugin_models)
    japanese = "山田太郎は東京都に住む。花子は大阪に住む"
    cases = [
        ("sentiment", ["i love this film", "terrible food"]),
        ("ner", "alice lives in paris"),
        ("ner-ja", japanese),
        ("qa", {"question": "where does alice live", "context": CONTEXT}),
        ("qa", [{"question": "who lives in london", "context": CONTEXT}, ["where does bob live", CONTEXT]]),
        ("embedding", ["good movie", "bad food"]),
        ("embedding", {"text": "good movie", "pair": "great film"}),
    ]
    responses = _call(app, [("POST", f"/models/{name}", {"inputs": inputs}) for name, inputs in cases])
    for (name, inputs), response in zip(cases, responses):
        assert response.status_code == 200, (name, response.text)
        _same(response.json(), plugin_models[name].predict(inputs))
    # offsets are Python str indices into the text, Japanese included
    for entity in responses[2].json():
        assert japanese[entity["start"]:entity["end"]] == entity["text"]
    answer = responses[3].json()
    assert CONTEXT[answer["start"]:answer["end"]] == answer["answer"]
    assert len(responses[5].json()[0]) == 32  # the tiny backbone's hidden size
    listed = {m["name"]: m for m in _call(app, [("GET", "/models", None)])[0].json()}
    assert listed["sentiment"]["labels"] == plugin_models["sentiment"].task.labels
    assert listed["ner-ja"]["lang"] == "ja" and listed["qa"]["input_columns"] == ["question", "context"]
    assert set(listed["qa"]["parameters"]) == {"max_answer_length", "null_threshold", "align_to_words"}


@pytest.mark.integration
def test_parameters_apply_per_request_and_are_checked(plugin_models: dict[str, TrainedModel]) -> None:
    ner, qa = plugin_models["ner"], plugin_models["qa"]
    app = create_app(plugin_models, max_wait_ms=100)
    text = "alice lives in paris"
    responses = _call(app, [
        ("POST", "/models/ner", {"inputs": text, "parameters": {"aggregation": "none"}}),
        ("POST", "/models/ner", {"inputs": text}),
        ("POST", "/models/ner", {"inputs": text, "parameters": {"aggregation": "first"}}),
        ("POST", "/models/ner", {"inputs": text, "parameters": {"aggregation": "bogus"}}),
        ("POST", "/models/qa", {"inputs": {"question": "who", "context": CONTEXT}, "parameters": {"max_answer_length": 0}}),
        ("POST", "/models/qa", {"inputs": {"question": "who", "context": CONTEXT}, "parameters": {"null_threshold": "x"}}),
        ("POST", "/models/qa", {"inputs": {"question": "who", "context": CONTEXT}, "parameters": {"max_answer_length": 1}}),
        ("POST", "/models/embedding", {"inputs": "good movie"}),
        ("POST", "/models/embedding", {"inputs": {"text": "good movie", "pair": "bad food"}}),
    ])
    assert [r.status_code for r in responses] == [200, 200, 200, 422, 422, 422, 200, 200, 200], [r.text for r in responses]
    assert ner.task.aggregation == "simple"  # put back after each batch
    for response, strategy in zip(responses[:3], ("none", "simple", "first")):
        ner.task.aggregation = strategy
        try:
            _same(response.json(), ner.predict(text))
        finally:
            ner.task.aggregation = "simple"
    assert responses[3].json()["field"] == "parameters.aggregation" and "one of" in responses[3].json()["error"]
    assert responses[4].json()["field"] == "parameters.max_answer_length"
    assert responses[5].json()["field"] == "parameters.null_threshold"
    assert len(responses[6].json()["answer"].split()) <= 1
    assert isinstance(responses[7].json(), list) and set(responses[8].json()) == {"score"}
    assert qa.task.options.max_answer_length == 30
