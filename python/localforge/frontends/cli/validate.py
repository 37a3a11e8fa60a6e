"""`localforge validate RECIPE...`: check recipes without running them."""

from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, EXIT_USAGE, diagnostics, located, print_json, warning
from localforge.frontends.cli.recipes import resolve


def main(args) -> int:
    p = parser("validate", "Check recipes: YAML, keys, tools and actions, references, cycles.")
    p.add_argument("recipes", nargs="+", metavar="RECIPE")
    p.add_argument("--json", action="store_true", help="print {valid, errors} as JSON on stdout")
    ns = p.parse_args(args)
    paths = [resolve(r) for r in ns.recipes]
    from localforge import api

    errors = api.validate(*paths)
    warnings = api.validate_warnings(*paths)
    if ns.json:
        print_json({"valid": not errors, "errors": errors, "warnings": warnings})
    else:
        diagnostics(errors)
        for w in warnings:
            warning(located(w), hint=w.get("hint"))
        bad = {e["file"] for e in errors}
        for path in paths:
            if str(path) not in bad:
                print(f"✓ {path}")
        if errors:
            import sys

            sys.stderr.write(f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in {len(bad)} recipe{'s' if len(bad) != 1 else ''}\n")
    return EXIT_USAGE if errors else EXIT_OK
