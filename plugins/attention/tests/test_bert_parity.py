"""The scratch encoder loaded with BERT weights reproduces ``BertModel`` (hidden states, attentions, pooler)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BertForMaskedLM, BertModel

from tasuki.registry import resolve_backbone
from tasuki_attention.convert import convert_bert_state_dict, load_bert
from tasuki_attention.model import ScratchForMaskedLM, ScratchModel

SENTENCES = ["The quick brown fox jumps over the lazy dog.", "Attention is all you need.", "Hi"]


def _both(directory: Path, dtype: torch.dtype, fused: bool = True) -> tuple[torch.nn.Module, torch.nn.Module]:
    config, base, _ = load_bert(directory)
    config.fused = fused
    scratch = ScratchModel(config)
    scratch.load_state_dict(base, strict=True)
    bert = BertModel.from_pretrained(directory, attn_implementation="eager", use_safetensors=True)
    return scratch.to(dtype).eval(), bert.to(dtype).eval()


def _compare(directory: Path, dtype: torch.dtype, fused: bool = True) -> dict[str, float]:
    scratch, bert = _both(directory, dtype, fused)
    inputs = AutoTokenizer.from_pretrained(directory)(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = scratch(**inputs, output_hidden_states=True, output_attentions=not fused)
        theirs = bert(**inputs, output_hidden_states=True, output_attentions=True)
    real = inputs["attention_mask"].bool()  # (B, T): padded rows are not compared; they are never used
    diffs = {
        "hidden": max((a - b)[real].abs().max().item() for a, b in zip(ours.hidden_states, theirs.hidden_states)),
        "last": (ours.last_hidden_state - theirs.last_hidden_state)[real].abs().max().item(),
        "pooler": (ours.pooler_output - theirs.pooler_output).abs().max().item(),
    }
    assert len(ours.hidden_states) == len(theirs.hidden_states)
    if not fused:
        diffs["attentions"] = max((a - b).abs().max().item() for a, b in zip(ours.attentions, theirs.attentions))
    return diffs


@pytest.mark.parametrize("fused", [False, True])
def test_tiny_bert_parity(bert_dir: Path, fused: bool) -> None:
    diffs = _compare(bert_dir, torch.float32, fused)
    assert max(diffs.values()) < 1e-5, diffs


def test_minilm_parity_fp32(minilm_dir: Path) -> None:
    diffs = _compare(minilm_dir, torch.float32, fused=False)
    assert max(diffs.values()) < 1e-4, diffs


def test_minilm_parity_fp64_fused(minilm_dir: Path) -> None:
    diffs = _compare(minilm_dir, torch.float64, fused=True)
    assert max(diffs.values()) < 1e-10, diffs


def test_scratch_backbone_from_minilm_is_minilm(minilm_dir: Path) -> None:
    backbone = resolve_backbone("scratch:bert=minilm")
    encoder = backbone.encoder()
    bert = BertModel.from_pretrained(minilm_dir, use_safetensors=True).eval()
    inputs = backbone.tokenizer(SENTENCES[:1], return_tensors="pt")
    with torch.no_grad():
        diff = (encoder(**inputs).last_hidden_state - bert(**inputs).last_hidden_state).abs().max().item()
    assert diff < 1e-4
    assert backbone.max_length == 512


def test_mlm_head_is_converted(tmp_path: Path, bert_dir: Path) -> None:
    torch.manual_seed(0)
    bert_mlm = BertForMaskedLM.from_pretrained(bert_dir, use_safetensors=True)
    torch.nn.init.normal_(bert_mlm.cls.predictions.bias)  # make the head's bias matter
    bert_mlm.save_pretrained(tmp_path, safe_serialization=True)
    config, base, head = load_bert(tmp_path)
    assert set(head) == {"dense.weight", "dense.bias", "norm.weight", "norm.bias", "decoder.bias"}
    scratch = ScratchForMaskedLM(config)
    scratch.scratch.load_state_dict(base, strict=True)
    scratch.lm_head.load_state_dict(head, strict=False)
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    with torch.no_grad():
        torch.testing.assert_close(scratch.eval()(ids).logits, bert_mlm.eval()(ids).logits, atol=1e-5, rtol=1e-5)


def test_unexpected_bert_weight_is_named() -> None:
    with pytest.raises(ValueError, match="unexpected BERT weight 'encoder.layer.0.crossattention.x'"):
        convert_bert_state_dict({"encoder.layer.0.crossattention.x": torch.zeros(1)})


def test_pickle_only_checkpoint_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="only safetensors"):
        load_bert(tmp_path)
