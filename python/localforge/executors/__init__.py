"""Where a run's steps run: on this machine (`local`, the default) or on a Ray cluster
(`ray`, `ray:ADDRESS`).

Chosen by `run --executor`, `localforge.run(..., executor=...)`, or the configuration:

    executor: ray                 # or `ray:10.0.0.5:6379`, or `local`
    # or, with options:
    executor:
      kind: ray
      address: 10.0.0.5:6379      # default `auto`: the cluster this machine is part of
      shared_dir: false           # true: the run folder is on storage every node mounts
      inline_mb: 64               # largest file that travels with a step (object store)
"""

from __future__ import annotations

TYPE_CHECKING = False  # annotations only (not evaluated): `typing` stays out of `localforge run`
if TYPE_CHECKING:
    from typing import Any, Optional

KINDS = ("local", "ray")


def unusable(message: str, hint: str):
    """The error for an executor that cannot be used (exit 2 in the CLI)."""
    from localforge import errors

    e = errors.ConfigError(f"{message}; {hint}")
    e.errors = [{"file": None, "line": None, "column": None, "message": message, "hint": hint}]
    return e


def settings(spec: Any) -> dict:
    """`spec` (text like `ray:HOST:6379`, or the configuration's mapping) as
    `{kind, address, shared_dir, inline_mb}`."""
    if spec is None:
        spec = "local"
    if isinstance(spec, str):
        kind, _, address = spec.strip().partition(":")
        spec = {"kind": kind, "address": address or None}
    if not isinstance(spec, dict):
        raise unusable(f"`executor` must be text or a mapping, got {type(spec).__name__}", "write `executor: local` or `executor: ray`")
    out = {"kind": spec.get("kind") or "local", "address": spec.get("address"), "shared_dir": _flag(spec.get("shared_dir", False)),
           "inline_mb": spec.get("inline_mb", 64)}  # fmt: skip
    if out["address"] is not None and not isinstance(out["address"], str):
        raise unusable(f"`executor.address` must be text (HOST:PORT), got {out['address']!r}", "e.g. `address: 10.0.0.5:6379`")
    if out["kind"] not in KINDS:
        from localforge._suggest import did_you_mean

        raise unusable(f"unknown executor `{out['kind']}`", did_you_mean(out["kind"], KINDS) or "use `local` or `ray[:ADDRESS]`")
    unknown = sorted(set(spec) - {"kind", "address", "shared_dir", "inline_mb"})
    if unknown:
        raise unusable(f"unknown executor setting `{unknown[0]}`", "the settings are kind, address, shared_dir and inline_mb")
    if not isinstance(out["inline_mb"], (int, float)) or isinstance(out["inline_mb"], bool) or out["inline_mb"] <= 0:
        raise unusable(f"`executor.inline_mb` must be a number of MB above 0, got {out['inline_mb']!r}", "e.g. `inline_mb: 64`")
    return out


def _flag(value: Any) -> bool:
    """true/false as the recipe parser reads them (yes/no/on/off too)."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    words = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
    if isinstance(value, str) and value.lower() in words:
        return words[value.lower()]
    raise unusable(f"`executor.shared_dir` must be true or false, got {value!r}", "write `shared_dir: true` or `shared_dir: false`")


def resolve(spec: Any = None) -> Optional[Any]:
    """The executor `spec` names (the API passes the configuration's `executor` when the
    caller named none), or None for this machine. Raises ConfigError (exit 2) when it
    cannot be used: Ray not installed, no cluster."""
    if not isinstance(spec, (str, dict)) and spec is not None:
        return spec  # an executor object, passed through
    s = settings(spec)
    if s["kind"] == "local":
        return None
    from localforge.executors.ray import RayExecutor

    return RayExecutor(s["address"], shared_dir=s["shared_dir"], inline_mb=s["inline_mb"])
