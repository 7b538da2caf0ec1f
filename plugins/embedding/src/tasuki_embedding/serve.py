"""``tasuki serve`` search: ``POST /models/{name}/search`` over an embedding model's saved index.

Registered through the ``register_routes`` hook (see :mod:`tasuki_embedding.plugin`): the index is
the route's attachment (``tasuki serve --index NAME=FILE.npz``), the queries are encoded by the
model's batched ``predict`` together with other requests, then searched in the index.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tasuki.plugin import Attachment, DataError, RequestError, Route, RouteCall

if TYPE_CHECKING:
    from tasuki_embedding.similarity import EmbeddingIndex

TASK = "embedding"
MAX_TOP_K = 1000
"""Most hits per search query: a response stays bounded whatever the index's size."""
EXAMPLES = {"en": "A man is playing a guitar.", "ja": "今日は良い天気です。"}


@dataclass(frozen=True)
class LoadedIndex:
    """An index loaded for one model: the index, its file, and the model's query prompt (E5's ``query: ``)."""

    index: EmbeddingIndex
    path: Path
    query_prompt: str


def load_index(served: Any, path: Path) -> LoadedIndex:
    """Load a saved :class:`~tasuki_embedding.similarity.EmbeddingIndex` (``.npz``, never pickled objects)
    to search with ``served``; refuse one that cannot match it, in one line."""
    from tasuki.plugin import read_prompts
    from tasuki_embedding.similarity import EmbeddingIndex, model_fingerprint

    model = served.model
    if not path.is_file():
        raise DataError(f"index {path}: no such file; build one with "
                        f"tasuki search {model.directory} --corpus FILE --index {path} QUERY")
    index = EmbeddingIndex.load(path)  # cut, foreign, non-float or NaN files: one DataError
    vectors = index.embeddings
    if len(vectors) == 0:
        raise DataError(f"index {path}: no vectors")
    # The model's vector size from one prediction: the same for torch and ONNX models.
    dimension = len(model.predict("dimension"))
    if vectors.shape[1] != dimension:
        raise DataError(f"index {path}: vectors of size {vectors.shape[1]}, but model {served.name!r} makes "
                        f"vectors of size {dimension}; the index was built with "
                        f"{index.metadata.get('model', 'another model')!r}")
    # same size is not same space: an index of another model is refused, an unrecorded one warns
    index.check_model(model_fingerprint(model.directory, model.metadata), str(model.directory))
    # Queries get the model's 'query' prefix (E5), as `tasuki search` gives them.
    prompts = getattr(model.model, "prompts", None)
    if prompts is None:
        prompts = read_prompts(model.directory) or {}
    return LoadedIndex(index, path, str(prompts.get("query", "")))


def describe(loaded: LoadedIndex) -> dict[str, Any]:
    """What ``GET /models`` shows under ``index``."""
    return {"size": len(loaded.index), "dimension": int(loaded.index.embeddings.shape[1]),
            "texts": loaded.index.texts is not None, "path": str(loaded.path)}


def check_search(served: Any, body: Any, query_prompt: str) -> tuple[Any, int]:
    """Check a search body ``{"inputs": query or queries, "parameters": {"top_k": k}}``: the queries
    as a request for the batcher (prefixed with the query prompt), and ``top_k``."""
    top_k = 5
    if isinstance(body, dict):
        parameters = body.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise RequestError(422, f"parameters: expected an object, got {type(parameters).__name__}", "parameters")
        parameters = dict(parameters or {})
        unknown = sorted(set(parameters) - {"top_k"})
        if unknown:
            raise RequestError(422, f"parameters: unknown key(s) {unknown} for search; known: top_k",
                               f"parameters.{unknown[0]}")
        top_k = parameters.get("top_k", top_k)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            shown = repr(top_k) if len(repr(top_k)) <= 60 else repr(top_k)[:57] + "..."
            raise RequestError(422, f"parameters.top_k: expected an integer from 1 to {MAX_TOP_K}, got {shown}",
                               "parameters.top_k")
        queries = body.get("inputs")
        for i, query in enumerate(queries if isinstance(queries, list) else []):
            if not isinstance(query, str):
                raise RequestError(422, f"inputs[{i}]: expected a text, got {type(query).__name__}", f"inputs[{i}]")
        if "inputs" in body and not isinstance(queries, (str, list)):
            raise RequestError(422, f"inputs: expected a text or a list of texts, got {type(queries).__name__}",
                               "inputs")
        body = {k: v for k, v in body.items() if k != "parameters"}
    checked = served.check(body)  # the body's shape, the limits, the token estimate: as for predict
    if query_prompt:
        checked.items = [query_prompt + text for text in checked.items]
    return checked, top_k


async def search(call: RouteCall) -> Any:
    """``POST /models/{name}/search``: per query, the ``top_k`` nearest index entries, best first."""
    loaded: LoadedIndex = call.attachment
    checked, top_k = check_search(call.model, call.body, loaded.query_prompt)
    # The queries join the model's batches like any predict request; the search itself (a
    # matrix product over the index) runs in a thread, off the event loop.
    vectors = await call.submit(checked)
    queries = np.asarray([vectors] if checked.single else vectors, dtype=np.float32)
    hits = await asyncio.to_thread(loaded.index.search, queries, top_k)
    hits = [[{k: v.item() if isinstance(v, np.generic) else v for k, v in hit.items()} for hit in group]
            for group in hits]
    return hits[0] if checked.single else hits


def request_schema() -> dict[str, Any]:
    """The search body's JSON schema, for ``/docs``."""
    from pydantic import BaseModel, Field

    class SearchBody(BaseModel):
        """The search request body (for the OpenAPI schema; the route checks the body itself, to name fields)."""

        inputs: str | list[str] = Field(description="A query or a list of queries", examples=["a good film"])
        parameters: dict[str, Any] | None = Field(None, description=f"top_k: hits per query (1 to {MAX_TOP_K}, "
                                                                    "default 5)", examples=[{"top_k": 5}])

    return SearchBody.model_json_schema()


def form(served: Any, loaded: LoadedIndex | None) -> dict[str, Any] | None:
    """The page's search box, for a model with an index."""
    if loaded is None:
        return None
    texts = "" if loaded.index.texts is not None else " (no texts saved: entries by position)"
    return {"field": "query", "label": f"Search the index: {len(loaded.index)} entries{texts}",
            "value": EXAMPLES.get(served.task.lang, EXAMPLES["en"]), "button": "Search",
            "parameters": {"top_k": 5}, "result": "hits"}


INDEX = Attachment(
    option="index", plural="indexes", metavar="NAME=FILE.npz", load=load_index, describe=describe,
    summary=lambda loaded: f"search: {len(loaded.index)} entries",
    help="A search index for embedding model NAME (saved by tasuki search --corpus ... --index FILE.npz): "
         "POST /models/NAME/search. NAME may be left out with one model; repeat for several.",
    wrong_task="model {name!r} is a {task} model; a search index needs an embedding model",
    missing="model {name!r} has no search index; start the server with --index {name}=FILE.npz "
            "(built by tasuki search --corpus FILE --index FILE.npz)",
    hint="build one with tasuki search MODEL --corpus FILE --index {path} QUERY",
)
ROUTE = Route(
    path="search", tasks=(TASK,), handler=search, summary="Search the index of an embedding model",
    description='``{"inputs": query or queries, "parameters": {"top_k": 5}}`` -> per query, the nearest index '
                'entries ``[{"index", "score", "text"}, ...]``, best first (404 when the model has no index).',
    only_summary="Search with the only model", request_schema=request_schema, attachment=INDEX,
    wrong_task="model {name!r} is a {task} model; search needs an embedding model with an index", form=form,
)
