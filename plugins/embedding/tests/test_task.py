"""The ``embedding`` task through the core runner: data checks, losses, metrics, saving, predictions."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import Dataset
from sentence_transformers import SentenceTransformer

import tasuki
from tasuki.errors import DataError
from tasuki.settings import SettingError
from tasuki_embedding import Encoder
from tasuki_embedding.task import EmbeddingTask

PAIRS = [
    ("the cat sat on the mat", "a cat sat on a mat"),
    ("the dog ran in the park", "a dog ran in a park"),
    ("a red car on the road", "the red car ran on a road"),
    ("cold rain today", "it is cold and rain"),
    ("hot sun today", "the sun is hot"),
    ("the man is eating", "a man eating"),
    ("the woman is eating", "a woman eating food"),
    ("blue car fast", "a fast blue car"),
]

# per pair, a short text of the tiny vocabulary that is not its meaning, found in no other row
HARD_NEGATIVES = [
    "the dog ran", "the cat sat", "a blue sun", "hot car", "cold man", "the woman sat", "the man ran", "red sun slow",
]


def _pairs() -> list[dict[str, str]]:
    return [{"text": a, "pair": b} for a, b in PAIRS]


def test_train_pairs_save_and_reload_in_both_libraries(tmp_path, tiny_dir: str) -> None:
    result = tasuki.train(
        "embedding", data=_pairs() * 4, eval_data=_pairs(), backbone=tiny_dir, output_dir=tmp_path / "m",
        epochs=2, batch_size=8, learning_rate=5e-4, progress=False, save_steps=0,
    )
    assert {"recall@1", "recall@5", "mrr@10"} <= set(result.metrics)
    assert (tmp_path / "m" / "modules.json").is_file() and (tmp_path / "m" / "1_Pooling" / "config.json").is_file()
    assert {p.name for p in result.figures} == {"embedding_pca.png", "similarity_heatmap.png"}
    model = tasuki.load(tmp_path / "m", device="cpu")
    assert model.task.options.loss == "mnrl"
    texts = [a for a, _ in PAIRS]
    ours = np.stack(model.predict(texts))
    reference = SentenceTransformer(str(tmp_path / "m"), device="cpu").encode(texts)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(Encoder.load(model).encode(texts), reference, atol=1e-5)
    score = model.predict({"text": PAIRS[0][0], "pair": PAIRS[0][1]})["score"]
    assert score == pytest.approx(float(reference[0] @ SentenceTransformer(str(tmp_path / "m")).encode(PAIRS[0][1])),
                                  abs=1e-4)
    metrics = tasuki.evaluate(tmp_path / "m", _pairs())
    assert metrics["recall@1"] == pytest.approx(result.metrics["recall@1"])


def test_training_improves_retrieval(tmp_path, tiny_dir: str) -> None:
    task = EmbeddingTask()
    before = tasuki.train(task, data=_pairs(), eval_data=_pairs(), backbone=tiny_dir, output_dir=tmp_path / "a",
                          max_steps=1, learning_rate=1e-9, batch_size=8, progress=False, save_steps=0)
    after = tasuki.train("embedding", data=_pairs() * 4, eval_data=_pairs(), backbone=tiny_dir,
                         output_dir=tmp_path / "b", epochs=1, batch_size=8, learning_rate=1e-3, progress=False,
                         save_steps=0)
    assert after.metrics["mrr@10"] > before.metrics["mrr@10"]
    assert after.metrics["recall@1"] >= 0.75


def test_scored_pairs_use_cosent_and_report_spearman(tmp_path, tiny_dir: str) -> None:
    rows = [{"text": a, "pair": b, "score": 1.0} for a, b in PAIRS]
    rows += [{"text": a, "pair": PAIRS[(i + 3) % 8][1], "score": 0.0} for i, (a, _) in enumerate(PAIRS)]
    result = tasuki.train("embedding", data=rows * 2, eval_data=rows, backbone=tiny_dir, output_dir=tmp_path / "s",
                          epochs=8, batch_size=8, learning_rate=1e-3, progress=False, save_steps=0)
    assert set(result.metrics) == {"spearman", "pearson"}
    # learnt: every similar pair above every dissimilar one. Ranks 1..16 against 8 zeros and 8 ones (tied
    # ranks 4.5 and 12.5): covariance 16, standard deviations sqrt(21.25) and 4, so Spearman 4 / sqrt(21.25)
    assert result.metrics["spearman"] == pytest.approx(4 / 21.25**0.5, abs=1e-6)
    assert tasuki.load(tmp_path / "s").task.options.loss == "cosent"


@pytest.mark.parametrize("loss", ["mnrl", "contrastive", "cosine"])
def test_each_loss_learns_its_training_rows(tmp_path, tiny_dir: str, loss: str) -> None:
    if loss == "mnrl":  # triplets with hard negatives of their own (a negative that is another row's
        # pair would clash with that row, and no-duplicates batching would halve the batches)
        rows = [{"text": a, "pair": b, "negative": n} for (a, b), n in zip(PAIRS, HARD_NEGATIVES)]
    else:  # each text with its paraphrase (1) and with an unrelated text (0)
        rows = [{"text": a, "pair": b, "score": 1.0} for a, b in PAIRS]
        rows += [{"text": a, "pair": PAIRS[(i + 3) % 8][1], "score": 0.0} for i, (a, _) in enumerate(PAIRS)]
    # Mean pooling: the random tiny BERT's [CLS] alone learns these rows only for some seeds (cosine, seeds
    # 0-7: Spearman 0.68-0.87 after 32 steps, 0.71-0.87 after 96), so a bar on it measures the seed, not
    # the loss. Mean pooling reaches the ceiling under every seed measured (0-5, cosine and contrastive).
    pooling = "mean"
    result = tasuki.train("embedding", data=rows * 2, eval_data=rows, backbone=tiny_dir, output_dir=tmp_path / loss,
                          task_options={"loss": loss, "pooling": pooling}, epochs=8, batch_size=8, learning_rate=1e-3,
                          progress=False, save_steps=0)
    # the untrained encoder on the same rows, as the bar to beat
    untrained = EmbeddingTask(loss=loss, pooling=pooling)
    encoder = Encoder.load(tiny_dir, pooling=pooling, device="cpu")
    vectors = {c: encoder.encode([r[c] for r in rows]) for c in ("text", "pair", "negative") if c in rows[0]}
    outputs = [{f"{'' if c == 'text' else c + '_'}embedding": v[i] for c, v in vectors.items()} for i in range(len(rows))]
    before = untrained.compute_metrics(outputs, _dataset(rows), _dataset(rows))
    if loss == "mnrl":  # every pair found first, each text nearer its pair than its hard negative
        assert result.metrics["recall@1"] == 1.0 > before["recall@1"]
        assert result.metrics["triplet_accuracy"] == 1.0
    else:  # learnt: every paraphrase above every unrelated pair (the ceiling 4 / sqrt(21.25), as in the cosent test)
        assert result.metrics["spearman"] == pytest.approx(4 / 21.25**0.5, abs=1e-6)
        assert before["spearman"] < result.metrics["spearman"] - 0.05
    assert tasuki.load(tmp_path / loss).model.pooling.mode == pooling


def _dataset(rows: list[dict]) -> Dataset:
    return Dataset.from_list(rows)


def test_bad_rows_name_row_and_column() -> None:
    task = EmbeddingTask()
    with pytest.raises(DataError, match=r"train.csv: row 2, column 'pair': empty text"):
        task.validate(_dataset([{"text": "a", "pair": "b"}, {"text": "c", "pair": "  "}]), "train.csv", with_targets=True)
    with pytest.raises(DataError, match=r"row 1, column 'score': expected a number, got 'high'"):
        task.validate(_dataset([{"text": "a", "pair": "b", "score": "high"}]), "f", with_targets=True)
    with pytest.raises(DataError, match="row 1, column 'score'"):
        task.validate(_dataset([{"text": "a", "pair": "b", "score": float("nan")}]), "f", with_targets=True)
    with pytest.raises(DataError, match="loss 'cosent' needs a 'score' column"):
        EmbeddingTask(loss="cosent").validate(_dataset([{"text": "a", "pair": "b"}]), "f", with_targets=True)
    with pytest.raises(DataError, match="row 2, column 'score': loss 'contrastive' needs 1 or 0"):
        EmbeddingTask(loss="contrastive").validate(
            _dataset([{"text": "a", "pair": "b", "score": 1}, {"text": "a", "pair": "b", "score": 0.5}]), "f",
            with_targets=True)
    sts = [{"text": "a", "pair": "b", "score": 0.8}, {"text": "a", "pair": "c", "score": 4.2}]  # a 0-5 scale
    with pytest.raises(DataError, match=r"row 2, column 'score': 4.2; loss 'cosine' .* must lie in \[-1, 1\]"):
        EmbeddingTask(loss="cosine").validate(_dataset(sts), "f", with_targets=True)
    EmbeddingTask().validate(_dataset(sts), "f", with_targets=True)  # cosent, the default: any scale
    EmbeddingTask(loss="cosine").validate(_dataset(sts[:1]), "f", with_targets=True)
    with pytest.raises(SettingError, match="'loss': 'triplet' is not allowed; allowed: one of 'mnrl'"):
        EmbeddingTask(loss="triplet")
    with pytest.raises(SettingError, match="'pooling': 'sum' is not allowed; allowed: one of 'mean'"):
        EmbeddingTask(pooling="sum")


def test_missing_pair_column_says_how_to_map(tmp_path, tiny_dir: str) -> None:
    with pytest.raises(DataError, match=r"missing column 'pair'.*columns=\{'pair'"):
        tasuki.train("embedding", data=[{"text": "a", "positive": "b"}] * 4, backbone=tiny_dir,
                     output_dir=tmp_path / "x", progress=False)


def test_anchor_positive_columns_through_mapping(tmp_path, tiny_dir: str) -> None:
    rows = [{"anchor": a, "positive": b} for a, b in PAIRS]
    result = tasuki.train("embedding", data=rows, eval_data=rows, columns={"text": "anchor", "pair": "positive"},
                          backbone=tiny_dir, output_dir=tmp_path / "m", max_steps=1, progress=False, save_steps=0)
    assert "recall@1" in result.metrics


def test_retrieval_metrics_count_ranks() -> None:
    from tasuki_embedding.metrics import retrieval_metrics

    eye = np.eye(4, dtype=np.float32)
    queries = eye[[0, 1, 2, 3]] + 0.1 * eye[[1, 0, 3, 0]]  # query 3 ties nothing; all nearest own target
    assert retrieval_metrics(queries, list("abcd"), eye, list("abcd"))["recall@1"] == 1.0
    swapped = retrieval_metrics(eye[[1, 0]], ["a", "b"], eye[:2], ["a", "b"])  # each query nearest the other doc
    assert swapped == {"recall@1": 0.0, "recall@5": 1.0, "recall@10": 1.0, "mrr@10": 0.5}
