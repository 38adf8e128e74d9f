"""Env passed to a run, an adr or a dep that no recipe reads is never dropped silently."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cmpy import RecipeDefinitionError, run

RECIPES = """
from cmpy import Ctx, Dep, script

@script(tags="reader leaf", alias="reader-leaf", env={"LEAF_X": ""}, reads=["LEAF_GLOB_*"])
def leaf(ctx: Ctx) -> dict:
    return {"LEAF_SEEN": ctx.env.get("LEAF_X", "")}

@script(tags="reader middle", alias="reader-middle", deps=[Dep("reader leaf", name="leaf")])
def middle(ctx: Ctx) -> None:
    pass

@script(tags="reader top", alias="reader-top",
        deps=[Dep("reader middle", name="middle", env={"LEAF_X": "from-top"})])
def top(ctx: Ctx) -> None:
    pass

@script(tags="reader bad", alias="reader-bad",
        deps=[Dep("reader leaf", name="leaf", env={"NOBODY_READS": "1"})])
def bad(ctx: Ctx) -> None:
    pass

@script(tags="reader dynamic", alias="reader-dynamic")
def dynamic(ctx: Ctx) -> None:
    ctx.run_sync("reader leaf", env={"NOBODY_READS_EITHER": "1"})
"""


@pytest.fixture
def recipes(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir("readers", RECIPES)


def _warnings(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if "warning" in line]


def test_env_nobody_reads_is_named(recipes: None, capsys: pytest.CaptureFixture[str]) -> None:
    run("reader leaf", env={"LEAF_X": "1", "LEAF_GLOB_A": "2", "TYPO_X": "3"}, quiet=True)
    (line,) = _warnings(capsys)
    assert "TYPO_X" in line and "reads=['TYPO_X']" in line
    assert "LEAF_X" not in line.replace("TYPO_X", "")


def test_env_read_below_is_no_news(recipes: None, capsys: pytest.CaptureFixture[str]) -> None:
    r = run("reader top", env={"LEAF_X": "caller"}, quiet=True)
    assert _warnings(capsys) == []
    assert r.deps[0].deps[0]["LEAF_SEEN"] == "caller"  # the caller's env is highest


def test_a_dep_env_read_further_down_is_fine(recipes: None) -> None:
    r = run("reader top", quiet=True)
    assert r.deps[0].deps[0]["LEAF_SEEN"] == "from-top"


def test_a_dep_env_nobody_reads_is_an_error(recipes: None) -> None:
    with pytest.raises(RecipeDefinitionError) as caught:
        run("reader bad", quiet=True)
    text = str(caught.value)
    assert "NOBODY_READS" in text and "reader-leaf never reads" in text
    assert "reads=['NOBODY_READS']" in text
    with pytest.raises(RecipeDefinitionError):
        run("reader bad", dry_run=True)  # told before anything runs


def test_a_ctx_run_env_nobody_reads_is_an_error(recipes: None) -> None:
    with pytest.raises(RecipeDefinitionError) as caught:
        run("reader dynamic", quiet=True)
    assert "NOBODY_READS_EITHER" in str(caught.value)
    assert caught.value.recipe == "reader-dynamic"


def test_adr_nobody_takes_is_named(recipes: None, capsys: pytest.CaptureFixture[str]) -> None:
    run("reader middle", adr={"lef": {"env": {"LEAF_X": "1"}}}, quiet=True)
    (line,) = _warnings(capsys)
    assert "--adr.lef" in line and "leaf" in line  # the names that do exist
    run("reader middle", adr={"leaf": {"env": {"LEAF_Y": "1"}}}, quiet=True)
    (line,) = _warnings(capsys)
    assert "LEAF_Y" in line and "'leaf'" in line
    run("reader middle", adr={"leaf": {"env": {"LEAF_X": "1"}}}, quiet=True)
    assert _warnings(capsys) == []
