"""tasuki-mlm: masked-language-model domain adaptation for tasuki.

The ``mlm`` task adapts an encoder to a domain corpus (token or whole-word masking, with
Japanese words from MeCab), reports held-out perplexity and masked-token accuracy, fills
``[MASK]`` tokens, and saves a directory that every other task accepts as ``--backbone``.
``tasuki adapt CORPUS`` runs the honest comparison: head-only versus full adaptation.
"""

from __future__ import annotations

__version__ = "0.1.0"
