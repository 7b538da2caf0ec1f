"""The ``scratch`` backbone: spec syntax, every head, save/load, and training through the core runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from tasuki.errors import UnknownNameError
from tasuki.hookspecs import hookimpl
from tasuki.registry import Registry, resolve_backbone, set_registry
from tasuki.task import Task
from tasuki_attention import plugin
from tasuki_attention.backbone import ScratchBackbone, parse_scratch_arg
from tasuki_attention.model import ScratchForSequenceClassification


def small(bert_dir: Path, extra: str = "") -> str:
    return f"scratch:tokenizer={bert_dir},layers=2,hidden=32,heads=4,ffn=64,max_positions=64,seed=1{extra}"


def test_parse_spec() -> None:
    assert parse_scratch_arg("tokenizer=minilm, layers=2,dropout=0.2,norm=pre") == {
        "tokenizer": "minilm",
        "layers": 2,
        "dropout": 0.2,
        "norm": "pre",
    }
    assert parse_scratch_arg("bert=/models/bert,seed=3") == {"bert": "/models/bert", "seed": 3}


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        (None, "needs bert=... or tokenizer=..."),
        ("layers=2", "exactly one of bert=... or tokenizer=..."),
        ("bert=a,tokenizer=b", "exactly one of"),
        ("tokenizer", "'tokenizer' is not KEY=VALUE"),
        ("tokenizer=a,colour=red", "unknown key 'colour'; known keys: bert, tokenizer, layers"),
        ("tokenizer=a,layers=two", "layers='two' must be an integer"),
        ("tokenizer=a,dropout=lots", "dropout='lots' must be a number"),
        ("tokenizer=a,norm=middle", "norm must be one of ('post', 'pre'), not 'middle'"),
        ("tokenizer=a,layers=1,layers=2", "'layers' is given twice"),
        ("bert=a,layers=2", "cannot change a BERT checkpoint's shape"),
    ],
)
def test_bad_spec_is_a_clear_error(arg: str | None, message: str) -> None:
    with pytest.raises(UnknownNameError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_scratch_arg(arg)


def test_head_count_must_divide_hidden_size(bert_dir: Path) -> None:
    backbone = resolve_backbone(f"scratch:tokenizer={bert_dir},hidden=30,heads=4")
    with pytest.raises(UnknownNameError, match="hidden size 30 is not divisible by the number of heads 4"):
        backbone.build_model(AutoModel)


def test_registered_and_resolved(bert_dir: Path) -> None:
    backbone = resolve_backbone(small(bert_dir))
    assert isinstance(backbone, ScratchBackbone)
    assert backbone.spec == small(bert_dir)
    assert backbone.max_length == 64
    assert backbone.describe()["options"]["layers"] == 2
    config = backbone.config()
    assert (config.vocab_size, config.num_hidden_layers, config.num_attention_heads) == (len(backbone.tokenizer), 2, 4)


HEAD_CASES = [
    (AutoModelForSequenceClassification, {"labels": torch.tensor([0, 2])}, "logits", (2, 3)),
    (AutoModelForTokenClassification, {"labels": torch.tensor([[0, 1, 2, -100], [1, 1, -100, -100]])}, "logits", (2, 4, 3)),
    (
        AutoModelForQuestionAnswering,
        {"start_positions": torch.tensor([1, 0]), "end_positions": torch.tensor([2, 9])},
        "start_logits",
        (2, 4),
    ),
    (AutoModelForMaskedLM, {"labels": torch.tensor([[-100, 7, -100, -100], [8, -100, -100, -100]])}, "logits", None),
]


@pytest.mark.parametrize(("auto_class", "targets", "key", "shape"), HEAD_CASES)
@pytest.mark.parametrize("variant", ["", ",norm=pre,positional=sinusoidal,activation=relu"])
def test_every_head_trains_saves_and_loads(
    tmp_path: Path, bert_dir: Path, auto_class: Any, targets: dict, key: str, shape: tuple | None, variant: str
) -> None:
    backbone = resolve_backbone(small(bert_dir, variant))
    labels = {"num_labels": 3, "id2label": {0: "a", 1: "b", 2: "c"}, "label2id": {"a": 0, "b": 1, "c": 2}}
    model = backbone.build_model(auto_class, **({} if auto_class is AutoModelForMaskedLM else labels))
    batch = backbone.tokenizer(["sunny day", "rainy"], padding="max_length", max_length=4, return_tensors="pt")
    out = model(**batch, **targets)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if "pooler" not in n)
    expected = shape or (2, 4, len(backbone.tokenizer))
    assert getattr(out, key).shape == expected
    model.save_pretrained(tmp_path, safe_serialization=True)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = auto_class.from_pretrained(tmp_path, use_safetensors=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(getattr(loaded(**batch), key), getattr(model.eval()(**batch), key))
    if auto_class is AutoModelForMaskedLM:  # the decoder stays tied to the token embeddings after loading
        assert loaded.lm_head.decoder.weight.data_ptr() == loaded.get_input_embeddings().weight.data_ptr()


def test_seed_fixes_initialisation_and_unsupported_head_is_named(bert_dir: Path) -> None:
    backbone = resolve_backbone(small(bert_dir))
    a, b = backbone.build_model(AutoModel), backbone.build_model(AutoModel)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    with pytest.raises(UnknownNameError, match="no head for AutoModelForCausalLM"):
        backbone.build_model(AutoModelForCausalLM)


def test_bert_init_copies_every_encoder_weight(bert_dir: Path) -> None:
    from transformers import BertModel

    model = resolve_backbone(f"scratch:bert={bert_dir}").build_model(AutoModelForSequenceClassification, num_labels=2)
    assert isinstance(model, ScratchForSequenceClassification)
    bert = BertModel.from_pretrained(bert_dir, use_safetensors=True)
    torch.testing.assert_close(model.scratch.pooler.dense.weight, bert.pooler.dense.weight)
    torch.testing.assert_close(
        model.scratch.encoder.encoder.layers[1].attention.v_proj.weight, bert.encoder.layer[1].attention.self.value.weight
    )


def test_sequence_longer_than_positional_table(bert_dir: Path) -> None:
    model = resolve_backbone(small(bert_dir)).encoder()
    with pytest.raises(ValueError, match=r"sequence of 65 positions is longer than the positional table \(64\)"):
        model(input_ids=torch.ones(1, 65, dtype=torch.long))


# --- end to end through tasuki.train / tasuki.load -------------------------------------------


class TinyClassification(Task):
    """Text classification with string labels: the least a task needs, for this test only."""

    name = "attention-test-classify"
    auto_model = AutoModelForSequenceClassification
    training_defaults = {"max_length": 16}

    def fit(self, train: Any) -> None:
        self.labels = self.labels or sorted(set(train["label"]))

    def encode(self, batch: dict[str, list], tokenizer: Any, max_length: int) -> dict[str, list]:
        features = dict(tokenizer(batch["text"], truncation=True, max_length=max_length))
        if "label" in batch:
            features["labels"] = [self.labels.index(label) for label in batch["label"]]
        return features

    def compute_metrics(self, outputs: Any, features: Any, examples: Any) -> dict[str, float]:
        predicted = np.array([row["logits"].argmax() for row in outputs])
        return {"accuracy": float((predicted == np.array(features["labels"])).mean())}

    def postprocess(self, outputs: Any, features: Any, examples: Any, *, context: Any = None) -> list[str]:
        return [self.labels[int(row["logits"].argmax())] for row in outputs]


class TinyTaskPlugin:
    @hookimpl
    def register_tasks(self, register: Any) -> None:
        register(TinyClassification)


def test_train_and_load_a_task_on_the_scratch_backbone(tmp_path: Path, bert_dir: Path) -> None:
    import tasuki

    set_registry(Registry([("attention", plugin), ("tiny", TinyTaskPlugin())], entry_points=False))
    rows = [{"text": "sunny good day", "label": "pos"}, {"text": "rainy bad day", "label": "neg"}] * 8
    result = tasuki.train(
        "attention-test-classify",
        data=rows,
        eval_data=rows[:4],
        backbone=small(bert_dir),
        output_dir=tmp_path / "model",
        epochs=6,
        batch_size=8,
        learning_rate=3e-3,
        warmup_ratio=0.0,
        cpu=True,
        progress=False,
        save_steps=0,
    )
    assert result.metrics["accuracy"] == 1.0  # two fixed sentences: a working encoder separates them
    config = (tmp_path / "model" / "config.json").read_text()
    assert '"model_type": "tasuki-scratch"' in config
    model = tasuki.load(tmp_path / "model")
    assert isinstance(model.model, ScratchForSequenceClassification)
    assert model.predict(["sunny good day", "rainy bad day"]) == ["pos", "neg"]
