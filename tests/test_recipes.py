"""Every recipe shipped in recipes/ (found recursively) validates."""

import pytest

from conftest import REPO

RECIPES = sorted(p for p in (REPO / "recipes").rglob("*.yaml"))


def test_recipes_are_found():
    assert any(p.name == "hello-localforge.yaml" for p in RECIPES)
    assert any(p.name == "TEMPLATE.yaml" for p in RECIPES)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.relative_to(REPO / "recipes").as_posix())
def test_recipe_validates(lf, path):
    proc = lf("validate", path, "--json")
    assert proc.returncode == 0, proc.stdout
