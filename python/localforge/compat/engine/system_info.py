"""0.x's `localforge.engine.system_info.SystemInfo`, kept for plugins that import it: the
same keys, read from the engine's system report. Deprecated: use `localforge.system()`."""

from typing import Optional

from localforge.engine._shim import deprecated

deprecated("localforge.engine.system_info", "localforge.system()")

_SERVICE_NAMES = {"ollama": "ollama", "sd": "sd_webui", "comfyui": "comfyui"}


class SystemInfo:
    """Hardware, services and tools, as 0.x reported them; model advice from the engine."""

    def __init__(self):
        self._report: Optional[dict] = None

    @property
    def report(self) -> dict:
        """The engine's whole report (`localforge.system()`), read once."""
        if self._report is None:
            from localforge import api

            self._report = api.system()
        return self._report

    @property
    def hardware(self) -> dict:
        h = self.report["hardware"]
        return {"cpu_cores": h["cpu_cores"], "ram_gb": round(h["ram_gb"], 1), "platform": h["platform"], "arch": h["arch"],
                "gpu": h["gpu"], "vram_gb": round(h["vram_gb"], 1)}  # fmt: skip

    @property
    def services(self) -> dict:
        out = {}
        for name, s in self.report["services"].items():
            entry = {"label": s.get("label") or name, "running": s["running"]}
            if s.get("error") and not s["running"]:
                entry["error"] = s["error"]
            out[_SERVICE_NAMES.get(name, name)] = entry
        return out

    @property
    def tools(self) -> dict:
        return {name: {"found": t["found"], "path": t.get("path")} for name, t in self.report["tools"].items()}

    def recommend_models(self, task: str = "general") -> list:
        """The engine's recommendations for `task`: `{model, vram_gb, description, fits, runs_on}`."""
        return [{"model": r["model"], "vram_gb": r["vram_gb"], "description": r["why"], "fits": r["fits"], "runs_on": r.get("runs_on")}
                for r in self.report["recommendations"] if r["task"] == task]  # fmt: skip

    def can_run_model(self, model: str, category: str = "ollama") -> bool:
        """Whether the engine recommends `model` as fitting this machine (for any task)."""
        return any(r["model"] == model and r["fits"] for r in self.report["recommendations"])

    def recommend_sd_config(self) -> Optional[dict]:
        """The engine's image-generation recommendation when it fits this machine (0.x's keys)."""
        images = [r for r in self.report["recommendations"] if r["task"] == "image_generation" and r["fits"]]
        if not images:
            return None
        r = images[0]
        # 0.x's keys; the engine's recommendation names no resolution.
        return {"key": r["model"], "label": r["model"], "vram_gb": r["vram_gb"], "resolution": None}

    def summary(self) -> dict:
        return {"hardware": self.hardware, "services": self.services, "tools": self.tools}

    def format_report(self) -> str:
        """The `localforge system` text."""
        from localforge.services import system_report

        return system_report.text(self.report)
