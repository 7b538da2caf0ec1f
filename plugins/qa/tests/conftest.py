"""Offline fixtures: a fresh registry with only this plugin, tiny backbones, and a mini prediction loop."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tasuki.registry import Registry, set_registry
from tasuki.testing import tiny_bert
from tasuki_qa import plugin

WORDS = (
    "who what when where which how many year city river mountain capital first climbed named after born "
    "everest amazon tokyo nile moon paris 1953 1868 1964 hillary tenzing norgay edmund curie marie"
).split()


@pytest.fixture(autouse=True)
def registry() -> Registry:
    """Only the qa plugin, never what happens to be installed."""
    registry = Registry([("qa", plugin)], entry_points=False)
    set_registry(registry)
    yield registry
    set_registry(None)


@pytest.fixture(scope="session")
def tiny_en(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny English BERT (2 layers, hidden 32, 256 positions)."""
    return tiny_bert(tmp_path_factory.mktemp("tiny_en"), WORDS, max_position_embeddings=256)


@pytest.fixture(scope="session")
def tiny_ja(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT with a character-level Japanese WordPiece vocabulary."""
    return tiny_bert(tmp_path_factory.mktemp("tiny_ja"), japanese=True, max_position_embeddings=256)


def run_outputs(task: Any, model: torch.nn.Module, tokenizer: Any, rows: list[dict], max_length: int,
                batch_size: int = 3, pad_to: int | None = None) -> tuple[list[dict], Any, Any]:
    """What the runner hands to ``compute_metrics``/``postprocess``, without the runner.

    Encodes in small ``map`` batches (so windows of one call never see the others') and pads
    every output row to ``pad_to`` with a large value, as gathering across processes would,
    so that a task that forgets to trim its rows picks padding as an answer.
    """
    from datasets import Dataset

    examples = Dataset.from_list(rows)
    features = examples.map(task.encode, batched=True, batch_size=batch_size,
                            fn_kwargs={"tokenizer": tokenizer, "max_length": max_length},
                            remove_columns=examples.column_names)
    outputs: list[dict] = []
    model.eval()
    for i in range(0, len(features), 4):
        chunk = [features[j] for j in range(i, min(i + 4, len(features)))]
        batch = task.collate(chunk, tokenizer)
        with torch.inference_mode():
            kept = task.predict_step(model, batch)
        for j in range(len(chunk)):
            row = {k: v[j].numpy() for k, v in kept.items()}
            if pad_to is not None:
                row = {k: np.pad(v, (0, pad_to - len(v)), constant_values=1e4) for k, v in row.items()}
            outputs.append(row)
    return outputs, features, examples
