"""Training objectives on sentence vectors, with the arithmetic of sentence-transformers' losses.

Shared by every plugin that trains sentence vectors (the embedding task, the few-shot recipe of
classification), through the contract (:mod:`tasuki.plugin`).

- ``mnrl``: multiple-negatives ranking (InfoNCE over in-batch negatives, plus hard negatives
  from triplets): pairs ``(text, pair)`` or triplets ``(text, pair, negative)``.
- ``contrastive``: margin-based contrastive loss on pairs labelled similar (1) / dissimilar (0).
- ``cosent``: CoSENT ranking loss on pairs with graded similarity scores (any scale).
- ``cosine``: mean squared error between cosine similarity and a score in [-1, 1].
- ``supervised_contrastive_loss``: SupCon (Khosla et al. 2020) over a batch of labelled vectors: each vector is
  pulled towards every other one it shares a label with and pushed from the rest of the batch at once.

The parity tests compare the first four with ``sentence_transformers.losses.*.compute_loss_from_embeddings``
(sentence-transformers has no SupCon: its test works an example by hand).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads when a loss is computed: the contract stays light
    import torch

def cosine_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every row of ``a`` (N, H) with every row of ``b`` (M, H): (N, M)."""
    import torch.nn.functional as F

    return F.normalize(a, p=2, dim=-1) @ F.normalize(b, p=2, dim=-1).T


def multiple_negatives_ranking_loss(
    anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor | None = None, scale: float = 20.0
) -> torch.Tensor:
    """Cross-entropy of each anchor (B, H) against all positives and negatives of the batch; its own positive is the target."""
    import torch
    import torch.nn.functional as F

    candidates = positives if negatives is None else torch.cat([positives, negatives], dim=0)  # (B or 2B, H)
    scores = cosine_matrix(anchors, candidates) * scale  # (B, B or 2B)
    targets = torch.arange(len(anchors), device=anchors.device)
    return F.cross_entropy(scores, targets)


def contrastive_loss(a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor, margin: float = 0.5) -> torch.Tensor:
    """Pull similar pairs (label 1) together; push dissimilar ones (0) beyond ``margin`` in cosine distance."""
    import torch.nn.functional as F

    distances = 1 - F.cosine_similarity(a, b)  # (B,)
    labels = labels.float()
    losses = 0.5 * (labels * distances.pow(2) + (1 - labels) * F.relu(margin - distances).pow(2))
    return losses.mean()


def cosent_loss(a: torch.Tensor, b: torch.Tensor, scores: torch.Tensor, scale: float = 20.0) -> torch.Tensor:
    """CoSENT: for every two pairs where pair i scores higher than pair j, penalise cos(j) > cos(i)."""
    import torch
    import torch.nn.functional as F

    cos = F.cosine_similarity(a, b).float() * scale  # (B,)
    diff = cos[None, :] - cos[:, None]  # (B, B): diff[i, j] = cos_j - cos_i
    wanted = scores[:, None] > scores[None, :]  # (B, B): pair i should rank above pair j
    diff = diff - (~wanted).float() * 1e12  # pairs in no order relation drop out of the logsumexp
    zero = torch.zeros(1, device=diff.device, dtype=diff.dtype)
    return torch.logsumexp(torch.cat([zero, diff.view(-1)]), dim=0)


def cosine_similarity_loss(a: torch.Tensor, b: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Mean squared error between cos(a, b) and the target score."""
    import torch.nn.functional as F

    return F.mse_loss(F.cosine_similarity(a, b), scores.float())


def supervised_contrastive_loss(vectors: torch.Tensor, positives: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SupCon: for each vector ``i`` (N, H) and each of its positives ``p`` (``positives[i, p]``, an (N, N) boolean
    mask; the diagonal is ignored), ``-log(exp(cos(i, p) / t) / sum over a != i of exp(cos(i, a) / t))``, averaged
    over ``i``'s positives, then over the vectors that have any."""
    import torch

    scores = cosine_matrix(vectors, vectors) / temperature  # (N, N)
    self_pair = torch.eye(len(vectors), dtype=torch.bool, device=vectors.device)
    scores = scores.masked_fill(self_pair, float("-inf"))
    log_p = scores - torch.logsumexp(scores, dim=1, keepdim=True)  # (N, N): -inf on the diagonal
    positives = positives.bool() & ~self_pair
    counts = positives.sum(dim=1)  # (N,)
    per_vector = -log_p.masked_fill(~positives, 0.0).sum(dim=1) / counts.clamp(min=1)
    return per_vector[counts > 0].mean()
