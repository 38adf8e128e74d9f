"""Laws of cache keys: a Merkle hash of exactly what a node's result depends on."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

from _recipe_graphs import (
    ROOT_VARIATIONS,
    Graph,
    Selector,
    graphs,
    make_recipe,
    reaching,
    requests,
    settings_for,
    with_request,
)
from hypothesis import assume, given
from hypothesis import strategies as st

from cmpy._model import Input, Recipe
from cmpy._plan import Node, Plan, Request, plan
from cmpy._variations import resolve


def _check_merkle(before: Plan, after: Plan, hit: set[str]) -> None:
    """Nodes in ``hit`` and every node depending on one of them got a key no node had
    before; a node that reaches none of them by any edge kept its key."""
    changed = reaching(before, hit, post=False)
    untouched = set(before.nodes) - reaching(before, hit, post=True)
    assert changed, "the change reaches at least one node"
    for key in changed:
        assert key not in after.nodes, f"{before.nodes[key].label} kept its key"
    for key in untouched:
        assert key in after.nodes, f"{before.nodes[key].label} lost its key"


def _planned(graph: Graph, the_plan: Plan) -> list[int]:
    """The indexes of the recipes of ``graph`` that have a node in ``the_plan``."""
    aliases = {n.recipe.alias for n in the_plan.nodes.values()}
    return [i for i, r in enumerate(graph.recipes) if r.alias in aliases]


@settings_for(100)
@given(st.data(), graphs())
def test_equal_inputs_give_equal_keys(data: st.DataObject, graph: Graph) -> None:
    """Keys depend on values, not on objects: recipes that went through pickle (as in the
    persisted index) and a rebuilt request plan to the same keys, twice over."""
    request = data.draw(requests(graph))
    copied: tuple[Recipe, ...] = pickle.loads(pickle.dumps(graph.recipes))
    again = with_request(
        request, recipe=copied[0], env=dict(request.env), inputs=dict(request.inputs)
    )
    first = plan(graph.selector(), request)
    assert list(plan(Selector(copied), again).nodes) == list(first.nodes)
    assert list(plan(graph.selector(), request).nodes) == list(first.nodes)


@settings_for(100)
@given(st.data(), graphs())
def test_fingerprint_change_is_merkle(data: st.DataObject, graph: Graph) -> None:
    """Editing a recipe (a new fingerprint) changes the key of its nodes and of every node
    that depends on one of them, at any depth; a node that reaches none keeps its key."""
    request = data.draw(requests(graph))
    before = plan(graph.selector(), request)
    # a recipe the plan holds (one behind a condition that does not hold has no node)
    index = data.draw(st.sampled_from(_planned(graph, before)))
    alias = f"r{index}"
    hit = {k for k, n in before.nodes.items() if n.recipe.alias == alias}
    edited = graph.edited(index)
    request = with_request(request, recipe=edited.root)
    after = plan(edited.selector(), request)
    assert len(after.nodes) == len(before.nodes)
    _check_merkle(before, after, hit)


@settings_for(100)
@given(
    st.data(),
    graphs(post=False),
    st.sampled_from(["HOME", "OPT", "SPEED", "BS", "SHARED"]),
)
def test_read_env_change_is_merkle(data: st.DataObject, graph: Graph, what: str) -> None:
    """A new value for an env key a recipe reads (a key of its env defaults, of an input,
    of a variation's env even one not chosen, or matching its ``reads``) changes the key of
    each node of that recipe and of every node depending on one; others keep theirs."""
    # no post_deps here: they do not enter their node's key, which this law is not about
    request = data.draw(requests(graph))
    before = plan(graph.selector(), request)
    if what == "SHARED":
        key = "SHARED_A"
        hit = {k for k, n in before.nodes.items() if "SHARED_*" in n.recipe.reads}
        assume(hit)  # no recipe of the plan reads SHARED_*
    else:
        index = data.draw(st.sampled_from(_planned(graph, before)))
        key = f"R{index}_{what}"
        hit = {k for k, n in before.nodes.items() if n.recipe.alias == f"r{index}"}
    after = plan(graph.selector(), with_request(request, env={**request.env, key: "zz"}))
    _check_merkle(before, after, hit)


@settings_for(80)
@given(st.data(), graphs(), st.sampled_from(["FLAG", "MODE"]))
def test_condition_keys_are_read(data: st.DataObject, graph: Graph, key: str) -> None:
    """A key that the ``when_env``/``skip_env`` of a node's deps (its recipe's, or its
    chosen variations') test is read by it: a new value changes its key and every key
    above it."""
    request = data.draw(requests(graph))
    before = plan(graph.selector(), request)

    def tests_key(node: Node) -> bool:
        deps = list(node.recipe.deps) + list(node.recipe.post_deps)
        for name in node.variations:  # the deps of variations not chosen do not count
            var = node.recipe.variations.get(name)
            deps += var.deps if var is not None else ()
        return any(key in d.when_env or key in d.skip_env for d in deps)

    hit = {k for k, n in before.nodes.items() if tests_key(n)}
    assume(hit)  # no node of the plan has a dep that tests the key
    after = plan(graph.selector(), with_request(request, env={**request.env, key: "zz"}))
    for changed in reaching(before, hit, post=False):
        assert changed not in after.nodes


@settings_for(100)
@given(
    st.data(),
    graphs(),
    st.dictionaries(
        st.sampled_from(["NOBODY_READS", "UNREAD_X", "SHAREDX", "R_HOME", "r0_HOME"]),
        st.text(max_size=3),
        min_size=1,
    ),
)
def test_unread_env_changes_no_key(
    data: st.DataObject, graph: Graph, unread: dict[str, str]
) -> None:
    """Env that no recipe of the graph reads changes no key (nor anything else in the plan)."""
    request = data.draw(requests(graph))
    noisy = with_request(request, env={**request.env, **unread})
    assert plan(graph.selector(), noisy) == plan(graph.selector(), request)


@settings_for(100)
@given(st.data(), graphs(), st.sampled_from(ROOT_VARIATIONS), st.sampled_from(ROOT_VARIATIONS))
def test_variations_enter_the_key(
    data: st.DataObject, graph: Graph, one: tuple[str, ...], other: tuple[str, ...]
) -> None:
    """Two requests that differ only in variations have the same key exactly when the
    variations resolve to the same set (``_slow`` when ``slow`` is the default, say)."""
    request = data.draw(requests(graph))
    first = plan(graph.selector(), with_request(request, variations=one))
    second = plan(graph.selector(), with_request(request, variations=other))
    same = resolve(graph.root, one).names == resolve(graph.root, other).names
    assert (first.root == second.root) is same


@settings_for(100)
@given(
    st.data(),
    graphs(),
    st.sampled_from(["", ">=1.0", "==3.11", "<=2,>=1"]),
    st.sampled_from(["", ">=1.1", "==3.11.0", "<=2,>=1"]),
)
def test_version_specifier_enters_the_key_not_the_base_key(
    data: st.DataObject, graph: Graph, one: str, other: str
) -> None:
    """The version specifier is part of the key (different specifiers, different keys) but
    not of the base key, so entries that differ only by it are found as one family."""
    request = data.draw(requests(graph))
    first = plan(graph.selector(), with_request(request, spec=one))
    second = plan(graph.selector(), with_request(request, spec=other))
    assert (first.root == second.root) is (one == other)
    assert first.nodes[first.root].base_key == second.nodes[second.root].base_key


@settings_for(80)
@given(st.data(), graphs(), st.sampled_from(["x", "y", "zz"]))
def test_inputs_enter_the_key(data: st.DataObject, graph: Graph, value: str) -> None:
    """An input is env the recipe reads: a different value, a different key."""
    request = data.draw(requests(graph))
    first = plan(graph.selector(), with_request(request, inputs={}))
    second = plan(graph.selector(), with_request(request, inputs={"opt": value}))
    assert first.root != second.root


_KEYS_SCRIPT = textwrap.dedent(
    """
    import json
    from cmpy._model import Dep, Input, Recipe, Variation, uid_for
    from cmpy._plan import Request, plan

    def make(alias, **kw):
        return Recipe(alias=alias, uid=uid_for(alias), tags=(alias,), fingerprint=alias, **kw)

    leaf = make("leaf", env={"A": "1", "B": "2", "C": "3"}, reads=("X_*", "Y_*"),
                variations={"p": Variation(group="g", default=True, env={"P": "1"}),
                            "q": Variation(group="g", base="w.5", env={"Q": "1"}),
                            "w.#": Variation(env={"W": "#"})})
    mid = make("mid", inputs={"o": Input("O")}, deps=(
        Dep("leaf _q", name="py", env={"X_1": "a", "Y_2": "b"}, when_env={"F": ["yes", "x"]}),
        Dep("leaf", version_min="1.0", skip_env={"G": "on"})))
    top = make("top", deps=(Dep("mid", inputs={"o": "v"}), Dep("leaf _w.9")))
    recipes = {r.alias: r for r in (leaf, mid, top)}

    class Selector:
        def select(self, query):
            return recipes[query.tags[0]]

    request = Request(top, env={"F": "1", "X_9": "z", "Z": "0"},
                      adr={"py": {"version_max": "9", "env": {"Y_3": "c"}}})
    print(json.dumps(list(plan(Selector(), request).nodes)))
    """
)


def test_keys_are_stable_across_processes() -> None:
    """A key is the same in every process: nothing in it depends on hash randomisation."""
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _KEYS_SCRIPT],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert len(json.loads(outputs.pop())) >= 4


def test_every_request_field_reaches_the_key() -> None:
    """A version specifier, caller env, an input and inherited env each change the key."""
    root = make_recipe("solo", env={"K": "1"}, inputs={"opt": Input("OPT")})
    selector = Selector([root])
    base = Request(root)
    variants = [
        base,
        with_request(base, spec=">=1"),
        with_request(base, env={"K": "2"}),
        with_request(base, inputs={"opt": "v"}),
        with_request(base, inherited={"K": "3"}),
    ]
    keys = {plan(selector, r).root for r in variants}
    assert len(keys) == len(variants)
