"""One evaluation, two drivers: what either one answers, and what it never does.

Each failure case runs twice: with ``jobs=1`` (the synchronous driver, in
this thread) and with ``jobs=4`` on a plan with work that can overlap (the
anyio driver), which must agree.
"""

from __future__ import annotations

import pytest

from cmpy import (
    Ctx,
    Dep,
    ProgramNotFound,
    RecipeFailed,
    ToolNotFound,
    _api,
    run,
    script,
)
from cmpy._cli import main

DRIVERS = pytest.mark.parametrize("jobs", [1, 4], ids=["sync-driver", "anyio-driver"])


def _no_event_loop(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make any start of an event loop fail the test; returns where one was asked for."""
    import asyncio

    import anyio

    started: list[str] = []

    def refuse(*args: object, **kwargs: object) -> object:
        started.append("anyio.run")
        raise AssertionError("an event loop was started")

    monkeypatch.setattr(anyio, "run", refuse)
    monkeypatch.setattr(asyncio, "run", refuse)
    monkeypatch.setattr(asyncio, "new_event_loop", refuse)
    return started


def test_a_cached_plan_starts_no_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start-up is a feature: a plan whose nodes all hit is answered in this thread."""

    @script(tags="hit leaf one", cache=True)
    def one(ctx: Ctx) -> dict[str, str]:
        return {"ONE": "1"}

    @script(tags="hit leaf two", cache=True)
    def two(ctx: Ctx) -> dict[str, str]:
        return {"TWO": "2"}

    @script(tags="hit top", cache=True, deps=[Dep("hit leaf one"), Dep("hit leaf two")])
    def top(ctx: Ctx) -> dict[str, str]:
        return {"TOP": ctx.env["ONE"] + ctx.env["TWO"]}

    first = run("hit top", jobs=4, quiet=True)  # two independent leaves: a loop may start
    started = _no_event_loop(monkeypatch)
    again = run("hit top", jobs=4, quiet=True)
    assert again.cached and again["TOP"] == first["TOP"] == "12"
    assert started == []


def test_a_chain_of_def_bodies_starts_no_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    @script(tags="chain bottom")
    def bottom(ctx: Ctx) -> dict[str, str]:
        return {"BOTTOM": "b"}

    @script(tags="chain middle", deps=[Dep("chain bottom")])
    def middle(ctx: Ctx) -> dict[str, str]:
        return {"MIDDLE": ctx.env["BOTTOM"] + "m"}

    @script(tags="chain top", deps=[Dep("chain middle")])
    def top(ctx: Ctx) -> dict[str, str]:
        return {"TOP": ctx.env["MIDDLE"] + "t", "ASKED": ctx.run_sync("chain bottom")["BOTTOM"]}

    started = _no_event_loop(monkeypatch)
    result = run("chain top", jobs=4, quiet=True)
    assert result["TOP"] == "bmt" and result["ASKED"] == "b"
    assert started == []


def test_work_that_can_overlap_does_use_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard above is not vacuous: two independent recipes to run go to anyio."""

    @script(tags="overlap one")
    def one(ctx: Ctx) -> None:
        pass

    @script(tags="overlap two")
    def two(ctx: Ctx) -> None:
        pass

    @script(tags="overlap top", deps=[Dep("overlap one"), Dep("overlap two")])
    def top(ctx: Ctx) -> None:
        pass

    started = _no_event_loop(monkeypatch)
    with pytest.raises(AssertionError, match="an event loop was started"):
        run("overlap top", jobs=4, quiet=True)
    assert started == ["anyio.run"]


def _missing_tool(name: str) -> None:
    @script(tags=f"{name} tool", alias=f"{name}-tool")
    def missing(ctx: Ctx) -> None:
        raise ToolNotFound(f"the {name} tool", hint=f"install {name}")


@DRIVERS
def test_an_optional_dep_also_required_elsewhere_fails_with_its_own_error(jobs: int) -> None:
    """The dep's ToolNotFound is tolerated by the parent that made it optional, and is the
    run's error for the parent that requires it: never a private exception, never a bug."""
    _missing_tool("absent")

    @script(tags="lenient parent", deps=[Dep("absent tool", optional=True)])
    def lenient(ctx: Ctx) -> None:
        pass

    @script(tags="strict parent", deps=[Dep("absent tool")])
    def strict(ctx: Ctx) -> None:
        pass

    @script(tags="both parents", deps=[Dep("lenient parent"), Dep("strict parent")])
    def both(ctx: Ctx) -> None:
        pass

    with pytest.raises(ToolNotFound) as caught:
        run("both parents", jobs=jobs, quiet=True)
    assert "the absent tool not found" in str(caught.value)
    assert type(caught.value) is ToolNotFound
    assert main(["run", "both parents", f"--jobs={jobs}", "-q"]) == 1


@DRIVERS
def test_a_tolerated_dep_does_not_hide_a_real_failure(jobs: int) -> None:
    """The optional dep fails first and is tolerated; the real failure is what is said."""
    _missing_tool("optional")

    @script(tags="really broken")
    def broken(ctx: Ctx) -> None:
        ctx.sh_sync(["sh", "-c", "sleep 0.2; echo the real reason; exit 3"], quiet=True)

    @script(tags="mixed parent", deps=[Dep("optional tool", optional=True), Dep("really broken")])
    def parent(ctx: Ctx) -> None:
        pass

    with pytest.raises(RecipeFailed) as caught:
        run("mixed parent", jobs=jobs, quiet=True)
    assert caught.value.recipe == "broken"
    assert "the real reason" in str(caught.value)


@DRIVERS
def test_a_tolerated_dep_is_skipped_and_the_parent_goes_on(
    jobs: int, capsys: pytest.CaptureFixture[str]
) -> None:
    _missing_tool("skippable")

    @script(tags="another leaf")
    def leaf(ctx: Ctx) -> dict[str, str]:
        return {"LEAF": "here"}

    @script(tags="goes on", deps=[Dep("skippable tool", optional=True, name="t"), Dep("another leaf")])
    def goes_on(ctx: Ctx) -> dict[str, str]:
        return {"HAS_TOOL": ("t" in ctx.deps and "yes") or "no", "LEAF": ctx.env["LEAF"]}

    result = run("goes on", jobs=jobs)
    assert result["HAS_TOOL"] == "no" and result["LEAF"] == "here"
    assert "optional, not available" in capsys.readouterr().err


@DRIVERS
def test_a_missing_program_is_a_tool_not_found_an_optional_dep_tolerates(jobs: int) -> None:
    @script(tags="needs program")
    def needs(ctx: Ctx) -> None:
        ctx.sh_sync(["cmpy-no-such-program-anywhere", "--version"], quiet=True)

    @script(tags="other half")
    def other(ctx: Ctx) -> None:
        pass

    @script(tags="program parent", deps=[Dep("needs program", optional=True), Dep("other half")])
    def parent(ctx: Ctx) -> dict[str, str]:
        return {"DONE": "yes"}

    assert run("program parent", jobs=jobs, quiet=True)["DONE"] == "yes"
    with pytest.raises(ProgramNotFound) as caught:
        run("needs program", quiet=True)
    assert caught.value.program == "cmpy-no-such-program-anywhere"
    assert isinstance(caught.value, ToolNotFound)
    assert "cannot run" in str(caught.value) and "was not found" in str(caught.value)


def test_a_dynamic_dep_that_now_fails_for_real_is_reported(tmp_path: object) -> None:
    """Checking a cached entry's ctx.run deps again: staleness runs the body again, a real
    failure of the dep is the run's error (not a silent rerun of the parent)."""
    state = {"fail": False, "runs": 0}

    @script(tags="dynamic child")
    def child(ctx: Ctx) -> dict[str, str]:
        if state["fail"]:
            raise RuntimeError("the child broke")
        return {"CHILD": "ok"}

    @script(tags="dynamic parent", cache=True)
    def parent(ctx: Ctx) -> dict[str, str]:
        state["runs"] += 1
        return {"PARENT": ctx.run_sync("dynamic child")["CHILD"]}

    assert run("dynamic parent", quiet=True)["PARENT"] == "ok"
    assert run("dynamic parent", quiet=True).cached and state["runs"] == 1
    state["fail"] = True
    with pytest.raises(RecipeFailed) as caught:
        run("dynamic parent", quiet=True)
    assert caught.value.recipe == "child" and "the child broke" in str(caught.value)
    assert state["runs"] == 1


def test_a_dynamic_dep_that_is_gone_makes_the_entry_stale() -> None:
    state = {"tool": True, "runs": 0}

    @script(tags="maybe tool")
    def maybe(ctx: Ctx) -> dict[str, str]:
        if not state["tool"]:
            raise ToolNotFound("the maybe tool")
        return {"TOOL": "found"}

    @script(tags="adaptive parent", cache=True)
    def parent(ctx: Ctx) -> dict[str, str]:
        state["runs"] += 1
        try:
            return {"WITH": ctx.run_sync("maybe tool")["TOOL"]}
        except ToolNotFound:
            return {"WITH": "nothing"}

    assert run("adaptive parent", quiet=True)["WITH"] == "found"
    state["tool"] = False
    again = run("adaptive parent", quiet=True)
    assert not again.cached and again["WITH"] == "nothing" and state["runs"] == 2


def test_nothing_private_leaves_the_executor() -> None:
    import cmpy._execute as execute

    assert not hasattr(execute, "_DepFailed")
    assert "_DepFailed" not in repr(_api)


ARUN_INTERRUPTED = """
import asyncio, sys
import cmpy
from cmpy import Ctx, Dep, Interrupted, script

@script(tags="calm one")
async def calm(ctx: Ctx) -> None:
    await asyncio.sleep(0.5)

@script(tags="stops two")
async def stops(ctx: Ctx) -> None:
    raise Interrupted("the thing it did", note="nothing kept")

@script(tags="pair top", deps=[Dep("calm one"), Dep("stops two")])
def top(ctx: Ctx) -> None:
    pass

async def main() -> str:
    try:
        await cmpy.arun("pair top", jobs=4, quiet=True)
    except Interrupted as exc:
        return str(exc)
    return "not interrupted"

said = asyncio.run(main())
print(said)
print("the loop went on")
"""


def test_an_interruption_under_arun_reaches_the_caller_and_no_further(tmp_path: object) -> None:
    """asyncio stops a loop whose task raises KeyboardInterrupt: the executor carries an
    interruption through its tasks as an ordinary exception and raises it to the caller only."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", ARUN_INTERRUPTED],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CMPY_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [
        "interrupted by Ctrl-C while running stops: the thing it did (nothing kept)",
        "the loop went on",
    ]
