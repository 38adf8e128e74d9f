"""The public Python API: run, arun, find, Result, and the errors a user meets."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import cmpy
import cmpy.testing
from cmpy import (
    AmbiguousQuery,
    Ctx,
    Dep,
    QuerySyntaxError,
    RecipeDefinitionError,
    RecipeFailed,
    RecipeNotFound,
    Result,
    UsageError,
    Variation,
    VariationError,
    VersionConflict,
    run,
    script,
)


def test_public_api_names() -> None:
    for name in cmpy.__all__:
        assert hasattr(cmpy, name), name


def test_run_a_builtin_recipe() -> None:
    result = run("detect os", quiet=True)
    assert result.recipe == "detect-os"
    assert result["CMPY_HOST_OS_NAME"]
    assert result.cached is False
    assert isinstance(result.duration, float)


def test_body_gets_env_inputs_and_variations() -> None:
    @script(
        tags="greet person",
        env={"GREETING": "hello"},
        inputs={"name": ("PERSON_NAME", "who to greet")},
        variations={
            "loud": Variation(group="volume", env={"VOLUME": "loud"}),
            "soft": Variation(group="volume", default=True, env={"VOLUME": "soft"}),
            "times.#": Variation(env={"TIMES": "#"}),
        },
    )
    def greet(ctx: Ctx) -> dict[str, str]:
        text = f"{ctx.env['GREETING']} {ctx.inputs['name']}"
        return {
            "TEXT": text,
            "VOLUME": ctx.env["VOLUME"],
            "TIMES": ctx.env.get("TIMES", "1"),
            "VARIATIONS": ",".join(ctx.variations),
        }

    r = run("greet person", name="ada", quiet=True)
    assert r["TEXT"] == "hello ada"
    assert r["VOLUME"] == "soft"
    assert r.variations == ("soft",)
    r = run("greet person _loud", name="ada", times=3, quiet=True)
    assert r["VOLUME"] == "loud" and r["TIMES"] == "3"
    assert r.variations == ("loud", "times.3")
    r = run("greet", loud=True, name="bo", env={"GREETING": "hi"}, quiet=True)
    assert r["TEXT"] == "hi bo" and r["VOLUME"] == "loud"


def test_dep_exports_reach_the_parent_in_order() -> None:
    @script(tags="make a")
    def make_a(ctx: Ctx) -> dict[str, str]:
        return {"X": "from-a", "A": "1"}

    @script(tags="make b")
    def make_b(ctx: Ctx) -> dict[str, str]:
        return {"X": "from-b", "B": "2"}

    @script(tags="combine", deps=[Dep("make a"), Dep("make b")])
    def combine(ctx: Ctx) -> dict[str, str]:
        return {"OUT": ctx.env["X"] + ctx.env["A"] + ctx.env["B"]}

    r = run("combine", quiet=True)
    assert r["OUT"] == "from-b12"
    assert [d.recipe for d in r.deps] == ["make-a", "make-b"]


def test_exports_filter_what_is_handed_back() -> None:
    @script(tags="filtered", exports=["KEEP_*"], env={"KEEP_DEFAULT": "d"})
    def filtered(ctx: Ctx) -> dict[str, str]:
        return {"KEEP_ME": "1", "DROP_ME": "2"}

    r = run("filtered", quiet=True)
    assert r.env == {"KEEP_ME": "1", "KEEP_DEFAULT": "d"}


def test_result_object_carries_state_and_version() -> None:
    @script(tags="tool finder")
    def finder(ctx: Ctx) -> Result:
        ctx.state["seen"] = ["a"]
        return Result(env={"TOOL": "/bin/tool"}, state={"extra": 1}, version="2.5.0")

    r = run("tool finder", quiet=True)
    assert r.version == "2.5.0"
    assert r.state == {"seen": ["a"], "extra": 1}


def test_async_bodies_and_ctx_sh() -> None:
    @script(tags="async echo")
    async def echo(ctx: Ctx) -> dict[str, str]:
        done = await ctx.sh(["printf", "%s", "$(rm -rf /)"], quiet=True)
        shelled = await ctx.sh('printf "%s" "$VALUE"', env={"VALUE": "$(whoami)"}, quiet=True)
        return {"LIST": done.output, "SHELL": shelled.output}

    r = run("async echo", quiet=True)
    # no splicing: the text arrives as text
    assert r["LIST"] == "$(rm -rf /)"
    assert r["SHELL"] == "$(whoami)"


def test_sync_body_sh_sync_writes_a_log(tmp_path: Path) -> None:
    @script(tags="sync echo", cache=True)
    def echo(ctx: Ctx) -> dict[str, str]:
        ctx.sh_sync("echo one; echo two >&2", quiet=True)
        return {"LOG": str(ctx.path / "cmpy-run.log")}

    r = run("sync echo", quiet=True)
    log = Path(r["LOG"]).read_text()
    assert "one" in log and "two" in log and "$ echo one" in log


def test_failing_command_raises_recipe_failed_with_chain_and_tail() -> None:
    @script(tags="broken leaf")
    async def leaf(ctx: Ctx) -> None:
        await ctx.sh("echo preparing; echo 'fatal: disk on fire' >&2; exit 3", quiet=True)

    @script(tags="middle", deps=[Dep("broken leaf")])
    def middle(ctx: Ctx) -> None:
        return None

    @script(tags="top level", deps=[Dep("middle")])
    def top(ctx: Ctx) -> None:
        return None

    with pytest.raises(RecipeFailed) as info:
        run("top level", quiet=True)
    err = info.value
    assert err.chain == ("top", "middle", "leaf")
    assert "fatal: disk on fire" in err.output_tail
    text = str(err)
    assert "exit code 3" in text and "top -> middle -> leaf" in text


def test_python_exception_in_body_is_wrapped() -> None:
    @script(tags="oops")
    def oops(ctx: Ctx) -> None:
        raise ZeroDivisionError("bad maths")

    with pytest.raises(RecipeFailed, match="ZeroDivisionError: bad maths") as info:
        run("oops", quiet=True)
    assert isinstance(info.value.cause, ZeroDivisionError)


def test_query_errors() -> None:
    @script(tags="get model alpha")
    def alpha(ctx: Ctx) -> None: ...

    @script(tags="get model beta", variations={"fp32": Variation(), "int8": Variation()})
    def beta(ctx: Ctx) -> None: ...

    with pytest.raises(QuerySyntaxError) as syntax:
        run("get model $x")
    assert "^" in str(syntax.value)
    with pytest.raises(AmbiguousQuery) as amb:
        run("get model")
    assert set(amb.value.candidates) == {"alpha", "beta"}
    assert amb.value.separating == {"alpha": "alpha", "beta": "beta"}
    with pytest.raises(RecipeNotFound) as nf:
        run("get modle alpha")
    assert "alpha" in nf.value.closest
    with pytest.raises(VariationError) as var:
        run("get model _fp33")
    assert var.value.suggestion == "fp32"
    assert "did you mean _fp32" in str(var.value)
    # the variation narrows the choice: only beta knows _int8
    assert run("get model _int8", quiet=True).recipe == "beta"


def test_priority_breaks_ties() -> None:
    @script(tags="get thing", alias="thing-low")
    def low(ctx: Ctx) -> dict[str, str]:
        return {"WHO": "low"}

    @script(tags="get thing", alias="thing-high", priority=5)
    def high(ctx: Ctx) -> dict[str, str]:
        return {"WHO": "high"}

    assert run("get thing", quiet=True)["WHO"] == "high"
    assert run("thing-low", quiet=True)["WHO"] == "low"


def test_two_of_one_group_names_the_group() -> None:
    @script(
        tags="precise",
        variations={
            "fp32": Variation(group="precision"),
            "int8": Variation(group="precision"),
        },
    )
    def precise(ctx: Ctx) -> None: ...

    with pytest.raises(VariationError, match="group 'precision'") as info:
        run("precise _fp32 _int8", quiet=True)
    assert info.value.group == "precision"


def test_unknown_keyword_is_a_usage_error() -> None:
    @script(tags="takes input", inputs={"count": "COUNT"})
    def takes(ctx: Ctx) -> None: ...

    with pytest.raises(UsageError, match="did you mean 'count'"):
        run("takes input", cuont=3, quiet=True)


def test_malformed_definitions_raise_at_decoration() -> None:
    with pytest.raises(RecipeDefinitionError, match=r"'bad-base'.*base 'nope'"):

        @script(tags="x", alias="bad-base", variations={"a": Variation(base=["nope"])})
        def f1(ctx: Ctx) -> None: ...

    with pytest.raises(RecipeDefinitionError, match="no group"):

        @script(tags="x", alias="bad-default", variations={"a": Variation(default=True)})
        def f2(ctx: Ctx) -> None: ...

    with pytest.raises(RecipeDefinitionError, match="version constraint"):

        @script(tags="x", alias="bad-spec", deps=[Dep("detect os", version_min="three")])
        def f3(ctx: Ctx) -> None: ...

    with pytest.raises(RecipeDefinitionError, match="name of a variation"):

        @script(
            tags="x",
            alias="bad-input",
            variations={"batch.#": Variation()},
            inputs={"batch": "BATCH"},
        )
        def f4(ctx: Ctx) -> None: ...

    with pytest.raises(RecipeDefinitionError, match="16 hex"):

        @script(tags="x", alias="bad-uid", uid="xyz")
        def f5(ctx: Ctx) -> None: ...


def test_bare_decorator_and_uid_derivation() -> None:
    @script
    def get_widget(ctx: Ctx) -> dict[str, str]:
        return {"W": "1"}

    [desc] = cmpy.find("get-widget")
    assert desc["tags"] == ["get", "widget"]
    assert len(desc["uid"]) == 16
    assert run(desc["uid"], quiet=True)["W"] == "1"
    assert run("get widget", quiet=True)["W"] == "1"


def test_find_describes_recipes() -> None:
    @script(
        tags="describe me",
        variations={"fast": Variation(group="speed", default=True), "slow": Variation(group="speed")},
        inputs={"level": ("LEVEL", "how hard")},
        deps=[Dep("detect os", name="os")],
    )
    def describe_me(ctx: Ctx) -> None:
        """A recipe to describe."""

    [desc] = cmpy.find("describe me")
    assert desc["alias"] == "describe-me"
    assert desc["variations"]["fast"] == {"group": "speed", "default": True}
    assert desc["inputs"]["level"] == {"env": "LEVEL", "help": "how hard"}
    assert desc["deps"] == [{"query": "detect os", "name": "os"}]
    assert desc["doc"] == "A recipe to describe."
    assert "test_api.py" in desc["where"]
    assert {d["alias"] for d in cmpy.find("detect")} >= {"detect-os", "detect-cpu"}
    assert {d["alias"] for d in cmpy.find("detect-*")} >= {"detect-os", "detect-cpu"}


TOOLBOX = """
from cmpy import Ctx, Dep, script

@script(tags="toolbox hammer steel", alias="toolbox-steel")
def steel(ctx: Ctx) -> dict[str, str]:
    return {"PICKED": "steel"}

@script(tags="toolbox hammer rubber", alias="toolbox-rubber")
def rubber(ctx: Ctx) -> dict[str, str]:
    return {"PICKED": "rubber"}

@script(tags="toolbox hammer rubber heavy", alias="toolbox-heavy")
def heavy(ctx: Ctx) -> dict[str, str]:
    return {"PICKED": "heavy"}

@script(tags="toolbox user", alias="toolbox-user", deps=[Dep("toolbox hammer -steel -heavy")])
def user(ctx: Ctx) -> dict[str, str]:
    return {"USED": ctx.env["PICKED"]}
"""


def test_excluded_tags_decide_what_run_selects(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir("toolbox", TOOLBOX)
    with pytest.raises(AmbiguousQuery):
        run("toolbox hammer", quiet=True)
    # ignored, each of these is ambiguous; inverted, it picks another hammer or none
    assert run("toolbox hammer -rubber", quiet=True)["PICKED"] == "steel"
    assert run("toolbox rubber -heavy", quiet=True)["PICKED"] == "rubber"
    assert run("hammer -steel -heavy", quiet=True)["PICKED"] == "rubber"
    assert run("toolbox user", quiet=True)["USED"] == "rubber"  # a dep's query too
    with pytest.raises(RecipeNotFound):
        run("toolbox hammer -hammer", quiet=True)


def test_find_leaves_out_every_recipe_with_an_excluded_tag(
    recipe_dir: Callable[[str, str], Path],
) -> None:
    recipe_dir("toolbox", TOOLBOX)

    def aliases(query: str) -> list[str]:
        return sorted(d["alias"] for d in cmpy.find(query))

    assert aliases("toolbox hammer") == ["toolbox-heavy", "toolbox-rubber", "toolbox-steel"]
    assert aliases("toolbox hammer -rubber") == ["toolbox-steel"]
    assert aliases("toolbox hammer -heavy") == ["toolbox-rubber", "toolbox-steel"]
    assert aliases("hammer -steel -rubber") == []
    # an alias with an exclusion that its recipe carries selects nothing
    assert aliases("toolbox-heavy -heavy") == []
    # exclusions alone: every recipe there is but those
    others = aliases("-toolbox")
    assert others == sorted(d["alias"] for d in cmpy.find("") if "toolbox" not in d["tags"])
    assert "detect-os" in others and not any(a.startswith("toolbox-") for a in others)


def test_excluded_tag_holds_for_a_uid_defined_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Of two definitions of one uid, the one used is judged by its own tags."""
    for name, tags in (("dup_first", "widget alpha"), ("dup_second", "widget beta")):
        (tmp_path / f"{name}.py").write_text(
            "from cmpy import Ctx, script\n"
            f"@script(tags={tags!r}, alias='widget-x')\n"
            "def x(ctx: Ctx) -> None: ...\n"
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import dup_first  # noqa: F401
        import dup_second  # noqa: F401

        for query, excluded in (("widget -beta", "beta"), ("widget -alpha", "alpha")):
            for desc in cmpy.find(query):
                assert excluded not in desc["tags"], (query, desc["where"])
    finally:
        sys.modules.pop("dup_first", None)
        sys.modules.pop("dup_second", None)


def test_version_constraint_checked_against_reported_version() -> None:
    @script(tags="versioned tool")
    def tool(ctx: Ctx) -> Result:
        return Result(env={}, version="1.4.2")

    @script(tags="needs tool", deps=[Dep("versioned tool", name="tool", version_min="2.0")])
    def needs(ctx: Ctx) -> None: ...

    assert run("versioned tool", version_min="1.0", quiet=True).version == "1.4.2"
    with pytest.raises(VersionConflict) as info:
        run("needs tool", quiet=True)
    err = info.value
    assert err.found == "1.4.2" and err.constraint == ">=2.0"
    assert err.chain == ("needs", "tool")
    # an adr override relaxes it from above
    run("needs tool", adr={"tool": {"version_min": "1.0"}}, quiet=True)


def test_ctx_run_dynamic_dep_and_named_deps() -> None:
    @script(tags="leaf value", inputs={"value": "LEAF_VALUE"})
    def leaf(ctx: Ctx) -> dict[str, str]:
        return {"LEAF": ctx.env["LEAF_VALUE"]}

    @script(tags="chooser", deps=[Dep("detect os", name="os")])
    async def chooser(ctx: Ctx) -> dict[str, str]:
        assert ctx.deps["os"].recipe == "detect-os"
        got = await ctx.run("leaf value", value="dyn")
        return {"GOT": got["LEAF"]}

    @script(tags="sync chooser")
    def sync_chooser(ctx: Ctx) -> dict[str, str]:
        return {"GOT": ctx.run_sync("leaf value", value="s")["LEAF"]}

    r = run("chooser", quiet=True)
    assert r["GOT"] == "dyn"
    assert "leaf" in [d.recipe for d in r.deps]
    assert run("sync chooser", quiet=True)["GOT"] == "s"
    assert run("sync chooser", quiet=True, jobs=4)["GOT"] == "s"


@pytest.mark.anyio
async def test_run_inside_event_loop_points_to_arun() -> None:
    with pytest.raises(RuntimeError, match="arun"):
        run("detect os", quiet=True)
    result = await cmpy.arun("detect os", quiet=True)
    assert result.recipe == "detect-os"


def test_when_env_and_skip_env() -> None:
    @script(tags="optional part")
    def part(ctx: Ctx) -> dict[str, str]:
        return {"PART": "yes"}

    @script(
        tags="conditional",
        inputs={"with_part": "WITH_PART", "skip": "SKIP_PART"},
        deps=[Dep("optional part", when_env={"WITH_PART": "yes"}, skip_env={"SKIP_PART": "yes"})],
    )
    def conditional(ctx: Ctx) -> dict[str, str]:
        return {"HAS": ctx.env.get("PART", "no")}

    assert run("conditional", quiet=True)["HAS"] == "no"
    assert run("conditional", with_part="on", quiet=True)["HAS"] == "yes"
    assert run("conditional", with_part=True, skip=True, quiet=True)["HAS"] == "no"


def test_optional_dep_that_finds_nothing() -> None:
    @script(tags="get gadget")
    def gadget(ctx: Ctx) -> None:
        raise cmpy.ToolNotFound("gadget", searched=["/usr/bin"])

    @script(tags="uses gadget", deps=[Dep("get gadget", optional=True), Dep("get nothing-here", optional=True)])
    def uses(ctx: Ctx) -> dict[str, str]:
        return {"OK": "1"}

    @script(tags="needs gadget", deps=[Dep("get gadget")])
    def needs(ctx: Ctx) -> None: ...

    assert run("uses gadget", quiet=True)["OK"] == "1"
    with pytest.raises(cmpy.ToolNotFound, match="gadget not found"):
        run("needs gadget", quiet=True)


def test_dry_run_reports_cache_status() -> None:
    @script(tags="cached thing", cache=True, deps=[Dep("detect os")])
    def thing(ctx: Ctx) -> dict[str, str]:
        return {"T": "1"}

    plan = run("cached thing", dry_run=True, quiet=True)
    assert plan.dry_run and not plan.cached
    assert plan.state["plan"] == "run"
    assert plan.deps[0].state["plan"] == "run (not cached), previewed"
    assert plan.deps[0]["CMPY_HOST_OS_NAME"]  # detect os is dry-run safe: it ran to tell
    run("cached thing", quiet=True)
    plan = run("cached thing", dry_run=True, quiet=True)
    assert plan.cached and plan.state["plan"] == "cached"


def test_the_running_interpreter_is_in_the_environment() -> None:
    import sys

    @script(tags="which python", reads=["CMPY_HOST_PYTHON"], cache=True)
    def which(ctx: Ctx) -> dict[str, str]:
        return {"PY": ctx.env["CMPY_HOST_PYTHON"]}

    @script(tags="ignores python", cache=True)
    def ignores(ctx: Ctx) -> dict[str, str]:
        return {"SEEN": str("CMPY_HOST_PYTHON" in ctx.env)}

    assert run("which python", quiet=True)["PY"] == sys.executable
    assert run("ignores python", quiet=True)["SEEN"] == "False"
    other = run("which python", env={"CMPY_HOST_PYTHON": "/other/python"}, quiet=True)
    assert other["PY"] == "/other/python" and not other.cached


def test_ctx_live_is_off_when_not_on_a_terminal_or_quiet() -> None:
    seen: list[bool] = []

    @script(tags="live probe")
    def live_probe(ctx: Ctx) -> dict[str, str]:
        seen.append(ctx.live)
        return {}

    run("live probe")
    run("live probe", quiet=True)
    assert seen == [False, False]  # pytest's stderr is not a terminal


def test_a_new_runtime_never_reuses_a_dead_ones_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plans are memoized per registry: a new registry that happens to get the id of a
    collected one (another home, another recipe folder) must not be handed its plans."""
    source = textwrap.dedent(
        """
        from cmpy import Ctx, script

        @script(tags="memo probe", cache=True)
        def probe(ctx: Ctx) -> dict:
            return {}
        """
    )
    for i in range(10):
        folder = tmp_path / f"r{i}"
        folder.mkdir()
        (folder / "probe.py").write_text(source)
        monkeypatch.setenv("CMPY_HOME", str(tmp_path / f"home{i}"))
        monkeypatch.setenv("CMPY_RECIPES_PATH", str(folder))
        first = run("memo probe", quiet=True)
        cmpy.testing.new_process()
        again = run("memo probe", quiet=True)
        assert again.cached and again.key == first.key, i
        cmpy.testing.new_process()
