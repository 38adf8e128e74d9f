"""Laws of recipe selection by tags: ``-tag`` never selects a recipe carrying that tag.

Recipes are written as modules on ``CMPY_RECIPES_PATH`` and selected through the
public API (``cmpy.find``, ``cmpy.run``), so the law holds for what a user meets,
whatever the registry does inside.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from _recipe_graphs import settings_for
from hypothesis import given
from hypothesis import strategies as st

import cmpy
from cmpy import AmbiguousQuery, RecipeNotFound

# tag words, made unique to each example (see Written), so that a query of them
# selects only that example's recipes
VOCABULARY = ("alpha", "beta", "gamma", "delta", "omega")
words = st.sampled_from(VOCABULARY)
tag_sets = st.lists(words, min_size=1, max_size=4, unique=True).map(tuple)
recipe_tag_sets = st.lists(tag_sets, min_size=1, max_size=5)
excluded_tags = st.lists(words, min_size=1, max_size=2, unique=True)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[tuple[str, ...]], list[str], list[str]]:
    """Recipes' tag sets, and a query's wanted and excluded tags: the wanted ones mostly
    taken from one recipe, so that before the exclusions the query matches something."""
    sets = draw(recipe_tag_sets)
    some = draw(st.sampled_from(sets))
    wanted = draw(
        st.one_of(
            st.lists(st.sampled_from(some), max_size=2, unique=True),
            st.lists(words, max_size=2, unique=True),
        )
    )
    return sets, wanted, draw(excluded_tags)


_example = itertools.count()


@dataclass(frozen=True)
class Written:
    """One example's recipes, written as a module: their aliases and its own tag words.

    Each example gets fresh aliases and tag words (``alpha3`` for ``alpha`` in the third
    example) in a module of its own, so no recipe of an earlier example matches its
    queries or shares a uid with one of its recipes; nothing is rewritten or removed.
    """

    aliases: frozenset[str]
    words: dict[str, str]

    def tags(self, words: list[str]) -> list[str]:
        return [self.words[w] for w in words]


def _write(recipe_dir: Callable[[str, str], Path], tag_sets: list[tuple[str, ...]]) -> Written:
    n = next(_example)
    words = {w: f"{w}{n}" for w in VOCABULARY}
    lines = ["from cmpy import Ctx, script", ""]
    for i, tags in enumerate(tag_sets):
        text = " ".join(words[t] for t in tags)
        lines += [
            f"@script(tags={text!r}, alias='selprop{n}-r{i}')",
            f"def r{i}(ctx: Ctx) -> None: ...",
            "",
        ]
    recipe_dir(f"selprop_{n}", "\n".join(lines))
    return Written(frozenset(f"selprop{n}-r{i}" for i in range(len(tag_sets))), words)


def _expected(wanted: list[str], excluded: list[str]) -> set[str]:
    """The law, spelled out over every recipe there is: all wanted tags, no excluded one."""
    return {
        d["alias"]
        for d in cmpy.find("")
        if set(wanted) <= set(d["tags"]) and not set(excluded) & set(d["tags"])
    }


@settings_for(100)
@given(cases())
def test_excluded_tags_never_select_and_exclude_nothing_else(
    recipe_dir: Callable[[str, str], Path],
    case: tuple[list[tuple[str, ...]], list[str], list[str]],
) -> None:
    """``find`` with ``-tag`` words returns no recipe carrying any of those tags, and every
    recipe that has the wanted tags and none of the excluded ones; ``run`` selects the one
    such recipe, and is ambiguous or finds nothing exactly when there are several or none."""
    tag_sets, wanted, excluded = case
    written = _write(recipe_dir, tag_sets)
    wanted, excluded = written.tags(wanted), written.tags(excluded)
    text = " ".join(wanted + ["-" + t for t in excluded])
    found = cmpy.find(text)
    for desc in found:
        assert not set(excluded) & set(desc["tags"]), f"{text!r} selected {desc['alias']}"
    expected = _expected(wanted, excluded)
    assert {d["alias"] for d in found} == expected
    if wanted:  # a query of exclusions alone names no recipe to run
        assert expected <= written.aliases
        if len(expected) == 1:
            assert cmpy.run(text, dry_run=True, quiet=True).recipe == expected.pop()
        else:
            with pytest.raises(AmbiguousQuery if expected else RecipeNotFound):
                cmpy.run(text, dry_run=True, quiet=True)
