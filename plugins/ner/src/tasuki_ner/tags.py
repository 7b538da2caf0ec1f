"""Tag schemes: IO, IOB1, BIO (IOB2) and BIOES/BILOU, read and converted to BIO.

Every scheme converts to BIO with the same rule (a BIO sequence passes unchanged):
``E-``/``L-`` become ``I-``, ``S-``/``U-`` become ``B-``, and an ``I-X`` that does not
continue an ``X`` entity becomes ``B-X``. What differs between schemes is only whether
that last case is legal: in IO and IOB1 an entity may start with ``I-``; in BIO and BIOES
it is an "I- tag without B-", an error unless the user asks for the repair.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SCHEMES = ("auto", "io", "iob1", "bio", "bioes")
"""Values of the ``scheme`` option; ``iob2`` is accepted as another name of ``bio``."""

_TAG = re.compile(r"^(?:O|([BIESLU])-(.+))$")


class TagError(ValueError):
    """A tag sequence that breaks its scheme; ``position`` is the offending token's index."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Span:
    """An entity over tokens ``[start, end)`` (token indices, or characters where documented)."""

    start: int
    end: int
    type: str


def parse_tag(tag: str) -> tuple[str, str]:
    """``"B-PER" -> ("B", "PER")``, ``"O" -> ("O", "")``; anything else raises :class:`ValueError`."""
    match = _TAG.match(tag) if isinstance(tag, str) else None
    if match is None:
        raise ValueError(f"tag {tag!r} is not 'O' or PREFIX-TYPE with PREFIX one of B, I, E, S (or L, U)")
    if tag == "O":
        return "O", ""
    return match.group(1), match.group(2)


def normalize_scheme(scheme: str) -> str:
    """Check a ``scheme`` option value; ``iob2`` means ``bio``."""
    scheme = scheme.lower()
    scheme = {"iob2": "bio", "bilou": "bioes", "iobes": "bioes"}.get(scheme, scheme)
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; choose one of {', '.join(SCHEMES)} (or iob2)")
    return scheme


def detect_scheme(sentences: Sequence[Sequence[str]]) -> str:
    """Guess the scheme of a whole data set (tags must parse).

    ``E-``/``S-``/``L-``/``U-`` anywhere: BIOES. No ``B-`` at all: IO. A ``B-`` that starts an
    entity after ``O`` or another type: BIO. ``B-`` only between two adjacent entities of one
    type (its IOB1 use): IOB1.
    """
    parsed = [[parse_tag(tag) for tag in tags] for tags in sentences]
    if any(prefix in "ESLU" for tags in parsed for prefix, _ in tags):
        return "bioes"
    saw_b = False
    for tags in parsed:
        previous_kind = ""
        for prefix, kind in tags:
            if prefix == "B":
                saw_b = True
                if previous_kind != kind:
                    return "bio"
            previous_kind = kind
    return "iob1" if saw_b else "io"


def to_bio(tags: Sequence[str], scheme: str = "bio", *, repair: bool = False) -> list[str]:
    """Convert one sentence's tags to BIO.

    :param scheme: the scheme the tags are in (not ``auto``: detect it first).
    :param repair: in BIO/BIOES, read an ``I-`` tag without ``B-`` as ``B-`` instead of raising.
    :raises TagError: a malformed tag, or (BIO/BIOES, no repair) an ``I-`` tag without ``B-``.
    """
    out: list[str] = []
    open_kind = ""  # the type of the entity the next I-/E- tag may continue
    for i, tag in enumerate(tags):
        try:
            prefix, kind = parse_tag(tag)
        except ValueError as exc:
            raise TagError(str(exc), i) from None
        if prefix == "O":
            out.append("O")
            open_kind = ""
        elif prefix in "BSU":
            out.append("B-" + kind)
            open_kind = kind if prefix == "B" else ""
        else:  # I, E, L continue an entity of the same type
            continues = open_kind == kind
            if not continues and scheme in ("bio", "bioes") and not repair:
                raise TagError(
                    f"tag {tag!r} continues an entity that never started (I- tag without B-); "
                    f"fix the data, declare scheme 'iob1' or 'io', or repair it as B-{kind} (repair=True)",
                    i,
                )
            out.append(("I-" if continues else "B-") + kind)
            open_kind = kind if prefix == "I" else ""
    return out


def bio_spans(tags: Sequence[str]) -> list[Span]:
    """Entity spans of a BIO sequence (token indices, end exclusive)."""
    spans: list[Span] = []
    start, kind = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, tag_kind = ("O", "") if tag == "O" else (tag[0], tag[2:])
        if kind and (prefix != "I" or tag_kind != kind):
            spans.append(Span(start, i, kind))
            kind = ""
        if prefix == "B" or (prefix == "I" and not kind):
            start, kind = i, tag_kind
    return spans


def spans_to_bio(n: int, spans: Sequence[Span]) -> list[str]:
    """BIO tags for ``n`` tokens with the given non-overlapping spans."""
    tags = ["O"] * n
    for span in spans:
        tags[span.start] = "B-" + span.type
        for i in range(span.start + 1, span.end):
            tags[i] = "I-" + span.type
    return tags


def bio_labels(types: Sequence[str]) -> list[str]:
    """The label list of a model: ``O`` first, then ``B-``/``I-`` per type in sorted order."""
    labels = ["O"]
    for kind in sorted(set(types)):
        labels += ["B-" + kind, "I-" + kind]
    return labels
