"""Question + context -> overlapping windows of model features, with answer positions.

A context longer than one window is split into windows of ``max_length`` tokens that
overlap by ``doc_stride`` tokens (the tokenizer's overflowing tokens). Each feature keeps
``offset_mapping`` (character span in the context per token, ``None`` outside the context)
and ``word_ids`` (the context word of each token) so that spans map back to exact
substrings. A training window that does not hold the whole answer points at [CLS] (index 0).

Japanese text is tokenized as it is (SentencePiece models never saw a space between
Japanese words, and splitting first would add a ``▁`` token per word). Its word ids come from
MeCab (:func:`tasuki.japanese.split_words`): a token belongs to the word that owns its first
character, so answers widen to whole MeCab words; offsets are characters of the context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasuki.plugin import DataError, split_words, word_owners, words_of_tokens

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

CLS_INDEX = 0
"""Where a window without the answer points (the first token: [CLS] / <s>)."""


def encode_windows(
    batch: dict[str, list],
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    doc_stride: int = 128,
    lang: str = "en",
    with_targets: bool | None = None,
) -> dict[str, list]:
    """Encode a batch of examples into windows (features).

    :param batch: columns ``question``, ``context`` and, for training, ``answers``.
    :param with_targets: add ``start_positions``/``end_positions``; default: when ``answers`` is there.
    :returns: columns ``input_ids``, ``attention_mask`` (``token_type_ids``), ``offset_mapping``,
        ``word_ids``, ``window_index`` (0 for an example's first window) and the positions.
    """
    questions = [q.strip() for q in batch["question"]]  # leading spaces only waste window room
    contexts = list(batch["context"])
    if with_targets is None:
        with_targets = "answers" in batch
    encoded_q = tokenizer(questions, add_special_tokens=False)
    stride = _check_questions(batch, encoded_q["input_ids"], tokenizer, max_length, doc_stride)
    enc = tokenizer(questions, contexts, truncation="only_second", max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True)
    # Japanese has no spaces, so the tokenizer's own "words" would be whole sentences: a token's
    # word is the MeCab word that owns its first character instead (the map built once per context)
    owners: dict[int, list[int]] = {}
    sample_map = enc.pop("overflow_to_sample_mapping")
    raw_offsets = enc.pop("offset_mapping")
    out: dict[str, list] = {k: list(v) for k, v in enc.items()}
    out["offset_mapping"], out["word_ids"], out["window_index"] = [], [], []
    if with_targets:
        out["start_positions"], out["end_positions"] = [], []
    previous = -1
    for i, example in enumerate(sample_map):
        sequence_ids = enc.sequence_ids(i)
        offsets = [list(o) if sequence_ids[t] == 1 else None for t, o in enumerate(raw_offsets[i])]
        if lang == "ja":
            if example not in owners:
                context = contexts[example]
                owners[example] = word_owners([(w.start, w.end) for w in split_words(context)], len(context))
            words = words_of_tokens(offsets, owners[example])
        else:
            words = [w if o is not None else None for w, o in zip(enc.word_ids(i), offsets)]
        out["offset_mapping"].append(offsets)
        out["word_ids"].append(words)
        out["window_index"].append(out["window_index"][-1] + 1 if example == previous else 0)
        previous = example
        if with_targets:
            start, end = answer_positions(offsets, batch["answers"][example])
            out["start_positions"].append(start)
            out["end_positions"].append(end)
    return out


def answer_positions(offsets: list[list[int] | None], answers: dict[str, list]) -> tuple[int, int]:
    """Token positions of the first answer in this window, or (0, 0) at [CLS] when it is not inside."""
    if not answers["text"]:
        return CLS_INDEX, CLS_INDEX
    start_char = answers["answer_start"][0]
    end_char = start_char + len(answers["text"][0])
    context_tokens = [i for i, o in enumerate(offsets) if o is not None]
    first, last = context_tokens[0], context_tokens[-1]
    if offsets[first][0] > start_char or offsets[last][1] < end_char:
        return CLS_INDEX, CLS_INDEX
    start = first
    while start < last and offsets[start + 1][0] <= start_char:
        start += 1
    end = last
    while end > start and offsets[end - 1][1] >= end_char:
        end -= 1
    return start, end


def _check_questions(
    batch: dict[str, list], question_ids: list[list[int]], tokenizer: Any, max_length: int, doc_stride: int
) -> int:
    """Raise on questions that leave too little room; return the stride that fits this batch.

    A question may take at most half of ``max_length`` (the rest is for the context); the
    stride (overlap of windows) is cut to half of the context room, as the tokenizer needs it
    to be smaller than that room.
    """
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    limit = max_length // 2
    longest = 0
    for i, ids in enumerate(question_ids):
        if len(ids) > limit:
            name = f"id {batch['id'][i]!r}" if "id" in batch else f"question {batch['question'][i][:60]!r}"
            raise DataError(
                f"{name}: the question is {len(ids)} tokens; at most {limit} fit in max_length {max_length} "
                f"with room for the context. Shorten the question or raise max_length"
            )
        longest = max(longest, len(ids))
    room = max_length - longest - specials
    return max(0, min(doc_stride, room // 2))
