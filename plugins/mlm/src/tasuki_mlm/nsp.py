"""Next-sentence prediction pairs: BERT's optional second objective (off by default).

Each document is split into sentences; segment A is a run of consecutive sentences filling
about half the block, segment B is, half of the time, the sentences that really follow
(label 0, "is next") and otherwise sentences from another document of the batch (label 1,
"random"), as in BERT's ``create_pretraining_data.py``. The draw is seeded by the batch's
text, so encoding the same corpus twice gives the same pairs.
"""

from __future__ import annotations

import random
import re
import zlib
from typing import Any

IS_NEXT, RANDOM_NEXT = 0, 1
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (after ., !, ?, 。, ！, ？ or a line break); empty ones dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def sentence_pairs(texts: list[str], tokenizer: Any, max_length: int) -> list[tuple[str, str, int]]:
    """``(segment_a, segment_b, label)`` pairs from the documents of one batch (label 1 = random B)."""
    rng = random.Random(zlib.crc32("\x00".join(texts).encode("utf-8")))
    documents = [split_sentences(t) for t in texts]
    lengths = [[len(tokenizer(s, add_special_tokens=False)["input_ids"]) for s in doc] for doc in documents]
    half = max(1, (max_length - 3) // 2)  # [CLS] A [SEP] B [SEP]
    pairs = []
    for d, sentences in enumerate(documents):
        i = 0
        while i < len(sentences) - 1:
            j, used = i + 1, lengths[d][i]
            while j < len(sentences) - 1 and used + lengths[d][j] <= half:
                used += lengths[d][j]
                j += 1
            segment_a = " ".join(sentences[i:j])
            others = [k for k in range(len(documents)) if k != d and documents[k]]
            if others and rng.random() < 0.5:
                k = rng.choice(others)
                start = rng.randrange(len(documents[k]))
                pairs.append((segment_a, " ".join(documents[k][start : start + j - i]), RANDOM_NEXT))
                i = j  # the real continuation is not consumed: it starts the next pair
            else:
                end = min(len(sentences), j + (j - i))
                pairs.append((segment_a, " ".join(sentences[j:end]), IS_NEXT))
                i = end
    return pairs
