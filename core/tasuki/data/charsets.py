"""Which encoding a file that did not decode is likely in: the advice of the decoding error.

Only on that error path. Each candidate decodes a sample of the file; of those that decode, the one whose text
looks most like text (ASCII, Japanese script, accented Latin letters; not half-width katakana or stray symbols) is
named. A Japanese file in EUC-JP was told to try latin-1, which decodes anything: a user who followed the advice
trained on mojibake.
"""

from __future__ import annotations

import codecs
from pathlib import Path

CANDIDATES = {"utf-8": "UTF-8", "cp932": "Shift-JIS (cp932) Japanese", "euc_jp": "EUC-JP Japanese",
              "cp1252": "Western European (cp1252, a superset of latin-1)"}
"""The encodings tried, with the words the advice names them by."""
SAMPLE = 1 << 20
LIKELY = 0.95
"""The share of a sample's characters that must look like text for its encoding to be named."""


def encoding_advice(path: Path, tried: str | None) -> str:
    """The sentence that ends a decoding error: the encoding the file reads as, or the usual ones to try."""
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE)
    best = likely_encoding(sample, tried or "utf-8")
    if best is not None:
        return (f"It reads as {CANDIDATES[best]}: pass --encoding {best} (Python: encoding='{best}')")
    return ("Pass the file's encoding, e.g. --encoding cp932 (Python: encoding='cp932') for Shift-JIS Japanese, "
            "euc_jp for EUC-JP, cp1252 for Western European")


def likely_encoding(sample: bytes, tried: str) -> str | None:
    """The candidate (other than ``tried``) that decodes ``sample`` into the most text-like characters, if their
    share reaches :data:`LIKELY`."""
    tried_name = codecs.lookup(tried).name
    scored = []
    for name in CANDIDATES:
        if codecs.lookup(name).name == tried_name:
            continue
        try:  # not final: a character cut at the sample's end is no error
            text = codecs.getincrementaldecoder(name)().decode(sample)
        except UnicodeDecodeError:
            continue
        scored.append((_textlike(text), name))
    score, name = max(scored, default=(0.0, None))
    return name if score >= LIKELY else None


def _textlike(text: str) -> float:
    """The share of the characters beyond ASCII that are Japanese script or accented Latin letters (ASCII decodes
    alike in every candidate, so it tells nothing)."""
    beyond = [c for c in text if ord(c) > 0x7F]
    if not beyond:
        return 0.0
    return sum(_is_letter(ord(c)) for c in beyond) / len(beyond)


def _is_letter(code: int) -> bool:
    return ((0xC0 <= code <= 0xFF and code not in (0xD7, 0xF7))  # accented Latin letters, not × ÷
            or 0x3000 <= code <= 0x30FF  # CJK punctuation, hiragana, katakana
            or 0x4E00 <= code <= 0x9FFF  # CJK ideographs
            or 0xFF01 <= code <= 0xFF5E  # full-width ASCII
            or code in (0x2018, 0x2019, 0x201C, 0x201D, 0x2013, 0x2014, 0x2026, 0x20AC))  # cp1252's quotes, dashes, €
