"""The configuration API 0.x tool plugins use: `get_config()`.

Values come from the engine (the same files and `LOCALFORGE_*` variables the
Rust engine reads), so Python and Rust never disagree about a setting.
"""

import os
import shutil
from pathlib import Path
from typing import Any, Optional

_BLENDER_CANDIDATES = [
    "/usr/bin/blender",
    "/usr/local/bin/blender",
    "/snap/bin/blender",
    "/Applications/Blender.app/Contents/MacOS/Blender",
]


def _detect_blender() -> Optional[str]:
    found = shutil.which("blender")
    if found:
        return found
    return next((c for c in _BLENDER_CANDIDATES if os.path.exists(c)), None)


class Config:
    """LocalForge configuration with the 0.x surface."""

    def __init__(self, config_path: Optional[Path] = None):
        from localforge import _core

        # That file for this object only: nothing leaks into the process's environment.
        doc = _core.config(None if config_path is None else os.fspath(config_path))
        self._raw = doc["raw"]
        self.file = doc["file"]
        self._paths = doc
        blender = self._raw.setdefault("services", {}).setdefault("blender", {})
        if not blender.get("path"):
            blender["path"] = _detect_blender()

    @property
    def workspace(self) -> str:
        return str(self._paths["workspace"])

    @property
    def output_dir(self) -> str:
        return str(Path(os.path.expandvars(os.path.expanduser(self._raw.get("output_dir", "")))).absolute())

    @property
    def run_dir(self) -> str:
        return str(self._paths["run_dir"])

    def service(self, name: str) -> dict:
        return dict(self._raw.get("services", {}).get(name) or {})

    @property
    def ollama_host(self) -> str:
        return self.service("ollama").get("host", "http://localhost:11434")

    @property
    def ollama_model(self) -> str:
        return self.service("ollama").get("default_model", "llama3.2:3b")

    @property
    def sd_host(self) -> str:
        return self.service("sd").get("host", "http://localhost:7860")

    @property
    def sd_timeout(self) -> int:
        return self.service("sd").get("timeout", 120)

    @property
    def blender_path(self) -> Optional[str]:
        return self.service("blender").get("path")

    @property
    def ffmpeg_path(self) -> str:
        return self.service("ffmpeg").get("path", "ffmpeg")

    @property
    def persistence_enabled(self) -> bool:
        return bool(self._paths["persistence_enabled"])

    @property
    def persistence_db_path(self) -> str:
        return str(self._paths["db_path"])

    @property
    def tool_dirs(self) -> list:
        return [str(p) for p in self._paths["tool_dirs"]]

    def get(self, key: str, default: Any = None) -> Any:
        """A raw value by dotted key (`services.ollama.host`)."""
        obj: Any = self._raw
        for part in key.split("."):
            if not isinstance(obj, dict):
                return default
            obj = obj.get(part)
            if obj is None:
                return default
        return obj


_config: Optional[Config] = None


def __getattr__(name):
    # 0.x's `DEFAULTS`: every setting's built-in value, from the engine (a fresh copy each time).
    if name == "DEFAULTS":
        from localforge import _core

        return _core.config_defaults()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_config(config_path: Optional[Path] = None) -> Config:
    """The process-wide configuration (loaded on first use)."""
    global _config
    if _config is None or config_path is not None:
        _config = Config(config_path)
    return _config


def reset_config() -> None:
    """Forget the loaded configuration (tests)."""
    global _config
    _config = None
