"""tasuki-label: a labelling loop where tasuki chooses what to label next (``tasuki label``)."""

STRATEGIES = ("diverse", "uncertainty", "typical", "random")
"""How the next texts are chosen (:mod:`tasuki_label.selection`); here so the CLI names them without numpy."""

DEFAULT_STRATEGY = "typical"
"""The page's and ``suggest``'s choice when none is given: ``bench/active.py`` measured it above ``uncertainty`` at 32 and
64 labels in English and Japanese (``bench/RESULTS.md``)."""
