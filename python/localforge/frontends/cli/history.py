"""`localforge history`: past runs; `history show RUN_ID`: one run in detail."""

from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, UsageError, print_json


def main(args) -> int:
    if args and args[0] == "show":
        return show(args[1:])
    p = parser("history", "Past runs, newest first. `localforge history show RUN_ID` for one run.")
    p.add_argument("-n", "--limit", type=int, default=20, metavar="N", dest="n", help="how many runs (default 20; --limit as in 0.x)")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    if ns.n < 1:
        raise UsageError("`-n` must be at least 1")
    from localforge import api

    runs = api.history(ns.n)
    if ns.json:
        print_json(runs)
        return EXIT_OK
    if not runs:
        print("no runs yet")
    for r in runs:
        took = f"{r['duration_s']:.2f}s" if r["duration_s"] is not None else "-"
        print(f"{r['run_id']}  {r['status']:<11} {took:>9}  {r['recipe']}")
    return EXIT_OK


def show(args) -> int:
    p = parser("history show", "One run: its steps with timings and errors.")
    p.add_argument("run_id")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    from localforge import api

    run = api.history_show(ns.run_id)
    if run is None:
        raise UsageError(f"no run `{ns.run_id}` in the history", hint="`localforge history` lists recent runs")
    if ns.json:
        print_json(run)
        return EXIT_OK
    print(f"run {run['run_id']}: {run['recipe']} — {run['status']}")
    ran = f", ran {run['duration_s']:.2f}s" if run.get("duration_s") is not None else ""
    print(f"  started {run['started_at']}, ended {run['ended_at'] or '-'}{ran}")
    if run.get("run_dir"):
        print(f"  folder {run['run_dir']}")
    if run.get("error"):
        print(f"  error: {run['error']}")
    for s in run["steps"]:
        what = f"{s['tool']}.{s['action']}" if s.get("action") else s.get("tool") or ""
        on = f"  on {' + '.join(f'GPU {g}' for g in s['gpus'])}" if s.get("gpus") else ""
        print(f"  {s['step_id']:<24} #{s['attempt']} {s['status']:<10} {what}{on}")
        if s.get("error"):
            print(f"      {s['error']}")
    for e in run["events"]:
        if e["level"] in ("WARNING", "ERROR"):
            print(f"  {e['level'].lower()}: {e['message']}")
    return EXIT_OK
