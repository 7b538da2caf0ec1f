"""Backbones a user brings that are not BERT: each trains, reads a long text in windows and exports to ONNX.

DistilBERT and ModernBERT take no token type ids, XLM-R (the e5 backbone's family) offsets its positions by the
padding id and splits into SentencePiece pieces, DeBERTa-v2 has relative positions; the few-shot recipe reads
each through mean pooling. Tiny random models (:func:`tasuki.testing.tiny_encoder`): what is checked is that
every path runs and agrees with itself, not accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tasuki
from tasuki.testing import ARCHITECTURES, tiny_encoder

WORDS = ["good", "bad", "movie", "food", "love", "hate"]
ROWS = [{"text": t, "label": label} for t, label in [("good movie", "pos"), ("bad movie", "neg"), ("great food", "pos"),
                                                     ("awful food", "neg"), ("i love it", "pos"), ("i hate it", "neg")]]
LONG = "the film was " + "very " * 200 + "good"  # over 128 tokens: windows


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("recipe", ["standard", "few-shot"])
def test_a_backbone_of_another_architecture_trains_predicts_and_exports(architecture: str, recipe: str,
                                                                        tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    backbone = tiny_encoder(tmp_path / "backbone", architecture, words=WORDS)
    out = tmp_path / "model"
    tasuki.train("classify", ROWS * 4, backbone=str(backbone), output_dir=out, task_options={"recipe": recipe},
                 max_steps=2, batch_size=8)
    model = tasuki.load(out, device="cpu")
    texts = ["good food", LONG]
    ours = model.predict(texts)
    assert [sorted(p["scores"]) for p in ours] == [["neg", "pos"]] * 2
    exported = tasuki.load(tasuki.export(out, tmp_path / "onnx"), device="cpu")
    for mine, theirs in zip(ours, exported.predict(texts)):
        assert theirs["label"] == mine["label"]
        np.testing.assert_allclose([theirs["scores"][k] for k in ("neg", "pos")],
                                   [mine["scores"][k] for k in ("neg", "pos")], atol=1e-4)
