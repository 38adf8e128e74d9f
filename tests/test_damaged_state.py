"""Damaged state under CMPY_HOME never stops the tool: it is moved aside, rebuilt, and said once.

Each case damages a home that holds one cached result, as a crash, a full
disk or a stray command would, then runs what a user runs next.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import cmpy.cache
import cmpy.testing
from cmpy import UsageError, run
from cmpy._cli import main

RECORD_FILE = "cmpy-entry.pickle"  # the record each entry folder holds (cmpy._cache.RECORD_FILE)

COUNTED = """
    import os
    from cmpy import Ctx, script

    @script(tags="counted thing", cache=True)
    def counted(ctx: Ctx) -> dict:
        with open(os.environ["COUNT_FILE"], "a") as fh:
            fh.write("x")
        (ctx.path / "artifact.txt").write_text("made")
        return {"ARTIFACT": str(ctx.path / "artifact.txt")}

    @script(tags="uncached scratch")
    def scratch(ctx: Ctx) -> dict:
        (ctx.path / "scratch.txt").write_text("x")
        return {}
"""


@pytest.fixture
def counted(recipe_dir: Callable[[str, str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cached recipe that counts its runs in the returned file; it has run once."""
    recipe_dir("counted", COUNTED)
    counter = tmp_path / "count"
    monkeypatch.setenv("COUNT_FILE", str(counter))
    first = run("counted thing", quiet=True)
    assert not first.cached and (Path(first.path) / RECORD_FILE).is_file()
    _new_process()
    return counter


def _new_process() -> None:
    """Forget the open index, as the next command (a new process) would."""
    cmpy.testing.new_process()


def runs(counter: Path) -> int:
    return len(counter.read_text())


def _index_db(home: Path) -> Path:
    return home / "index-3" / "cache.db"


def garbage_database(home: Path) -> None:
    db = _index_db(home)
    db.write_bytes(os.urandom(db.stat().st_size))


def half_database(home: Path) -> None:
    db = _index_db(home)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def value_not_a_pickle(home: Path) -> None:
    with sqlite3.connect(_index_db(home)) as con:
        changed = con.execute("UPDATE Cache SET value = ? WHERE key LIKE 'entry:%'", (b"not a pickle",))
        assert changed.rowcount == 1


def value_of_the_wrong_type(home: Path) -> None:
    import diskcache

    with diskcache.Cache(str(home / "index-3")) as index:
        for key in list(index.iterkeys()):
            index.set(key, 42)


def index_is_a_file(home: Path) -> None:
    shutil.rmtree(home / "index-3")
    (home / "index-3").write_text("not an index")


def repos_list_is_binary(home: Path) -> None:
    (home / "repos.txt").write_bytes(b"\xff\xfe\x00\x80binary\x00\n\xc3\x28")


def locks_is_a_file(home: Path) -> None:
    shutil.rmtree(home / "locks")
    (home / "locks").write_text("x")


def entries_is_a_file(home: Path) -> None:
    shutil.rmtree(home / "entries")
    (home / "entries").write_text("x")


def recipe_index_is_a_folder(home: Path) -> None:
    (home / "recipe-index.marshal").unlink()
    (home / "recipe-index.marshal").mkdir()


# damage -> (what the warning names, whether the cached result survives it)
CASES: dict[Callable[[Path], None], tuple[str, bool]] = {
    garbage_database: ("index-3", True),
    half_database: ("index-3", True),
    value_not_a_pickle: ("index-3", True),
    value_of_the_wrong_type: ("index-3", True),
    index_is_a_file: ("index-3", True),
    repos_list_is_binary: ("repos.txt", True),
    locks_is_a_file: ("locks", True),
    entries_is_a_file: ("entries", False),
    recipe_index_is_a_folder: ("recipe-index.marshal", True),
}


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("cmpy: warning:") and "damaged" in line]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., tuple[int, str, str]]]:
    def call(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        out, err = capsys.readouterr()
        assert "internal error" not in err and "this is a bug" not in err, err
        return status, out, err

    yield call


@pytest.mark.parametrize("damage", list(CASES), ids=lambda f: f.__name__)
def test_every_command_goes_on_after_damage(
    damage: Callable[[Path], None], counted: Path, cmpy_home: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    named, survives = CASES[damage]
    damage(cmpy_home)
    stderr = ""
    status, out, err = cli("cache", "ls")
    stderr += err
    assert status == 0
    if damage is not entries_is_a_file:  # there the index still lists it: prune drops it
        assert "  counted  " in out
    status, out, err = cli("cache", "prune")
    stderr += err
    assert status == 0
    status, out, err = cli("run", "counted thing", "-q")
    stderr += err
    assert status == 0
    assert ("cached" in out) == survives, out
    assert runs(counted) == (1 if survives else 2)
    status, out, err = cli("cache", "rm", "--all")
    stderr += err
    assert status == 0 and "removed 1 cached result" in out
    # a run that has to make a new entry (folder, lock, record) works too
    status, out, err = cli("run", "counted thing", "-q")
    stderr += err
    assert status == 0 and "ran in" in out
    status, out, err = cli("cache", "ls")
    stderr += err
    assert status == 0 and "  counted  " in out
    warned = _warnings(stderr)
    assert len(warned) == 1, stderr
    assert named in warned[0] and "moved it to" in warned[0]
    moved = warned[0].split("moved it to ")[1].split(";")[0].strip()
    assert Path(moved).parent == cmpy_home / "damaged" and Path(moved).exists()
    assert Path(moved).name.startswith(Path(named).name + ".")
    # and it stays repaired
    status, out, err = cli("cache", "check")
    assert status == 0 and "nothing is damaged" in out and not _warnings(err)


@pytest.mark.parametrize(
    "damage",
    [garbage_database, half_database, value_not_a_pickle, value_of_the_wrong_type, index_is_a_file],
    ids=lambda f: f.__name__,
)
def test_run_answers_from_the_rebuilt_index(
    damage: Callable[[Path], None], counted: Path, cmpy_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damage(cmpy_home)
    again = run("counted thing", quiet=True)
    assert again.cached and runs(counted) == 1
    assert run("counted thing", quiet=True).cached
    warned = _warnings(capsys.readouterr().err)
    assert len(warned) == 1 and "rebuilt it from 1 entry folder" in warned[0]


def test_damage_while_the_index_is_open_in_this_process(
    counted: Path, cmpy_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("counted thing", quiet=True).cached  # the index is open now
    garbage_database(cmpy_home)
    run("counted thing", quiet=True)
    assert not run("counted thing", quiet=True, refresh=True).cached  # a commit
    assert run("counted thing", quiet=True).cached
    assert len(_warnings(capsys.readouterr().err)) == 1


def test_a_folder_without_its_record_is_left_for_prune(
    counted: Path, cmpy_home: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    [entry] = cmpy.cache.ls("counted")
    (Path(entry.folder) / RECORD_FILE).unlink()  # as an entry made by an older cmpy
    _new_process()
    garbage_database(cmpy_home)
    status, out, err = cli("cache", "ls")
    assert status == 0 and "  counted  " not in out
    [warned] = _warnings(err)
    assert "rebuilt it from 0 entry folders" in warned and "1 folder without a readable" in warned
    status, out, _ = cli("cache", "prune")
    assert status == 0 and "1 folders" in out
    assert not Path(entry.folder).exists()


def test_cache_check_writes_missing_records_and_repairs(
    counted: Path, cmpy_home: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    [entry] = cmpy.cache.ls("counted")
    record = Path(entry.folder) / RECORD_FILE
    record.unlink()
    status, out, _ = cli("cache", "check")
    assert status == 0 and "nothing is damaged" in out and f"wrote {RECORD_FILE} into 1 entry folder" in out
    assert record.is_file()
    _new_process()
    half_database(cmpy_home)
    (cmpy_home / "runs").write_text("x")
    status, out, err = cli("cache", "check")
    assert status == 0, out + err
    assert out.count("repaired: ") == 2 and "index-3" in out and "runs" in out
    assert not _warnings(err)  # said once: on stdout, as the report
    assert run("counted thing", quiet=True).cached and runs(counted) == 1


def test_cache_check_fails_when_it_cannot_repair(
    counted: Path, cmpy_home: Path, cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cmpy import _cache_repair

    def refuse(path: str, root: str) -> str:
        raise PermissionError(13, "Permission denied", path)

    garbage_database(cmpy_home)
    monkeypatch.setattr(_cache_repair, "move_aside", refuse)
    status, out, err = cli("cache", "check")
    assert status == 1
    assert "NOT REPAIRED" in out and "index-3" in out and "could not be repaired" in err


def test_a_home_that_is_a_file_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., tuple[int, str, str]]
) -> None:
    home = tmp_path / "home-file"
    home.write_text("x")
    monkeypatch.setenv("CMPY_HOME", str(home))
    for command in (["cache", "ls"], ["cache", "prune"], ["cache", "rm", "--all"], ["cache", "check"],
                    ["run", "detect os"], ["repo", "ls"], ["find", "detect"]):
        status, _, err = cli(*command)
        assert status == 2 and "is a file, not a folder" in err and "CMPY_HOME" in err, (command, err)
    with pytest.raises(UsageError, match="is a file"):
        run("detect os", quiet=True)
    assert home.read_text() == "x"


def test_a_home_that_cannot_be_written_is_a_usage_error(
    counted: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., tuple[int, str, str]]
) -> None:
    real_mkdir = os.mkdir

    def refuse(path: str, mode: int = 0o777) -> None:
        if "entries" in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        real_mkdir(path, mode)

    import cmpy._home

    monkeypatch.setattr(cmpy._home.os, "mkdir", refuse)
    status, _, err = cli("cache", "rm", "--all")
    assert status == 0
    status, _, err = cli("run", "counted thing", "-q")
    assert status == 2 and "cannot write" in err and "writable" in err


def _without_root_powers() -> list[str] | None:
    """A command prefix under which permissions hold (root ignores them), or None when there is none."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    import subprocess

    probe = subprocess.run([*prefix, "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


def test_a_read_only_home_is_a_usage_error(counted: Path, cmpy_home: Path) -> None:
    import subprocess
    import sys

    prefix = _without_root_powers()
    if prefix is None:
        pytest.skip("root, and no setpriv to drop its power to write anywhere")
    folders = [cmpy_home, *(p for p in cmpy_home.rglob("*") if p.is_dir())]
    for folder in folders:
        os.chmod(folder, 0o500)
    try:
        for command in (["run", "counted thing", "-q", "--refresh"], ["cache", "ls"], ["cache", "check"]):
            done = subprocess.run(
                [*prefix, sys.executable, "-m", "cmpy", *command], capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 2, done.stderr
            assert "cannot write" in done.stderr and "writable" in done.stderr and "internal" not in done.stderr
    finally:
        for folder in folders:
            os.chmod(folder, 0o700)


def test_folders_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir("counted", COUNTED)
    monkeypatch.setenv("COUNT_FILE", str(tmp_path / "count"))
    home = tmp_path / "fresh" / "home"
    monkeypatch.setenv("CMPY_HOME", str(home))
    old = os.umask(0o022)
    try:
        result = run("counted thing", quiet=True)
        run("uncached scratch", quiet=True)
        garbage_database(home)
        _new_process()
        run("counted thing", quiet=True)
    finally:
        os.umask(old)
    entry = Path(result.path)
    runs_made = list((home / "runs").iterdir())
    for folder in [home, home / "entries", entry.parent, entry, home / "locks", home / "index-3",
                   home / "runs", *runs_made, home / "damaged"]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(next((home / "locks").iterdir()).stat().st_mode) == 0o600
    # made 0700, not 0777 narrowed by the umask
    old = os.umask(0)
    try:
        monkeypatch.setenv("CMPY_HOME", str(tmp_path / "open" / "home"))
        _new_process()
        made = Path(run("counted thing", quiet=True).path)
    finally:
        os.umask(old)
    for folder in (tmp_path / "open" / "home", made, made.parent, made.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_cache_check_restores_what_an_emptied_index_lost(
    counted: Path, cmpy_home: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    """An index cut to nothing opens as an empty one (no error to notice): check restores it."""
    _index_db(cmpy_home).write_bytes(b"")
    for extra in ("cache.db-wal", "cache.db-shm"):
        (cmpy_home / "index-3" / extra).unlink(missing_ok=True)
    status, out, _ = cli("cache", "ls")
    assert status == 0 and "  counted  " not in out
    status, out, _ = cli("cache", "check")
    assert status == 0 and "restored 1 cached result" in out, out
    assert run("counted thing", quiet=True).cached and runs(counted) == 1
