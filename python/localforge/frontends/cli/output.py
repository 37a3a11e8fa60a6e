"""Printing for the CLI: errors in one style, JSON on stdout, and the guard
that turns user mistakes into messages and exit codes instead of tracebacks."""

import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _style(text: str, code: str) -> str:
    if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
        return text
    return f"\033[{code}m{text}\033[0m"


def error(message: str, hint: str = None, causes=()) -> None:
    """`error: message`, `Caused by:` lines, then `hint:`, on stderr."""
    lines = [f"{_style('error', '1;31')}: {message}"]
    for cause in causes:
        lines.append(f"  Caused by: {cause}")
    if hint:
        lines.append(f"  {_style('hint', '1;36')}: {hint}")
    sys.stderr.write("\n".join(lines) + "\n")


def warning(message: str, hint: str = None) -> None:
    """`warning: message` and its `hint:`, on stderr."""
    lines = [f"{_style('warning', '1;33')}: {message}"]
    if hint:
        lines.append(f"  {_style('hint', '1;36')}: {hint}")
    sys.stderr.write("\n".join(lines) + "\n")


def located(d) -> str:
    """A problem's message after its file:line:column, where it has them."""
    where = d.get("file") or ""
    if where and d.get("line"):
        where += f":{d['line']}"
        if d.get("column"):
            where += f":{d['column']}"
    return f"{where}: {d['message']}" if where else d["message"]


def diagnostics(errors) -> None:
    """One `error:` block per problem, with file:line:column."""
    for d in errors:
        error(located(d), hint=d.get("hint"))


def print_json(doc) -> None:
    import json

    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


# Values in human output: strings without quotes, short lists comma-separated,
# longer ones one item a line, mappings as `key: value`. JSON output never
# comes through here.
INLINE_WIDTH = 60


def _scalar(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "":
        return '""'  # or it would not show at all
    return str(value).rstrip("\n")


def _nested(value) -> bool:
    return isinstance(value, (list, tuple, dict))


def inline(value, width=INLINE_WIDTH):
    """`value` on one line, or None when it reads better on lines of its own
    (multi-line text, a mapping, a list longer than `width` or of lists/mappings).
    `width=None`: always one line (for a value inside parentheses)."""
    if isinstance(value, dict):
        if not value:
            return "(none)"
        if width is not None:
            return None
        return ", ".join(f"{k}: {inline(v, None)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        if not value:
            return "(none)"
        if width is None:
            return ", ".join(inline(v, None) for v in value)
        items = [_scalar(v) for v in value if not _nested(v)]
        if len(items) < len(value) or any(", " in i or "\n" in i for i in items):
            return None
        joined = ", ".join(items)
        return joined if len(joined) <= width else None
    text = _scalar(value)
    return text if width is None or "\n" not in text else None


def _block(value, indent: str) -> list:
    if isinstance(value, dict):
        return [line for k, v in value.items() for line in field(k, v, indent).split("\n")]
    if isinstance(value, (list, tuple)):
        # Plain items one a line; when any item is a mapping, a list or
        # multi-line text, every item starts with `- ` so each is told apart.
        ones = [inline(item) for item in value]
        bullet = "- " if any(_nested(item) or one is None for item, one in zip(value, ones)) else ""
        lines = []
        for item, one in zip(value, ones):
            if one is not None:
                lines.append(indent + bullet + one)
            else:
                sub = _block(item, indent + "  ")
                lines += [indent + bullet + sub[0][len(indent) + 2 :]] + sub[1:]
        return lines
    return [indent + line for line in _scalar(value).split("\n")]


def field(label, value, indent: str = "") -> str:
    """`label: value` for people; a long list, a mapping or multi-line text
    goes on the lines below, indented two more spaces."""
    one = inline(value)
    if one is not None:
        return f"{indent}{label}: {one}"
    return "\n".join([f"{indent}{label}:"] + _block(value, indent + "  "))


from localforge.errors import UsageError  # noqa: E402  (a mistake on the command line: exit 2)


def guard(fn, args) -> int:
    """Run a subcommand; map known errors to messages and exit codes."""
    try:
        return _guarded(fn, args)
    finally:
        # What was printed is out before the interpreter's exit runs other libraries'
        # shutdown (Ray's, for `--executor ray`), which has been seen to abort the process.
        _flush()


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _guarded(fn, args) -> int:
    from localforge import errors

    try:
        return fn(args)
    except UsageError as e:
        error(str(e), hint=e.hint)
        return EXIT_USAGE
    except errors.RecipeError as e:
        diagnostics(getattr(e, "errors", None) or [{"message": str(e)}])
        return EXIT_USAGE
    except errors.ConfigError as e:
        diagnostics(getattr(e, "errors", None) or [{"message": str(e)}])
        return EXIT_USAGE
    except errors.LocalForgeError as e:
        error(str(e))
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `localforge list | head`: the reader went away; say nothing.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_OK
