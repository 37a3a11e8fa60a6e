"""`localforge run RECIPE`: run a recipe, or show its inputs or plan."""

import contextlib
import os
import sys

from localforge.frontends.cli.output import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    diagnostics,
    error,
    field,
    inline,
    print_json,
)
from localforge.frontends.cli.recipes import resolve
from localforge.frontends.cli.run_args import plain

EXIT_BY_STATUS = {"completed": EXIT_OK, "failed": EXIT_FAILED, "cancelled": EXIT_INTERRUPTED}


def _inputs(pairs):
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"`--input {pair}` is not KEY=VALUE", hint="write inputs as `-i name=value`")
        out[key.strip()] = value
    return out


def _signal():
    """CPython's `_signal`, which `signal` wraps in enums (importing `enum` for them: ~1 ms of
    `localforge run`); `signal` elsewhere."""
    try:
        import _signal

        return _signal
    except ImportError:
        import signal

        return signal


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt


def parser():
    """`run`'s argparse parser: for `--help`, usage errors, and what `run_args.plain` leaves."""
    from localforge.frontends.cli.args import parser

    p = parser("run", "Run a recipe: every step, in order, recorded in the history.")
    p.add_argument("recipe", help="recipe file, or the name of a built-in recipe")
    p.add_argument("-i", "--input", action="append", default=[], metavar="KEY=VALUE", help="an input value (repeatable)")
    p.add_argument("-y", "--auto-approve", action="store_true", help="take the default at every approval gate")
    p.add_argument("--list-inputs", action="store_true", help="show the recipe's inputs and exit")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--dry-run", action="store_true", help="validate and print the plan without running")
    p.add_argument("--force", action="store_true", help="run even if the preflight check finds unmet needs")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--no-cache", action="store_true", help="take nothing from the step cache (and store nothing)")
    p.add_argument("--refresh", action="append", default=[], metavar="STEP", help="run STEP and every step after it again (repeatable)")
    add_executor(p)
    return p


def main(args) -> int:
    ns = plain(args) or parser().parse_args(args)
    path = resolve(ns.recipe)
    inputs = _inputs(ns.input)

    from localforge import api, errors

    try:
        if ns.list_inputs:
            return _list_inputs(path, ns.json)
        if ns.dry_run:
            return _dry_run(api.plan(path, inputs, force=ns.force, cache=not ns.no_cache, refresh=ns.refresh), ns.json)
    except errors.RecipeError as e:
        return _invalid(e, ns.json)
    return execute(
        lambda: api.run(
            path,
            inputs,
            auto_approve=ns.auto_approve,
            force=ns.force,
            quiet=ns.quiet,
            cache=not ns.no_cache,
            refresh=ns.refresh,
            executor=ns.executor,
        ),  # fmt: skip
        ns.json,
    )


def add_executor(p) -> None:
    p.add_argument(
        "--executor",
        metavar="local|ray[:ADDRESS]",
        help="where the steps run: this machine (local), or a Ray cluster (ray: the one this machine is part of; "
        "ray:HOST:6379). Default: the configuration's `executor`, else local",
    )


def execute(start, as_json) -> int:
    """Run `start()` (a run or a resume) with SIGTERM as Ctrl-C; print its report; its exit code."""
    from localforge import errors

    os.environ.setdefault("LOCALFORGE_PYTHON", sys.executable)
    signals = _signal()
    signals.signal(signals.SIGTERM, _sigterm_as_interrupt)
    try:
        with _stdout_for_json_only(as_json):
            report = start()
    except (errors.RecipeError, errors.ConfigError) as e:
        return _invalid(e, as_json)
    if as_json:
        print_json(report)
    else:
        _summary(report)
    return EXIT_BY_STATUS.get(report["status"], EXIT_FAILED)


@contextlib.contextmanager
def _stdout_for_json_only(as_json):
    """With `--json`, stdout holds the one JSON document: while the run goes on, file
    descriptor 1 points at stderr, so nothing a plugin, a C library or a child process
    writes to it can land in the document."""
    if not as_json:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _invalid(e, as_json) -> int:
    """An invalid recipe, input, preflight or executor: re-raised for the plain CLI, one JSON document with `--json`."""
    if not as_json:
        raise e
    diagnostics(e.errors)
    print_json({"status": "invalid", "error": str(e), "errors": e.errors})
    return EXIT_USAGE


def _list_inputs(path, as_json) -> int:
    from localforge import api

    info = api.recipe_info(path)
    if info is None:
        raise UsageError(f"`{path}` is not a readable recipe", hint=f"run `localforge validate {path}`")
    if as_json:
        print_json(info["inputs"])
        return EXIT_OK
    if not info["inputs"]:
        print(f"{info['name']} takes no inputs")
    for i in info["inputs"]:
        flags = "required" if i["required"] else f"default: {inline(i['default'], None)}" if i["default"] is not None else "optional"
        choices = f"  choices: {inline(i['choices'], None)}" if i.get("choices") else ""
        desc = f"  {i['description']}" if i.get("description") else ""
        print(f"{i['name']} ({i['type']}, {flags}){desc}{choices}")
    return EXIT_OK


def _dry_run(plan, as_json) -> int:
    if as_json:
        print_json(plan)
        return EXIT_OK
    print(f"plan for {plan['recipe']} ({'sequential' if plan['sequential'] else 'DAG'})")
    print(field("inputs", plan["inputs"]))
    cap = plan["capacity"]
    vram = f", {cap['vram_gb']:.1f} GB VRAM" if cap["vram_gb"] else ", no GPU to plan with"
    cards = cap.get("gpus") or []
    if len(cards) > 1:
        vram = ", " + ", ".join(f"GPU {c['index']} {c['vram_gb']:.1f} GB" for c in cards)
    print(f"up to {cap['cpu']} steps at once{vram}")
    if not plan["sequential"]:
        print(f"critical path (~{_seconds(plan['critical_path_s'])} estimated): {' → '.join(plan['critical_path'])}")
    by_id = {s["id"]: s for s in plan["steps"]}
    for n, level in enumerate(plan["levels"], 1):
        print(f"level {n}:")
        for sid in level:
            s = by_id[sid]
            what = f"{s['tool']}.{s['action']}" if s["action"] else s["tool"]
            after = f"  after {', '.join(s['depends_on'])}" if s["depends_on"] else ""
            on = f"  on {' + '.join(f'GPU {g}' for g in s['gpus'])}" if len(cards) > 1 and s.get("gpus") else ""
            print(f"  {sid}  {what}{after}{_reserves(s, gpu=bool(cap['vram_gb']))}{on}{_cached(s.get('cache'))}")
            if s.get("never_fits"):
                print(f"      can never fit: {s['never_fits']}")
            for u in (s.get("needs") or {}).get("unknown", []):
                print(f"      decided at run time: {u}")
    pf = plan["preflight"]
    for note in pf["notes"]:
        print(f"note: {note}")
    if pf["forced"]:
        print(f"preflight: {len(pf['problems'])} unmet need(s), ignored (--force):")
        for problem in pf["problems"]:
            print(f"  {problem['message']}")
    return EXIT_OK


def _cached(verdict) -> str:
    """What the step cache would do, for the plan's line of a step."""
    if not verdict:
        return ""
    return {
        "hit": f"  [from the cache: run {verdict.get('from')}]",
        "miss": "  [runs; then cached]",
        "unknown": "  [cache: known once earlier steps ran]",
    }.get(verdict["cache"], "")


def _seconds(s) -> str:
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.0f} min"


def _reserves(step, gpu) -> str:
    """What a step holds; without a GPU a model's memory is RAM, not VRAM."""
    need = step.get("needs") or {}
    parts = []
    if need.get("service"):
        parts.append(f"service {need['service']}")
    if need.get("model"):
        parts.append(f"model {need['model']}")
    if need.get("vram_gb") is not None:
        memory = "VRAM" if gpu else "of RAM (no GPU)"
        basis = f" ({need['basis']})" if need.get("basis") else ""
        parts.append(f"~{need['vram_gb']:.1f} GB {memory}{basis}")
    if need.get("ram_gb"):
        parts.append(f"{need['ram_gb']} GB RAM")
    return f"  reserves: {', '.join(parts)}" if parts else ""


def _summary(report) -> None:
    print(f"{report['status']}: {report['recipe']}  run {report['run_id']}  ({report['duration_s']:.2f}s)")
    print(f"run folder: {report['run_dir']}")
    if report.get("error"):
        error(report["error"])  # stderr: stdout is for data
    if report["outputs"]:
        print("outputs:")
        for k, v in report["outputs"].items():
            print(field(k, v, "  "))
    for w in report.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
