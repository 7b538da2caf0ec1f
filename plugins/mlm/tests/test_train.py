"""Through the core runner: training, deterministic evaluation, fill-mask vs pipeline, reuse as a backbone,
and the head-only vs full comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForSequenceClassification, pipeline

import tasuki.api as api
from conftest import news_corpus
from tasuki.hookspecs import hookimpl
from tasuki.registry import Registry, resolve_backbone, set_registry
from tasuki.task import Task
from tasuki_mlm import plugin
from tasuki_mlm.adapt import adapt, evaluate_texts
from tasuki_mlm.task import MaskedLMTask

FAST = {"progress": False, "save_steps": 0, "batch_size": 8, "seed": 0}


@pytest.fixture(scope="module")
def adapted(tiny_backbone: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The tiny BERT adapted on a synthetic corpus (module-wide: several tests read it)."""
    set_registry(Registry(plugins=[("mlm", plugin)], entry_points=False))
    out = tmp_path_factory.mktemp("adapted")
    rows = [{"text": t} for t in news_corpus()]
    result = api.train("mlm", rows, backbone=str(tiny_backbone), output_dir=out, max_steps=30,
                       learning_rate=3e-3, max_length=32, **FAST)
    return out, result


def test_training_improves_held_out_perplexity_and_evaluation_is_deterministic(adapted, tiny_backbone) -> None:
    out, result = adapted
    assert set(result.metrics) >= {"loss", "perplexity", "masked_accuracy"}
    assert result.metrics["perplexity"] == pytest.approx(np.exp(result.metrics["loss"]))
    held = [{"text": t} for t in news_corpus(documents=20, seed=9)]
    first, second = api.evaluate(out, held), api.evaluate(out, held)
    assert first == second  # masks are a function of the text, not of the RNG state
    untrained = evaluate_texts(MaskedLMTask(), resolve_backbone(str(tiny_backbone)), [r["text"] for r in held], 32, 16)
    assert first["perplexity"] < 0.6 * untrained["perplexity"]  # a fresh head sits near the vocabulary size
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "pipeline_tag: fill-mask" in card and "perplexity" in card


def test_fill_mask_agrees_with_transformers_pipeline(adapted) -> None:
    out, _ = adapted
    model = api.load(out, device="cpu")
    ours = model.predict("the market [MASK] sharply")
    reference = pipeline("fill-mask", model=str(out), top_k=5, device="cpu")("the market [MASK] sharply")
    assert [p["token"] for p in ours] == [p["token"] for p in reference]
    assert [p["token_str"] for p in ours] == [p["token_str"] for p in reference]
    np.testing.assert_allclose([p["score"] for p in ours], [p["score"] for p in reference], rtol=1e-4)
    assert [p["sequence"] for p in ours] == [p["sequence"] for p in reference]
    several = model.predict(["the [MASK] rose [MASK]", "a [MASK] won"])
    assert len(several) == 2 and len(several[0]) == 2 and len(several[0][0]) == 5 and len(several[1]) == 5


class TinyTopicTask(Task):
    """A minimal sequence classifier, standing in for the sentiment task (not a dependency here)."""

    name = "tiny-topic"
    languages = ("en",)
    auto_model = AutoModelForSequenceClassification
    training_defaults: ClassVar[dict[str, Any]] = {"max_length": 32}

    def fit(self, train: Any) -> None:
        self.labels = sorted(set(train["label"]))

    def encode(self, batch: dict[str, list], tokenizer: Any, max_length: int) -> dict[str, list]:
        out = dict(tokenizer(batch["text"], truncation=True, max_length=max_length))
        if "label" in batch:
            out["labels"] = [self.labels.index(label) for label in batch["label"]]
        return out

    def compute_metrics(self, outputs: Any, features: Any, examples: Any) -> dict[str, float]:
        predicted = [int(np.argmax(o["logits"])) for o in outputs]
        return {"accuracy": float(np.mean(np.array(predicted) == np.array(features["labels"])))}

    def postprocess(self, outputs: Any, features: Any, examples: Any, *, context: Any = None) -> list[Any]:
        return [self.labels[int(np.argmax(o["logits"]))] for o in outputs]


class TopicPlugin:
    @hookimpl
    def register_tasks(self, register: Any) -> None:
        register(TinyTopicTask)


def test_adapted_directory_is_a_backbone_for_other_tasks(adapted, tiny_backbone, tmp_path) -> None:
    out, _ = adapted
    encoder = AutoModel.from_pretrained(out)
    original = load_file(str(tiny_backbone / "model.safetensors"))
    # The pooler survives adaptation (an MLM model has none): classifiers start from the pretrained one.
    torch.testing.assert_close(encoder.pooler.dense.weight, original["pooler.dense.weight"])
    assert not torch.equal(encoder.embeddings.word_embeddings.weight, original["embeddings.word_embeddings.weight"])
    set_registry(Registry(plugins=[("mlm", plugin), ("topic", TopicPlugin())], entry_points=False))
    rows = [{"text": t, "label": "money" if "market" in t or "bank" in t else "other"} for t in news_corpus(60)]
    result = api.train("tiny-topic", rows, backbone=str(out), output_dir=tmp_path / "clf", epochs=20,
                       learning_rate=3e-3, max_length=48, **FAST)
    # the topic words decide the label (bank/market come with the finance topic only): learnt, held-out rows too
    assert result.metrics["accuracy"] == 1.0
    model = api.load(tmp_path / "clf", device="cpu")
    assert model.predict(["the bank profit", "the football match was won"]) == ["money", "other"]


def test_freeze_backbone_trains_only_the_head(tiny_backbone) -> None:
    task = MaskedLMTask(freeze_backbone=True)
    model = task.build_model(resolve_backbone(str(tiny_backbone)))
    assert task.head_initialized is True
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("cls.") for n in trainable)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight  # tied


def test_adapt_compares_head_only_with_full_adaptation(tiny_backbone, tmp_path) -> None:
    result = adapt(news_corpus(), output_dir=tmp_path / "out", backbone=str(tiny_backbone), max_steps=30,
                   max_length=32, learning_rate=1e-3, seed=0, progress=False, save_steps=0, batch_size=8)
    assert result.head_initialized and result.baseline_name == "head-only"
    assert result.documents == {"train": 114, "held_out": 6}
    # The same budget on the whole model must clearly beat the head alone (a random tiny encoder here).
    assert result.adapted["perplexity"] < 0.8 * result.baseline["perplexity"]
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "## Domain adaptation (tasuki-mlm)" in card and "| perplexity |" in card
    assert (tmp_path / "out" / "adaptation.json").is_file()
    # a second adaptation may replace the first with --overwrite (adaptation.json is one of the run's files)
    again = adapt(news_corpus(), output_dir=tmp_path / "out", backbone=str(tiny_backbone), max_steps=2,
                  max_length=32, progress=False, save_steps=0, batch_size=8, compare=False, overwrite=True)
    assert again.steps == 2 and json.loads((tmp_path / "out" / "adaptation.json").read_text())["steps"] == 2


def test_adapt_with_a_pretrained_head_compares_before_and_after(adapted, tmp_path) -> None:
    out, _ = adapted  # an MLM directory: its head is pretrained now
    result = adapt(news_corpus(60, seed=5), output_dir=tmp_path / "again", backbone=str(out), max_steps=10,
                   max_length=32, learning_rate=1e-3, seed=0, progress=False, save_steps=0, batch_size=8)
    assert not result.head_initialized and result.baseline_name == "before"
    assert result.baseline["masked_tokens"] == result.adapted["masked_tokens"]  # the same masked positions
    assert "| before | adapted |" in (tmp_path / "again" / "README.md").read_text(encoding="utf-8")


def test_japanese_whole_word_adaptation_through_the_runner(tmp_path) -> None:
    from tasuki.testing import tiny_bert

    backbone = tiny_bert(tmp_path / "ja-bert", japanese=True)
    sentences = ["東京都の会社で映画を見ました。", "大阪の料理店は最高でした。", "山田太郎は日本語の映画が好きです。",
                 "花子は東京の会社に行きました。"]
    rows = [{"text": "".join(sentences[(i + k) % 4] for k in range(3))} for i in range(24)]
    result = api.train("mlm", rows, backbone=str(backbone), lang="ja", output_dir=tmp_path / "ja", max_steps=3,
                       max_length=32, task_options={"whole_word": True}, **FAST)
    assert result.metrics["masked_tokens"] > 0
    model = api.load(tmp_path / "ja", device="cpu")
    assert model.task.options.whole_word is True and model.task.lang == "ja"
    assert len(model.predict("東京都の[MASK]社")) == 5


def test_cli_adapt_end_to_end(tiny_backbone, tmp_path) -> None:
    import click
    from click.testing import CliRunner

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, text in enumerate(news_corpus(30)):
        (corpus / f"{i:03d}.txt").write_text(text, encoding="utf-8")
    group = click.Group("tasuki")
    plugin.register_commands(group)
    result = CliRunner().invoke(group, ["adapt", str(corpus), "--backbone", str(tiny_backbone), "-o",
                                        str(tmp_path / "out"), "--steps", "3", "--max-length", "32",
                                        "--held-out", "0.1", "--whole-word"])
    assert result.exit_code == 0, result.output
    assert "head-only" in result.output and "perplexity" in result.output
    assert (tmp_path / "out" / "config.json").is_file()


def test_a_tokenizer_without_a_mask_token_is_refused_in_one_line(tiny_backbone: Path, tmp_path: Path) -> None:
    """Masking needs a mask token: without one, training failed with a TypeError deep in the collator."""
    import shutil

    from transformers import AutoTokenizer

    from tasuki.errors import DataError

    backbone = tmp_path / "no-mask"
    shutil.copytree(tiny_backbone, backbone)
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    tokenizer.mask_token = None
    tokenizer.save_pretrained(backbone)
    assert AutoTokenizer.from_pretrained(backbone).mask_token_id is None
    out = tmp_path / "model"
    with pytest.raises(DataError, match=r"tokenizer \(\w+\) has no mask token: masked-LM training"):
        api.train("mlm", [{"text": t} for t in news_corpus(documents=10)], backbone=str(backbone), output_dir=out,
                  max_steps=1, **FAST)
    assert not out.exists()
