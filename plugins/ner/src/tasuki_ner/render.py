"""Entity-highlighted text for people: ANSI colours for a terminal, or a standalone HTML page."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

_ANSI = ["\033[1;30;43m", "\033[1;30;46m", "\033[1;30;42m", "\033[1;37;45m", "\033[1;37;44m", "\033[1;30;47m"]
_RESET = "\033[0m"
_HTML = ["#ffe08a", "#9ee6f0", "#b5e7a0", "#f4b6e3", "#b9c8ff", "#ffc7a8", "#d6d6d6", "#e0c3fc"]


def _colours(types: Sequence[str], palette: Sequence[str]) -> dict[str, str]:
    """The same type gets the same colour within one rendering (types sorted)."""
    return {kind: palette[i % len(palette)] for i, kind in enumerate(sorted(set(types)))}


def _pieces(text: str, entities: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any] | None]]:
    """The text cut into plain runs and entity runs (overlaps skipped: entities are disjoint)."""
    pieces: list[tuple[str, dict[str, Any] | None]] = []
    cursor = 0
    for entity in sorted(entities, key=lambda e: e["start"]):
        if entity["start"] < cursor:
            continue
        pieces.append((text[cursor : entity["start"]], None))
        pieces.append((text[entity["start"] : entity["end"]], entity))
        cursor = entity["end"]
    pieces.append((text[cursor:], None))
    return [(s, e) for s, e in pieces if s]


def to_terminal(text: str, entities: Sequence[dict[str, Any]], *, colour: bool = True) -> str:
    """The text with each entity highlighted and followed by its type; ``[text|TYPE]`` without colour."""
    colours = _colours([e["type"] for e in entities], _ANSI)
    out = []
    for piece, entity in _pieces(text, entities):
        if entity is None:
            out.append(piece)
        elif colour:
            out.append(f"{colours[entity['type']]} {piece} \033[2m{entity['type']}{_RESET}")
        else:
            out.append(f"[{piece}|{entity['type']}]")
    return "".join(out)


def to_html(items: Sequence[tuple[str, Sequence[dict[str, Any]]]], title: str = "tasuki ner") -> str:
    """A standalone HTML page: one paragraph per text, entities as labelled marks with their score."""
    colours = _colours([e["type"] for _, ents in items for e in ents], _HTML)
    paragraphs = []
    for text, entities in items:
        parts = []
        for piece, entity in _pieces(text, entities):
            if entity is None:
                parts.append(html.escape(piece))
                continue
            parts.append(
                f'<mark style="background:{colours[entity["type"]]}" title="score {entity["score"]:.3f}">'
                f"{html.escape(piece)}<span class=t>{html.escape(entity['type'])}</span></mark>"
            )
        paragraphs.append(f"<p>{''.join(parts)}</p>")
    legend = " ".join(f'<mark style="background:{c}">{html.escape(k)}</mark>' for k, c in colours.items())
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:2.2}"
        "mark{padding:.15em .35em;border-radius:.3em}"
        ".t{font-size:.65em;font-weight:bold;margin-left:.4em;opacity:.7}"
        f"</style></head><body><h1>{html.escape(title)}</h1><p>{legend}</p>{''.join(paragraphs)}</body></html>\n"
    )
