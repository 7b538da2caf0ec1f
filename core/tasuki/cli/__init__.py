"""The ``tasuki`` command line: one module per subcommand; plugins add theirs via a hook."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Any

import click

from tasuki import __version__
from tasuki.errors import TasukiError


class TasukiGroup(click.Group):
    """A group that adds plugin subcommands on first use and prints tasuki errors cleanly."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if not self._plugins_added:
            self._plugins_added = True
            from tasuki.registry import get_registry

            try:
                get_registry().add_commands(self)
            except TasukiError as exc:  # e.g. a clash: core commands still work and say why
                click.echo(f"warning: plugins not loaded: {exc}", err=True)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            self._add_plugin_commands()
            command = super().get_command(ctx, name)
        return command

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and not isinstance(command, click.Group):
            _refuse_repeated_options(command, rest, click.Context(command, info_name=name, parent=ctx))
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TasukiError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=TasukiGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tasuki")
def cli() -> None:
    """tasuki: fine-tune, evaluate and serve NLP models in English and Japanese.

    Tasks come from plugins ('tasuki plugins' lists them); every task trains, evaluates
    and predicts through the same commands.
    """
    _show_tasuki_messages()


def _refuse_repeated_options(command: click.Command, args: list[str], ctx: click.Context) -> None:
    """A single-value option given twice (``--data a.csv --data b.csv``) is refused: click keeps the last, so the
    first file was dropped without a word. A repeatable option (``--option``, ``--column``) may repeat."""
    single = {opt: option for option in command.params if isinstance(option, click.Option) and not option.multiple
              and not option.count for opt in option.opts + option.secondary_opts}
    seen: dict[str, str] = {}
    for arg in args:
        if arg == "--":
            break
        option = single.get(arg.split("=", 1)[0])
        if option is None:
            continue
        spelt = arg.split("=", 1)[0]
        if option.name in seen:
            also = "" if spelt == seen[option.name] else f" (as {spelt} too)"
            raise click.UsageError(f"{seen[option.name]} is given twice{also}: the first would be dropped; give it once",
                                   ctx)
        seen[option.name] = spelt


def _show_tasuki_messages() -> None:
    """tasuki's own INFO messages (detected language, new head weights...) and its plugins' (the recipe a task
    chose, multi-label found in the data...) go to stderr, once; every library's warnings as before (one line,
    the message); warnings print as one line, without the path of the library line that raised them.

    Under ``torchrun`` / ``accelerate launch`` only the first process says tasuki's messages: every process
    would say the same line, and errors still come from each.
    """
    import warnings

    from tasuki.devices import world

    warnings.formatwarning = lambda message, category, *args, **kwargs: f"warning: {message}\n"
    root = logging.getLogger()
    if not any(isinstance(f, _TasukiMessages) for h in root.handlers for f in h.filters):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(_TasukiMessages(first_process=world()[0] == 0))
        root.addHandler(handler)
        root.setLevel(min(root.getEffectiveLevel(), logging.INFO))


class _StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is when a message comes (like Python's last-resort handler), not as it was
    when the handler was made: a test's captured stream, or click's while it runs a command, may be gone since."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _TasukiMessages(logging.Filter):
    """Passes INFO and above from tasuki and the modules of its plugins (the ``tasuki`` entry points: a plugin
    logs under its own module's name, ``tasuki_classify.task``), and WARNING and above from anything else
    (what Python's last-resort handler printed before this one took its place). Other processes than the first
    pass only tasuki's errors."""

    def __init__(self, first_process: bool) -> None:
        super().__init__()
        from importlib.metadata import entry_points

        from tasuki.registry import ENTRY_POINT_GROUP

        self.ours = {"tasuki"} | {ep.module.split(".")[0] for ep in entry_points(group=ENTRY_POINT_GROUP)}
        self.least = logging.INFO if first_process else logging.ERROR

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] in self.ours:
            return record.levelno >= self.least
        return record.levelno >= logging.WARNING


def _register_core_commands() -> None:
    from tasuki.cli import doctor, evaluate, export, plugins, predict, serve, tasks, train

    for module in (plugins, tasks, train, evaluate, predict, export, serve, doctor):
        cli.add_command(module.command)


_register_core_commands()


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="tasuki")
    except SystemExit as exc:
        if _close_process_group():
            _exit_now(exc.code)
        raise
    except BaseException:
        _close_process_group()
        raise


def _close_process_group() -> bool:
    """Under torchrun / accelerate launch, leave the process group; True if there was one."""
    if "torch.distributed" not in sys.modules:
        return False
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
        return True
    return False


def _exit_now(code: object) -> None:
    """Exit a distributed run without interpreter shutdown.

    At shutdown a C++ thread of torch's distributed runtime can still be joinable when its
    destructor runs, which aborts the process ("terminate called without an active exception",
    SIGABRT); the launcher then fails a run that had finished and saved its model (seen about once
    in five 2-process runs, even after leaving the process group). By now every file is written
    and renamed into place; only the streams need flushing.
    """
    if isinstance(code, str):
        print(code, file=sys.stderr)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))
