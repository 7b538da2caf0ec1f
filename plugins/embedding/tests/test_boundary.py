"""Embedding models at the boundary (issue 24): vectors printed as JSON, and a search index used only with the
model that built it (same size is not same space)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import tasuki
from tasuki.errors import DataError
from tasuki.testing import run_cli as invoke
from tasuki.testing import tiny_bert
from tasuki_embedding import EmbeddingIndex, Encoder
from tasuki_embedding.similarity import model_fingerprint

WORDS = "cat dog sat mat ran park car road fast slow red blue sun rain cold hot eats eating man woman".split()
CORPUS = ["the cat sat on the mat", "a red car on the road", "cold rain and hot sun", "the man is eating"]
PAIRS = [{"text": "the cat sat", "pair": "a cat sat on a mat"}, {"text": "the dog ran", "pair": "a dog in the park"},
         {"text": "red car", "pair": "a fast red car"}, {"text": "cold rain", "pair": "rain and cold"}] * 2


def last_line(err: str) -> str:
    return [line for line in err.splitlines() if line.strip()][-1]


@pytest.fixture(scope="module")
def two_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Two tiny BERTs of the same size (32) and vocabulary, with different random weights."""
    root = tmp_path_factory.mktemp("two-berts")
    return (str(tiny_bert(root / "a", words=WORDS, max_position_embeddings=64, seed=0)),
            str(tiny_bert(root / "b", words=WORDS, max_position_embeddings=64, seed=1)))


@pytest.fixture(scope="module")
def trained(two_dirs: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tasuki.registry import Registry, set_registry
    from tasuki_embedding import plugin

    set_registry(Registry([("embedding", plugin)], entry_points=False))
    out = tmp_path_factory.mktemp("trained-embedding") / "model"
    tasuki.train("embedding", PAIRS, backbone=two_dirs[0], output_dir=out, max_steps=1, batch_size=4,
                 checkpoints=False, progress=False, eval_split=0)
    return out


# --- 3. predict --json on an embedding model ----------------------------------------------------------------


def test_predict_json_prints_vectors_as_arrays_of_numbers(trained: Path) -> None:
    code, out, err = invoke("predict", trained, "the cat sat", "cold rain", "--json")
    assert code == 0, err
    vectors = json.loads(out)
    model = tasuki.load(trained, device="cpu")
    expected = model.predict(["the cat sat", "cold rain"])
    assert [len(v) for v in vectors] == [len(e) for e in expected] == [32, 32]
    assert all(isinstance(x, float) for v in vectors for x in v)
    np.testing.assert_allclose(np.array(vectors), np.stack(expected), atol=1e-6)


# --- 4. an index is searched only by the model that built it ------------------------------------------------


def test_an_index_of_another_model_of_the_same_size_is_refused(two_dirs: tuple[str, str], tmp_path: Path) -> None:
    a, b = (Encoder.load(d, device="cpu") for d in two_dirs)
    assert a.dimension == b.dimension and a.fingerprint != b.fingerprint
    path = a.index(CORPUS).save(tmp_path / "corpus.npz")
    with pytest.raises(DataError, match=rf"index .*corpus.npz was built by model '{two_dirs[0]}' .*not by "
                                        rf"'{two_dirs[1]}'.*rebuild the index"):
        b.search("a cat", EmbeddingIndex.load(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the model that built it searches without a word
        assert a.search("the cat sat on the mat", EmbeddingIndex.load(path), top_k=1)[0][0]["index"] == 0
    # the CLI: built with A, searched with B
    code, _, err = invoke("search", two_dirs[0], "--corpus", _corpus_file(tmp_path), "--index", tmp_path / "cli.npz",
                          "a cat")
    assert code == 0, err
    code, _, err = invoke("search", two_dirs[1], "--index", tmp_path / "cli.npz", "a cat")
    assert code == 2 and "Traceback" not in err, err
    assert f"built by model '{two_dirs[0]}'" in last_line(err) and f"not by '{two_dirs[1]}'" in last_line(err)
    code, _, err = invoke("search", two_dirs[0], "--index", tmp_path / "cli.npz", "a cat", "--json")
    assert code == 0 and "warning" not in err, err


def test_an_index_that_records_no_model_warns(two_dirs: tuple[str, str], tmp_path: Path) -> None:
    a = Encoder.load(two_dirs[0], device="cpu")
    old = EmbeddingIndex(a.encode(CORPUS), CORPUS, {"model": "minilm"}).save(tmp_path / "old.npz")  # as saved before
    with pytest.warns(UserWarning, match=r"old.npz does not record the model that built it.*rebuild it"):
        a.search("a cat", EmbeddingIndex.load(old))
    with pytest.warns(UserWarning, match="does not record the model"):  # the CLI prints it as "warning: ..."
        code, _, err = invoke("search", two_dirs[0], "--index", old, "a cat")
    assert code == 0, err


def test_the_fingerprint_follows_the_weights(trained: Path, two_dirs: tuple[str, str]) -> None:
    model = tasuki.load(trained, device="cpu")
    by_metadata = Encoder.load(model).fingerprint
    assert by_metadata == Encoder.load(str(trained), device="cpu").fingerprint == model_fingerprint(trained)
    assert by_metadata not in (None, model_fingerprint(two_dirs[0]))
    index = Encoder.load(model).index(CORPUS)
    assert index.metadata["model"] == str(trained) and index.metadata["model_fingerprint"] == by_metadata
    pytest.importorskip("onnxscript")
    export = tasuki.export(trained, trained.parent / "int8", quantize="int8")
    assert model_fingerprint(export) == by_metadata  # an export searches the index its source built


def test_serve_refuses_an_index_of_another_model(trained: Path, two_dirs: tuple[str, str], tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from tasuki.serve.models import ServedModel
    from tasuki.serve.settings import ServeSettings
    from tasuki_embedding.serve import load_index

    served = ServedModel("embedding", tasuki.load(trained, device="cpu"), ServeSettings())
    other = Encoder.load(two_dirs[1], device="cpu").index(CORPUS).save(tmp_path / "other.npz")
    with pytest.raises(DataError, match=rf"built by model '{two_dirs[1]}'.*not by '{trained}'"):
        load_index(served, other)
    own = Encoder.load(str(trained), device="cpu").index(CORPUS).save(tmp_path / "own.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_index(served, own)
    assert len(loaded.index) == len(CORPUS)


def _corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    return path
