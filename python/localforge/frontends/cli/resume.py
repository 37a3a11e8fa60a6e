"""`localforge resume RUN_ID`: continue a failed, cancelled or interrupted run."""

from localforge.frontends.cli.args import parser
from localforge.frontends.cli.run import add_executor, execute


def main(args) -> int:
    p = parser(
        "resume",
        "Continue a run that failed, was cancelled or was interrupted, in the same run folder and history "
        "row: steps that completed keep their outputs and are not run again.",
    )
    p.add_argument("run_id", help="the run to continue (see `localforge history`)")
    p.add_argument("-y", "--auto-approve", action="store_true", help="take the default at every approval gate")
    p.add_argument("--force", action="store_true", help="resume even if the recipe file changed, or preflight finds unmet needs")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    add_executor(p)
    ns = p.parse_args(args)
    from localforge import api

    return execute(
        lambda: api.resume(ns.run_id, auto_approve=ns.auto_approve, force=ns.force, quiet=ns.quiet, executor=ns.executor), ns.json
    )
