"""Did-you-mean hints for the Python side: the one place it suggests a name for a
mistyped one (commands, recipes, executors, registry tools, seeds).

difflib's similarity ratio, as these hints always used. The engine has its own
(`src/diag.rs`, strsim) for what it checks: recipe keys, step ids, tools and actions;
it is not exposed through the extension, and the hints here keep their matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Callable, Optional


def did_you_mean(
    word: str, options: Iterable[str], *, n: int = 1, cutoff: float = 0.6, offer: Optional[Callable[[str], Iterable[str]]] = None
) -> str:
    """`did you mean `x`?` for the option closest to `word` (up to `n` of them, each at
    least `cutoff` alike: `did you mean `x` or `y`?`), or empty when none is close.

    `offer(name)`: what to offer for a close name instead of the name itself (a word of
    seeds' ids, or a tag, stands for those seeds); the offers are sorted, at most four."""
    import difflib

    close = difflib.get_close_matches(word, list(options), n=n, cutoff=cutoff)
    if offer is not None:
        close = sorted({meant for name in close for meant in offer(name)})[:4]
    return "did you mean " + " or ".join(f"`{name}`" for name in close) + "?" if close else ""
