"""The machine report as text, for people: what `localforge system` and `localforge
health` print, and 0.x's `SystemInfo.format_report()`. Each part gives its lines; the
report is `api.system()`'s, or `api.health()`'s for the services and tools."""

from __future__ import annotations

from typing import Any, Optional


def text(report: Any, title: str = "LocalForge system report") -> str:
    """The whole report: hardware, services, tools and the recommended models, under `title`."""
    sections = [hardware(report["hardware"]), services(report["services"]), tools(report["tools"]),
                recommendations(report["recommendations"], report["advice"])]  # fmt: skip
    return f"{title}\n\n" + "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _gb(x) -> str:
    return f"{x:.1f} GB"


def services(services: Any) -> list[str]:
    lines = ["Services"]
    if not services:
        lines.append("  (none configured)")
    for name, s in services.items():
        if s["running"]:
            what = [s["version"] or ""]
            if s["models"]:
                what.append(f"{len(s['models'])} models")
            if s["loaded"]:
                what.append("loaded: " + ", ".join(f"{m['name']} ({_gb(m['vram_gb'])})" for m in s["loaded"]))
            lines.append(f"  ✓ {name:<12} {s['url']:<28} {'  '.join(w for w in what if w)}")
        else:
            lines.append(f"  ✗ {name:<12} {s['url']:<28} {s['error']}")
            if s.get("hint"):
                lines.append(f"    {'':<12} → {s['hint']}")
    return lines


def tools(tools: Any) -> list[str]:
    lines = ["Tools"]
    for name, t in tools.items():
        if t["found"]:
            lines.append(f"  ✓ {name:<20} {t['version'] or '?':<16} {t['path']}")
        elif t.get("note"):
            lines.append(f"  ✗ {name:<20} {t['note']}")
        else:
            lines.append(f"  ✗ {name:<20} not found")
    return lines


def hardware(hw: Any) -> list[str]:
    lines = ["Hardware"]
    cores = f"{hw['cpu_cores']} threads" + (f", {hw['physical_cores']} cores" if hw.get("physical_cores") else "")
    lines.append(f"  CPU   {hw['cpu']} ({cores})")
    lines.append(f"  RAM   {_gb(hw['ram_gb'])} ({_gb(hw['ram_available_gb'])} available)")
    if not hw["gpus"]:
        lines.append(f"  GPU   none: {hw['gpu_note']}" if hw.get("gpu_note") else "  GPU   none")
    for g in hw["gpus"]:
        driver = f", driver {g['driver']}" if g.get("driver") else ""
        kind = "unified memory" if g.get("unified") else "VRAM"
        # With several cards each says its number (`resources.gpu`, CUDA_VISIBLE_DEVICES order).
        label = f"GPU {g.get('index', 0)}" if len(hw["gpus"]) > 1 else "GPU  "
        serves = ""
        if len(hw["gpus"]) > 1 and g.get("instances"):
            loaded = f" (loaded: {', '.join(g['loaded'])})" if g.get("loaded") else ""
            serves = f"; serves {', '.join(g['instances'])}{loaded}"
        lines.append(f"  {label} {g['name']}: {_gb(g['vram_total_gb'])} {kind}, {_gb(g['vram_free_gb'])} free{serves}{driver}")
    return lines


def recommendations(recs: Any, advice: Any) -> list[str]:
    cols = width()
    lines = ["Recommended models"]
    for r in recs:
        mark = "✓" if r["fits"] else "✗"
        lines.append(hanging(f"  {mark} {r['task']:<17} {r['model']:<20} {_gb(r['vram_gb']):>8}  ", r["why"], cols))
    if advice:
        lines.append("")
        lines.append(hanging("", "Ollama tuning (set in the environment Ollama starts with)", cols))
        for a in advice:
            lines.append(hanging(f"  {a['setting']:<28} ", a["why"], cols))
    return lines


def width() -> int:
    """Columns to wrap human output at: `COLUMNS` if set, else the terminal's, else 100."""
    import shutil

    return max(40, shutil.get_terminal_size((100, 24)).columns)


def hanging(head: str, text: str, cols: Optional[int] = None) -> str:
    """`head` then `text` wrapped to `cols` (default `width()`), continuation
    lines under the text; when that leaves too little room, the text goes on
    the lines below `head`, indented six spaces."""
    import textwrap

    cols = cols or width()
    if not text:
        return head.rstrip()
    if cols - len(head) >= 30:
        return textwrap.fill(text, cols, initial_indent=head, subsequent_indent=" " * len(head), break_on_hyphens=False)
    first = textwrap.fill(head.strip(), cols, initial_indent=head[: len(head) - len(head.lstrip())], subsequent_indent="    ")
    return first + "\n" + textwrap.fill(text, cols, initial_indent=" " * 6, subsequent_indent=" " * 6, break_on_hyphens=False)
