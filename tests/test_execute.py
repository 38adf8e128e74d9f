"""The executor: concurrency, cancellation, dependency cycles, post deps."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import anyio
import pytest

from cmpy import Ctx, Dep, DependencyCycle, RecipeFailed, run, script


def _define_sleepers(n: int, seconds: float, log: list[tuple[str, float, float]], *, sync: bool) -> None:
    for i in range(n):
        if sync:

            @script(tags=f"sleeper s{i}", alias=f"sleeper-s{i}")
            def sleeper(ctx: Ctx, i: int = i) -> dict[str, str]:
                start = time.monotonic()
                time.sleep(seconds)
                log.append((f"s{i}", start, time.monotonic()))
                return {}

        else:

            @script(tags=f"sleeper a{i}", alias=f"sleeper-a{i}")
            async def sleeper_async(ctx: Ctx, i: int = i) -> dict[str, str]:
                start = time.monotonic()
                await anyio.sleep(seconds)
                log.append((f"a{i}", start, time.monotonic()))
                return {}

    kind = "s" if sync else "a"

    @script(tags=f"all sleepers {kind}", deps=[Dep(f"sleeper {kind}{i}") for i in range(n)])
    def all_sleepers(ctx: Ctx) -> dict[str, str]:
        return {}


def _overlapping(log: list[tuple[str, float, float]]) -> bool:
    """Whether some two recorded intervals overlap."""
    spans = sorted((start, end) for _, start, end in log)
    return any(b_start < a_end for (_, a_end), (b_start, _) in itertools.pairwise(spans))


@pytest.mark.parametrize("sync", [True, False], ids=["def-bodies", "async-bodies"])
def test_independent_recipes_overlap(sync: bool) -> None:
    log: list[tuple[str, float, float]] = []
    _define_sleepers(4, 0.3, log, sync=sync)
    run(f"all sleepers {'s' if sync else 'a'}", jobs=4, quiet=True)
    assert len(log) == 4
    assert _overlapping(log)


@pytest.mark.parametrize("sync", [True, False], ids=["def-bodies", "async-bodies"])
def test_jobs_one_runs_one_at_a_time(sync: bool) -> None:
    log: list[tuple[str, float, float]] = []
    _define_sleepers(3, 0.05, log, sync=sync)
    run(f"all sleepers {'s' if sync else 'a'}", jobs=1, quiet=True)
    assert len(log) == 3
    assert not _overlapping(log)


def test_jobs_limits_concurrency() -> None:
    log: list[tuple[str, float, float]] = []
    _define_sleepers(4, 0.2, log, sync=False)
    run("all sleepers a", jobs=2, quiet=True)
    # at no moment are more than two running
    events = sorted([(s, 1) for _, s, _ in log] + [(e, -1) for _, _, e in log])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2


def test_a_deep_chain_waits_for_deps_before_starting() -> None:
    order: list[str] = []

    @script(tags="chain one")
    async def one(ctx: Ctx) -> dict[str, str]:
        await anyio.sleep(0.05)
        order.append("one")
        return {"ONE": "1"}

    @script(tags="chain two", deps=[Dep("chain one")])
    async def two(ctx: Ctx) -> dict[str, str]:
        order.append("two")
        return {"TWO": ctx.env["ONE"] + "2"}

    @script(tags="chain side")
    async def side(ctx: Ctx) -> dict[str, str]:
        order.append("side")
        return {}

    @script(tags="chain top", deps=[Dep("chain two"), Dep("chain side")])
    async def top(ctx: Ctx) -> dict[str, str]:
        order.append("top")
        return {"TOP": ctx.env["TWO"]}

    assert run("chain top", jobs=4, quiet=True)["TOP"] == "12"
    assert order.index("one") < order.index("two") < order.index("top")
    assert order.index("side") < order.index("top")


def test_first_failure_cancels_the_rest_and_kills_their_commands(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    @script(tags="long command")
    async def long_command(ctx: Ctx) -> dict[str, str]:
        await ctx.sh(f"echo $$ > {pid_file}; exec sleep 60", quiet=True)
        return {}

    @script(tags="fails soon")
    async def fails_soon(ctx: Ctx) -> dict[str, str]:
        for _ in range(200):
            if pid_file.exists() and pid_file.read_text().strip():
                break
            await anyio.sleep(0.02)
        raise RuntimeError("this one broke")

    @script(tags="both of them", deps=[Dep("long command"), Dep("fails soon")])
    def both(ctx: Ctx) -> dict[str, str]:
        return {}

    started = time.monotonic()
    with pytest.raises(RecipeFailed, match="this one broke") as info:
        run("both of them", jobs=4, quiet=True)
    assert time.monotonic() - started < 20
    assert info.value.chain == ("both", "fails_soon".replace("_", "-"))
    pid = int(pid_file.read_text())
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the sleeping command was not killed")


def test_sync_body_command_is_killed_on_cancel(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    @script(tags="sync long")
    def sync_long(ctx: Ctx) -> dict[str, str]:
        ctx.sh_sync(f"echo $$ > {pid_file}; exec sleep 60", quiet=True)
        return {}

    @script(tags="sync fails")
    async def sync_fails(ctx: Ctx) -> dict[str, str]:
        for _ in range(200):
            if pid_file.exists() and pid_file.read_text().strip():
                break
            await anyio.sleep(0.02)
        raise RuntimeError("stop")

    @script(tags="sync both", deps=[Dep("sync long"), Dep("sync fails")])
    def sync_both(ctx: Ctx) -> dict[str, str]:
        return {}

    with pytest.raises(RecipeFailed, match="stop"):
        run("sync both", jobs=4, quiet=True)
    pid = int(pid_file.read_text())
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the sleeping command was not killed")


def test_cycles_are_reported_with_the_loop() -> None:
    @script(tags="cyc a", deps=[Dep("cyc b")])
    def cyc_a(ctx: Ctx) -> None: ...

    @script(tags="cyc b", deps=[Dep("cyc c")])
    def cyc_b(ctx: Ctx) -> None: ...

    @script(tags="cyc c", deps=[Dep("cyc a")])
    def cyc_c(ctx: Ctx) -> None: ...

    with pytest.raises(DependencyCycle) as info:
        run("cyc a", quiet=True)
    assert info.value.cycle == ("cyc-a", "cyc-b", "cyc-c", "cyc-a")
    assert "cyc-a -> cyc-b -> cyc-c -> cyc-a" in str(info.value)


def test_post_deps_run_after_the_body() -> None:
    order: list[str] = []

    @script(tags="after step")
    def after(ctx: Ctx) -> dict[str, str]:
        order.append("after")
        return {}

    @script(tags="main step", post_deps=[Dep("after step")])
    def main_step(ctx: Ctx) -> dict[str, str]:
        order.append("main")
        return {}

    result = run("main step", quiet=True)
    assert order == ["main", "after"]
    assert [d.recipe for d in result.deps] == ["after"]


def test_progress_lines_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    @script(tags="noisy", cache=True)
    def noisy(ctx: Ctx) -> dict[str, str]:
        return {"N": "1"}

    run("noisy")
    run("noisy", verbose=True)
    err = capsys.readouterr().err
    assert "run    noisy" in err and "done   noisy" in err
    assert "cached noisy" in err and "N=1" in err


@pytest.mark.parametrize("cached", [True, False])
def test_a_body_asking_for_itself_is_a_cycle(cached: bool) -> None:
    @script(tags="loop self", cache=cached)
    def loop_self(ctx: Ctx) -> dict[str, str]:
        ctx.run_sync("loop self")
        return {}

    @script(tags="loop a")
    async def loop_a(ctx: Ctx) -> dict[str, str]:
        await ctx.run("loop b")
        return {}

    @script(tags="loop b", cache=cached)
    async def loop_b(ctx: Ctx) -> dict[str, str]:
        await ctx.run("loop a")
        return {}

    with pytest.raises(DependencyCycle, match="loop-self -> loop self -> loop-self"):
        run("loop self", quiet=True)
    with pytest.raises(DependencyCycle):
        run("loop a", quiet=True, jobs=2)


def test_a_timed_out_command_without_check_returns() -> None:
    @script(tags="slow probe")
    def slow_probe(ctx: Ctx) -> dict[str, str]:
        done = ctx.sh_sync(["sh", "-c", "echo started; sleep 5"], check=False, timeout=0.3, quiet=True)
        return {"RC": str(done.returncode), "OUT": done.output}

    @script(tags="slow strict")
    def slow_strict(ctx: Ctx) -> dict[str, str]:
        ctx.sh_sync(["sleep", "5"], timeout=0.3, quiet=True)
        return {}

    r = run("slow probe", quiet=True)
    assert r["RC"] != "0" and "started" in r["OUT"] and "killed after 0.3 s" in r["OUT"]
    with pytest.raises(RecipeFailed, match=r"killed after 0\.3 s"):
        run("slow strict", quiet=True)
