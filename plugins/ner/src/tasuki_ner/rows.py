"""NER rows as users give them: pre-split tokens with tags (CoNLL, jsonl, Hub data sets with
integer tags) or a text with character-offset entities; each row checked with an error that names
the file and line or row, and turned into an :class:`~tasuki_ner.align.Example`."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from tasuki.plugin import DataError
from tasuki_ner.align import Example, join_tokens, split_at_entities, text_words
from tasuki_ner.tags import Span, TagError, detect_scheme, parse_tag, to_bio


def tag_column(row: dict[str, Any]) -> str | None:
    """The column holding a row's tags (``tags``, or ``ner_tags`` as Hub data sets name it)."""
    for column in ("tags", "ner_tags"):
        if row.get(column) is not None:
            return column
    return None

def raw_tags(row: dict[str, Any], tag_names: list[str] | None) -> list[str] | None:
    """A row's tags as written (integer tags named through the data set's ClassLabel names)."""
    column = tag_column(row)
    if column is None:
        return None
    tags = list(row[column])
    if tags and all(isinstance(t, (int, np.integer)) for t in tags):
        if tag_names is None:
            raise DataError(f"column {column!r} holds integers but the data set gives no tag names (ClassLabel)")
        tags = [tag_names[int(t)] for t in tags]
    return tags

def tag_names_of(data: Any) -> list[str] | None:
    """The ClassLabel names of a Hub data set's integer ``ner_tags``, if it has them."""
    feature = getattr(data, "features", {}).get("ner_tags") if hasattr(data, "features") else None
    names = getattr(getattr(feature, "feature", None), "names", None)
    return list(names) if names else None

def text_of(row: dict[str, Any], lang: str) -> str:
    """The text of a row (pre-split tokens joined as the model sees them)."""
    if row.get("tokens") is not None:
        return join_tokens(row["tokens"], "" if lang == "ja" else " ")[0]
    return row["text"]

def example_of(row: dict[str, Any], lang: str, tag_names: list[str] | None) -> Example:
    """Text, words and (if the row has targets) BIO word tags of one row."""
    if row.get("tokens") is not None:
        text, words = join_tokens(row["tokens"], "" if lang == "ja" else " ")
        raw = raw_tags(row, tag_names)
        tags = None
        if raw is not None:
            # every scheme converts to BIO by the same rule (tags.py) and validate() has checked
            # this data set against its own scheme, so the lenient reading is exact: nothing learnt
            # from another data set decides how this one is encoded
            tags = to_bio(raw, "iob1")
        # whitespace tokens (the corpus's full-width spaces) carry no characters a model sees
        keep = [i for i, (s, e) in enumerate(words) if text[s:e].strip()]
        words = [words[i] for i in keep]
        if tags is not None:
            tags = to_bio([tags[i] for i in keep], "iob1")
        return Example(text, words, tags)
    text = row["text"]
    words = text_words(text, lang)
    if row.get("entities") is None:
        return Example(text, words)
    spans = [entity(e) for e in row["entities"]]
    words, tags, split = split_at_entities(words, spans)
    return Example(text, words, tags, split)

def check_token_row(row: dict, number: int, source: str, with_targets: bool, tag_names: list[str] | None
                    ) -> list[str] | None:
    """Tokens (and with targets, one parseable tag per token) of a pre-split row; returns the tags."""
    tokens = row["tokens"]
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise DataError(f"{where(source, number, row)}: column 'tokens' must be a list of strings")
    if not tokens or not any(t.strip() for t in tokens):
        raise DataError(f"{where(source, number, row)}: empty sentence (no tokens)")
    if not with_targets:
        return None
    tags = raw_tags(row, tag_names)
    if tags is None:
        raise DataError(f"{where(source, number, row)}: no 'tags' for the tokens (training/evaluation needs them)")
    if len(tags) != len(tokens):
        raise DataError(f"{where(source, number, row)}: {len(tokens)} tokens but {len(tags)} tags; each token needs one tag")
    for i, tag in enumerate(tags):
        try:
            parse_tag(tag)
        except ValueError as exc:
            raise DataError(f"{where(source, number, row, i)}: {exc}") from None
    return tags

def check_text_row(row: dict, number: int, source: str, with_targets: bool, known: set[str]) -> None:
    """A text row: non-empty text; with targets, entities inside the text, of known types, not overlapping."""
    text = row.get("text")
    if not isinstance(text, str):
        raise DataError(f"{source}: row {number}, column 'text': expected text, got {text!r}")
    if not text.strip():
        raise DataError(f"{source}: row {number}, column 'text': empty text")
    if not with_targets:
        return
    entities = row.get("entities")
    if not isinstance(entities, list):
        raise DataError(f"{source}: row {number}: column 'entities' must be a list of {{start, end, type}}")
    spans = []
    for k, raw in enumerate(entities, start=1):
        where = f"{source}: row {number}, entity {k}"
        try:
            span = entity(raw)
        except ValueError as exc:
            raise DataError(f"{where}: {exc}") from None
        if not 0 <= span.start <= span.end <= len(text):
            raise DataError(
                f"{where}: offsets [{span.start}, {span.end}) lie outside the text (length {len(text)}); "
                "offsets are character positions, end exclusive"
            )
        if not text[span.start:span.end].strip():  # nothing to learn: it would vanish from the labels silently
            raise DataError(f"{where}: offsets [{span.start}, {span.end}) cover "
                            f"{'no character' if span.start == span.end else 'only spaces'} "
                            f"({text[span.start:span.end]!r}); an entity spans at least one word")
        if known and span.type not in known:
            raise DataError(f"{where}: unknown type {span.type!r}; the model knows {sorted(known)}")
        spans.append(span)
    spans.sort(key=lambda s: s.start)
    for a, b in itertools.pairwise(spans):
        if b.start < a.end:
            raise DataError(
                f"{source}: row {number}: entities {text[a.start : a.end]!r} [{a.start}, {a.end}) and "
                f"{text[b.start : b.end]!r} [{b.start}, {b.end}) overlap; nested entities are not supported"
            )


def entity(raw: Any) -> Span:
    """A character span from ``{"start", "end", "type" | "label"}`` or ``[start, end, type]``."""
    if isinstance(raw, dict):
        kind = next((raw[k] for k in ("type", "label", "entity_group") if raw.get(k) is not None), None)
        start, end = raw.get("start"), raw.get("end")
    elif isinstance(raw, (list, tuple)) and len(raw) == 3:
        start, end, kind = raw
    else:
        raise ValueError(f"expected {{'start', 'end', 'type'}} or [start, end, type], got {raw!r}")
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
        raise ValueError(f"'start' and 'end' must be integers, got {start!r} and {end!r}")
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError(f"entity needs a non-empty 'type', got {kind!r}")
    return Span(start, end, kind.strip())


def where(source: str, number: int, row: dict[str, Any], token: int | None = None) -> str:
    """``file: line N`` for CoNLL rows (which carry their first line), else ``file: row N, token K``."""
    line = row.get("line")
    if isinstance(line, int) and line > 0:
        return f"{source}: line {line + (token or 0)}"
    return f"{source}: row {number}" + (f", token {token + 1}" if token is not None else "")


def check_rows(data: Any, source: str, *, with_targets: bool, known: set[str], scheme: str | None, repair: bool,
               tag_names: list[str] | None) -> None:
    """Check every row; errors name the file and line (CoNLL) or row (jsonl) and the token or entity.

    Token rows are read in ``scheme`` (the declared one, else the scheme detected over this data
    set alone: validating one set never changes how another is encoded).
    """
    columns = set(data.column_names)
    if "tokens" not in columns and "text" not in columns:
        raise DataError(
            f"{source}: ner data needs a 'tokens' column (with 'tags') or a 'text' column (with 'entities'); "
            f"found columns {sorted(columns)}"
        )
    sentences: list[tuple[int, dict[str, Any], list[str]]] = []
    for number, row in enumerate(data, start=1):
        if row.get("tokens") is not None:
            tags = check_token_row(row, number, source, with_targets, tag_names)
            if tags is not None:
                sentences.append((number, row, tags))
        else:
            check_text_row(row, number, source, with_targets, known)
    if not sentences:
        return
    # each data set is checked in its own scheme (declared, or detected over this set alone);
    # the training scheme is what fit() saw, and validating another set never changes it
    scheme = scheme or detect_scheme([tags for _, _, tags in sentences])
    for number, row, tags in sentences:
        try:
            bio = to_bio(tags, scheme, repair=repair)
        except TagError as exc:
            raise DataError(f"{where(source, number, row, exc.position)}: {exc}") from None
        if known:
            for i, tag in enumerate(bio):
                if tag != "O" and tag[2:] not in known:
                    raise DataError(
                        f"{where(source, number, row, i)}: unknown tag {tags[i]!r}: the model knows the types "
                        f"{sorted(known)} (from its training data)"
                    )
