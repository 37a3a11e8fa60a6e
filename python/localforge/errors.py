"""Exceptions raised by LocalForge. Every one derives from `LocalForgeError`.

`RecipeError` (and its subclasses `InputError` and `ResourceError`, the
preflight refusal: every unmet need with its fix) carry `.errors`: a list of dicts
with `file`, `line`, `column`, `message` and `hint`, one per problem found.
"""

from localforge._core import (
    ConfigError,
    InputError,
    LocalForgeError,
    RecipeError,
    ResourceError,
    RunError,
    StoreError,
    TemplateError,
)

__all__ = ["ConfigError", "InputError", "LocalForgeError", "RecipeError", "ResourceError", "RunError", "StoreError", "TemplateError"]
