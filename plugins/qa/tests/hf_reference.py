"""The reference: the ``question-answering`` pipeline of transformers v4, rebuilt on v5's own pieces.

transformers 5 removed ``pipeline("question-answering")``; its span decoding survives as
``transformers.pipelines.document_question_answering.select_starts_ends``. This module
reproduces the v4 pipeline around it (windows from the tokenizer's overflow, ``p_mask``
with [CLS] allowed, per-window softmax, answers aligned to words with
``Encoding.word_to_chars``), so that tests and ``bench/qa.py`` compare tasuki against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers.pipelines.document_question_answering import select_starts_ends


def reference_answer(model: Any, tokenizer: Any, question: str, context: str, *, max_seq_len: int = 384,
                     doc_stride: int = 128, max_answer_len: int = 30,
                     handle_impossible_answer: bool = False) -> dict[str, Any]:
    """One answer as the v4 pipeline gave it: ``{"score", "start", "end", "answer"}``."""
    enc = tokenizer(question, context, padding="longest", truncation="only_second", max_length=max_seq_len,
                    stride=doc_stride, return_token_type_ids=True, return_overflowing_tokens=True,
                    return_offsets_mapping=True, return_tensors="pt")
    inputs = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.inference_mode():
        out = model(**inputs)
    answers, min_null_score = [], 1000000.0
    for span in range(enc["input_ids"].shape[0]):
        p_mask = np.array([0 if s == 1 else 1 for s in enc.sequence_ids(span)])
        p_mask[enc["input_ids"][span].numpy() == tokenizer.cls_token_id] = 0
        attention = enc["attention_mask"][span].numpy()[None]
        starts, ends, scores, min_null_score = select_starts_ends(
            out.start_logits[span].numpy()[None], out.end_logits[span].numpy()[None], p_mask[None], attention,
            min_null_score, 1, handle_impossible_answer, max_answer_len)
        encoding = enc.encodings[span]
        for s, e, score in zip(starts, ends, scores):
            try:  # align_to_words=True, the pipeline's default
                start = encoding.word_to_chars(encoding.token_to_word(s), sequence_index=1)[0]
                end = encoding.word_to_chars(encoding.token_to_word(e), sequence_index=1)[1]
            except Exception:
                start, end = encoding.offsets[s][0], encoding.offsets[e][1]
            answers.append({"score": float(score), "start": int(start), "end": int(end),
                            "answer": context[start:end]})
    if handle_impossible_answer:
        answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
    return sorted(answers, key=lambda a: a["score"], reverse=True)[0]
