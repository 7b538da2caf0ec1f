"""tasuki-label: a labelling loop where tasuki chooses what to label next (``tasuki label``)."""
