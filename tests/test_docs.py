"""The documentation's examples use commands, flags and arguments that exist.

Every ``tasuki ...`` line in a shell block of README.md, docs/*.md and plugins/*/README.md is
resolved against the real click commands (a documented flag that does not exist, or a missing
required option, fails here; the example paths need not exist), and the keyword arguments of
the README's ``tasuki.train(...)`` call are checked against ``tasuki.train`` and
:class:`~tasuki.args.TrainingArgs`.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import shlex
from pathlib import Path

import click
import pytest

from tasuki.args import TrainingArgs
from tasuki.cli import cli

pytestmark = pytest.mark.integration  # plugin commands (sentiment demo, ner show...) need the plugins

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted(ROOT.glob("plugins/*/README.md"))]


def shell_commands(path: Path) -> list[str]:
    """``tasuki ...`` command lines in the file's sh/bash/console blocks (continuations joined, comments cut)."""
    text = path.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```(?:sh|bash|console|shell)\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            line = re.sub(r"\s+#\s.*$", "", line)
            for part in _commands_of(line):
                words = part.split()
                while words and "=" in words[0] and not words[0].startswith("-"):
                    words = words[1:]  # VAR=value prefixes
                if words and (words[0] == "tasuki" or words[0].endswith("/tasuki")):
                    found.append(" ".join(words))
    return found


def _commands_of(line: str) -> list[str]:
    """The commands of a shell line joined by ``|``, ``&&`` or ``;``; a ``|`` in quotes (a separator) is no pipe."""
    parts, current, quote = [], "", ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "|;" or line.startswith("&&", i):
            parts.append(current)
            current = ""
            continue
        elif char == "&" and i and line[i - 1] == "&":
            continue
        current += char
    return [part.strip() for part in [*parts, current] if part.strip()]


def resolve(words: list[str]) -> tuple[click.Command, list[str], str]:
    """The click command a line calls, and its remaining words."""
    command: click.Command = cli
    path = "tasuki"
    cli._plugins_added = False  # add the installed plugins' commands, whatever registry an earlier test added from
    with click.Context(cli) as ctx:
        while isinstance(command, click.Group) and words and not words[0].startswith("-"):
            sub = command.get_command(ctx, words[0])
            assert sub is not None, f"{path} has no subcommand {words[0]!r}"
            command, path, words = sub, f"{path} {words[0]}", words[1:]
    return command, words, path


CASES = [(path.relative_to(ROOT), line) for path in DOCS for line in shell_commands(path)]


@pytest.mark.parametrize("source, line", CASES, ids=[f"{p}:{line[:50]}" for p, line in CASES])
def test_documented_command_parses(source: Path, line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    words = [w for w in shlex.split(line)[1:] if not (w.startswith("[") and w.endswith("]"))]  # [--optional]
    command, rest, path = resolve(words)
    for param in command.params:  # the examples' paths are not on this disk: check the line, not the files
        if isinstance(param.type, click.Path):
            monkeypatch.setattr(param.type, "exists", False)
    with click.Context(command) as ctx:
        try:
            command.parse_args(ctx, list(rest))
        except click.UsageError as exc:  # any: a missing required option or argument too
            raise AssertionError(f"{source}: `{line}`: {path}: {exc.format_message()}") from None


def test_docs_have_commands() -> None:
    assert len(CASES) > 15, CASES


def test_readme_python_example_uses_real_arguments() -> None:
    import tasuki

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    allowed = set(inspect.signature(tasuki.train).parameters) | {f.name for f in dataclasses.fields(TrainingArgs)}
    calls = [node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr == "train"]
    assert calls
    for call in calls:
        unknown = {k.arg for k in call.keywords} - allowed
        assert not unknown, f"README's tasuki.train(...) passes {unknown}, which tasuki.train does not take"
