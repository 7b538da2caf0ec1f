"""tasuki-label: a labelling loop where tasuki chooses what to label next (``tasuki label``)."""

STRATEGIES = ("diverse", "uncertainty", "typical", "random")
"""How the next texts are chosen (:mod:`tasuki_label.selection`); here so the CLI names them without numpy."""

DEFAULT_STRATEGY = "typical"
"""The page's and ``suggest``'s choice when none is given: ``bench/active.py`` measured it above ``uncertainty`` at 32 and
64 labels in English and Japanese (``bench/RESULTS.md``)."""

TASKS = {"classify": ("text",), "classify-pairs": ("text", "text_pair")}
"""The tasks ``tasuki label`` labels for, and the text columns of one item: a text, or a pair of texts (a tuple
``(text, text_pair)`` everywhere an item is a key: the pool, the labels file's rows, the caches)."""


def item_fields(item: str | tuple[str, ...]) -> dict[str, str]:
    """An item as the columns of a row: ``{"text": ...}`` or ``{"text": ..., "text_pair": ...}``."""
    return {"text": item} if isinstance(item, str) else dict(zip(TASKS["classify-pairs"], item))
