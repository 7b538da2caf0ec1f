"""Build the packaged SQuAD v2-format sets from the hand-written sources in ``data_src/``.

Source format, one article per ``## Title`` block: the context paragraph(s), then one line
per question, ``? question | answer`` (the answer's first occurrence in the context;
``? question | answer | text`` for its first occurrence after ``text``) or
``? question | -`` (unanswerable). Whole articles are held out for the test split, so no
test context is seen in training.

    python plugins/qa/scripts/build_data.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
TEST_TITLES = {
    "en": {"Nile", "Penicillin", "Coffee", "DNA", "First World War"},
    "ja": {"桜", "地震", "太陽系"},
}


def parse(text: str, lang: str) -> list[dict]:
    """Articles in SQuAD v2 layout, answer offsets located in the context."""
    articles = []
    for block in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        lines = block.strip().splitlines()
        title = lines[0].strip()
        context_lines = [ln for ln in lines[1:] if ln.strip() and not ln.startswith("?")]
        context = ("" if lang == "ja" else "\n").join(ln.strip() for ln in context_lines)
        qas = []
        for n, line in enumerate(ln for ln in lines[1:] if ln.startswith("?")):
            question, answer, *after = (part.strip() for part in line[1:].split("|"))
            qid = f"{lang}-{len(articles):02d}-{n:02d}"
            if answer == "-":
                qas.append({"id": qid, "question": question, "answers": [], "is_impossible": True})
                continue
            # "| after" picks a later occurrence: the first one after that text
            start = context.find(answer, context.index(after[0]) + len(after[0]) if after else 0)
            if start < 0:
                raise SystemExit(f"{title}: answer {answer!r} not in context")
            qas.append(
                {"id": qid, "question": question, "answers": [{"text": answer, "answer_start": start}], "is_impossible": False}
            )
        articles.append({"title": title, "paragraphs": [{"context": context, "qas": qas}]})
    return articles


def main() -> None:
    for lang in ("en", "ja"):
        articles = parse((HERE / "data_src" / f"{lang}.txt").read_text(encoding="utf-8"), lang)
        for split in ("train", "test"):
            chosen = [a for a in articles if (a["title"] in TEST_TITLES[lang]) == (split == "test")]
            out = HERE / "src" / "tasuki_qa" / "data" / f"{lang}_{split}.json"
            out.write_text(json.dumps({"version": "v2.0", "data": chosen}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            qas = [q for a in chosen for p in a["paragraphs"] for q in p["qas"]]
            print(
                f"{out.name}: {len(chosen)} articles, {len(qas)} questions, {sum(q['is_impossible'] for q in qas)} unanswerable"
            )


if __name__ == "__main__":
    main()
