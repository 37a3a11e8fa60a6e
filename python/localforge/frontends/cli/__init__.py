"""`python -m localforge` / `localforge`: the command line.

Exit codes: 0 success, 1 the work failed, 2 bad usage or invalid recipe/input,
130 interrupted. Data goes to stdout (JSON with `--json`), everything else to
stderr. Subcommand modules are imported only when used, so `--help` stays fast.
"""

import os
import sys

USAGE = """\
usage: localforge <command> [options]

Run recipes of local AI workers on this machine.

commands:
  run RECIPE        run a recipe (-i k=v, -y/--auto-approve, --json, --dry-run, --force, --list-inputs, --no-cache, --refresh STEP,
                    --executor ray[:ADDRESS])
  validate RECIPE…  check recipes without running them
  new NAME          a new recipe from a template, with its schema modeline (--from TEMPLATE)
  schema KIND       the JSON Schema of recipes (for the tools here), YAML tools or the config (-o FILE)
  list [DIR]        recipes: the built-in ones and ./recipes, or those under DIR
  list-tools        every tool with its actions and whether it can be used here
  resume RUN_ID     continue a failed, cancelled or interrupted run (--force if the recipe changed)
  history           past runs (-n N, --json); `history show RUN_ID` for one run
  system            hardware, services, tools and the models that fit (--json)
  health            services and tools: running/found, version (--json)
  agent-config generate  the agent config for this machine (--format claude|agents|cursor|gemini|generic, --output)
  tools             share YAML tools: search, info, install, list --installed, update, remove, publish, index
  seed              playbooks that make this machine better: list, show TOPIC, check TOPIC, verify TOPIC, export
  init              a workspace, a starter ./localforge.yaml and ./recipes (--workspace DIR, --force)
  mcp               serve recipes and tools to MCP clients (stdio; --http); `mcp config --client C`
  cache stats|clear the step cache: what it holds (--json); clear it (--older-than 30d)
  ui                the web dashboard on 127.0.0.1: runs live, their files, the machine, start/cancel/approve
  ray-node          start this machine as a Ray node for `run --executor ray` (--head | --address HOST:PORT), or stop those started here (--stop)

options:
  -h, --help        show this help (also `localforge <command> --help`)
  --version         print the version

exit codes: 0 success, 1 the work failed, 2 invalid usage/recipe/input, 130 interrupted
"""

COMMANDS = {
    "run": "localforge.frontends.cli.run",
    "validate": "localforge.frontends.cli.validate",
    "new": "localforge.frontends.cli.new",
    "schema": "localforge.frontends.cli.schema",
    "list": "localforge.frontends.cli.list_recipes",
    "list-tools": "localforge.frontends.cli.list_tools",
    "history": "localforge.frontends.cli.history",
    "resume": "localforge.frontends.cli.resume",
    "system": "localforge.frontends.cli.system",
    "health": "localforge.frontends.cli.health",
    "mcp": "localforge.frontends.cli.mcp",
    "init": "localforge.frontends.cli.init",
    "agent-config": "localforge.frontends.cli.agent_config",
    "seed": "localforge.frontends.cli.seed",
    "tools": "localforge.frontends.cli.tools",
    "ui": "localforge.frontends.cli.ui",
    "cache": "localforge.frontends.cli.cache",
    "ray-node": "localforge.frontends.cli.ray_node",
}


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    if args[0] == "--version":
        from localforge._project import DIST, banner, version

        # First line: the command and its version (as tools print them); then which project
        # this is, so a user who installed another package of the same name can tell.
        print(f"localforge {version()}\n{banner()} (distribution `{DIST}`)")
        return 0
    name = args[0]
    if name not in COMMANDS:
        from localforge._suggest import did_you_mean
        from localforge.frontends.cli.output import error

        error(f"unknown command `{name}`", hint=did_you_mean(name, COMMANDS) or "run `localforge --help` for the commands")
        return 2
    import importlib

    from localforge.frontends.cli import output

    module = importlib.import_module(COMMANDS[name])
    return output.guard(module.main, args[1:])


# Commands after which the process ends as soon as their report is out: the run's history is
# committed before the report is made, and the interpreter's shutdown (tearing down every
# module, ~5-10 ms on two cores) does nothing a user can see.
ENDS_AT_ONCE = ("run", "resume")


def entry() -> None:
    """`python -m localforge` and the `localforge` script: `main`, then the exit."""
    args = sys.argv[1:]
    code = main(args)
    if args[:1] and args[0] in ENDS_AT_ONCE:
        _end_now(code)
    raise SystemExit(code)


def _end_now(code: int) -> None:
    """End the process with `code` at once, without the interpreter's shutdown, when that
    shutdown has nothing to do; otherwise return. It has something to do when a callback
    is registered with `atexit` (a plugin's, `logging`'s, a temporary folder's finalizer),
    when another Python thread is alive (it would be joined), or when a Python tool plugin
    was loaded (its module state, an open file say, is its own to finish)."""
    import atexit

    count = getattr(atexit, "_ncallbacks", None)  # CPython's; elsewhere, the normal exit
    if count is None or count() or "localforge.plugins" in sys.modules:
        return
    threading = sys.modules.get("threading")
    if threading is not None:
        main_thread = threading.main_thread()
        if getattr(threading, "_threading_atexits", None) or any(t is not main_thread and not t.daemon for t in threading.enumerate()):
            return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: let the normal exit report it
        return
    os._exit(code)
