"""Every recipe shipped in recipes/ (found recursively) validates."""

import pytest

from conftest import REPO

RECIPES = sorted(p for p in (REPO / "recipes").rglob("*.yaml"))


def test_recipes_are_found():
    assert any(p.name == "hello-localforge.yaml" for p in RECIPES)
    assert any(p.name == "TEMPLATE.yaml" for p in RECIPES)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.relative_to(REPO / "recipes").as_posix())
def test_recipe_validates(lf, path):
    """Every recipe is valid; a tool that is merely not installed or configured on
    this machine (MusicGen, say) is the machine's matter, not the recipe's."""
    import json

    doc = json.loads(lf("validate", path, "--json").stdout)
    problems = [e for e in doc["errors"] if "which cannot be used here" not in e["message"]]
    assert problems == []
