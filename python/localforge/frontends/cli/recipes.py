"""Finding recipes for the command line: `localforge.catalog`, with mistakes as usage errors."""

from localforge import catalog
from localforge.frontends.cli.output import UsageError


def resolve(name: str) -> str:
    """A path as given, or a recipe name like `hello-localforge` or `examples/batch-resize`."""
    try:
        return catalog.resolve(name)
    except catalog.NotFound as e:
        raise UsageError(e.message, hint=e.hint) from None
