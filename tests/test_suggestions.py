"""A query that matches nothing names the nearest recipes, nearest first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cmpy import RecipeNotFound, run

RECIPES = """
from cmpy import script

@script(tags="bar top", alias="bar-top")
def a(ctx): pass

@script(tags="bar stool", alias="bar-stool")
def b(ctx): pass

@script(tags="bar counter", alias="bar-counter")
def c(ctx): pass

@script(tags="bar lamp", alias="bar-lamp")
def d(ctx): pass

@script(tags="bar sign", alias="bar-sign")
def e(ctx): pass

@script(tags="bar tap", alias="bar-tap")
def f(ctx): pass
"""


def _closest(query: str) -> tuple[str, ...]:
    with pytest.raises(RecipeNotFound) as caught:
        run(query, quiet=True)
    return caught.value.closest


def test_a_typo_suggests_the_recipe_meant_first() -> None:
    assert _closest("get pyhton3")[0] == "get-python3"
    assert _closest("detct os")[0] == "detect-os"


def test_a_shared_word_does_not_outrank_a_near_one(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir("bar", RECIPES)
    found = _closest("bar topp")
    assert found[0] == "bar-top"
    assert "bar-counter" not in found and "bar-stool" not in found


def test_an_alias_typo_is_found_too(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir("bar", RECIPES)
    assert _closest("bar-tpo")[0] == "bar-top"
