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


def diagnostics(errors) -> None:
    """One `error:` block per problem, with file:line:column."""
    for d in errors:
        where = d.get("file") or ""
        if where and d.get("line"):
            where += f":{d['line']}"
            if d.get("column"):
                where += f":{d['column']}"
        error(f"{where}: {d['message']}" if where else d["message"], hint=d.get("hint"))


def print_json(doc) -> None:
    import json

    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def suggest(word: str, options) -> str:
    import difflib

    match = difflib.get_close_matches(word, list(options), n=1)
    return f"did you mean `{match[0]}`?" if match else ""


class UsageError(Exception):
    """A mistake on the command line (exit 2)."""

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.hint = hint


def guard(fn, args) -> int:
    """Run a subcommand; map known errors to messages and exit codes."""
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
