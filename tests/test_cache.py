"""The content-keyed cache: hits, keys, early cutoff, integrity, locks and kills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cmpy import Ctx, Dep, RecipeFailed, Result, Variation, VersionConflict, run, script
from cmpy._api import runtime
from cmpy.cache import ls as cache_entries

COUNTER_RECIPES = """
    import os
    from pathlib import Path
    from cmpy import Ctx, Dep, Result, Variation, script

    def bump(name):
        with open(os.environ["COUNT_DIR"] + "/" + name, "a") as fh:
            fh.write("x")

    @script(tags="counted thing", cache=True, inputs={"size": "SIZE"},
            variations={"big": Variation(env={"BIG": "1"})})
    def counted(ctx: Ctx) -> dict:
        bump("counted")
        (ctx.path / "artifact.txt").write_text(ctx.env.get("SIZE", "0"))
        return {"ARTIFACT": str(ctx.path / "artifact.txt")}
"""


def count(folder: Path, name: str) -> int:
    path = folder / name
    return len(path.read_text()) if path.exists() else 0


@pytest.fixture
def counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "counts"
    folder.mkdir()
    monkeypatch.setenv("COUNT_DIR", str(folder))
    return folder


def test_second_run_is_a_hit_and_keys_follow_inputs(recipe_dir: Callable[[str, str], Path], counts: Path) -> None:
    recipe_dir("counted", COUNTER_RECIPES)
    first = run("counted thing", size=1, quiet=True)
    second = run("counted thing", size=1, quiet=True)
    assert not first.cached and second.cached
    assert first.key == second.key and first.env == second.env
    assert count(counts, "counted") == 1
    assert Path(second["ARTIFACT"]).read_text() == "1"
    other = run("counted thing", size=2, quiet=True)
    assert other.key != first.key and not other.cached
    big = run("counted thing _big", size=1, quiet=True)
    assert big.key != first.key
    assert count(counts, "counted") == 3
    assert run("counted thing", size=1, refresh=True, quiet=True).cached is False
    assert count(counts, "counted") == 4
    # env the recipe does not read does not enter the key
    assert run("counted thing", size=1, env={"UNRELATED": "x"}, quiet=True).cached


def test_editing_the_recipe_invalidates_its_entries(recipe_dir: Callable[[str, str], Path], counts: Path) -> None:
    path = recipe_dir("counted", COUNTER_RECIPES)
    first = run("counted thing", quiet=True)
    recipe_dir("counted", path.read_text().replace('ctx.env.get("SIZE", "0")', 'ctx.env.get("SIZE", "00")'))
    second = run("counted thing", quiet=True)
    assert second.key != first.key and not second.cached
    assert Path(second["ARTIFACT"]).read_text() == "00"


def test_vanished_artifact_is_a_miss(recipe_dir: Callable[[str, str], Path], counts: Path) -> None:
    recipe_dir("counted", COUNTER_RECIPES)
    first = run("counted thing", quiet=True)
    Path(first["ARTIFACT"]).unlink()
    second = run("counted thing", quiet=True)
    assert not second.cached and Path(second["ARTIFACT"]).exists()
    assert count(counts, "counted") == 2


def test_early_cutoff_on_a_detector(tmp_path: Path) -> None:
    """A detector that re-runs with the same output keeps the entry; a new output makes it stale."""
    value = tmp_path / "detected"
    value.write_text("3.11")
    runs: list[str] = []

    @script(tags="detect thing")
    def detect_thing(ctx: Ctx) -> dict[str, str]:
        runs.append("detect")
        return {"THING_VERSION": value.read_text()}

    @script(tags="build on thing", cache=True, deps=[Dep("detect thing")])
    def build(ctx: Ctx) -> dict[str, str]:
        runs.append("build")
        return {"BUILT_FOR": ctx.env["THING_VERSION"]}

    assert run("build on thing", quiet=True)["BUILT_FOR"] == "3.11"
    again = run("build on thing", quiet=True)
    assert again.cached and runs == ["detect", "build", "detect"]
    value.write_text("3.12")
    third = run("build on thing", quiet=True)
    assert not third.cached and third["BUILT_FOR"] == "3.12"
    assert runs[-2:] == ["detect", "build"]


def test_uncached_recipe_runs_once_per_run() -> None:
    calls: list[int] = []

    @script(tags="shared detector")
    def shared(ctx: Ctx) -> dict[str, str]:
        calls.append(1)
        return {"S": "1"}

    for i in range(5):

        @script(tags=f"user{i}", alias=f"user{i}", deps=[Dep("shared detector")])
        def user(ctx: Ctx) -> dict[str, str]:
            return {}

    @script(tags="everything", deps=[Dep(f"user{i}") for i in range(5)])
    def everything(ctx: Ctx) -> dict[str, str]:
        return {}

    run("everything", quiet=True)
    assert len(calls) == 1
    run("everything", quiet=True, jobs=1)
    assert len(calls) == 2


def test_failure_leaves_no_entry_and_no_folder(cmpy_home: Path) -> None:
    @script(tags="half written", cache=True)
    def half(ctx: Ctx) -> None:
        (ctx.path / "partial.bin").write_bytes(b"x" * 100)
        raise RuntimeError("died halfway")

    with pytest.raises(RecipeFailed, match="died halfway"):
        run("half written", quiet=True)
    assert cache_entries("") == []
    entries = cmpy_home / "entries"
    assert not entries.exists() or not any(p for d in entries.iterdir() for p in d.iterdir())


def test_cached_version_satisfying_a_new_request_is_reused() -> None:
    runs: list[str] = []

    @script(tags="versioned lib", cache=True)
    def lib(ctx: Ctx) -> Result:
        runs.append(ctx.version_spec)
        return Result(env={"LIB": "1"}, version="3.11.4")

    first = run("versioned lib", version_min="3.8", quiet=True)
    second = run("versioned lib", version_min="3.10", quiet=True)
    assert second.cached and second.version == "3.11.4"
    assert runs == [">=3.8"]
    assert first.key != second.key
    with pytest.raises(VersionConflict, match=r"3\.11\.4"):
        run("versioned lib", version_min="3.12", quiet=True)


def test_dynamic_dep_change_invalidates_the_parent(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("a")
    runs: list[str] = []

    @script(tags="probe flag")
    def probe(ctx: Ctx) -> dict[str, str]:
        return {"FLAG": flag.read_text()}

    @script(tags="uses probe", cache=True)
    async def uses(ctx: Ctx) -> dict[str, str]:
        runs.append("body")
        got = await ctx.run("probe flag")
        return {"SAW": got["FLAG"]}

    assert run("uses probe", quiet=True)["SAW"] == "a"
    assert run("uses probe", quiet=True).cached
    flag.write_text("b")
    third = run("uses probe", quiet=True)
    assert not third.cached and third["SAW"] == "b"
    assert runs == ["body", "body"]


def test_cache_ls_rm_and_prune(recipe_dir: Callable[[str, str], Path], counts: Path, cmpy_home: Path) -> None:
    recipe_dir("counted", COUNTER_RECIPES)
    run("counted thing", quiet=True)
    run("counted thing _big", quiet=True)
    assert len(cache_entries("counted")) == 2
    assert len(cache_entries("counted _big")) == 1
    cache = runtime().cache
    orphan = Path(cache.entries_dir) / "ab" / ("ab" * 16 + ".deadbeef")
    orphan.mkdir(parents=True)
    removed = cache.prune()
    assert removed["folders"] == 1 and not orphan.exists()
    for entry in cache_entries("_big"):
        cache.remove(entry)
    assert [e.variations for e in cache_entries("counted")] == [()]


LOCK_RECIPES = """
    import os, time
    from cmpy import Ctx, script

    @script(tags="slow shared", cache=True)
    def slow_shared(ctx: Ctx) -> dict:
        with open(os.environ["COUNT_DIR"] + "/slow", "a") as fh:
            fh.write("x")
        time.sleep(float(os.environ.get("SLOW_SECONDS", "0.5")))
        return {"DONE": "yes"}
"""


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cmpy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_processes_asking_for_the_same_entry_run_the_body_once(
    recipe_dir: Callable[[str, str], Path], counts: Path
) -> None:
    recipe_dir("slow", LOCK_RECIPES)
    procs = [_cli("run", "slow shared", "--json", "-q") for _ in range(4)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    assert count(counts, "slow") == 1
    import json

    cached = [json.loads(out)["cached"] for out, _ in outputs]
    assert sorted(cached) == [False, True, True, True]


def test_a_killed_run_leaves_nothing_and_blocks_nothing(
    recipe_dir: Callable[[str, str], Path], counts: Path, cmpy_home: Path
) -> None:
    recipe_dir("slow", LOCK_RECIPES)
    proc = _cli("run", "slow shared", "-q", env={"SLOW_SECONDS": "30"})
    deadline = time.time() + 30
    while count(counts, "slow") == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert count(counts, "slow") == 1
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert cache_entries("") == []
    started = time.time()
    result = run("slow shared", quiet=True, env={}, jobs=1)
    assert time.time() - started < 20 and not result.cached
    assert count(counts, "slow") == 2
    # the killed attempt's folder was swept when the key ran again
    folders = [p for d in (cmpy_home / "entries").iterdir() for p in d.iterdir()]
    assert [str(f) for f in folders] == [str(result.path)]


def test_variation_keys_are_canonical() -> None:
    @script(
        tags="canon",
        cache=True,
        variations={
            "a": Variation(group="g", default=True),
            "b": Variation(group="g"),
            "x": Variation(),
            "y": Variation(),
        },
    )
    def canon(ctx: Ctx) -> dict[str, str]:
        return {}

    r1 = run("canon _y _x", quiet=True)
    r2 = run("canon _x _y _a", quiet=True)
    assert r1.key == r2.key and r2.cached
    assert r1.variations == ("a", "x", "y")


def test_a_changed_exported_file_is_a_miss(tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.write_text("v1")
    runs: list[int] = []

    @script(tags="find tool", cache=True)
    def find_tool(ctx: Ctx) -> dict[str, str]:
        runs.append(1)
        return {"TOOL": str(tool), "TOOL_DIR": str(tmp_path)}

    run("find tool", quiet=True)
    (tmp_path / "unrelated").write_text("x")  # a folder that gains a file stays valid
    assert run("find tool", quiet=True).cached
    tool.write_text("v2 is longer")  # the tool was replaced: detect it again
    assert not run("find tool", quiet=True).cached
    assert len(runs) == 2


def test_inputs_marked_key_false_stay_out_of_the_key() -> None:
    from cmpy import Input

    runs: list[str] = []

    @script(
        tags="fetch by checksum",
        cache=True,
        inputs={
            "checksum": "FETCH_SUM",
            "url": Input("FETCH_URL", "where to get it", key=False),
        },
    )
    def fetch(ctx: Ctx) -> dict[str, str]:
        runs.append(ctx.env["FETCH_URL"])
        return {"GOT": ctx.inputs["checksum"]}

    first = run("fetch by checksum", checksum="abc", url="http://a/x", quiet=True)
    second = run("fetch by checksum", checksum="abc", url="http://mirror/x", quiet=True)
    assert second.cached and second.key == first.key
    assert runs == ["http://a/x"]
    assert not run("fetch by checksum", checksum="def", url="http://a/x", quiet=True).cached
    assert cmpy_find_input("fetch by checksum")["url"] == {"env": "FETCH_URL", "help": "where to get it", "key": False}


def cmpy_find_input(query: str) -> dict[str, object]:
    from cmpy import find

    [desc] = find(query)
    inputs: dict[str, object] = desc["inputs"]
    return inputs


def test_a_failed_cached_run_keeps_its_log_where_the_error_says(cmpy_home: Path) -> None:
    @script(tags="noisy failure", cache=True)
    def noisy(ctx: Ctx) -> None:
        ctx.sh_sync("echo the details; exit 3", quiet=True)

    with pytest.raises(RecipeFailed) as info:
        run("noisy failure", quiet=True)
    assert info.value.log is not None
    assert "the details" in Path(info.value.log).read_text()
    assert info.value.log in str(info.value)
    assert not (cmpy_home / "entries").exists() or not list((cmpy_home / "entries").iterdir())


def test_process_env_changes_rerun_a_cached_detector_without_invalidating_above(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[str] = []

    @script(tags="find on path", cache=True, process_env=["FAKE_PATH"])
    def find_on_path(ctx: Ctx) -> dict[str, str]:
        runs.append("find")
        import os

        return {"FOUND": os.environ.get("FAKE_PATH", "").split(":")[0]}

    @script(tags="uses found", cache=True, deps=[Dep("find on path")])
    def uses(ctx: Ctx) -> dict[str, str]:
        runs.append("uses")
        return {"USED": ctx.env["FOUND"]}

    monkeypatch.setenv("FAKE_PATH", "/a:/b")
    run("uses found", quiet=True)
    assert run("uses found", quiet=True).cached and runs == ["find", "uses"]
    monkeypatch.setenv("FAKE_PATH", "/a:/c")  # same first entry: same result
    again = run("uses found", quiet=True)
    assert again.cached and runs == ["find", "uses", "find"]
    monkeypatch.setenv("FAKE_PATH", "/z:/a")  # a new result: the user of it runs again
    assert run("uses found", quiet=True)["USED"] == "/z"
    assert runs == ["find", "uses", "find", "find", "uses"]


def test_cache_rm_of_exclusions_alone_removes_nothing(
    recipe_dir: Callable[[str, str], Path], counts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``cmpy cache rm -f`` (CM's "no confirmation") must not mean "everything without the tag f"."""
    from cmpy._cli import main

    recipe_dir("counted", COUNTER_RECIPES)
    run("counted thing", quiet=True)
    run("counted thing _big", quiet=True)
    capsys.readouterr()
    assert main(["cache", "rm", "-f"]) == 2
    err = capsys.readouterr().err
    assert "-f" in err and "never asks for confirmation" in err and "--all" in err
    assert main(["cache", "rm", "-x"]) == 2
    assert main(["cache", "rm", "-x", "-_big"]) == 2
    assert main(["cache", "rm", ""]) == 2
    assert main(["cache", "rm", "counted", "--all"]) == 2
    assert "--all" in capsys.readouterr().err
    assert len(cache_entries("")) == 2
    assert main(["cache", "rm", "counted", "-x", "-_big"]) == 0
    assert "removed 1 cached result" in capsys.readouterr().out
    assert [e.variations for e in cache_entries("")] == [("big",)]
    assert main(["cache", "rm", "--all"]) == 0
    assert "removed 1 cached result" in capsys.readouterr().out
    assert cache_entries("") == []


def test_prune_drops_old_partial_downloads_nobody_holds(cmpy_home: Path) -> None:
    """A partial download kept for a resume goes once it is old and no download holds it."""
    import fcntl
    import time

    from cmpy._cli import main

    folder = cmpy_home / "partial-downloads"
    folder.mkdir()
    old, held, fresh = (folder / f"sha256-{n}.part" for n in ("old", "held", "fresh"))
    for part in (old, held, fresh):
        part.write_bytes(b"partial")
    week_ago = time.time() - 8 * 86400
    for part in (old, held):
        os.utime(part, (week_ago, week_ago))
    with open(folder / "sha256-held.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert main(["cache", "prune"]) == 0
    assert not old.exists() and held.exists() and fresh.exists()
