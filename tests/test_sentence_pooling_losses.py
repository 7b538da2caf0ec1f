"""Parity of pooling and losses with sentence-transformers' implementations."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("sentence_transformers", reason="the references are sentence-transformers' own")
from sentence_transformers.sentence_transformer import losses as st_losses
from sentence_transformers.sentence_transformer.modules import Pooling as STPooling

from tasuki.errors import DataError
from tasuki.sentences import losses
from tasuki.sentences.pooling import Pooling, read_pooling_config


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(4, 7, 16, generator=g)  # (B, T, H)
    lengths = torch.tensor([7, 3, 1, 5])
    mask = (torch.arange(7)[None, :] < lengths[:, None]).long()  # (B, T)
    return tokens, mask


@pytest.mark.parametrize("mode", ["mean", "max", "cls"])
def test_pooling_matches_sentence_transformers(mode: str) -> None:
    tokens, mask = _batch()
    ours = Pooling(mode)(tokens, mask)
    ref = STPooling(16, pooling_mode=mode)({"token_embeddings": tokens, "attention_mask": mask})["sentence_embedding"]
    torch.testing.assert_close(ours, ref)


def test_pooling_ignores_padding() -> None:
    tokens, mask = _batch()
    noisy = tokens.clone()
    noisy[mask == 0] = 1e4  # whatever sits under padding must not matter
    for mode in ("mean", "max"):
        torch.testing.assert_close(Pooling(mode)(tokens, mask), Pooling(mode)(noisy, mask))


def test_unknown_pooling_is_an_error() -> None:
    with pytest.raises(DataError, match="pooling must be one of"):
        Pooling("weightedmean")


def test_read_pooling_config_legacy_new_and_unsupported(tmp_path) -> None:
    (tmp_path / "1_Pooling").mkdir()
    config = tmp_path / "1_Pooling" / "config.json"
    config.write_text(json.dumps({"word_embedding_dimension": 8, "pooling_mode_cls_token": True}))
    assert read_pooling_config(tmp_path) == "cls"
    config.write_text(json.dumps({"embedding_dimension": 8, "pooling_mode": "max"}))
    assert read_pooling_config(tmp_path) == "max"
    config.write_text(json.dumps({"embedding_dimension": 8, "pooling_mode": "lasttoken"}))
    with pytest.raises(DataError, match="lasttoken"):
        read_pooling_config(tmp_path)
    assert read_pooling_config(tmp_path / "nowhere") is None


def _vectors(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 12, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("with_negatives", [False, True])
def test_mnrl_matches_sentence_transformers(with_negatives: bool) -> None:
    a, p, n = _vectors(6, 1), _vectors(6, 2), _vectors(6, 3)
    ref_loss = st_losses.MultipleNegativesRankingLoss(model=None)
    embeddings = [a, p, n] if with_negatives else [a, p]
    ref = ref_loss.compute_loss_from_embeddings(embeddings, None)
    ours = losses.multiple_negatives_ranking_loss(a, p, n if with_negatives else None)
    torch.testing.assert_close(ours, ref)


def test_contrastive_cosent_cosine_match_sentence_transformers() -> None:
    a, b = _vectors(8, 4), _vectors(8, 5)
    labels = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0])
    scores = torch.tensor([0.9, 0.1, 0.5, 0.7, 0.2, 0.2, 1.0, 0.0])
    ref = st_losses.ContrastiveLoss(model=None).compute_loss_from_embeddings([a, b], labels)
    torch.testing.assert_close(losses.contrastive_loss(a, b, labels), ref)
    ref = st_losses.CoSENTLoss(model=None).compute_loss_from_embeddings([a, b], scores)
    torch.testing.assert_close(losses.cosent_loss(a, b, scores), ref)
    ref = st_losses.CosineSimilarityLoss(model=None).compute_loss_from_embeddings([a, b], scores)
    torch.testing.assert_close(losses.cosine_similarity_loss(a, b, scores), ref)


def test_mnrl_rewards_matching_pairs() -> None:
    a = _vectors(6, 6)
    assert losses.multiple_negatives_ranking_loss(a, a) < losses.multiple_negatives_ranking_loss(a, _vectors(6, 7))


def test_supervised_contrastive_loss_by_hand() -> None:
    """Vectors (1, 0), (0, 1), (1, 1) at temperature 1; 0 and 2 are positives of each other, 1 has none. cos(0, 2) =
    cos(1, 2) = c = 1/sqrt(2), cos(0, 1) = 0. Vector 0: -log(e^c / (e^0 + e^c)); vector 2: -log(e^c / (e^c + e^c))
    = log 2; vector 1 has no positive and does not count. The diagonal of the mask is ignored."""
    import math

    vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    positives = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=torch.bool)
    c = 1 / math.sqrt(2)
    expected = (-math.log(math.exp(c) / (1 + math.exp(c))) + math.log(2)) / 2
    assert losses.supervised_contrastive_loss(vectors, positives, temperature=1.0).item() == pytest.approx(expected)
    # at temperature 0.5 every score doubles
    expected = (-math.log(math.exp(2 * c) / (1 + math.exp(2 * c))) + math.log(2)) / 2
    assert losses.supervised_contrastive_loss(vectors, positives, temperature=0.5).item() == pytest.approx(expected)


def test_supervised_contrastive_loss_rewards_labels_that_cluster() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    positives = labels[:, None] == labels[None, :]
    clustered = torch.tensor([[1.0, 0.1], [1.0, -0.1], [-1.0, 0.1], [-1.0, -0.1]])
    mixed = torch.tensor([[1.0, 0.1], [-1.0, 0.1], [1.0, -0.1], [-1.0, -0.1]])
    assert losses.supervised_contrastive_loss(clustered, positives) < losses.supervised_contrastive_loss(mixed, positives)
