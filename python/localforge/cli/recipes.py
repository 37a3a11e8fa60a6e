"""Finding recipes for the command line: `localforge.catalog`, with mistakes as usage errors."""

import os

from localforge.catalog import find, suggestion
from localforge.cli.output import UsageError


def resolve(name: str) -> str:
    """A path as given, or a recipe name like `hello-localforge` or `examples/batch-resize`."""
    if os.path.isdir(name):
        raise UsageError(f"`{name}` is a folder, not a recipe file", hint="pass a .yaml file; `localforge list` shows recipes")
    path = find(name)
    if path is None:
        raise UsageError(f"recipe `{name}` not found (no such file, and no built-in recipe of that name)", hint=suggestion(name))
    return path
