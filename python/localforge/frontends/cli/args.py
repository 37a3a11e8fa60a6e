"""argparse with the CLI's own exit code (2) and error style."""

import argparse

from localforge.frontends.cli.output import UsageError


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message, hint=f"run `localforge {self.prog.split()[-1]} --help` for usage")


def parser(command: str, description: str, epilog: str = None) -> Parser:
    """`epilog` is printed after the options as written (line breaks kept)."""
    if epilog is None:
        return Parser(prog=f"localforge {command}", description=description)
    return Parser(
        prog=f"localforge {command}", description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
