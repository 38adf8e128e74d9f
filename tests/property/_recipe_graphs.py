"""Hypothesis strategies for random recipes and recipe graphs, and a stand-in registry.

The planner only needs something with ``select(query) -> Recipe``, so graphs here are
plain ``Recipe`` objects found by alias: no files, no recipe modules, no I/O.

Every recipe ``r<i>`` of a graph reads only keys of its own (``R<i>_*``), the condition
keys ``FLAG`` and ``MODE`` of its deps and, when it declares ``reads``, ``SHARED_*``; so a
test knows exactly which env key reaches which recipe.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from cmpy._model import Dep, Input, Recipe, Variation, uid_for, validate
from cmpy._plan import Plan, Request
from cmpy._query import Query

__all__ = [
    "ENV_KEYS",
    "ENV_VALUES",
    "Graph",
    "ROOT_VARIATIONS",
    "Selector",
    "graphs",
    "make_recipe",
    "reaching",
    "requests",
    "settings_for",
    "walk",
    "with_request",
]

# keys a caller may set: two condition keys, a shared key some recipes read, and one
# that no recipe reads
ENV_KEYS = ("FLAG", "MODE", "SHARED_A", "NOBODY_READS")
ENV_VALUES = ("", "yes", "no", "on", "0", "x", "1")
ROOT_VARIATIONS: tuple[tuple[str, ...], ...] = (
    (),
    ("fast",),
    ("slow",),
    ("bs.4",),
    ("extra",),
    ("fast", "bs.2"),
)


# CMPY_HYPOTHESIS_SCALE=10 makes every property try ten times as many examples
_SCALE = float(os.environ.get("CMPY_HYPOTHESIS_SCALE", "1"))


def settings_for(max_examples: int) -> settings:
    """Settings for a pure, fast property: no deadline, no fixture complaint, and
    ``max_examples`` scaled by ``CMPY_HYPOTHESIS_SCALE``."""
    return settings(
        max_examples=max(1, round(max_examples * _SCALE)),
        deadline=None,
        # the autouse CMPY_HOME fixture does not matter to pure code
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


class Selector:
    """A registry stand-in: the recipe whose alias is the query's first tag."""

    def __init__(self, recipes: Iterable[Recipe]) -> None:
        self.recipes = {r.alias: r for r in recipes}

    def select(self, query: Query) -> Recipe:
        return self.recipes[query.tags[0]]


def with_request(request: Request, **changes: Any) -> Request:
    """A copy of a request with some fields changed."""
    names = (
        "recipe",
        "variations",
        "excluded_variations",
        "spec",
        "inputs",
        "env",
        "adr",
        "inherited",
    )
    values = {name: getattr(request, name) for name in names}
    values.update(changes)
    return Request(**values)


def make_recipe(alias: str, **fields: Any) -> Recipe:
    """A validated recipe found by its alias, with a fingerprint derived from it."""
    fields.setdefault("fingerprint", "fp:" + alias)
    fields.setdefault("tags", (alias,))
    recipe = Recipe(alias=alias, uid=uid_for(alias), **fields)
    validate(recipe)
    return recipe


@dataclass(frozen=True)
class Graph:
    """Recipes ``r0 .. r<n-1>``; ``r0`` is the one a test asks for."""

    specs: tuple[_Spec, ...]
    cycle: tuple[int, ...] = ()
    recipes: tuple[Recipe, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipes", tuple(spec.build() for spec in self.specs))

    @property
    def root(self) -> Recipe:
        return self.recipes[0]

    def selector(self) -> Selector:
        return Selector(self.recipes)

    def edges(self, alias: str) -> set[str]:
        """Aliases a recipe may depend on, through deps, post_deps or variation deps."""
        recipe = self.selector().recipes[alias]
        deps = list(recipe.deps) + list(recipe.post_deps)
        for var in recipe.variations.values():
            deps += var.deps
        return {d.query.tags[0] for d in deps}

    def edited(self, index: int) -> Graph:
        """This graph with recipe ``index`` edited: the same recipe, a new fingerprint."""
        specs = list(self.specs)
        specs[index] = replace(specs[index], revision=specs[index].revision + 1)
        return Graph(tuple(specs), self.cycle)


@dataclass
class _Spec:
    """A recipe's parts while the graph is drawn (recipes themselves are frozen)."""

    index: int
    deps: list[Dep] = field(default_factory=list)
    post_deps: list[Dep] = field(default_factory=list)
    extra: list[Dep] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    slow_default: bool = False
    reads: tuple[str, ...] = ()
    revision: int = 0

    def build(self) -> Recipe:
        i = self.index
        return make_recipe(
            f"r{i}",
            fingerprint=f"fp:r{i}:{self.revision}",
            deps=tuple(self.deps),
            post_deps=tuple(self.post_deps),
            env=self.env,
            inputs={"opt": Input(f"R{i}_OPT")},
            reads=self.reads,
            variations={
                "fast": Variation(group="speed", env={f"R{i}_SPEED": "fast"}),
                "slow": Variation(
                    group="speed", default=self.slow_default, env={f"R{i}_SPEED": "slow"}
                ),
                "bs.#": Variation(env={f"R{i}_BS": "bs-#"}),
                "extra": Variation(deps=tuple(self.extra)),
                "pinned": Variation(adr={"py": {"version_max": "7.7"}}),
            },
        )


# built once: strategies made afresh inside a draw cost more than the draw
_DEP_VARIATIONS = st.sampled_from(("", " _fast", " _slow", " _bs.8", " _bs.16", " _extra"))
_DEP_ENV = st.dictionaries(
    st.sampled_from(("HOME", "BS")), st.sampled_from(("1", "2")), max_size=2
)
_DEP_NAMES = st.sampled_from((None, "py", "lib"))
_DEP_INPUTS = st.sampled_from(((), (("opt", "x"),), (("opt", "y"),)))
_DEP_MINS = st.sampled_from((None, "1.0", "2.0"))
# mostly unconditional, so that graphs stay big enough to say something
_CONDITIONS = st.sampled_from(
    ((),) * 4
    + (
        (("FLAG", ("yes",)),),
        (("FLAG", ("no", "x")),),
        (("MODE", ("x",)),),
        (("MODE", ("on",)),),
    )
)


_HOMES = st.sampled_from(("a", "b"))
_READS = st.sampled_from(((), ("SHARED_*",)))
_KINDS = st.sampled_from(("deps", "post_deps"))
_PRE = st.just("deps")
_SPECS = st.sampled_from(("", ">=1.0", "==3.11"))
_ROOT_INPUTS = st.sampled_from(((), (("opt", "z"),)))
_ROOT_VARIATIONS = st.sampled_from(ROOT_VARIATIONS)
_CALLER_ENV = st.dictionaries(st.sampled_from(ENV_KEYS), st.sampled_from(ENV_VALUES), max_size=3)


@st.composite
def _dep(draw: st.DrawFn, target: int, *, conditional: bool = True) -> Dep:
    env = draw(_DEP_ENV)
    kw: dict[str, Any] = {
        "name": draw(_DEP_NAMES),
        # keys the target reads (its HOME, its variation's BS): env handed to a dep
        # that nothing below reads is refused at planning (tests/test_unread_env.py)
        "env": {f"R{target}_{k}": v for k, v in env.items()},
        "inputs": dict(draw(_DEP_INPUTS)),
        "version_min": draw(_DEP_MINS),
    }
    if conditional:
        kw["when_env"] = dict(draw(_CONDITIONS))
        kw["skip_env"] = dict(draw(_CONDITIONS))
    return Dep(f"r{target}{draw(_DEP_VARIATIONS)}", **kw)


@st.composite
def graphs(
    draw: st.DrawFn,
    *,
    min_size: int = 1,
    max_size: int = 6,
    post: bool = True,
    cyclic: bool = False,
) -> Graph:
    """A random recipe graph; acyclic unless ``cyclic``, when an unconditional loop is
    reachable from ``r0``."""
    n = draw(st.integers(min_size, max_size))
    specs = [
        _Spec(
            i,
            env={f"R{i}_HOME": draw(_HOMES)},
            slow_default=draw(st.booleans()),
            reads=draw(_READS),
        )
        for i in range(n)
    ]
    for spec in specs[1:]:  # every recipe has a parent, so the whole graph is reachable
        parent = specs[draw(st.integers(0, spec.index - 1))]
        parent.deps.append(draw(_dep(spec.index)))
    for spec in specs:
        if spec.index + 1 >= n:
            continue
        later = st.integers(spec.index + 1, n - 1)
        for target in draw(st.lists(later, max_size=2)):
            spec.deps.append(draw(_dep(target)))
        for target in draw(st.lists(later, max_size=1)):
            spec.extra.append(draw(_dep(target)))
        if post:
            for target in draw(st.lists(later, max_size=1)):
                spec.post_deps.append(draw(_dep(target)))
    loop: tuple[int, ...] = ()
    if cyclic:
        loop = tuple(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True)))
        hops = list(zip(loop, loop[1:] + loop[:1]))
        if 0 not in loop:
            hops.append((0, loop[0]))
        for source, target in hops:
            dep = draw(_dep(target, conditional=False))
            kind = draw(_KINDS if post else _PRE)
            getattr(specs[source], kind).append(dep)
    return Graph(tuple(specs), loop)


@st.composite
def requests(draw: st.DrawFn, graph: Graph) -> Request:
    """A caller's request for ``r0``: variations, env, an input, maybe a version."""
    return Request(
        recipe=graph.root,
        variations=draw(_ROOT_VARIATIONS),
        spec=draw(_SPECS),
        inputs=dict(draw(_ROOT_INPUTS)),
        env=draw(_CALLER_ENV),
    )


def reaching(the_plan: Plan, hit: Iterable[str], *, post: bool) -> set[str]:
    """Keys of the nodes from which a node in ``hit`` can be reached (``hit`` included),
    through deps, and through post_deps too when ``post``."""
    out = set(hit) & set(the_plan.nodes)
    grew = True
    while grew:
        grew = False
        for key, node in the_plan.nodes.items():
            children = node.deps + (node.post_deps if post else ())
            if key not in out and any(c in out for c in children):
                out.add(key)
                grew = True
    return out


def walk(the_plan: Plan) -> Iterator[str]:
    """Keys reachable from the root, through deps and post_deps."""
    seen: set[str] = set()
    todo = [the_plan.root]
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        yield key
        todo.extend(the_plan.children(key))
