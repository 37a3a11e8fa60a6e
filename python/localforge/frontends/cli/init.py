"""`localforge init`: a workspace (output, runs, logs), a starter `./localforge.yaml` from
what is found running here, and a `./recipes` folder with the recipe template — as 0.x's
`init` did, except that an existing `localforge.yaml` is kept unless `--force` (then it is
backed up first)."""

import json
import shutil
import sys
import time
from pathlib import Path

from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, EXIT_USAGE, error

DEFAULT_WORKSPACE = "~/localforge-workspace"


def _quote(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


def config_text(workspace: Path, health: dict) -> str:
    """The starter configuration: the workspace, and the services and programs found."""
    services = health.get("services") or {}
    tools = health.get("tools") or {}
    lines = [
        "# LocalForge configuration (written by `localforge init`; every key is optional)",
        f"workspace: {_quote(str(workspace))}",
        f"output_dir: {_quote(str(workspace / 'output'))}",
        f"run_dir: {_quote(str(workspace / 'runs'))}",
        "",
        "services:",
    ]
    ollama = services.get("ollama") or {}
    lines += ["  ollama:", f"    host: {_quote(ollama.get('url') or 'http://localhost:11434')}"]
    models = ollama.get("models") or []
    lines.append(f"    default_model: {_quote(models[0] if models else 'llama3.2:3b')}")
    if ollama.get("running"):
        lines.append("    timeout: 60")
    sd = services.get("sd") or {}
    if sd.get("running"):
        lines += ["  sd:", f"    host: {_quote(sd['url'])}", "    timeout: 120"]
    for name in ("blender", "ffmpeg"):
        found = tools.get(name) or {}
        if found.get("found") and found.get("path"):
            lines += [f"  {name}:", f"    path: {_quote(found['path'])}"]
    lines += ["", "persistence:", "  enabled: true", f"  db_path: {_quote(str(Path.home() / '.localforge' / 'runs.db'))}", ""]
    return "\n".join(lines)


def main(args) -> int:
    p = parser("init", "Set up a workspace, a starter localforge.yaml and a ./recipes folder here.")
    p.add_argument("--workspace", help=f"the workspace folder (default {DEFAULT_WORKSPACE}; asked on a terminal)")
    p.add_argument("--force", action="store_true", help="replace an existing ./localforge.yaml (the old one is backed up)")
    ns = p.parse_args(args)
    workspace = ns.workspace
    if workspace is None and sys.stdin.isatty():
        workspace = input(f"Workspace directory [{DEFAULT_WORKSPACE}]: ").strip() or None
    workspace = Path(workspace or DEFAULT_WORKSPACE).expanduser().absolute()
    config = Path.cwd() / "localforge.yaml"
    if config.exists() and not ns.force:
        error(
            f"{config} exists already; it was left as it is", hint="run `localforge init --force` to replace it (the old file is backed up)"
        )
        return EXIT_USAGE
    for sub in ("", "output", "runs", "logs"):
        (workspace / sub).mkdir(parents=True, exist_ok=True)
    print(f"workspace: {workspace} (output, runs, logs)")
    from localforge import api

    health = api.health()
    for name, s in health["services"].items():
        print(f"  {name}: {'running' if s['running'] else 'not running'} ({s['url']})")
    for name in ("blender", "ffmpeg"):
        t = health["tools"].get(name) or {}
        print(f"  {name}: {'found at ' + t['path'] if t.get('found') else 'not found'}")
    if config.exists():
        backup = config.with_name(f"localforge.yaml.{time.strftime('%Y%m%d-%H%M%S')}.bak")
        shutil.copy2(config, backup)
        print(f"the old {config.name} is {backup}")
    config.write_text(config_text(workspace, health), encoding="utf-8")
    print(f"wrote {config}")
    recipes = Path.cwd() / "recipes"
    template = recipes / "TEMPLATE.yaml"
    if not template.exists():
        from localforge._paths import data_dir

        recipes.mkdir(exist_ok=True)
        shutil.copy2(data_dir("recipes") / "TEMPLATE.yaml", template)
        print(f"wrote {template} (copy it to start a recipe)")
    print("ready: try `localforge run hello-localforge`")
    return EXIT_OK
