"""Laws of variation resolution: canonical, closed, one per group, order-blind."""

from __future__ import annotations

import random
import string
from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from _recipe_graphs import Selector, make_recipe, settings_for
from hypothesis import assume, given
from hypothesis import strategies as st

from cmpy._errors import RecipeDefinitionError, VariationError
from cmpy._model import Recipe, Variation, validate
from cmpy._request import make_request
from cmpy._variations import Resolved, canonical, known_names, resolve

GROUPS = (None, None, "g0", "g1", "g2")
# plain names use letters no generated alias, wildcard or mutation uses
plain_names = st.text("abcdef", min_size=3, max_size=6)
wildcard_values = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=3)


@dataclass(frozen=True)
class Case:
    """A random recipe and a random request for it."""

    recipe: Recipe
    requested: tuple[str, ...]
    excluded: tuple[str, ...]


def _known_instance(recipe: Recipe, draw: st.DrawFn) -> str:
    """A name a user may ask for: a plain name, an alias or a wildcard's instance."""
    name: str = draw(st.sampled_from(sorted(n for n in recipe.variations if "," not in n)))
    if name.endswith(".#"):
        value: str = draw(wildcard_values)
        return name[:-1] + value
    return name


@st.composite
def recipes(draw: st.DrawFn, *, cyclic: bool = False) -> Recipe:
    """A recipe with grouped variations, defaults, bases (acyclic unless ``cyclic``),
    wildcards, aliases and combined variations; every variation sets its own env key."""
    plain = draw(st.lists(plain_names, min_size=1, max_size=7, unique=True))
    wild = [f"wild{k}" for k in range(draw(st.integers(0, 2)))]
    groups = {name: draw(st.sampled_from(GROUPS)) for name in plain + wild}
    defaults: dict[str, str] = {}
    for name in plain:  # a wildcard cannot be a default: a separate law below
        group = groups[name]
        if group is not None and group not in defaults and draw(st.booleans()):
            defaults[group] = name

    def instance(name: str) -> str:
        return f"{name}.{draw(wildcard_values)}" if name in wild else name

    aliases = {
        f"alias{k}": instance(draw(st.sampled_from(plain + wild)))
        for k in range(draw(st.integers(0, 2)))
    }
    base_pool = plain + wild + list(aliases)
    variations: dict[str, Variation] = {}
    for i, name in enumerate(plain):
        pool = base_pool if cyclic else plain[:i] + wild + list(aliases)
        base = draw(st.lists(st.sampled_from(pool), max_size=2, unique=True)) if pool else []
        group = groups[name]
        variations[name] = Variation(
            group=group,
            default=group is not None and defaults.get(group) == name,
            base=[instance(b) for b in base],
            env={f"E_{name}": name},
        )
    for name in wild:
        variations[name + ".#"] = Variation(group=groups[name], env={f"E_{name}": "<#>"})
    for alias, target in aliases.items():
        variations[alias] = Variation(alias=target)
    if len(plain) >= 2:
        for k in range(draw(st.integers(0, 2))):
            parts = draw(st.lists(st.sampled_from(plain), min_size=2, max_size=2, unique=True))
            base = draw(st.lists(st.sampled_from(plain), max_size=1))
            variations[",".join(parts)] = Variation(base=base, env={f"E_combined{k}": "on"})
    recipe = make_recipe("x", variations=variations)
    validate(recipe)
    return recipe


@st.composite
def cases(draw: st.DrawFn, *, cyclic: bool = False) -> Case:
    recipe = draw(recipes(cyclic=cyclic))
    requested = [_known_instance(recipe, draw) for _ in range(draw(st.integers(0, 4)))]
    plain = sorted(n for n in recipe.variations if "," not in n and "#" not in n)
    excluded = draw(st.lists(st.sampled_from(plain), max_size=2))
    return Case(recipe, tuple(requested), tuple(excluded))


def _definition(recipe: Recipe, name: str) -> tuple[Variation, str | None]:
    if name in recipe.variations:
        return recipe.variations[name], None
    prefix, _, value = name.partition(".")
    return recipe.variations[prefix + ".#"], value


def _group(recipe: Recipe, name: str) -> str | None:
    var, value = _definition(recipe, name)
    group: str | None = var.group
    if group is not None:
        return group
    return name.partition(".")[0] + ".#" if value is not None else None


def _combined(recipe: Recipe, names: Iterable[str]) -> list[str]:
    chosen = set(names)
    return [
        c
        for c in recipe.variations
        if "," in c and all(canonical(recipe, p) in chosen for p in c.split(","))
    ]


def _outcome(
    recipe: Recipe, requested: Iterable[str], excluded: Iterable[str] = ()
) -> Resolved | type[VariationError]:
    try:
        return resolve(recipe, requested, excluded)
    except VariationError:
        return VariationError


def _check(case: Case, result: Resolved) -> None:
    recipe = case.recipe
    names = result.names
    chosen = set(names)
    assert list(names) == sorted(set(names)), "names are sorted and unique"
    for name in names:
        assert canonical(recipe, name) == name, f"{name} is canonical"
    groups = [g for g in (_group(recipe, n) for n in names) if g is not None]
    assert len(groups) == len(set(groups)), "at most one variation per group"
    combined = _combined(recipe, names)
    pulled: set[str] = set()
    for name in list(names) + combined:
        var, _ = _definition(recipe, name)
        for base in var.base:
            assert canonical(recipe, base) in chosen, f"base {base} of {name} is in"
            pulled.add(str(canonical(recipe, base)))
    for name in case.requested:
        assert canonical(recipe, name) in chosen
    for name in case.excluded:
        assert canonical(recipe, name) not in chosen
    excluded = {canonical(recipe, n) for n in case.excluded}
    for name, var in recipe.variations.items():
        if var.default and name not in excluded:
            assert any(_group(recipe, n) == var.group for n in names), (
                f"group {var.group} has a member"
            )
    asked = {canonical(recipe, n) for n in case.requested}
    for name in names:
        var, _ = _definition(recipe, name)
        assert name in asked or name in pulled or var.default, f"{name} came from nowhere"
    env: dict[str, str] = {}
    for name in list(names) + combined:
        var, value = _definition(recipe, name)
        env.update({k: v if value is None else v.replace("#", value) for k, v in var.env.items()})
    assert result.env == env


@settings_for(250)
@given(cases())
def test_resolution_is_canonical_and_closed(case: Case) -> None:
    """A resolution is sorted canonical names, one per group, closed under base, holding
    what was asked, nothing excluded, a member for every group with a default (unless the
    default is excluded), nothing that no request, base or default brought, and exactly
    the env of its variations with ``#`` replaced by the wildcard's value."""
    result = _outcome(case.recipe, case.requested, case.excluded)
    assume(result is not VariationError)  # a request that fails has no resolution to check
    assert isinstance(result, Resolved)
    _check(case, result)


@settings_for(200)
@given(cases(cyclic=True))
def test_cyclic_bases_resolve_to_a_closed_set(case: Case) -> None:
    """Bases that pull each other in a loop still resolve: the whole loop, closed, once."""
    result = _outcome(case.recipe, case.requested, case.excluded)
    assume(result is not VariationError)  # a request that fails has no resolution to check
    assert isinstance(result, Resolved)
    _check(case, result)


@settings_for(200)
@given(cases(cyclic=True), st.randoms(use_true_random=False))
def test_resolution_ignores_request_order(case: Case, rnd: random.Random) -> None:
    """The same request in any order, with repeats, resolves the same (or fails the same)."""
    requested = list(case.requested) * 2
    excluded = list(case.excluded)
    rnd.shuffle(requested)
    rnd.shuffle(excluded)
    first = _outcome(case.recipe, case.requested, case.excluded)
    assert _outcome(case.recipe, requested, excluded) == first
    assert _outcome(case.recipe, case.requested, case.excluded) == first


@settings_for(200)
@given(cases(cyclic=True))
def test_resolution_is_idempotent(case: Case) -> None:
    """Asking for what a resolution gave resolves to the same thing."""
    result = _outcome(case.recipe, case.requested, case.excluded)
    assume(isinstance(result, Resolved))  # a request that fails has nothing to ask again
    assert isinstance(result, Resolved)
    assert resolve(case.recipe, result.names, case.excluded) == result


@settings_for(200)
@given(cases())
def test_an_alias_is_its_target(case: Case) -> None:
    """Asking for an alias resolves exactly as asking for the variation it names."""
    recipe = case.recipe
    plain = [canonical(recipe, n) or n for n in case.requested]
    assert _outcome(recipe, case.requested, case.excluded) == _outcome(recipe, plain, case.excluded)


@settings_for(200)
@given(recipes(cyclic=True))
def test_every_known_name_has_a_canonical_form(recipe: Recipe) -> None:
    """Every name a recipe lists (a wildcard with any value) can be asked for: it is never
    reported as unknown."""
    for name in known_names(recipe):
        asked = name.replace(".#", ".7")
        assert canonical(recipe, asked) is not None
        try:
            resolve(recipe, [asked])
        except VariationError as exc:
            assert "does not have" not in exc.message


@settings_for(200)
@given(recipes(), st.data())
def test_unknown_name_suggests_a_close_one(recipe: Recipe, data: st.DataObject) -> None:
    """A name one letter off a known one raises VariationError naming it, with a
    did-you-mean suggestion among the known names."""
    plain = sorted(n for n in recipe.variations if "," not in n and "#" not in n)
    name = data.draw(st.sampled_from(plain))
    at = data.draw(st.integers(0, len(name)))
    typo = name[:at] + "z" + name[at:]
    where = data.draw(st.sampled_from(["requested", "excluded"]))
    with pytest.raises(VariationError) as info:
        if where == "requested":
            resolve(recipe, [typo])
        else:
            resolve(recipe, [], [typo])
    exc = info.value
    assert exc.name == typo
    assert exc.suggestion in known_names(recipe)
    assert f"did you mean _{exc.suggestion}?" in str(exc)


@settings_for(100)
@given(recipes().filter(lambda r: "wild0.#" in r.variations))
def test_wildcard_without_value_suggests_the_wildcard(recipe: Recipe) -> None:
    """Asking for a wildcard variation without a value names ``name.#`` as the fix."""
    with pytest.raises(VariationError) as info:
        resolve(recipe, ["wild0"])
    assert info.value.suggestion == "wild0.#"


@settings_for(200)
@given(recipes(), st.data())
def test_excluded_and_needed_is_an_error(recipe: Recipe, data: st.DataObject) -> None:
    """Asking for a variation and excluding what it needs (itself or a base) raises
    VariationError."""
    plain = sorted(n for n in recipe.variations if "," not in n and "#" not in n)
    name = data.draw(st.sampled_from(plain))
    asked = str(canonical(recipe, name))  # an alias asks for its target
    var, _ = _definition(recipe, asked)
    needed = [asked] + [str(canonical(recipe, b)) for b in var.base]
    # exclusions are by name: a wildcard instance that no alias names cannot be excluded,
    # so only what some name excludes is drawn (``asked`` always is: by ``name`` itself)
    excludable = [t for t in needed if any(canonical(recipe, n) == t for n in plain)]
    target = data.draw(st.sampled_from(excludable))
    excluded = [n for n in plain if canonical(recipe, n) == target][:1]
    with pytest.raises(VariationError):
        resolve(recipe, [name], excluded)


@settings_for(200)
@given(
    st.lists(
        st.text("abc-", min_size=1, max_size=5).filter(lambda s: s[0] != "-"),
        min_size=1,
        max_size=4,
        unique=True,
    ),
    st.data(),
)
def test_keyword_variations_are_query_variations(names: list[str], data: st.DataObject) -> None:
    """``name=True`` (``-`` written as ``_``) asks for ``_name``, ``name=False`` excludes it,
    and ``bs=32`` asks for ``_bs.32`` of the wildcard ``bs.#``."""
    variations = {n: Variation(env={"E_" + n: "1"}) for n in names}
    variations["bs.#"] = Variation(env={"BS": "#"})
    recipe = make_recipe("kw", variations=variations)
    selector = Selector([recipe])
    name = data.draw(st.sampled_from(names))
    flag = data.draw(st.booleans())
    size = data.draw(st.integers(1, 512))
    request = make_request(selector, "kw", kwargs={name.replace("-", "_"): flag, "bs": size})
    word = ("_" if flag else "-_") + name
    assert request == make_request(selector, f"kw {word} _bs.{size}", kwargs={})


def test_group_names_do_not_decide_success() -> None:
    """Renaming groups never changes whether a resolution succeeds, nor what it holds."""
    outcomes = []
    for first, second in (("A", "B"), ("B", "A")):
        recipe = make_recipe(
            "x",
            variations={
                "a1": Variation(group=first, default=True, base="b2"),
                "a2": Variation(group=first),
                "b1": Variation(group=second, default=True),
                "b2": Variation(group=second),
            },
        )
        outcome = _outcome(recipe, [])
        outcomes.append(outcome.names if isinstance(outcome, Resolved) else outcome)
    assert outcomes[0] == outcomes[1]


def _defined(**variations: Variation) -> Recipe | None:
    """The recipe ``x`` with these variations, or None when validate() rejects it."""
    try:
        return make_recipe("x", variations=variations)
    except RecipeDefinitionError:
        return None


def test_a_default_alias_is_canonical_or_rejected() -> None:
    """Resolved names are canonical even when a group's default is an alias (or such a
    default is rejected where the recipe is defined)."""
    recipe = _defined(
        short=Variation(group="g", default=True, alias="long"),
        long=Variation(group="g", env={"K": "v"}),
    )
    if recipe is not None:
        assert resolve(recipe).names == ("long",)


def test_a_wildcard_default_is_substituted_or_rejected() -> None:
    """A wildcard has no value to default to: ``default=True`` on ``w.#`` is rejected where
    the recipe is defined (or, at least, never yields the name ``w.#`` and a bare ``#``)."""
    recipe = _defined(**{"w.#": Variation(group="g", default=True, env={"K": "v#"})})
    if recipe is not None:
        resolved = resolve(recipe)
        assert "w.#" not in resolved.names
        assert "#" not in resolved.env.get("K", "")


def test_an_alias_loop_is_rejected() -> None:
    """Aliases that name each other in a loop are rejected where the recipe is defined
    (otherwise a name ``known_names`` lists would be reported as unknown)."""
    recipe = _defined(a=Variation(alias="b"), b=Variation(alias="a"))
    if recipe is not None:
        assert all(canonical(recipe, name) is not None for name in known_names(recipe))
