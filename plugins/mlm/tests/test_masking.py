"""Masking proportions (statistically, on 100k tokens), special tokens, whole words, determinism."""

from __future__ import annotations

import pytest
import torch

from tasuki_mlm.masking import IGNORE_INDEX, check_probability, mask_tokens, relabel_groups, replacement_candidates

MASK, VOCAB, SPECIAL = 4, 1000, (0, 1, 2, 3, 4)


def _batch(rows: int = 800, length: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(5, VOCAB, (rows, length), generator=generator)  # (B, T)
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    groups = torch.arange(length).expand(rows, length).clone()
    groups[:, 0] = groups[:, -1] = -1
    return ids, groups


def test_proportions_on_100k_tokens() -> None:
    ids, groups = _batch()  # 800 x 126 = 100,800 maskable tokens
    torch.manual_seed(0)
    masked, labels = mask_tokens(ids, groups, probability=0.15, mask_token_id=MASK,
                                 candidates=replacement_candidates(VOCAB, SPECIAL))
    maskable = groups >= 0
    chosen = labels != IGNORE_INDEX
    n, total = chosen.sum().item(), maskable.sum().item()
    assert total >= 100_000
    # Binomial standard deviations: sqrt(p(1-p)/n) ~ 0.0011 for 15% of 100k; allow ~4.5 sigma.
    assert abs(n / total - 0.15) < 0.005
    to_mask = (masked == MASK) & chosen
    unchanged = (masked == ids) & chosen
    random_tokens = chosen & ~to_mask & ~unchanged
    assert abs(to_mask.sum().item() / n - 0.8) < 0.012
    assert abs(unchanged.sum().item() / n - 0.1) < 0.01  # a random draw equal to the original adds ~0.01%
    assert abs(random_tokens.sum().item() / n - 0.1) < 0.01
    assert torch.equal(labels[chosen], ids[chosen])  # labels are the original tokens
    assert torch.equal(masked[~chosen], ids[~chosen])  # nothing else changes
    assert not chosen[~maskable].any()  # special tokens are never chosen
    assert not torch.isin(masked[random_tokens], torch.tensor(SPECIAL)).any()  # random tokens are ordinary


@pytest.mark.parametrize("probability", [0.05, 0.3])
def test_probability_is_configurable(probability: float) -> None:
    ids, groups = _batch(rows=400)
    torch.manual_seed(0)
    _, labels = mask_tokens(ids, groups, probability=probability, mask_token_id=MASK,
                            candidates=replacement_candidates(VOCAB, SPECIAL))
    share = (labels != IGNORE_INDEX).sum().item() / (groups >= 0).sum().item()
    assert abs(share - probability) < 0.01


def test_whole_words_are_chosen_together() -> None:
    # Words of 1 to 4 pieces: a word is chosen as a whole, and words (not tokens) are the 15%.
    generator = torch.Generator().manual_seed(2)
    rows, length = 400, 128
    ids = torch.randint(5, VOCAB, (rows, length), generator=generator)
    sizes = torch.randint(1, 5, (rows, length), generator=generator)
    groups = torch.zeros(rows, length, dtype=torch.long)
    for r in range(rows):
        word, left = 0, int(sizes[r, 0])
        for t in range(length):
            if left == 0:
                word, left = word + 1, int(sizes[r, t])
            groups[r, t] = word
            left -= 1
    torch.manual_seed(0)
    _, labels = mask_tokens(ids, groups, probability=0.15, mask_token_id=MASK,
                            candidates=replacement_candidates(VOCAB, SPECIAL))
    chosen = labels != IGNORE_INDEX
    chosen_words = 0
    words = 0
    for r in range(rows):
        for g in groups[r].unique():
            status = chosen[r][groups[r] == g]
            assert status.all() or not status.any(), "a word was split between chosen and not chosen"
            chosen_words += int(status.all())
            words += 1
    assert abs(chosen_words / words - 0.15) < 0.01


def test_generator_makes_masks_deterministic_and_global_rng_varies() -> None:
    ids, groups = _batch(rows=4)
    candidates = replacement_candidates(VOCAB, SPECIAL)
    a = mask_tokens(ids, groups, probability=0.15, mask_token_id=MASK, candidates=candidates,
                    generator=torch.Generator().manual_seed(7))
    b = mask_tokens(ids, groups, probability=0.15, mask_token_id=MASK, candidates=candidates,
                    generator=torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    torch.manual_seed(0)
    c = mask_tokens(ids, groups, probability=0.15, mask_token_id=MASK, candidates=candidates)
    d = mask_tokens(ids, groups, probability=0.15, mask_token_id=MASK, candidates=candidates)
    assert not torch.equal(c[1], d[1])


def test_every_row_gets_a_target_and_empty_rows_none() -> None:
    ids = torch.tensor([[2, 10, 11, 3], [2, 3, 0, 0]])
    groups = torch.tensor([[-1, 0, 1, -1], [-1, -1, -1, -1]])
    for seed in range(20):
        _, labels = mask_tokens(ids, groups, probability=0.01, mask_token_id=MASK,
                                candidates=replacement_candidates(VOCAB, SPECIAL),
                                generator=torch.Generator().manual_seed(seed))
        assert (labels[0] != IGNORE_INDEX).sum() >= 1
        assert (labels[1] == IGNORE_INDEX).all()


def test_relabel_groups() -> None:
    assert relabel_groups([None, 5, 5, 7, -1, 9]) == [-1, 0, 0, 1, -1, 2]


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, "0.2"])
def test_probability_outside_zero_one_is_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        check_probability(value)  # type: ignore[arg-type]
