"""`localforge system`: what this machine has and can run (`health` shows its services and tools)."""

import sys

from localforge._project import banner
from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, print_json


def main(args) -> int:
    p = parser("system", "Hardware, services, tools and the models that fit this machine.")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    ns = p.parse_args(args)
    from localforge import api

    report = api.system()
    if ns.json:
        # 0.x called the SD WebUI `sd_webui`: agents written for it still find it there.
        if "sd" in report["services"]:
            report["services"].setdefault("sd_webui", report["services"]["sd"])
        print_json(report)
        return EXIT_OK
    from localforge.services import system_report

    # Says which project and version made it (another package may be installed under this name).
    sys.stdout.write(system_report.text(report, title=f"{banner()}\n\nSystem report"))
    return EXIT_OK
