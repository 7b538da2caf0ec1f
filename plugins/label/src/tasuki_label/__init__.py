"""tasuki-label: a labelling loop where tasuki chooses what to label next (``tasuki label``)."""

STRATEGIES = ("diverse", "uncertainty", "typical", "random")
"""How the next texts are chosen (:mod:`tasuki_label.selection`); here so the CLI names them without numpy."""
