"""Japanese tokenization speed: tasuki's MeCab-with-offsets path vs ``BertJapaneseTokenizer``.

Sentences: the sentiment plugin's shipped Japanese reviews and the hironsan NER corpus
(sentences rebuilt from its MeCab words), cycled and varied (pairs joined) to ``n``
sentences, NFKC-normalized up front (``BertJapaneseTokenizer``'s MeCab step normalizes,
tasuki keeps the raw text for offsets: normalizing first makes both see the same string).

Vocabulary: built here from the corpus's MeCab words: the 3,000 most frequent words, then
every character as a word start and as a ``##`` continuation.

- tasuki: ``tasuki.japanese.word_spans`` (MeCab surfaces + character offsets), then
  ``tasuki.japanese.WordPieces`` (a fast ``tokenizers`` WordPiece over each distinct word once,
  offsets into the text), ``[CLS] ... [SEP]``.
- MeCab alone (a note, not a contender): fugashi's word surfaces, the floor of any MeCab path.
- reference: ``BertJapaneseTokenizer(word_tokenizer_type="mecab",
  mecab_kwargs={"mecab_dic": "unidic_lite"})`` with the same vocab file.

Both must give identical ids for every sentence (checked and reported).
"""

from __future__ import annotations

import random
import tempfile
import unicodedata
from collections import Counter
from importlib.util import find_spec
from pathlib import Path

from bench.harness import Row, median_runs

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _hironsan_sentences() -> list[str]:
    spec = find_spec("hironsan")
    if spec is None or not spec.submodule_search_locations:
        return []
    path = Path(next(iter(spec.submodule_search_locations)), "corpus", "iob_sents.txt")
    if not path.is_file():
        return []
    sentences, words = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if words:
                sentences.append("".join(words))
            words = []
            continue
        words.append(line.split("\t")[0])
    if words:
        sentences.append("".join(words))
    return sentences


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` NFKC-normalized Japanese sentences: real ones, then random pairs of them."""
    from tasuki_sentiment.datasets import japanese_rows

    base = [r["text"] for split in ("train", "test") for r in japanese_rows(split)] + _hironsan_sentences()
    base = [unicodedata.normalize("NFKC", s) for s in base if s.strip()]
    rng = random.Random(seed)
    out = list(base[:n])
    while len(out) < n:
        out.append(rng.choice(base) + rng.choice(base))
    return out


def build_vocab(texts: list[str], directory: Path, words: int = 3000) -> Path:
    """Write a WordPiece ``vocab.txt`` (frequent MeCab words + every character, start and ``##``)."""
    from tasuki.japanese import split_words

    counts: Counter[str] = Counter()
    chars: set[str] = set()
    for text in texts:
        for w in split_words(text):
            counts[w.text] += 1
            chars.update(w.text)
    vocab = list(SPECIAL)
    seen = set(vocab)
    for token in [*(w for w, _ in counts.most_common(words)), *sorted(chars), *("##" + c for c in sorted(chars))]:
        if token not in seen:
            seen.add(token)
            vocab.append(token)
    path = directory / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return path


class MecabWordPiece:
    """tasuki's composition: MeCab word spans, then WordPiece ids and offsets per distinct word.

    ``tasuki.japanese.word_spans`` (surfaces and start offsets, one MeCab string per text) and
    ``tasuki.japanese.WordPieces`` (a Rust WordPiece over each distinct word once, offsets into
    the text). A fresh object per call: its word cache starts empty, as it would for a new dataset.
    """

    def __init__(self, vocab_file: Path) -> None:
        from tokenizers import Tokenizer, models

        self.vocab = {t: i for i, t in enumerate(vocab_file.read_text(encoding="utf-8").splitlines())}
        self.tokenizer = Tokenizer(models.WordPiece(self.vocab, unk_token="[UNK]", max_input_chars_per_word=100))

    def __call__(self, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """``(ids, offsets into the text)`` for each of ``texts``, ``[CLS] ... [SEP]`` included."""
        from tasuki.japanese import WordPieces

        pieces = WordPieces(self.tokenizer, prefix=[self.vocab["[CLS]"]], suffix=[self.vocab["[SEP]"]])
        return [pieces.encode(t) for t in texts]


def run(quick: bool = False) -> list[Row]:
    """Texts/s of both paths on the same sentences, and whether their ids are identical."""
    from transformers import BertJapaneseTokenizer

    n = 1000 if quick else 10_000
    texts = sentences(n)
    from tasuki.japanese import tagger

    mecab = tagger()
    with tempfile.TemporaryDirectory(prefix="tasuki-bench-ja-") as tmp:
        vocab_file = build_vocab(texts[:2000], Path(tmp))
        ours = MecabWordPiece(vocab_file)
        reference = BertJapaneseTokenizer(vocab_file=str(vocab_file), word_tokenizer_type="mecab",
                                          mecab_kwargs={"mecab_dic": "unidic_lite"})
        seconds, results = median_runs(
            {"tasuki": lambda: [ids for ids, _ in ours(texts)],
             "reference": lambda: reference(texts)["input_ids"],
             "mecab": lambda: [[n.surface for n in mecab(t)] for t in texts]},
            repeats=1 if quick else 3, warmup=1)
    same = sum(a == b for a, b in zip(results["tasuki"], results["reference"]))
    note = (f"{n} sentences, identical ids {same}/{n}; MeCab alone (fugashi surfaces) "
            f"{seconds['reference'] / seconds['mecab']:.2f}x the reference")
    return [Row("ja-tokenization", "texts/s, MeCab + WordPiece", n / seconds["tasuki"], n / seconds["reference"],
                "texts/s", "higher", "BertJapaneseTokenizer (mecab, wordpiece)", note=note,
                extra={"identical_ids": same, "sentences": n, "mecab_texts_per_s": n / seconds["mecab"]})]
