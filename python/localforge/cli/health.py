"""`localforge health`: services and command-line tools."""

from localforge.cli.system import health as main  # noqa: F401
