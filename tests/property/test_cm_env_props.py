"""Properties of CM's env rules as cmpy implements them (``cmpy.compat._env``, ``_scriptio``)."""

from __future__ import annotations

import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from cmpy.compat._env import condition_holds, resolve_variations
from cmpy.compat._scriptio import quote

TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=40)


@settings(max_examples=60, deadline=None)
@given(value=TEXT)
def test_a_quoted_value_reaches_bash_as_it_is(value: str) -> None:
    """Whatever a value holds ($(...), quotes, backquotes, newlines), bash reads it as text."""
    out = subprocess.run(
        ["bash", "-c", f"printf %s {quote(value)}"], capture_output=True, check=True
    ).stdout
    assert out.decode("utf-8", "surrogateescape") == value


WORDS = st.sampled_from(["yes", "no", "on", "off", "true", "false", "1", "0", "", "x", "gcc", True, False, 1, 0])


@given(value=st.one_of(st.none(), WORDS), listed=st.lists(WORDS, min_size=1, max_size=3))
def test_enable_and_skip_conditions_follow_cms_rule(value: object, listed: list[object]) -> None:
    env = {} if value is None else {"K": value}
    texts = {str(w).lower() for w in listed}
    got = condition_holds(env, {"K": listed})
    have = "" if value is None else str(value).lower()
    false_words = {"no", "off", "false", "0", ""}
    if value is None:
        assert got == bool(texts & false_words)
    elif texts & {"yes", "on", "true", "1"}:
        assert got == (have not in false_words)
    elif texts & (false_words - {""}):
        assert got == (have in false_words)
    else:
        assert got == (have in texts)
    # any_ of one key is the same as all of one key
    assert condition_holds(env, {"K": listed}, any_=True) == got


GROUPED = {
    "a": {"group": "g", "default": True},
    "b": {"group": "g", "default_variations": {"h": "d"}},
    "c": {"group": "h", "default": True},
    "d": {"group": "h"},
    "e": {"base": ["b"]},
    "b,d": {},
    "n.#": {},
}


@given(asked=st.lists(st.sampled_from(["a", "b", "c", "d", "e", "n.1", "n.2"]), max_size=3, unique=True))
def test_variation_sets_keep_one_per_group_and_are_stable(asked: list[str]) -> None:
    from cmpy import VariationError

    try:
        chosen = resolve_variations("t", GROUPED, asked)
    except VariationError:
        return  # two of one group asked for: refused, never silently settled
    singles = [c for c in chosen if "," not in c]
    groups = [GROUPED.get(c, {}).get("group") for c in singles if c in GROUPED]
    assert len([g for g in groups if g]) == len({g for g in groups if g})
    assert {"g", "h"} <= {g for g in groups if g}  # a default fills every group
    assert set(asked) <= set(chosen) or "e" in asked
    assert ("b,d" in chosen) == ({"b", "d"} <= set(chosen))
    assert resolve_variations("t", GROUPED, list(reversed(asked))) == chosen


@settings(max_examples=60, deadline=None)
@given(key=st.text(min_size=1, max_size=12), value=TEXT)
def test_an_env_key_that_is_not_a_shell_name_never_reaches_the_script(key: str, value: str) -> None:
    from cmpy.compat._scriptio import shell_exports

    lines = shell_exports({key: value}, {})
    if lines:
        assert key.isidentifier() and key.isascii()
        assert lines == [f"export {key}={quote(value)}"]
    else:
        assert not (key.isascii() and key.isidentifier()) or key.startswith("+")
