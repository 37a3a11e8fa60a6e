"""Exceptions raised by LocalForge. Every one derives from `LocalForgeError`.

`RecipeError` (and its subclasses `InputError` and `ResourceError`, the
preflight refusal: every unmet need with its fix) carry `.errors`: a list of dicts
with `file`, `line`, `column`, `message` and `hint`, one per problem found.
`ToolError` (a failed run) and `CancelledError` (a cancelled one) are raised by
`localforge.run(..., check=True)`; they carry `.result` (the run's report) and
`.step` (the step that failed). Every class pickles with its fields.

The Python layer's own refusals derive from it too: `UsageError` (a mistake in how a
command was called), `NotFoundError` (a recipe or seed asked for by a name that has
none), `Refused` (a request a rule turns down: a recipe outside the recipe folders, a
file the dashboard does not serve, a setting a server will not start with), and
`RegistryError`, `SeedError`, `TooLargeError`. Each carries `.hint`, what would fix it,
where there is one.
"""

from __future__ import annotations

from localforge._core import (
    CancelledError,
    ConfigError,
    InputError,
    LocalForgeError,
    RecipeError,
    ResourceError,
    RunError,
    StoreError,
    TemplateError,
    ToolError,
)

TYPE_CHECKING = False  # `typing` is for type checkers only: the command line does not import it
if TYPE_CHECKING:
    from typing import Optional


def _rebuild(cls, args, fields):
    e = cls.__new__(cls)
    BaseException.__init__(e, *args)
    e.__dict__.update(fields)
    return e


class _Detailed(LocalForgeError):
    """A message and fields; pickles with them (the default would call `__init__` with
    the message alone)."""

    def __init__(self, message: str, hint: Optional[str] = None):
        super().__init__(message)
        self.hint = hint

    def __reduce__(self):
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class UsageError(_Detailed):
    """A mistake in how a command or function was called (the CLI's exit 2)."""


class NotFoundError(_Detailed):
    """Something asked for by a name or path that has none: a recipe, a seed."""


class Refused(_Detailed):
    """A request a rule turns down; `status` is the HTTP status a server answers with."""

    def __init__(self, message: str, hint: Optional[str] = None, status: int = 403):
        super().__init__(message, hint)
        self.status = status


class RegistryError(_Detailed):
    """Something about a tool registry or a shared definition that is refused. `problems`:
    the checker's problems (file, line, message, hint); `usage`: the caller's mistake (a bad
    name, an unknown tool; exit 2), not refused content (exit 1)."""

    def __init__(self, message: str, hint: Optional[str] = None, problems: Optional[list] = None, usage: bool = False):
        super().__init__(message, hint)
        self.problems, self.usage = problems or [], usage or bool(problems)

    @property
    def errors(self) -> list:
        """The same as `problems`, under the name every other exception here uses."""
        return self.problems

    @errors.setter
    def errors(self, value: list) -> None:
        self.problems = value


class SeedError(_Detailed):
    """A seed (playbook) that cannot be found or read; `errors`: problems with file:line."""

    def __init__(self, message: str, hint: Optional[str] = None, errors: Optional[list] = None):
        super().__init__(message, hint)
        self.errors = errors or []


class TooLargeError(_Detailed):
    """A file (or all of a step's files) over what travels to another machine."""


class InvalidValue(_Detailed, ValueError):
    """A value a function or tool does not accept; also a `ValueError`, as 0.x raised."""


class OperationFailed(_Detailed, RuntimeError):
    """Something that could not be done; also a `RuntimeError`, as 0.x's shims raised."""


class NotStorable(_Detailed, TypeError):
    """A value that is not data a run can keep (text, numbers, lists, mappings); also a `TypeError`."""


class MissingFile(_Detailed, FileNotFoundError):
    """A file a tool needs that is not there; also a `FileNotFoundError`."""


__all__ = [
    "ConfigError",
    "InputError",
    "LocalForgeError",
    "RecipeError",
    "ResourceError",
    "RunError",
    "StoreError",
    "TemplateError",
    "ToolError",
    "CancelledError",
    "UsageError",
    "NotFoundError",
    "Refused",
    "RegistryError",
    "SeedError",
    "TooLargeError",
    "InvalidValue",
    "OperationFailed",
    "NotStorable",
    "MissingFile",
]
