"""``cmpy.arun`` on a caller's event loop, under both anyio backends (asyncio and trio)."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import anyio
import pytest

import cmpy
from cmpy import Ctx, Dep, RecipeFailed, script

pytestmark = pytest.mark.anyio


async def _gone(pid: int, within: float = 5.0) -> bool:
    """Whether the process ``pid`` exits within ``within`` seconds."""
    with anyio.move_on_after(within):
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            await anyio.sleep(0.05)
    return False


async def _pid_from(path: Path) -> int:
    with anyio.fail_after(10):
        while not (path.exists() and path.read_text().strip()):
            await anyio.sleep(0.02)
    return int(path.read_text())


async def test_arun_runs_deps_concurrently_and_caches() -> None:
    spans: list[tuple[float, float]] = []

    for i in range(3):

        @script(tags=f"arun part p{i}", alias=f"arun-part-p{i}", cache=True)
        async def part(ctx: Ctx, i: int = i) -> dict[str, str]:
            start = time.monotonic()
            await anyio.sleep(0.2)
            spans.append((start, time.monotonic()))
            return {f"PART_{i}": str(i)}

    @script(tags="arun whole", cache=True, deps=[Dep(f"arun part p{i}") for i in range(3)])
    async def whole(ctx: Ctx) -> dict[str, str]:
        return {"ALL": "".join(ctx.env[f"PART_{i}"] for i in range(3))}

    result = await cmpy.arun("arun whole", jobs=4, quiet=True)
    assert result["ALL"] == "012"
    spans.sort()
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans)), "the parts overlapped"
    again = await cmpy.arun("arun whole", jobs=4, quiet=True)
    assert again.cached and again["ALL"] == "012"
    assert len(spans) == 3


async def test_arun_dynamic_deps_from_async_and_def_bodies() -> None:
    @script(tags="arun leaf", inputs={"value": "LEAF_VALUE"})
    def leaf(ctx: Ctx) -> dict[str, str]:
        return {"LEAF": ctx.env["LEAF_VALUE"]}

    @script(tags="arun async chooser")
    async def async_chooser(ctx: Ctx) -> dict[str, str]:
        got = await ctx.run("arun leaf", value="a")
        return {"GOT": got["LEAF"]}

    @script(tags="arun sync chooser")
    def sync_chooser(ctx: Ctx) -> dict[str, str]:
        # a def body runs in a worker thread and asks the loop for its dep
        return {"GOT": ctx.run_sync("arun leaf", value="s")["LEAF"]}

    assert (await cmpy.arun("arun async chooser", quiet=True))["GOT"] == "a"
    assert (await cmpy.arun("arun sync chooser", quiet=True, jobs=2))["GOT"] == "s"


async def test_arun_commands_and_locks() -> None:
    @script(tags="arun shell async")
    async def shell(ctx: Ctx) -> dict[str, str]:
        async with ctx.lock("arun printer"):
            done = await ctx.sh(["sh", "-c", "echo hello from $0", "arun"], quiet=True)
        return {"OUT": done.output.strip()}

    @script(tags="arun shell sync")
    def shell_sync(ctx: Ctx) -> dict[str, str]:
        with ctx.lock_sync("arun printer"):
            done = ctx.sh_sync(["sh", "-c", "echo sync"], quiet=True)
        return {"OUT": done.output.strip()}

    @script(tags="arun shells", deps=[Dep("arun shell async"), Dep("arun shell sync")])
    def shells(ctx: Ctx) -> dict[str, str]:
        return {}

    result = await cmpy.arun("arun shells", jobs=4, quiet=True)
    outs = sorted(d["OUT"] for d in result.deps)
    assert outs == ["hello from arun", "sync"]


async def test_arun_first_failure_cancels_the_rest(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    @script(tags="arun long command")
    async def long_command(ctx: Ctx) -> dict[str, str]:
        await ctx.sh(f"echo $$ > {pid_file}; exec sleep 60", quiet=True)
        return {}

    @script(tags="arun fails soon")
    async def fails_soon(ctx: Ctx) -> dict[str, str]:
        await _pid_from(pid_file)
        raise RuntimeError("this one broke")

    @script(tags="arun both", deps=[Dep("arun long command"), Dep("arun fails soon")])
    def both(ctx: Ctx) -> dict[str, str]:
        return {}

    with anyio.fail_after(20):
        with pytest.raises(RecipeFailed, match="this one broke") as info:
            await cmpy.arun("arun both", jobs=4, quiet=True)
    assert info.value.chain == ("both", "fails-soon")
    assert await _gone(int(pid_file.read_text())), "the sleeping command was not killed"


@pytest.mark.parametrize("body", ["async", "def"])
async def test_arun_cancelled_by_its_caller_kills_the_command(tmp_path: Path, body: str) -> None:
    pid_file = tmp_path / "pid"

    if body == "async":

        @script(tags="arun sleeper", cache=True)
        async def sleeper(ctx: Ctx) -> dict[str, str]:
            await ctx.sh(f"echo $$ > {pid_file}; exec sleep 60", quiet=True)
            return {}

    else:

        @script(tags="arun sleeper", cache=True)
        def sleeper_sync(ctx: Ctx) -> dict[str, str]:
            ctx.sh_sync(f"echo $$ > {pid_file}; exec sleep 60", quiet=True)
            return {}

    for _ in range(2):  # the second run finds nothing half-made cached: its body runs again
        pid_file.unlink(missing_ok=True)
        started = time.monotonic()
        async with anyio.create_task_group() as group:

            async def stop_when_started() -> None:
                await _pid_from(pid_file)
                group.cancel_scope.cancel()

            group.start_soon(stop_when_started)
            await cmpy.arun("arun sleeper", quiet=True)
            pytest.fail("arun returned although its command sleeps for a minute")
        assert time.monotonic() - started < 20
        assert await _gone(int(pid_file.read_text())), "the sleeping command was not killed"


async def test_arun_dry_run_runs_nothing() -> None:
    ran: list[str] = []

    @script(tags="arun planned")
    async def planned(ctx: Ctx) -> dict[str, str]:
        ran.append("planned")
        return {}

    result = await cmpy.arun("arun planned", dry_run=True, quiet=True)
    assert result.dry_run and result.state["plan"].startswith("run")
    assert ran == []
