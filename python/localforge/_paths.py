"""Where the data shipped with LocalForge lives (recipes, data, seeds)."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """`recipes`, `data` or `seeds`, shipped inside the package."""
    return PACKAGE_DIR / name
