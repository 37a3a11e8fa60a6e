"""argparse with the CLI's own exit code (2) and error style, and the dispatch of
command groups (`tools`, `seed`, `cache`, `agent-config`): every usage error names
the full command path, so its hint is a command that exists."""

from __future__ import annotations

import argparse
import functools
import os
import sys

from localforge.frontends.cli.output import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


class Parser(argparse.ArgumentParser):
    def error(self, message):
        # `prog` is the whole path (`localforge history show`), so the hint names a real command.
        raise UsageError(message, hint=f"run `{self.prog} --help` for usage")


def _columns() -> int:
    """The terminal's width as `shutil.get_terminal_size` finds it (`COLUMNS`, else stdout's
    terminal, else 80). argparse makes a help formatter for every argument it adds, and
    one left to find the width itself imports `shutil`, with the compression modules that
    brings: ~2 ms of every `localforge run`."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def parser(command: str, description: str, epilog: str = None) -> Parser:
    """`command` is the full path after `localforge` (`history show`); `epilog` is printed
    after the options as written (line breaks kept)."""
    kind = argparse.HelpFormatter if epilog is None else argparse.RawDescriptionHelpFormatter
    # argparse's own default: the terminal's width less 2.
    formatter = functools.partial(kind, width=_columns() - 2)
    return Parser(prog=f"localforge {command}", description=description, epilog=epilog, formatter_class=formatter)


def pick(group: str, commands: dict, args: list, about: str = "") -> Optional[str]:
    """The command of `localforge GROUP COMMAND ...` that `args` names. `commands`: name ->
    what it does (with its arguments first, as `NAME Q: ...`). `--help` prints them and
    gives None (exit 0); a missing or unknown command is a usage error naming the group."""
    path = f"localforge {group}"
    if args[:1] in (["-h"], ["--help"], ["help"]):
        width = max(len(f"{path} {usage.split(':', 1)[0]}") for usage in commands.values())
        lines = [f"usage: {path} COMMAND [options]", ""] + ([about, ""] if about else []) + ["commands:"]
        for usage in commands.values():
            head, _, text = usage.partition(":")
            lines.append(f"  {path + ' ' + head:<{width}}  {text.strip()}")
        lines += ["", f"`{path} COMMAND --help` for a command's options"]
        sys.stdout.write("\n".join(lines) + "\n")
        return None
    listed = f"run `{path} --help` for its commands ({', '.join(commands)})"
    if not args:
        raise UsageError(f"`{path}` needs a command", hint=listed)
    if args[0] not in commands:
        from localforge._suggest import did_you_mean

        hint = did_you_mean(args[0], commands, offer=lambda n: [f"{path} {n}"]) or listed
        raise UsageError(f"unknown command `{path} {args[0]}`", hint=hint)
    return args[0]
