"""A new plugin, made from the template as a third party would, works everywhere with no change to the core.

The test copies ``plugins/_template`` to a temporary directory and renames it (``tasuki_reviewscore``,
task ``reviewscore``) with the renames of its README's ``sed`` line; edits the task to read two inputs, with its own form
(``"question"``: a product, then its review), its own result (``"score"``: a polarity from -1 to 1) and
its own words in ``tasuki predict``'s table (``describe``); and adds a route through the
``register_routes`` hook (``POST /models/{name}/verdict``). Registered from its entry point on a fresh
registry, it is trained, predicted and exported through the CLI, served (``GET /models`` shows what it
declared, its route answers), and its card is drawn on the page in headless Chromium (skipped without
Chromium or selenium, as ``tests/test_serve_browser.py`` is).

Nothing of the plugin is known to the core: if the route were not mounted, the declarations not listed,
the CLI not asking the task for its words, or the page not drawing the card from ``GET /models``, this fails.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

from tasuki.cli import cli
from tasuki.registry import Registry, set_registry
from tasuki.testing import tiny_bert

try:  # the page's own browser test: its headless Chromium fixture, and how it submits a card
    from test_serve_browser import _submit, browser  # noqa: F401 - browser is a fixture, asked for by name
except (pytest.skip.Exception, ImportError) as missing:  # selenium (or the serve extra) is not installed
    NO_BROWSER: str | None = f"the page's browser test cannot run here: {missing}"
else:
    NO_BROWSER = None

pytestmark = pytest.mark.slow

TEMPLATE = Path(__file__).resolve().parent.parent / "plugins" / "_template"
NAME = TASK = "reviewscore"  # the README's "mytask"
PACKAGE = f"tasuki_{NAME}"
GOOD = ["great value", "works really well", "i love it", "very good quality", "nice and cheap"]
BAD = ["broke in a week", "awful quality", "i hate it", "very bad value", "terrible and slow"]
ROWS = ([{"product": "kettle", "review": t, "label": "positive"} for t in GOOD]
        + [{"product": "lamp", "review": t, "label": "negative"} for t in BAD])
WORDS = sorted({w for row in ROWS for w in f"{row['product']} {row['review']}".split()})

# What a plugin author writes: the route module, and the hook that registers it (plugin.py).
SERVE_PY = '''"""``POST /models/{name}/verdict``: recommend or avoid a product, from the model's score of each review."""

from __future__ import annotations

from typing import Any

from tasuki.plugin import RequestError, Route, RouteCall


async def verdict(call: RouteCall) -> Any:
    body = call.body if isinstance(call.body, dict) else {}
    unknown = sorted(set(body) - {"inputs", "parameters"})
    if unknown:
        raise RequestError(422, f"body: unknown key(s) {unknown}", unknown[0])
    product = (body.get("parameters") or {}).get("product", "it")
    reviews = body.get("inputs")
    single = isinstance(reviews, str)
    reviews = [reviews] if single else reviews
    if not isinstance(reviews, list) or not all(isinstance(r, str) for r in reviews):
        raise RequestError(422, "inputs: expected a review or a list of reviews", "inputs")
    checked = call.model.check({"inputs": [{"product": product, "review": r} for r in reviews]})
    scored = await call.submit(checked)  # in the model's predict batches, with other requests
    verdicts = [{"verdict": "recommend" if s["score"] > 0 else "avoid", "score": s["score"]} for s in scored]
    return verdicts[0] if single else verdicts


def form(served: Any, attachment: Any) -> dict[str, Any]:
    return {"field": "review", "label": "Verdict on a review", "value": "great value", "button": "Verdict",
            "parameters": {"product": "kettle"}, "result": "json"}


VERDICT = Route(path="verdict", tasks=("reviewscore",), handler=verdict, summary="Recommend or avoid",
                form=form)
'''
HOOK = '''

@hookimpl
def register_routes(register: Any) -> None:
    from tasuki_reviewscore.serve import VERDICT  # serving code is imported only when a server is built

    register(VERDICT)
'''


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must be there once: else the template changed and this test must follow it)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name}: expected {old!r} once in the template's copy"
    path.write_text(text.replace(old, new), encoding="utf-8")


def readme_renames() -> dict[str, str]:
    """The ``s/OLD/NEW/`` pairs of the template README's ``sed`` line, for our name: its steps, tested."""
    line = next(line for line in (TEMPLATE / "README.md").read_text(encoding="utf-8").splitlines() if "sed -i" in line)
    pairs = re.findall(r"s/([^/]+)/([^/]*)/g?", line)
    assert pairs, line
    return {old: new.replace("mytask", NAME) for old, new in pairs}


def make_plugin(root: Path) -> Path:
    """``cp -r plugins/_template``, rename it as its README says, then make the task and the route ours."""
    plugin = root / NAME
    shutil.copytree(TEMPLATE, plugin, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", ".*"))
    renames = readme_renames()
    assert renames["tasuki_template"] == PACKAGE and renames["template-classify"] == TASK
    (plugin / "src" / "tasuki_template").rename(plugin / "src" / PACKAGE)
    for path in plugin.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".toml", ".md"}:
            text = path.read_text(encoding="utf-8")
            for old, new in renames.items():
                text = text.replace(old, new)
            path.write_text(text, encoding="utf-8")
    task = plugin / "src" / PACKAGE / "task.py"
    edit(task, 'description = "Template: text classification (copy plugins/_template to start a plugin)"',
         'description = "How much a review recommends its product, from -1 to 1"')
    edit(task, "    Options = TemplateOptions\n",
         '    Options = TemplateOptions\n    input_columns = ("product", "review")\n')
    edit(task, 'input_fields = ("text",)', 'input_fields = ("product", "review")')
    edit(task, 'form_kind = "text"', 'form_kind = "question"')
    edit(task, 'result_kind = "labels"', 'result_kind = "score"')
    edit(task, 'batch["text"]] if self.options.lowercase else batch["text"]',
         'batch["review"]] if self.options.lowercase else batch["review"]')
    edit(task, "tokenizer(texts, truncation=True", 'tokenizer(batch["product"], texts, truncation=True')
    edit(task, 'results.append({"label": self.labels[best], "score": float(scores[best])})',
         'polarity = scores[self.labels.index("positive")] - scores[self.labels.index("negative")]\n'
         '            results.append({"label": self.labels[best], "score": float(polarity)})')
    edit(task, "    def fit(self, train: Any) -> None:\n",
         "    def describe(self, prediction: Any) -> str:\n"
         "        return f\"{prediction['score']:+.2f} ({prediction['label']})\"\n\n"
         "    def fit(self, train: Any) -> None:\n")
    (plugin / "src" / PACKAGE / "serve.py").write_text(SERVE_PY, encoding="utf-8")
    with (plugin / "src" / PACKAGE / "plugin.py").open("a", encoding="utf-8") as out:
        out.write(HOOK)
    return plugin


def entry_point(plugin: Path) -> tuple[str, str]:
    """``NAME = "MODULE"`` of the copy's ``[project.entry-points.tasuki]`` table, as discovery reads it."""
    found = re.search(r'^\[project\.entry-points\.tasuki\]\n(\S+) = "([\w.]+)"',
                      (plugin / "pyproject.toml").read_text(encoding="utf-8"), flags=re.M)
    assert found, "the copy's pyproject.toml has no tasuki entry point"
    return found[1], found[2]


@pytest.fixture(scope="module")
def plugin_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The new plugin, imported from its copy's ``src/`` and registered by its entry point's name."""
    plugin = make_plugin(tmp_path_factory.mktemp("third-party"))
    name, module_name = entry_point(plugin)
    assert (name, module_name) == (NAME, f"{PACKAGE}.plugin")
    sys.path.insert(0, str(plugin / "src"))
    commands, added = dict(cli.commands), cli.__dict__.get("_plugins_added")
    try:
        module = importlib.import_module(module_name)
        set_registry(Registry([(name, module)], entry_points=False))
        # an earlier test may have had the CLI add its registry's commands already: add this one's
        cli.__dict__.pop("_plugins_added", None)
        yield module
    finally:
        set_registry(None)
        # the CLI added this registry's plugin commands: later tests get those of their own registry
        cli.commands.clear()
        cli.commands.update(commands)
        if added is None:
            cli.__dict__.pop("_plugins_added", None)
        else:
            cli._plugins_added = added
        sys.path.remove(str(plugin / "src"))
        for loaded in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[loaded]


def tasuki_cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout  # progress bars and log lines go to stderr


@pytest.fixture(scope="module")
def trained(plugin_module: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The plugin's model trained through ``tasuki train`` on a tiny backbone, and its ONNX export."""
    import torch

    root = tmp_path_factory.mktemp("review-score")
    backbone = tiny_bert(root / "backbone", words=WORDS)
    data = root / "train.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS * 2), encoding="utf-8")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models train fastest on one thread
    try:
        tasuki_cli("train", TASK, "--data", str(data), "--backbone", str(backbone), "--output", str(root / "model"),
                   "--max-steps", "30", "--learning-rate", "3e-3", "--batch-size", "10", "--eval-split", "0",
                   "--warmup-ratio", "0", "--no-checkpoints", "--no-progress")
    finally:
        torch.set_num_threads(threads)
    return {"root": root, "model": root / "model"}


def test_it_is_listed_trained_and_predicted_through_the_cli(trained: dict[str, Path]) -> None:
    import tasuki

    listed = tasuki_cli("plugins")
    assert NAME in listed and TASK in listed
    assert TASK in tasuki_cli("tasks")
    assert TASK in tasuki_cli("reviewscore-info")  # the template's command, renamed with it
    model = tasuki.load(trained["model"], device="cpu")
    predicted = model.predict([{"product": "kettle", "review": "great value"},
                               {"product": "lamp", "review": "awful quality"}])
    assert [p["label"] for p in predicted] == ["positive", "negative"]
    assert predicted[0]["score"] > 0 > predicted[1]["score"] and all(-1 <= p["score"] <= 1 for p in predicted)

    reviews = trained["root"] / "reviews.jsonl"
    reviews.write_text('{"product": "kettle", "review": "great value"}\n'
                       '{"product": "lamp", "review": "awful quality"}\n', encoding="utf-8")
    lines = tasuki_cli("predict", str(trained["model"]), "--input", str(reviews)).splitlines()
    # the table's words are the task's describe(): "+0.93 (positive)", not the core's "positive 0.93"
    assert [line.split()[-2:] for line in lines] == [[f"{p['score']:+.2f}", f"({p['label']})"] for p in predicted]
    assert lines[0].startswith("kettle")  # the first input column, shortened


def test_it_exports_to_onnx_and_the_export_predicts_alike(trained: dict[str, Path]) -> None:
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install 'tasuki[onnx]')")
    pytest.importorskip("onnxscript", reason="the onnx extra is not installed (pip install 'tasuki[onnx]')")
    import tasuki

    export = trained["root"] / "onnx"
    summary = json.loads(tasuki_cli("export", str(trained["model"]), "--output", str(export), "--json"))
    assert summary["task"] == TASK and summary["max_abs_diff"] < 1e-4
    inputs = [{"product": "kettle", "review": "works really well"}, {"product": "lamp", "review": "i hate it"}]
    torch_side = tasuki.load(trained["model"], device="cpu").predict(inputs)
    onnx_side = tasuki.load(export).predict(inputs)
    assert [p["label"] for p in onnx_side] == [p["label"] for p in torch_side]
    assert [p["score"] for p in onnx_side] == pytest.approx([p["score"] for p in torch_side], abs=1e-4)


@pytest.fixture
def app(trained: dict[str, Path]) -> Any:
    pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'tasuki[serve]')")
    from tasuki.serve import create_app

    # one app per test: an app's lifespan ends with its client or server, and its batchers with it
    return create_app({"reviews": trained["model"]}, max_wait_ms=1)


def test_it_is_served_with_its_declarations_and_its_route(app: Any) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        listed = client.get("/models").json()
        predicted = client.post("/models/reviews", json={"inputs": {"product": "kettle", "review": "great value"}})
        verdicts = client.post("/models/reviews/verdict",
                               json={"inputs": ["great value", "awful quality"], "parameters": {"product": "kettle"}})
        only = client.post("/verdict", json={"inputs": "i love it"})  # the server's only model
        refused = client.post("/models/reviews/verdict", json={"inputs": 3})
        schema = client.get("/openapi.json").json()
    [model] = listed
    assert (model["task"], model["form_kind"], model["result_kind"]) == (TASK, "question", "score")
    assert model["input_fields"] == ["product", "review"] and model["input_columns"] == ["product", "review"]
    assert model["routes"] == [{"path": "verdict", "summary": "Recommend or avoid", "attachment": None,
                                "form": {"field": "review", "label": "Verdict on a review", "value": "great value",
                                         "button": "Verdict", "parameters": {"product": "kettle"},
                                         "result": "json"}}]
    assert predicted.status_code == 200 and predicted.json()["label"] == "positive"
    assert verdicts.status_code == 200, verdicts.text
    assert [v["verdict"] for v in verdicts.json()] == ["recommend", "avoid"]
    assert only.status_code == 200 and only.json()["verdict"] == "recommend"
    assert refused.status_code == 422 and refused.json()["field"] == "inputs"
    assert {"/models/{name}/verdict", "/verdict"} <= set(schema["paths"])


def test_its_card_is_drawn_on_the_page(app: Any, trained: dict[str, Path], request: pytest.FixtureRequest) -> None:
    if NO_BROWSER:
        pytest.skip(NO_BROWSER)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    import tasuki
    from test_serve import ThreadedServer

    browser = request.getfixturevalue("browser")  # skips without Chromium
    expected = tasuki.load(trained["model"], device="cpu").predict({"product": "kettle", "review": "great value"})
    with ThreadedServer(app) as url:
        browser.get(f"{url}/")
        WebDriverWait(browser, 30).until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
        card = browser.find_element(By.CSS_SELECTOR, 'section.card[data-model="reviews"]')
        assert card.get_attribute("data-task") == TASK
        # the form the task declared: a one-line product, then the review, in that order
        boxes = card.find_elements(By.CSS_SELECTOR, "form.form-question input, form.form-question textarea")
        assert [(b.tag_name, b.get_attribute("name")) for b in boxes] == [("input", "product"), ("textarea", "review")]
        # the result the task declared: its score drawn as a score
        result = _submit(browser, "reviews", {"product": "kettle", "review": "great value"})
        assert result.find_element(By.CSS_SELECTOR, ".similarity").text == f"{expected['score']:.3f}"
        # the route's own form, drawn from GET /models, answered by the plugin's handler
        route = card.find_element(By.CSS_SELECTOR, "form.form-verdict")
        assert route.find_element(By.NAME, "review").get_attribute("value") == "great value"
        route.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        answer = card.find_element(By.CSS_SELECTOR, ".verdict-result")
        WebDriverWait(browser, 30).until(lambda _: answer.find_elements(By.CSS_SELECTOR, ".took, .error"))
        errors = answer.find_elements(By.CSS_SELECTOR, ".error")
        assert not errors, errors[0].text
        assert json.loads(answer.find_element(By.CSS_SELECTOR, "pre").text) == {"verdict": "recommend",
                                                                                "score": expected["score"]}
