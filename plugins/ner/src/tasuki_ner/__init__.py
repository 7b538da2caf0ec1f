"""tasuki-ner: named entity recognition for tasuki (English and Japanese).

The task is :class:`tasuki_ner.task.NerTask`, registered as ``ner``.
"""

from __future__ import annotations

__version__ = "0.1.0"
