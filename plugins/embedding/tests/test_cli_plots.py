"""The ``embed`` / ``similar`` / ``search`` commands and the figures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tasuki.cli import cli
from tasuki.plugin import TasukiError
from tasuki_embedding import Encoder
from tasuki_embedding.plots import plot_projection, plot_similarity_heatmap

CORPUS = ["the cat sat on the mat", "a red car on the road", "cold rain and hot sun", "the man is eating"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_embed_writes_npy_matching_the_api(tmp_path, tiny_dir: str, runner: CliRunner) -> None:
    (tmp_path / "in.txt").write_text("\n".join(CORPUS) + "\n\n", encoding="utf-8")
    result = runner.invoke(cli, ["embed", tiny_dir, "--input", str(tmp_path / "in.txt"), "--output",
                                 str(tmp_path / "out.npy"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    vectors = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(vectors, Encoder.load(tiny_dir, device="cpu").encode(CORPUS), atol=1e-6)
    folder = tmp_path / "texts"  # a folder of text files: one text a file, in file name order
    folder.mkdir()
    for number, text in enumerate(CORPUS):
        (folder / f"{number:02}.txt").write_text(text + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["embed", tiny_dir, "--input", str(folder), "--output", str(tmp_path / "f.npy"),
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), vectors, atol=1e-6)


def test_embed_csv_column_and_errors(tmp_path, tiny_dir: str, runner: CliRunner) -> None:
    (tmp_path / "in.csv").write_text("id,sentence\n1,the cat\n2,\n", encoding="utf-8")
    args = ["embed", tiny_dir, "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "o.npy")]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2 and "no column 'text'" in result.output and "--column" in result.output
    result = runner.invoke(cli, [*args, "--column", "sentence"])
    assert result.exit_code == 2 and "row 2, column 'sentence': empty text" in result.output
    result = runner.invoke(cli, [*args, "--column", "text=sentence"])  # the form train and predict take
    assert result.exit_code == 2 and "row 2, column 'sentence': empty text" in result.output


def test_embed_writes_exactly_the_file_named(tmp_path, tiny_dir: str, runner: CliRunner) -> None:
    """numpy adds .npy to any other name: "wrote ... to emb.jsonl" left emb.jsonl.npy. Now such a name is refused
    before any work, and the array is written under a temporary name and renamed (no half file)."""
    (tmp_path / "in.csv").write_text("id,sentence\n1,the cat\n2,a red car\n", encoding="utf-8")
    args = ["embed", tiny_dir, "--input", str(tmp_path / "in.csv"), "--column", "text=sentence", "--device", "cpu"]
    result = runner.invoke(cli, [*args, "--output", str(tmp_path / "emb.jsonl")])
    assert result.exit_code == 2 and "allowed: a file name ending in .npy" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
    result = runner.invoke(cli, [*args, "--output", str(tmp_path / "out" / "emb.npy")])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["emb.npy"]
    assert np.load(tmp_path / "out" / "emb.npy").shape[0] == 2


def test_similar_prints_a_score_or_a_matrix(tiny_dir: str, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["similar", tiny_dir, "the cat", "the cat", "--device", "cpu"])
    assert result.exit_code == 0 and float(result.stdout) == pytest.approx(1.0, abs=1e-4)
    result = runner.invoke(cli, ["similar", tiny_dir, *CORPUS[:3], "--json"])
    matrix = np.array(json.loads(result.stdout))
    assert matrix.shape == (3, 3) and np.allclose(np.diag(matrix), 1.0, atol=1e-4)
    assert runner.invoke(cli, ["similar", tiny_dir, "only one"]).exit_code == 2
    # --max-length 0 was the model's limit, 1 ignored, -5 a traceback: each is refused in one line
    for bad in ("0", "1", "-5"):
        result = runner.invoke(cli, ["similar", tiny_dir, "the cat", "a dog", "--max-length", bad])
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
        assert f"max_length (--max-length): {bad} is not allowed; allowed: an integer >= 8" in result.output


def test_a_device_this_machine_lacks_is_refused_in_one_line(tmp_path, tiny_dir: str, runner: CliRunner) -> None:
    # --device gpu was a torch traceback after the model had loaded; it is refused before, as tasuki.load refuses it
    (tmp_path / "in.txt").write_text("the cat\n", encoding="utf-8")
    result = runner.invoke(cli, ["embed", tiny_dir, "--input", str(tmp_path / "in.txt"), "--output",
                                 str(tmp_path / "out.npy"), "--device", "gpu"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "device 'gpu' is not allowed; allowed: cpu, cuda, cuda:N, mps" in result.output
    assert not list(tmp_path.glob("out.npy*"))
    with pytest.raises(TasukiError, match="device 'gpu' is not allowed"):
        Encoder.load(tiny_dir, device="gpu")


def test_search_with_corpus_then_saved_index(tmp_path, tiny_dir: str, runner: CliRunner) -> None:
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in CORPUS), encoding="utf-8")
    index = tmp_path / "corpus.npz"
    first = runner.invoke(cli, ["search", tiny_dir, CORPUS[3], "--corpus", str(tmp_path / "corpus.jsonl"),
                                "--index", str(index), "--top-k", "2", "--json"])
    assert first.exit_code == 0, first.output
    assert index.is_file()
    second = runner.invoke(cli, ["search", tiny_dir, CORPUS[3], "--index", str(index), "--top-k", "2", "--json"])
    hits = json.loads(second.stdout)[0]["hits"]
    assert hits == json.loads(first.stdout)[0]["hits"]
    assert hits[0]["text"] == CORPUS[3] and len(hits) == 2
    # the same weights pooled otherwise do not compare with the index's vectors (before: searched silently)
    other = runner.invoke(cli, ["search", tiny_dir, CORPUS[3], "--index", str(index), "--pooling", "cls"])
    assert other.exit_code == 2 and "holds mean-pooled vectors" in other.output and "--pooling mean" in other.output
    folder = tmp_path / "documents"  # a folder of text files: one document each
    folder.mkdir()
    for number, text in enumerate(CORPUS):
        (folder / f"{number}.txt").write_text(text, encoding="utf-8")
    from_folder = runner.invoke(cli, ["search", tiny_dir, CORPUS[3], "--corpus", str(folder), "--top-k", "2", "--json"])
    assert from_folder.exit_code == 0, from_folder.output
    assert json.loads(from_folder.stdout)[0]["hits"] == hits
    missing = runner.invoke(cli, ["search", tiny_dir, "q", "--index", str(tmp_path / "nope.npz")])
    assert missing.exit_code == 2 and "no such index" in missing.output
    assert runner.invoke(cli, ["search", tiny_dir, "q"]).exit_code == 2


def test_figures_are_pngs(tmp_path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(30, 8))
    pca = plot_projection(vectors, ["a", "b", "c"] * 10, tmp_path / "pca.png")
    heat = plot_similarity_heatmap(vectors[:5], ["one", "two", "東京", "four", "five"], tmp_path / "heat.png")
    for path in (pca, heat):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(Exception, match="at most 20"):
        plot_similarity_heatmap(vectors, [str(i) for i in range(30)], tmp_path / "big.png")


def test_pca_recovers_the_main_direction() -> None:
    from tasuki_embedding.plots import pca_2d

    x = np.zeros((6, 4))
    x[:, 2] = np.arange(6)  # all variance along axis 2
    points = pca_2d(x)
    np.testing.assert_allclose(np.abs(points[:, 0]), np.abs(np.arange(6) - 2.5), atol=1e-9)
    np.testing.assert_allclose(points[:, 1], 0.0, atol=1e-9)
