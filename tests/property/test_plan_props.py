"""Laws of the planner: a DAG in dependency order, merged, deterministic, cycles named,
conditions and ``adr`` applied at every depth."""

from __future__ import annotations

import itertools

import pytest
from _recipe_graphs import (
    ENV_VALUES,
    Graph,
    Selector,
    graphs,
    make_recipe,
    requests,
    settings_for,
    walk,
)
from hypothesis import given
from hypothesis import strategies as st

from cmpy._errors import DependencyCycle
from cmpy._model import Dep, Variation
from cmpy._plan import Plan, Request, condition_holds, plan

TRUTHY = ("yes", "on", "true", "1")
FALSY = ("no", "off", "false", "0")


def _case_variants(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.upper(), word.capitalize()])


# values an env may hold, and values a condition may list
env_values = st.one_of(
    st.sampled_from(TRUTHY + FALSY).flatmap(_case_variants),
    st.sampled_from(["", "x", "y", "2", "maybe"]),
)
cond_keys = st.sampled_from(["A", "B", "C"])


def _reference(have: str | None, want: str) -> bool:
    """CM's rule, spelled out: a truthy word matches a truthy value, a falsy word matches a
    falsy, empty or missing value, anything else matches itself."""
    if want.lower() in TRUTHY:
        return have is not None and have.lower() in TRUTHY
    if want.lower() in FALSY:
        return have is None or have.lower() in FALSY + ("",)
    return have == want


@settings_for(300)
@given(
    st.dictionaries(cond_keys, env_values, max_size=3),
    st.dictionaries(cond_keys, st.lists(env_values, min_size=1, max_size=3).map(tuple), max_size=3),
)
def test_condition_holds_follows_cm_truth(
    env: dict[str, str], wanted: dict[str, tuple[str, ...]]
) -> None:
    """A condition holds when every key has one of its listed values, where yes/on/true/1
    (any case) match any truthy value and no/off/false/0 also match a missing or empty key."""
    expected = all(any(_reference(env.get(k), w) for w in ws) for k, ws in wanted.items())
    assert condition_holds(env, wanted) is expected


@settings_for(200)
@given(
    st.dictionaries(cond_keys, env_values, max_size=3),
    cond_keys,
    st.sampled_from(TRUTHY),
    st.sampled_from(FALSY),
)
def test_truthy_and_falsy_conditions_exclude_each_other(
    env: dict[str, str], key: str, yes: str, no: str
) -> None:
    """A truthy and a falsy condition on one key never both hold; on a missing, empty,
    truthy or falsy value exactly one does."""
    on = condition_holds(env, {key: (yes,)})
    off = condition_holds(env, {key: (no,)})
    assert not (on and off)
    value = env.get(key)
    if value is None or value.lower() in TRUTHY + FALSY + ("",):
        assert on != off


def _check_dag(the_plan: Plan) -> None:
    order = {key: i for i, key in enumerate(the_plan.nodes)}
    for key, node in the_plan.nodes.items():
        assert node.key == key
        for child in the_plan.children(key):
            assert child in order, "every dep and post dep is a node of the plan"
        for child in node.deps:
            # post deps run after the node; a node merged from two requests may gain
            # post deps planned after it, so only deps are ordered
            assert order[child] < order[key], "every node comes after its deps"
    assert list(the_plan.nodes)[-1] == the_plan.root, "the root comes last"


@settings_for(150)
@given(st.data(), graphs())
def test_plan_is_a_dag_in_dependency_order(data: st.DataObject, graph: Graph) -> None:
    """Planning an acyclic graph never reports a cycle; in ``plan.nodes`` every node comes
    after all its deps, every post dep is a node too, and the root comes last."""
    request = data.draw(requests(graph))
    _check_dag(plan(graph.selector(), request))


@settings_for(150)
@given(st.data(), graphs(post=False))
def test_every_node_is_reachable_from_the_root(data: st.DataObject, graph: Graph) -> None:
    """A plan holds no node that the root does not (transitively) depend on."""
    the_plan = plan(graph.selector(), data.draw(requests(graph)))
    assert set(walk(the_plan)) == set(the_plan.nodes)


@settings_for(120)
@given(st.data(), graphs())
def test_planning_is_deterministic(data: st.DataObject, graph: Graph) -> None:
    """Planning the same request twice (even through a fresh registry holding the recipes
    in another order) gives the same nodes, keys and order."""
    request = data.draw(requests(graph))
    first = plan(graph.selector(), request)
    again = plan(Selector(reversed(graph.recipes)), request)
    assert list(again.nodes) == list(first.nodes)
    assert again == first


@settings_for(120)
@given(st.data(), graphs())
def test_identical_work_is_one_node(data: st.DataObject, graph: Graph) -> None:
    """No two nodes of a plan are the same recipe with the same variations, version
    specifier, read env and deps."""
    the_plan = plan(graph.selector(), data.draw(requests(graph)))
    signatures = {
        (n.recipe.uid, n.variations, n.spec, tuple(sorted(n.env.items())), n.deps)
        for n in the_plan.nodes.values()
    }
    assert len(signatures) == len(the_plan.nodes)


@settings_for(120)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", " _slow", " _fast"]),
            st.sampled_from(["a", "b"]),
            st.sampled_from(["p", "q"]),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_shared_dep_is_merged(asks: list[tuple[str, str, str]]) -> None:
    """A recipe asked for by several parents appears once per distinct (resolved
    variations, env it reads): parents' env it does not read does not split it."""
    leaf = make_recipe(
        "leaf",
        env={"LEAF_K": "default"},
        variations={
            "slow": Variation(group="speed", default=True),
            "fast": Variation(group="speed"),
        },
    )
    parents = [
        make_recipe(
            f"p{i}",
            # the parent's own env reaches the leaf (inherited) but the leaf does not read it
            env={f"P{i}_OWN": "mine", "NOT_READ": unread},
            deps=(Dep("leaf" + variation, env={"LEAF_K": read}),),
        )
        for i, (variation, read, unread) in enumerate(asks)
    ]
    root = make_recipe("root", deps=tuple(Dep(p.alias) for p in parents))
    the_plan = plan(Selector([leaf, root, *parents]), Request(root))
    leaves = [n for n in the_plan.nodes.values() if n.recipe.alias == "leaf"]
    distinct = {(variation or " _slow", read) for variation, read, _ in asks}
    assert len(leaves) == len(distinct)
    _check_dag(the_plan)


@settings_for(120)
@given(st.data(), graphs(cyclic=True))
def test_a_cycle_is_named(data: st.DataObject, graph: Graph) -> None:
    """A graph with a loop reachable from the root raises DependencyCycle whose ``cycle``
    is a closed walk of recipes that depend on each other: first and last are the same
    node and every step is a dependency."""
    with pytest.raises(DependencyCycle) as info:
        plan(graph.selector(), data.draw(requests(graph)))
    cycle = info.value.cycle
    assert len(cycle) >= 2
    assert cycle[0] == cycle[-1]
    aliases = [label.split()[0] for label in cycle]
    for parent, child in itertools.pairwise(aliases):
        assert child in graph.edges(parent), f"{parent} -> {child} is a dependency"
    assert " -> ".join(cycle) in str(info.value)


@settings_for(200)
@given(
    st.dictionaries(st.sampled_from(["FLAG", "MODE"]), st.sampled_from(ENV_VALUES), max_size=2),
    st.dictionaries(st.sampled_from(["FLAG", "MODE"]), st.sampled_from(ENV_VALUES), max_size=2),
    st.dictionaries(st.sampled_from(["FLAG", "MODE"]), st.sampled_from(ENV_VALUES), max_size=2),
    st.dictionaries(st.sampled_from(["FLAG", "MODE"]), st.sampled_from(ENV_VALUES), max_size=2),
    st.booleans(),
)
def test_when_and_skip_follow_the_parent_env(
    defaults: dict[str, str],
    caller: dict[str, str],
    when: dict[str, str],
    skip: dict[str, str],
    deep: bool,
) -> None:
    """A dep is planned exactly when its ``when_env`` holds (or is empty) and its
    ``skip_env`` does not (or is empty), judged on the parent's env (its defaults under
    the caller's env), at any depth."""
    leaf = make_recipe("leaf")
    parent = make_recipe("parent", env=defaults, deps=(Dep("leaf", when_env=when, skip_env=skip),))
    top = make_recipe("top", deps=(Dep("parent"),)) if deep else parent
    the_plan = plan(Selector([leaf, parent, top]), Request(top, env=caller))
    env = {**defaults, **caller}
    wanted_when = {k: (v,) for k, v in when.items()}
    wanted_skip = {k: (v,) for k, v in skip.items()}
    runs = all(any(_reference(env.get(k), w) for w in ws) for k, ws in wanted_when.items())
    skipped = bool(skip) and all(
        any(_reference(env.get(k), w) for w in ws) for k, ws in wanted_skip.items()
    )
    planned = any(n.recipe.alias == "leaf" for n in the_plan.nodes.values())
    assert planned is (runs and not skipped)


def _py_reached(the_plan: Plan) -> set[str]:
    """Keys of the nodes some parent reaches through a dep named ``py``."""
    out: set[str] = set()
    for node in the_plan.nodes.values():
        out.update(k for k, names in zip(node.deps, node.dep_names) if "py" in names)
    return out


@settings_for(120)
@given(st.data(), graphs(post=False, max_size=5), st.sampled_from(["9.9", "10.1"]))
def test_caller_adr_applies_at_every_depth(data: st.DataObject, graph: Graph, pin: str) -> None:
    """A caller's ``adr={"py": {"version_min": V}}`` shows as ``>=V`` in the spec of every
    node reached through a dep named ``py``, at any depth, and of no other node."""
    request = data.draw(requests(graph))
    request = Request(
        recipe=request.recipe,
        variations=request.variations,
        env=request.env,
        adr={"py": {"version_min": pin}},
    )
    the_plan = plan(graph.selector(), request)
    reached = _py_reached(the_plan)
    for key, node in the_plan.nodes.items():
        assert (f">={pin}" in node.spec.split(",")) is (key in reached), node.label


@settings_for(120)
@given(st.data(), graphs(post=False, max_size=5))
def test_variation_adr_applies_below(data: st.DataObject, graph: Graph) -> None:
    """A variation's ``adr`` (``_pinned`` sets ``version_max`` of deps named ``py``) shows in
    the spec of every node reached through a ``py`` dep anywhere below it, and no other."""
    request = data.draw(requests(graph))
    request = Request(recipe=request.recipe, variations=("pinned",), env=request.env)
    the_plan = plan(graph.selector(), request)
    reached = _py_reached(the_plan)
    for key, node in the_plan.nodes.items():
        assert ("<=7.7" in node.spec.split(",")) is (key in reached), node.label


@settings_for(100)
@given(st.data(), graphs(max_size=5))
def test_adr_for_an_unused_name_changes_nothing(data: st.DataObject, graph: Graph) -> None:
    """An ``adr`` entry for a name no dep carries leaves the plan as it was."""
    request = data.draw(requests(graph))
    with_adr = Request(
        recipe=request.recipe,
        variations=request.variations,
        spec=request.spec,
        inputs=request.inputs,
        env=request.env,
        adr={"nobody": {"version_min": "5", "env": {"FLAG": "yes"}}},
    )
    assert plan(graph.selector(), with_adr) == plan(graph.selector(), request)


def test_merged_node_keeps_no_orphan_post_deps() -> None:
    """Every node of a plan is reachable from the root, with post_deps too: a node asked
    for by two parents whose post deps differ keeps all of them."""
    post = make_recipe("post", reads=("K",))
    shared = make_recipe("shared", post_deps=(Dep("post"),))
    a = make_recipe("a", env={"K": "1"}, deps=(Dep("shared"),))
    b = make_recipe("b", env={"K": "2"}, deps=(Dep("shared"),))
    root = make_recipe("root", deps=(Dep("a"), Dep("b")))
    the_plan = plan(Selector([post, shared, a, b, root]), Request(root))
    assert set(walk(the_plan)) == set(the_plan.nodes)
