"""Code that comes with a model runs only when the user says so.

A Hugging Face directory can ask ``transformers`` to import Python modules shipped beside its
weights (``auto_map`` in ``config.json`` or ``tokenizer_config.json``). tasuki never runs them
without ``trust_remote_code=True`` (CLI ``--trust-remote-code``), and never asks on stdin:
without the flag such a directory is refused with one line naming the file and the flag.

Training never starts from such a backbone (:func:`check_trainable`): the trained model would need
the same code, and tasuki never runs code shipped with a trained model directory, so predict,
evaluate, serve and export could not load it. The flag is for using a backbone as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
    found = code_files(lambda name: directory / name)
    if found:
        path, modules = found
        advice = ("tasuki runs it only with --trust-remote-code (Python: trust_remote_code=True), after you have read it"
                  if flag else "tasuki never runs code shipped with a trained model directory")
        raise RemoteCodeError(f"{path}: the model asks to run its own Python code ({modules}); {advice}")


def check_trainable(backbone: object) -> None:
    """Refuse, before training, a backbone that runs its own code: the trained model would carry the same
    ``auto_map``, and predict, evaluate, serve and export never run code shipped with a model directory."""
    directory = getattr(backbone, "directory", None)
    name = getattr(backbone, "name_or_path", None)
    if directory is not None:
        found = code_files(lambda file: directory / file)
    elif name:  # a Hub id: its config, when the Hub can be reached
        found = code_files(lambda file: _hub_file(name, file, getattr(backbone, "revision", None)))
    else:
        found = None
    if found:
        path, modules = found
        raise RemoteCodeError(
            f"{path}: backbone {getattr(backbone, 'spec', name)!r} asks to run its own Python code ({modules}); tasuki does "
            f"not train on it, since tasuki never runs code shipped with a trained model, so predict, evaluate, "
            f"serve and export could not load the result: choose a backbone transformers supports without code"
        )


def code_files(locate: Callable[[str], Path | None]) -> tuple[Path, str] | None:
    """The first of :data:`CODE_FILES` (found by ``locate``) with an ``auto_map``, and the modules it names."""
    for name in CODE_FILES:
        path = locate(name)
        try:
            config = json.loads(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else {}
        except (OSError, ValueError):
            continue  # the loader reports an unreadable file itself
        auto_map = config.get("auto_map") if isinstance(config, dict) else None
        if auto_map and path is not None:
            return path, ", ".join(sorted({str(v).split(".")[0] + ".py" for v in _values(auto_map)}))
    return None


def _hub_file(repo: str, name: str, revision: str | None) -> Path | None:
    """A file of a Hub model (downloaded or cached), or None where there is none or the Hub cannot be reached."""
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo, name, revision=revision))
    except Exception:  # not there, offline, not a Hub id: the backbone's own loading says what is wrong
        return None


def _values(mapping: object) -> list[str]:
    if isinstance(mapping, dict):
        return [v for value in mapping.values() for v in _values(value)]
    if isinstance(mapping, (list, tuple)):
        return [v for value in mapping for v in _values(value) if v]
    return [mapping] if isinstance(mapping, str) and mapping else []
