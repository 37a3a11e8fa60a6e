"""Exceptions raised by LocalForge. Every one derives from `LocalForgeError`.

`RecipeError` (and its subclasses `InputError` and `ResourceError`, the
preflight refusal: every unmet need with its fix) carry `.errors`: a list of dicts
with `file`, `line`, `column`, `message` and `hint`, one per problem found.
`ToolError` (a failed run) and `CancelledError` (a cancelled one) are raised by
`localforge.run(..., check=True)`; they carry `.result` (the run's report) and
`.step` (the step that failed). Every class pickles with its fields.
"""

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
]
