"""Domain adaptation with an honest comparison, the engine of ``tasuki adapt``.

With a pretrained MLM head, the comparison is *before* vs *after* adaptation on held-out
documents. None of the packaged backbones ships one, and a freshly initialised head makes
any "before" perplexity meaningless (it is about the vocabulary size). Then the baseline
is the same step budget spent training the head alone with the encoder frozen, against
adapting the whole model: both runs see the same seed, data order, masks and held-out
documents, so the difference is what adapting the encoder bought. The head-only run is a
stage of the adaptation's own run (:mod:`tasuki_mlm.baseline`): in its ``--output``, resumed with it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.plugin import METADATA_FILE, DataError, atomic_write_json, atomic_write_text
from tasuki_mlm.baseline import HeadOnlyFirst, said_once, scores
from tasuki_mlm.corpus import check_held_out, corpus_dataset, split_documents
from tasuki_mlm.task import MaskedLMTask

if TYPE_CHECKING:
    from datasets import Dataset

logger = logging.getLogger(__name__)
METRICS = ("perplexity", "masked_accuracy", "loss")


@dataclass
class AdaptResult:
    """What :func:`adapt` returns: where the adapted backbone is and how it compares."""

    output_dir: Path
    head_initialized: bool
    baseline_name: str
    """``"before"`` (pretrained head, unadapted) or ``"head-only"`` (fresh head, frozen encoder)."""
    baseline: dict[str, float]
    adapted: dict[str, float]
    steps: int
    documents: dict[str, int] = field(default_factory=dict)

    def table(self) -> str:
        """The two held-out evaluations side by side (plain text)."""
        rows = [f"{'held-out metric':<18}{self.baseline_name:>14}{'adapted':>14}"]
        for name in METRICS:
            if name in self.baseline and name in self.adapted:
                rows.append(f"{name:<18}{self.baseline[name]:>14.4f}{self.adapted[name]:>14.4f}")
        return "\n".join(rows)

    def markdown(self) -> str:
        """The model-card section."""
        why = (
            "The backbone had no masked-LM head: one was initialised (transform + decoder tied to the word "
            "embeddings), so a 'before' perplexity would be meaningless. The baseline spends the same "
            f"{self.steps} optimizer steps training the head alone with the encoder frozen; 'adapted' trains "
            "the whole model. Same seed, data order, masks and held-out documents."
            if self.head_initialized
            else "The backbone's own masked-LM head, before and after adaptation, on the same masked positions."
        )
        lines = [
            "## Domain adaptation (tasuki-mlm)",
            "",
            why,
            "",
            f"Documents: {self.documents.get('train', 0)} for training, {self.documents.get('held_out', 0)} held out.",
            "",
            f"| held-out metric | {self.baseline_name} | adapted |",
            "|---|---|---|",
            *(
                f"| {name} | {self.baseline[name]:.4f} | {self.adapted[name]:.4f} |"
                for name in METRICS
                if name in self.baseline and name in self.adapted
            ),
            "",
        ]
        return "\n".join(lines)


def load_documents(corpus: Any, *, encoding: str | None = None, text_column: str = "text") -> Dataset:
    """A corpus path (folder or file), a Hub dataset name, or a list of texts -> a dataset of documents
    (``text``; memory-mapped from tasuki's data cache for a path, so its size does not matter)."""
    from datasets import Dataset

    if isinstance(corpus, (list, tuple)):
        texts = [t.strip() for t in corpus if isinstance(t, str) and t.strip()]
        if not texts:
            raise DataError("empty corpus: no non-blank text given")
        return Dataset.from_dict({"text": texts})
    if Path(str(corpus)).expanduser().exists():
        return corpus_dataset(corpus, encoding=encoding, text_column=text_column).select_columns(["text"])
    from tasuki.plugin import load_data

    columns = {"text": text_column} if text_column != "text" else None
    dataset, source = load_data(str(corpus), MaskedLMTask, columns=columns, with_targets=False)
    dataset = dataset.select_columns(["text"]).filter(lambda t: bool(t and t.strip()), input_columns="text")
    if len(dataset) == 0:
        raise DataError(f"{source}: empty corpus: no non-blank text found")
    return dataset


def check_corpus_size(documents: Any, tokenizer: Any, max_length: int) -> int:
    """Raise :class:`DataError` if the corpus cannot fill one block of ``max_length`` tokens; return its tokens.

    ``documents``: a dataset with a ``text`` column, or :class:`Document` objects; read only until
    one block is full.
    """
    from tasuki.plugin import column_values

    body = max_length - 2  # [CLS] ... [SEP]
    total = 0
    texts = (d.text for d in documents) if isinstance(documents, list) else column_values(documents, "text")
    for text in texts:
        total += len(tokenizer(text, add_special_tokens=False)["input_ids"]) + 1  # + the [SEP] after it
        if total >= body:
            return total
    raise DataError(
        f"corpus smaller than one block: {total} tokens in {len(documents)} document(s), a block holds "
        f"{body} (max_length {max_length}). Add text, lower --max-length, or use --line-by-line"
    )


def adapt(
    corpus: Any,
    *,
    output_dir: str | Path,
    backbone: str | None = None,
    lang: str | None = None,
    max_steps: int | None = None,
    epochs: int = 1,
    held_out: float = 0.05,
    mlm_probability: float = 0.15,
    whole_word: bool = False,
    line_by_line: bool = False,
    max_length: int = 128,
    batch_size: int = 16,
    learning_rate: float = 5e-5,
    seed: int = 42,
    encoding: str | None = None,
    text_column: str = "text",
    compare: bool = True,
    progress: bool = True,
    **training_args: Any,
) -> AdaptResult:
    """Adapt ``backbone`` to ``corpus``; save the adapted model (a backbone for any task) in ``output_dir``.

    :param corpus: a folder of text files, a file, a Hub dataset name or a list of texts.
    :param backbone: default: the task's for ``lang`` (as ``tasuki train`` picks it: minilm, e5-small for Japanese).
    :param lang: ``"en"`` or ``"ja"``; default: detected from the corpus (as ``tasuki train`` detects it).
    :param held_out: share of documents held out (whole documents, fixed by ``seed``).
    :param compare: also run the baseline (before, or head-only) and write both into the model card.
    :param training_args: further :class:`tasuki.args.TrainingArgs` fields (``resume=True`` continues a
        killed run in ``output_dir``, its head-only baseline included).
    """
    import tasuki
    from tasuki.plugin import resolve_backbone

    # the options are checked (one line naming a bad one) before the corpus is read
    check_held_out(held_out)
    options = {"mlm_probability": mlm_probability, "whole_word": whole_word, "line_by_line": line_by_line}
    MaskedLMTask(lang=lang or "en", **options)
    documents = load_documents(corpus, encoding=encoding, text_column=text_column)
    train_docs, held_docs = split_documents(documents, held_out, seed)  # views of one memory-mapped table
    lang = lang or detected_language(train_docs)
    backbone_obj = resolve_backbone(backbone or MaskedLMTask.default_backbones[lang])
    max_length = min(max_length, backbone_obj.max_length)
    if not line_by_line:
        check_corpus_size(train_docs, backbone_obj.tokenizer, max_length)
    common = dict(
        eval_data=held_docs, backbone=backbone_obj, lang=lang, max_steps=max_steps, epochs=epochs,
        max_length=max_length, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
        progress=progress, **training_args,
    )
    loggers = {cls.__module__ for cls in type(backbone_obj).__mro__ if cls.__module__.startswith("tasuki")}
    with said_once({*loggers, MaskedLMTask.__module__}):  # every model load would say again that the head is new
        probe = MaskedLMTask(lang=lang, **options)
        model = probe.build_model(backbone_obj)  # loads the weights once to learn whether a pretrained head exists
        head_initialized = bool(probe.head_initialized)
        baseline: dict[str, float] = {}
        if compare and not head_initialized:
            baseline = scores(probe, model, backbone_obj.tokenizer, held_docs, max_length, batch_size * 2)
        del model
        # The head-only baseline is a stage of the adaptation's own run: in its --output, resumed with it.
        task = (HeadOnlyFirst(lang, held_docs, backbone_obj.tokenizer, **options) if compare and head_initialized
                else MaskedLMTask(lang=lang, **options))
        result = tasuki.train(task, train_docs, output_dir=output_dir, **common)
    if isinstance(task, HeadOnlyFirst):
        baseline = dict(task.baseline)
    adapted = AdaptResult(
        output_dir=Path(output_dir),
        head_initialized=head_initialized,
        baseline_name="head-only" if head_initialized else "before",
        baseline=baseline,
        adapted=dict(result.metrics),
        steps=result.global_step,
        documents={"train": len(train_docs), "held_out": len(held_docs)},
    )
    _record(adapted)
    return adapted


def detected_language(documents: Dataset) -> str:
    """``"ja"`` or ``"en"``, detected as ``tasuki train`` detects it (on the documents it will train on)."""
    from tasuki.plugin import detect_language

    lang = detect_language(documents)
    logger.info("language: %s (detected from the corpus; --lang to override)", lang)
    return lang


def evaluate_texts(
    task: MaskedLMTask, backbone: Any, texts: Sequence[str] | Dataset, max_length: int, batch_size: int
) -> dict[str, float]:
    """Held-out MLM metrics of ``backbone`` under ``task``'s head as it is now (no training).

    ``texts``: strings, or a dataset with a ``text`` column.
    """
    return scores(task, task.build_model(backbone), backbone.tokenizer, texts, max_length, batch_size)


def _record(result: AdaptResult) -> None:
    """Append the comparison to the model card and write ``adaptation.json`` beside it."""
    directory = result.output_dir
    if result.baseline:
        card = directory / "README.md"
        if card.is_file():
            text = card.read_text(encoding="utf-8")
            marker = "## Domain adaptation (tasuki-mlm)"
            text = text.split(marker)[0].rstrip() + "\n\n" + result.markdown()
            atomic_write_text(card, text)
    summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}
    atomic_write_json(directory / "adaptation.json", summary)
    # listed with the model's files, so --overwrite may replace it like the rest of the run
    metadata_file = directory / METADATA_FILE
    metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    metadata["files"] = sorted({*metadata.get("files", ()), "adaptation.json"})
    atomic_write_json(metadata_file, metadata)
