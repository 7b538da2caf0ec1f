"""Code that comes with a model runs only when the user says so.

A Hugging Face directory can ask ``transformers`` to import Python modules shipped beside its
weights (``auto_map`` in ``config.json`` or ``tokenizer_config.json``). tasuki never runs them
without ``trust_remote_code=True`` (CLI ``--trust-remote-code``), and never asks on stdin:
without the flag such a directory is refused with one line naming the file and the flag.
"""

from __future__ import annotations

import json
from pathlib import Path

from tasuki.errors import TasukiError

CODE_FILES = ("config.json", "tokenizer_config.json", "preprocessor_config.json")


class RemoteCodeError(TasukiError):
    """A model asks to run its own Python code and the user did not allow it."""


def check_remote_code(source: str | Path, trust_remote_code: bool, *, flag: bool = True) -> None:
    """Refuse a local model directory that needs its own code, unless ``trust_remote_code``.

    :param flag: whether the caller can run such code with the flag (backbones can; trained models never do).
    """
    directory = Path(str(source)).expanduser()
    if trust_remote_code or not directory.is_dir():
        return
    for name in CODE_FILES:
        path = directory / name
        try:
            config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (OSError, ValueError):
            continue  # the loader reports an unreadable file itself
        auto_map = config.get("auto_map") if isinstance(config, dict) else None
        if auto_map:
            modules = sorted({str(v).split(".")[0] for v in _values(auto_map)})
            advice = ("tasuki runs it only with --trust-remote-code (Python: trust_remote_code=True), after you have read it"
                      if flag else "tasuki never runs code shipped with a trained model directory")
            raise RemoteCodeError(
                f"{path}: the model asks to run its own Python code ({', '.join(m + '.py' for m in modules)}); {advice}"
            )


def _values(mapping: object) -> list[str]:
    if isinstance(mapping, dict):
        return [v for value in mapping.values() for v in _values(value)]
    if isinstance(mapping, (list, tuple)):
        return [v for value in mapping for v in _values(value) if v]
    return [mapping] if isinstance(mapping, str) and mapping else []
