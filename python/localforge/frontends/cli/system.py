"""`localforge system`: what this machine has and can run (`health` shows its services and tools)."""

from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, hanging, print_json, width


def _gb(x) -> str:
    return f"{x:.1f} GB"


def _services(services) -> None:
    print("Services")
    if not services:
        print("  (none configured)")
    for name, s in services.items():
        if s["running"]:
            what = [s["version"] or ""]
            if s["models"]:
                what.append(f"{len(s['models'])} models")
            if s["loaded"]:
                what.append("loaded: " + ", ".join(f"{m['name']} ({_gb(m['vram_gb'])})" for m in s["loaded"]))
            print(f"  ✓ {name:<12} {s['url']:<28} {'  '.join(w for w in what if w)}")
        else:
            print(f"  ✗ {name:<12} {s['url']:<28} {s['error']}")
            if s.get("hint"):
                print(f"    {'':<12} → {s['hint']}")


def _tools(tools) -> None:
    print("Tools")
    for name, t in tools.items():
        if t["found"]:
            print(f"  ✓ {name:<20} {t['version'] or '?':<16} {t['path']}")
        elif t.get("note"):
            print(f"  ✗ {name:<20} {t['note']}")
        else:
            print(f"  ✗ {name:<20} not found")


def _hardware(hw) -> None:
    print("Hardware")
    cores = f"{hw['cpu_cores']} threads" + (f", {hw['physical_cores']} cores" if hw.get("physical_cores") else "")
    print(f"  CPU   {hw['cpu']} ({cores})")
    print(f"  RAM   {_gb(hw['ram_gb'])} ({_gb(hw['ram_available_gb'])} available)")
    if not hw["gpus"]:
        print(f"  GPU   none: {hw['gpu_note']}" if hw.get("gpu_note") else "  GPU   none")
    for g in hw["gpus"]:
        driver = f", driver {g['driver']}" if g.get("driver") else ""
        kind = "unified memory" if g.get("unified") else "VRAM"
        print(f"  GPU   {g['name']}: {_gb(g['vram_total_gb'])} {kind}, {_gb(g['vram_free_gb'])} free{driver}")


def _recommendations(recs, advice) -> None:
    cols = width()
    print("Recommended models")
    for r in recs:
        mark = "✓" if r["fits"] else "✗"
        print(hanging(f"  {mark} {r['task']:<17} {r['model']:<20} {_gb(r['vram_gb']):>8}  ", r["why"], cols))
    if advice:
        print()
        print(hanging("", "Ollama tuning (set in the environment Ollama starts with)", cols))
        for a in advice:
            print(hanging(f"  {a['setting']:<28} ", a["why"], cols))


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
    print_report(report)
    return EXIT_OK


def print_report(report) -> None:
    """The report as text (also 0.x's `SystemInfo.format_report()`)."""
    print("LocalForge system report\n")
    _hardware(report["hardware"])
    print()
    _services(report["services"])
    print()
    _tools(report["tools"])
    print()
    _recommendations(report["recommendations"], report["advice"])
