"""Tag schemes: detection, conversion to BIO, and the I- without B- rule."""

from __future__ import annotations

import pytest

from tasuki_ner.tags import Span, TagError, bio_labels, bio_spans, detect_scheme, parse_tag, spans_to_bio, to_bio


@pytest.mark.parametrize(
    ("sentences", "scheme"),
    [
        ([["B-PER", "I-PER", "O", "B-LOC"]], "bio"),
        ([["I-PER", "I-PER", "B-PER", "O"]], "iob1"),  # B- only between adjacent same-type entities
        ([["I-PER", "O", "I-LOC"]], "io"),
        ([["B-PER", "E-PER", "S-LOC"]], "bioes"),
        ([["B-PER", "L-PER", "U-LOC"]], "bioes"),  # BILOU
    ],
)
def test_detect_scheme(sentences, scheme):
    assert detect_scheme(sentences) == scheme


def test_every_scheme_converts_to_the_same_bio():
    bio = ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
    assert to_bio(["I-PER", "I-PER", "B-PER", "O", "I-LOC"], "iob1") == bio
    assert to_bio(["B-PER", "E-PER", "S-PER", "O", "S-LOC"], "bioes") == bio
    assert to_bio(bio, "bio") == bio
    assert to_bio(["I-PER", "I-PER", "O", "I-LOC"], "io") == ["B-PER", "I-PER", "O", "B-LOC"]


def test_i_without_b_is_an_error_in_bio_unless_repaired():
    with pytest.raises(TagError, match="I- tag without B-") as info:
        to_bio(["O", "I-PER", "I-PER"], "bio")
    assert info.value.position == 1
    assert to_bio(["O", "I-PER", "I-PER"], "bio", repair=True) == ["O", "B-PER", "I-PER"]
    with pytest.raises(TagError):
        to_bio(["B-LOC", "I-PER"], "bioes")  # a type change is no continuation either


def test_malformed_tags_are_rejected():
    with pytest.raises(ValueError, match="PREFIX-TYPE"):
        parse_tag("PER")
    with pytest.raises(TagError) as info:
        to_bio(["O", "X-PER"], "bio")
    assert info.value.position == 1


def test_spans_round_trip_and_labels():
    tags = ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
    spans = bio_spans(tags)
    assert spans == [Span(0, 2, "PER"), Span(2, 3, "PER"), Span(4, 5, "LOC")]
    assert spans_to_bio(5, spans) == tags
    assert bio_labels(["PER", "LOC", "PER"]) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
