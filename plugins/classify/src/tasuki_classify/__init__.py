"""tasuki-classify: the ``classify`` task, single- and multi-label text classification."""
