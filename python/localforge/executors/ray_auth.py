"""Ray's token authentication for the clusters LocalForge starts, joins and drives.

Ray (2.52+) checks a token on its control plane (GCS, raylets, the dashboard) only when
`RAY_AUTH_MODE=token` is set on every node and on the driver; without it anyone who can
reach a node's ports can run code there. LocalForge keeps one token per user in
`~/.localforge/ray/auth_token` (mode 0600, made by the first `ray-node --head`) and hands
it to Ray through `RAY_AUTH_TOKEN_PATH`. Where Ray itself looks first is respected: a
`RAY_AUTH_TOKEN` variable, or a `RAY_AUTH_TOKEN_PATH` naming another file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Optional

MODE = "RAY_AUTH_MODE"
TOKEN = "RAY_AUTH_TOKEN"
TOKEN_PATH = "RAY_AUTH_TOKEN_PATH"
SHORTEST = 16


class TokenProblem(Exception):
    """A token that exists but cannot be used (unreadable, too short, readable by others)."""


def token_file() -> Path:
    """Where LocalForge keeps this user's cluster token."""
    return Path(os.path.expanduser("~/.localforge/ray/auth_token"))


def found(environ: Optional[dict] = None) -> Optional[tuple[dict, str]]:
    """The variables that hand Ray the token, and where it comes from (said to the user),
    or None when there is no token. Raises TokenProblem for one that cannot be used."""
    env = os.environ if environ is None else environ
    if env.get(TOKEN, "").strip():
        if len(env[TOKEN].strip()) < SHORTEST:
            raise TokenProblem(f"the token in {TOKEN} is too short: use at least {SHORTEST} characters")
        return {MODE: "token"}, f"the {TOKEN} variable"
    named = env.get(TOKEN_PATH, "").strip()
    path = Path(named).expanduser() if named else token_file()
    if not path.exists():
        if named:
            raise TokenProblem(f"{TOKEN_PATH} names {path}, which does not exist")
        return None
    _check(path)
    return {MODE: "token", TOKEN_PATH: str(path)}, str(path)


def make() -> Path:
    """This user's token file, made now (mode 0600) when there is none."""
    path = token_file()
    if not path.exists():
        from localforge._secret import write_new

        write_new(path)
    _check(path)
    return path


def _check(path: Path) -> None:
    try:
        st = path.stat()
        text = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise TokenProblem(f"cannot read the Ray token file {path}: {e.strerror}") from None
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise TokenProblem(f"the Ray token file {path} can be read by other users: `chmod 600 {path}`")
    if len(text) < SHORTEST:
        raise TokenProblem(f"the Ray token in {path} is {'empty' if not text else 'too short'}: use at least {SHORTEST} characters")


def for_driver() -> None:
    """Turn token authentication on for this process (a run's driver) when a token is
    known and the user has not chosen a mode; Ray reads its mode when it starts, so this
    runs before `import ray`. A token that cannot be used is left to Ray, whose refusal
    the executor reports with the fix."""
    if os.environ.get(MODE):
        return
    try:
        hit = found()
    except TokenProblem:
        return
    if hit is not None:
        os.environ.update(hit[0])


CARRY = (
    "copy the head's token file (~/.localforge/ray/auth_token) to the same place on this machine "
    "(`mkdir -p -m 700 ~/.localforge/ray && scp HEAD:.localforge/ray/auth_token ~/.localforge/ray/ && "
    "chmod 600 ~/.localforge/ray/auth_token`), "
    f"or set {TOKEN} to its content"
)
