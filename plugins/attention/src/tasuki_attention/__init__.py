"""tasuki-attention: the Transformer encoder written out by hand, in numpy and in torch.

- :mod:`tasuki_attention.numpy_ref`: softmax, scaled dot-product and multi-head attention,
  sinusoidal positions, in plain numpy (the readable reference).
- :mod:`tasuki_attention.modules`: the same as ``torch.nn`` modules, one concept per class,
  up to an :class:`~tasuki_attention.modules.Encoder`.
- :mod:`tasuki_attention.model`: :class:`~tasuki_attention.model.ScratchEncoder` and its
  ``transformers`` wrappers (``tasuki-scratch`` model type, with MLM / classification / token /
  QA heads), registered with the ``Auto*`` classes on import.
- :mod:`tasuki_attention.backbone`: the ``scratch`` backbone (``--backbone scratch:...``).
- :mod:`tasuki_attention.plots`: positional-encoding and attention heatmaps.
"""

from __future__ import annotations

__version__ = "0.1.0"
