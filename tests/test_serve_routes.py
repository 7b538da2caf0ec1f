"""The ``register_routes`` hook: a plugin's route is mounted, listed and drawn; two claimants are withdrawn.

The model is a stand-in (no torch): the route's handler and the batcher are what is tested.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'tasuki[serve]')")

from fastapi.testclient import TestClient

from tasuki.hookspecs import hookimpl
from tasuki.plugin import Attachment, RequestError, Route, RouteCall
from tasuki.registry import Registry, set_registry
from tasuki.serve.app import attach, build_app
from tasuki.serve.models import ServedModel
from tasuki.serve.settings import ServeSettings
from tasuki_template.task import TemplateClassificationTask


class Model:
    """What the server needs of a TrainedModel: a task, metadata, a directory, predict."""

    def __init__(self) -> None:
        self.task = TemplateClassificationTask(labels=["neg", "pos"])
        self.metadata: dict[str, Any] = {}
        self.directory = Path("toy")
        self.model = None
        self.calls: list[int] = []

    def predict(self, items: list[Any], batch_size: int = 8) -> list[Any]:
        self.calls.append(len(items))
        return [{"label": "pos", "score": 0.9, "length": len(text)} for text in items]


async def shout(call: RouteCall) -> Any:
    """Upper-case the texts, after the model has read them in its batches."""
    if call.body.get("loud") is False:
        raise RequestError(422, "loud: must be true", "loud")
    checked = call.model.check({"inputs": call.body["inputs"]})
    predictions = await call.submit(checked)
    return {"shout": call.body["inputs"].upper(), "suffix": call.attachment, "length": predictions["length"]}


SUFFIX = Attachment(option="suffix", plural="suffixes", load=lambda served, path: path.read_text().strip(),
                    describe=lambda text: {"text": text}, summary=lambda text: f"suffix {text}")


def route_plugin(path: str = "shout", **fields: Any) -> types.SimpleNamespace:
    """An in-test plugin object registering one route."""
    route = Route(path=path, tasks=("template-classify",), handler=shout, summary="Shout a text",
                  request_schema=lambda: {"type": "object", "properties": {"inputs": {"type": "string"}}},
                  form=lambda served, attachment: {"field": "inputs", "label": "Shout", "result": "json"}, **fields)

    @hookimpl
    def register_routes(register: Any) -> None:
        register(route)

    return types.SimpleNamespace(register_routes=register_routes)


def app_of(*plugins: tuple[str, Any]) -> tuple[Any, Registry, Model]:
    registry = Registry(list(plugins), entry_points=False)
    set_registry(registry)
    model = Model()
    settings = ServeSettings.build(max_wait_ms=1)
    return build_app([ServedModel("toy", model, settings)], settings), registry, model  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def forget_registry() -> Any:
    yield
    set_registry(None)


def test_a_plugin_route_is_mounted_listed_and_batched(tmp_path: Path) -> None:
    app, registry, model = app_of(("shouter", route_plugin(attachment=SUFFIX)))
    assert registry.plugins["shouter"].routes == ["shout"]
    with TestClient(app) as client:
        missing = client.post("/models/toy/shout", json={"inputs": "hi"})
        assert missing.status_code == 404 and "start the server with --suffix toy=FILE" in missing.json()["error"]
        (tmp_path / "suffix.txt").write_text("!\n")
        attach(app, "suffix", {"toy": tmp_path / "suffix.txt"})
        named = client.post("/models/toy/shout", json={"inputs": "hi"})
        only = client.post("/shout", json={"inputs": "hey"})
        refused = client.post("/shout", json={"inputs": "hey", "loud": False})
        listed = client.get("/models").json()[0]
        schema = client.get("/openapi.json").json()
    assert named.json() == {"shout": "HI", "suffix": "!", "length": 2}
    assert only.json()["shout"] == "HEY"
    assert refused.status_code == 422 and refused.json() == {"error": "loud: must be true", "field": "loud"}
    assert model.calls  # the handler's queries went through the model's batches
    assert listed["suffix"] == {"text": "!"}
    assert listed["routes"] == [{"path": "shout", "summary": "Shout a text", "attachment": "suffix",
                                 "form": {"field": "inputs", "label": "Shout", "result": "json"}}]
    assert listed["form_kind"] == "text" and listed["result_kind"] == "labels" and listed["input_fields"] == ["text"]
    assert {"/models/{name}/shout", "/shout"} <= set(schema["paths"])
    body = schema["paths"]["/models/{name}/shout"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"] == {"inputs": {"type": "string"}}


def test_a_route_for_other_tasks_answers_404_saying_why() -> None:
    route = Route(path="whisper", tasks=("other-task",), handler=shout, summary="Whisper")

    @hookimpl
    def register_routes(register: Any) -> None:
        register(route)

    plugin = types.SimpleNamespace(register_routes=register_routes)
    app, _, _ = app_of(("whisperer", plugin))
    with TestClient(app) as client:
        response = client.post("/models/toy/whisper", json={"inputs": "hi"})
    assert response.status_code == 404
    assert response.json()["error"] == "model 'toy' is a template-classify model; whisper needs a model of other-task"


def test_two_plugins_claiming_one_route_are_both_withdrawn_and_named() -> None:
    app, registry, _ = app_of(("first", route_plugin()), ("second", route_plugin()), ("third", route_plugin("other")))
    assert registry.serve_routes().keys() == {"other"}
    message = str(registry.clash("route", "shout"))
    assert "route 'shout' is registered twice" in message and "'first'" in message and "'second'" in message
    assert registry.plugins["first"].clashes and registry.plugins["second"].clashes
    assert not registry.plugins["first"].broken and registry.plugins["third"].routes == ["other"]
    with TestClient(app) as client:
        withdrawn = client.post("/models/toy/shout", json={"inputs": "hi"})
        listed = client.get("/models").json()[0]
    assert withdrawn.status_code == 404 and "registered twice" in withdrawn.json()["error"]
    assert [r["path"] for r in listed["routes"]] == ["other"]


@pytest.mark.parametrize("path", ["predict", "models", "Bad Path"])
def test_a_route_on_a_reserved_or_bad_path_breaks_only_its_plugin(path: str) -> None:
    _, registry, _ = app_of(("bad", route_plugin(path)), ("good", route_plugin("fine")))
    assert registry.serve_routes().keys() == {"fine"}
    assert registry.plugins["bad"].broken and "route path" in registry.plugins["bad"].error


@pytest.mark.parametrize("option, plural", [("suffix", "endings"), ("ending", "suffixes")])
def test_two_plugins_declaring_one_attachment_option_are_both_withdrawn_and_named(option: str, plural: str) -> None:
    other = Attachment(option=option, plural=plural, load=lambda served, path: path.read_text(),
                       describe=lambda text: {"text": text}, summary=lambda text: text)
    app, registry, _ = app_of(("first", route_plugin("shout", attachment=SUFFIX)),
                              ("second", route_plugin("yell", attachment=other)), ("third", route_plugin("other")))
    assert registry.serve_routes().keys() == {"other"}  # no silent winner: tasuki serve --suffix would be either's
    what = "option '--suffix'" if option == "suffix" else "plural 'suffixes'"
    message = str(registry.clash("attachment", option))
    assert f"attachment {what} is declared twice" in message and message == str(registry.clash("attachment", "suffix"))
    assert "route 'shout'" in message and "route 'yell'" in message and "'first'" in message and "'second'" in message
    for name in ("first", "second"):
        assert registry.plugins[name].routes == [] and not registry.plugins[name].broken
        assert registry.plugins[name].clashes == [registry.clashes["attachment suffix"]]
    assert registry.plugins["third"].routes == ["other"] and not registry.plugins["third"].clashes
    with TestClient(app) as client:
        withdrawn = client.post("/models/toy/yell", json={"inputs": "hi"})
        listed = client.get("/models").json()[0]
    assert withdrawn.status_code == 404 and f"attachment {what} is declared twice" in withdrawn.json()["error"]
    assert "suffix" not in listed and option not in listed and [r["path"] for r in listed["routes"]] == ["other"]


def test_one_plugin_may_give_several_routes_one_attachment() -> None:
    routes = [Route(path=path, tasks=("template-classify",), handler=shout, summary=path, attachment=SUFFIX)
              for path in ("shout", "yell")]

    @hookimpl
    def register_routes(register: Any) -> None:
        for route in routes:
            register(route)

    _, registry, _ = app_of(("shouter", types.SimpleNamespace(register_routes=register_routes)))
    assert registry.serve_routes().keys() == {"shout", "yell"} and not registry.clashes
