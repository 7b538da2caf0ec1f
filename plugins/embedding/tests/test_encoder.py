"""Encoding without training: order, batching, bad input, long texts, precision, output types."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tasuki.errors import DataError
from tasuki_embedding import Encoder, encode

MIXED = [
    "the cat sat on the mat",
    "dog",
    "a red car ran fast on the road in the cold rain and the sun was not hot",
    "blue sun",
    "the man is eating",
]


@pytest.fixture(scope="module")
def encoder(tiny_dir: str) -> Encoder:
    return Encoder.load(tiny_dir, device="cpu")


def test_plain_encoder_gets_mean_pooling_and_normalization(encoder: Encoder) -> None:
    assert encoder.model.pooling.mode == "mean" and encoder.model.normalize
    vectors = encoder.encode(MIXED)
    assert vectors.shape == (5, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("batch_tokens", [None, 40])
def test_length_sorted_batches_restore_the_callers_order(encoder: Encoder, batch_tokens: int | None) -> None:
    texts = MIXED * 3
    together = encoder.encode(texts, batch_size=2, batch_tokens=batch_tokens)
    alone = np.stack([encoder.encode(t) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_batch_tokens_bound_the_batches(encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    shapes = []
    forward = encoder.model.forward
    monkeypatch.setattr(encoder.model, "forward", lambda ids, mask, **kw: shapes.append(tuple(ids.shape)) or forward(
        ids, mask, **kw))
    encoder.encode(["dog"] * 50 + ["the cat sat on the mat"] * 10, batch_size=4)
    assert max(b for b, _ in shapes) == 4
    shapes.clear()
    encoder.encode(["dog"] * 50 + ["the cat sat on the mat"] * 10, batch_size=4, batch_tokens=60)
    assert all(b * t <= 60 or b == 4 for b, t in shapes) and max(b for b, _ in shapes) == 20  # 60 // 3 tokens


def test_manual_forward_matches(encoder: Encoder) -> None:
    batch = encoder.tokenizer(MIXED[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = encoder.model.encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (hidden * mask).sum(1) / mask.sum(1)
    expected = torch.nn.functional.normalize(mean, dim=-1).numpy()
    np.testing.assert_allclose(encoder.encode(MIXED[:2]), expected, atol=1e-5)


@pytest.mark.parametrize("pooling", ["max", "cls"])
def test_pooling_choice_changes_vectors(tiny_dir: str, encoder: Encoder, pooling: str) -> None:
    other = encode(tiny_dir, MIXED, pooling=pooling, device="cpu")
    assert other.shape == (5, 32)
    assert not np.allclose(other, encoder.encode(MIXED), atol=1e-3)


def test_empty_list_and_single_string(encoder: Encoder) -> None:
    assert encoder.encode([]).shape == (0, 32)
    assert encoder.encode([], output="torch").shape == (0, 32)
    assert encoder.encode("dog").shape == (32,)


def test_empty_strings_are_errors_unless_allowed(encoder: Encoder) -> None:
    with pytest.raises(DataError, match=r"empty text\(s\) at position\(s\) 1, 3"):
        encoder.encode(["dog", "", "cat", "   "])
    vectors = encoder.encode(["dog", ""], allow_empty=True)
    assert np.isfinite(vectors).all()


def test_non_strings_are_errors(encoder: Encoder) -> None:
    with pytest.raises(DataError, match="text 1: expected a string"):
        encoder.encode(["dog", None])
    with pytest.raises(DataError, match="expected a string or a list"):
        encoder.encode(42)


def test_long_texts_truncate_with_warning_or_window(encoder: Encoder) -> None:
    long = " ".join(["the cat sat on the mat"] * 10 + ["a red car ran fast on the road"] * 10)  # ~140 tokens > 64
    with pytest.warns(UserWarning, match=r"1 text\(s\) longer than 64 tokens were truncated \(positions 1\)"):
        truncated = encoder.encode(["dog", long])
    head = encoder.tokenizer.decode(encoder.tokenizer(long, truncation=True, max_length=64)["input_ids"][1:-1])
    np.testing.assert_allclose(truncated[1], encoder.encode(head), atol=1e-5)
    windowed = encoder.encode(["dog", long], long_texts="window", stride=0)
    np.testing.assert_allclose(windowed[0], truncated[0], atol=1e-6)
    assert not np.allclose(windowed[1], truncated[1], atol=1e-3)
    # Windows without overlap: the window vectors' token-weighted mean, normalized.
    ids = encoder.tokenizer(long, truncation=True, max_length=64, stride=0, return_overflowing_tokens=True)["input_ids"]
    parts = [encoder.encode(encoder.tokenizer.decode(x[1:-1]), normalize=False) for x in ids]
    mean = sum(len(x) * p for x, p in zip(ids, parts)) / sum(len(x) for x in ids)
    np.testing.assert_allclose(windowed[1], mean / np.linalg.norm(mean), atol=1e-4)
    with pytest.raises(DataError, match="stride"):
        encoder.encode(long, long_texts="window", stride=100)


def test_torch_output_and_bad_options(encoder: Encoder) -> None:
    out = encoder.encode(MIXED, output="torch")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    with pytest.raises(DataError, match="output"):
        encoder.encode(MIXED, output="list")
    with pytest.raises(DataError, match="long_texts"):
        encoder.encode(MIXED, long_texts="drop")


def test_bfloat16_close_to_float32_and_float16_needs_gpu(tiny_dir: str, encoder: Encoder) -> None:
    half = Encoder.load(tiny_dir, device="cpu", dtype="bfloat16").encode(MIXED)
    cosines = (half * encoder.encode(MIXED)).sum(axis=1)
    assert half.dtype == np.float32 and cosines.min() > 0.99
    with pytest.raises(DataError, match="float16.*GPU"):
        Encoder.load(tiny_dir, device="cpu", dtype="float16")


def test_mixed_language_input(tiny_ja_dir: str) -> None:
    texts = ["the cat sat", "東京の映画館", "good 映画", "私は日本語を話す"]
    encoder = Encoder.load(tiny_ja_dir, device="cpu")
    together = encoder.encode(texts, batch_size=3)
    alone = np.stack([encoder.encode(t) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert len({tuple(np.round(v, 4)) for v in together}) == 4  # no text collapsed to [UNK]s


def test_progress_bar_on_large_inputs(encoder: Encoder, capsys: pytest.CaptureFixture[str]) -> None:
    encoder.encode(["dog"] * 40, progress=True)
    assert "encoding" in capsys.readouterr().err
    encoder.encode(["dog"] * 40)  # small input: quiet by default
    assert "encoding" not in capsys.readouterr().err


def test_directory_without_a_model_is_a_clear_error(tmp_path) -> None:
    from tasuki.errors import CheckpointError

    with pytest.raises(CheckpointError, match="no config.json"):
        Encoder.load(str(tmp_path))


def test_a_backbone_without_a_directory_gets_mean_pooling(tiny_dir: str) -> None:
    from tasuki.backbone import Backbone, HFBackbone
    from tasuki.hookspecs import hookimpl
    from tasuki.registry import Registry, set_registry
    from tasuki_embedding import plugin

    class Wrapped(Backbone):  # like a from-scratch encoder: no model directory to read configs from
        spec = "wrapped"

        def __init__(self) -> None:
            self.inner = HFBackbone(tiny_dir)

        @property
        def tokenizer(self):
            return self.inner.tokenizer

        def build_model(self, auto_class, **config):
            return self.inner.build_model(auto_class, **config)

        def encoder(self):
            return self.inner.encoder()

    class Provider:
        @hookimpl
        def register_backbones(self, register) -> None:
            register("wrapped", lambda arg, **options: Wrapped())

    set_registry(Registry([("embedding", plugin), ("wrapped", Provider())], entry_points=False))
    encoder = Encoder.load("wrapped", device="cpu")
    assert (encoder.model.pooling.mode, encoder.model.normalize, encoder.max_length) == ("mean", True, 64)
    np.testing.assert_allclose(encoder.encode(MIXED), Encoder.load(tiny_dir, device="cpu").encode(MIXED), atol=1e-6)


def test_prompts_are_saved_with_the_model_not_read_from_its_name(tmp_path, tiny_dir: str) -> None:
    """A model fine-tuned without prefixes and saved as ``e5-ft`` encodes without them."""
    import shutil

    from transformers import AutoTokenizer

    from tasuki.plugin import SentenceEncoder
    from tasuki_embedding.encoder import E5_PROMPTS

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    trained = SentenceEncoder.load(tiny_dir)  # what tasuki trains and saves: no prompts
    for name, prompts in (("e5-ft", {}), ("with-prompts", {"query": "q: ", "passage": "p: "})):
        SentenceEncoder(trained.encoder, prompts=prompts).save(tmp_path / name)
        tokenizer.save_pretrained(tmp_path / name)
        loaded = Encoder.load(tmp_path / name, device="cpu")
        assert loaded.prompts == prompts and loaded.model.prompts == prompts
    # the prefixes change the vectors a search computes: "q: " + text is not text
    loaded = Encoder.load(tmp_path / "with-prompts", device="cpu")
    assert not np.allclose(loaded.encode(["cat"], prompt="query"), loaded.encode(["cat"]))
    # a plain transformers checkpoint that saved no prompts, named as a Hub E5: the E5 prefixes, said aloud
    shutil.copytree(tiny_dir, tmp_path / "multilingual-e5-small")
    with pytest.warns(UserWarning, match="no saved prompts; using the E5 prefixes"):
        assert Encoder.load(tmp_path / "multilingual-e5-small", device="cpu").prompts == E5_PROMPTS
    assert Encoder.load(tmp_path / "multilingual-e5-small", device="cpu", prompts={}).prompts == {}
