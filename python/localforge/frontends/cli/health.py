"""`localforge health`: services (running, version) and command-line tools (found, version).

Exit codes:
  0  every service you configured is running
  1  a service you configured is not running
  2  invalid usage or configuration

A service you configured is one whose settings come from your configuration
(`./localforge.yaml`, `~/.localforge/config.yaml`, `LOCALFORGE_*` variables)
rather than the built-in defaults: with no configuration, Ollama, the SD WebUI
and ComfyUI are still probed and shown, but one that is not running only shows
as ✗. Tools that are not found never change the exit code.
"""

from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_FAILED, EXIT_OK, error, print_json

EPILOG = """\
exit codes:
  0  every service you configured is running
  1  a service you configured (localforge.yaml, ~/.localforge/config.yaml or a
     LOCALFORGE_* variable) is not running; services left at the built-in
     defaults and tools that are not found are shown, but do not count
  2  invalid usage or configuration"""


def configured_down(services) -> list:
    """The services in `services` (a health report's) that are not running and
    that the user configured (`configured`: set in a file or a variable, not
    only the built-in defaults)."""
    return [name for name, s in services.items() if not s["running"] and s["configured"]]


def main(args) -> int:
    p = parser("health", "Services (running, version) and command-line tools (found, version).", epilog=EPILOG)
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    ns = p.parse_args(args)
    from localforge import api

    report = api.health()
    if ns.json:
        print_json(report)
    else:
        from localforge.services import system_report

        print("\n".join(system_report.services(report["services"])))
        print()
        print("\n".join(system_report.tools(report["tools"])))
    down = configured_down(report["services"])
    if down:
        names = ", ".join(f"`{n}`" for n in down)
        error(
            f"{names} {'is' if len(down) == 1 else 'are'} configured but not running",
            hint="start it, or fix its `host` in the configuration",
        )
        return EXIT_FAILED
    return EXIT_OK
