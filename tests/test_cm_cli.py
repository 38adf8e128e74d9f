"""CM's spellings of the command line: ``cmpy ACTION script|cache ...``, ``cmr``, CM's flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from _cm_recipes import RECIPES, UID

from cmpy._cli import main

Write = Callable[[str, str], Path]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def doc(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    status, out, err = cli(capsys, *argv)
    assert status == 0, err
    value: dict[str, object] = json.loads(out)
    return value


def env_of(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, str]:
    env = doc(capsys, *argv)["env"]
    assert isinstance(env, dict)
    return env


def test_run_script_in_every_form(recipe_dir: Write, capsys: pytest.CaptureFixture[str]) -> None:
    recipe_dir("cmdemo", RECIPES)
    for query in (["--tags=cmdemo,thing"], ["cmdemo thing"], ["cmdemo-thing"], [UID]):
        assert doc(capsys, "run", "script", *query, "-j", "-s")["recipe"] == "cmdemo-thing", query
    assert doc(capsys, "run", "script,5b4e0237da074764", "cmdemo-thing", "--json", "-s")["recipe"] == "cmdemo-thing"
    assert doc(capsys, "run", "script", "--tags=cmdemo,thing,_large", "-j", "-s")["variations"] == ["large"]
    # -j N is still the number of jobs
    assert doc(capsys, "run", "script", "cmdemo thing", "-j", "2", "--json", "-s")["recipe"] == "cmdemo-thing"
    assert doc(capsys, "run", "script", "cmdemo thing", "--out=json", "-s")["recipe"] == "cmdemo-thing"


def test_cm_flags(recipe_dir: Write, capsys: pytest.CaptureFixture[str]) -> None:
    recipe_dir("cmdemo", RECIPES)
    run = ("run", "script", "--tags=cmdemo,thing", "-j", "-s")
    assert env_of(capsys, *run, "--env.CMDEMO_EXTRA=e")["CMDEMO_SEEN"] == "e"
    assert env_of(capsys, *run, "--adr.reader.env.CMDEMO_EXTRA=r")["CMDEMO_SEEN"] == "r"
    assert env_of(capsys, *run, "--add_deps_recursive.reader.env.CMDEMO_EXTRA=R")["CMDEMO_SEEN"] == "R"
    assert env_of(capsys, *run, "--ad.reader.env.CMDEMO_EXTRA=d")["CMDEMO_SEEN"] == "d"
    assert env_of(capsys, *run, "--add_deps.reader.env.CMDEMO_EXTRA=D")["CMDEMO_SEEN"] == "D"
    both = env_of(capsys, *run, "--ad.reader.env.CMDEMO_EXTRA=d", "--adr.reader.env.CMDEMO_EXTRA=r")
    assert both["CMDEMO_SEEN"] == "r"
    assert env_of(capsys, *run, "--loud-")["CMDEMO_LOUD"] == "no"  # an input's "no"
    assert env_of(capsys, *run, "--loud")["CMDEMO_LOUD"] == "yes"
    assert env_of(capsys, *run, "--large")["CMDEMO_OUT"] == "0large"
    assert env_of(capsys, *run, "--large-")["CMDEMO_OUT"] == "0small"  # a variation's "no": without it
    status, _, err = cli(capsys, *run, "--version_min=2")
    assert status == 1 and "1.2.3" in err
    # -s and --quiet silence the progress; --quiet- takes it back
    assert cli(capsys, "run", "script", "cmdemo thing", "-s")[2] == ""
    assert cli(capsys, "run", "script", "cmdemo thing", "--quiet")[2] == ""
    assert "cmdemo-thing" in cli(capsys, "run", "script", "cmdemo thing", "--quiet", "--quiet-")[2]
    assert "CMDEMO_OUT" not in cli(capsys, "run", "script", "cmdemo thing", "--verbose", "--verbose-")[2]


def test_cmr_is_run_script(recipe_dir: Write) -> None:
    recipe_dir("cmdemo", RECIPES)
    code = "import sys; from cmpy._cli_cm import cmr; sys.exit(cmr())"
    done = subprocess.run(
        [sys.executable, "-c", code, "cmdemo thing", "-j"], capture_output=True, text=True, env=dict(os.environ), timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["recipe"] == "cmdemo-thing"
    assert "never for stdout" in done.stderr
    config = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    assert config["project"]["scripts"]["cmr"] == "cmpy._cli_cm:cmr"


def test_find_load_add_and_rm_script(recipe_dir: Write, capsys: pytest.CaptureFixture[str]) -> None:
    module = recipe_dir("cmdemo", RECIPES)
    for action in ("find", "search", "ls", "list"):
        status, out, _ = cli(capsys, action, "script", "--tags=cmdemo")
        assert status == 0 and out.split()[::3] == ["cmdemo-fails", "cmdemo-missing", "cmdemo-reader", "cmdemo-thing"]
    found = json.loads(cli(capsys, "find", "script", "cmdemo thing", "-j")[1])
    assert [(d["alias"], d["path"]) for d in found] == [("cmdemo-thing", str(module.parent))]
    assert len(json.loads(cli(capsys, "ls", "script", "-j")[1])) > 4
    status, _, err = cli(capsys, "find", "script", "--tags=cmdemo,thnig")
    assert status == 2 and "cmdemo-thing" in err
    loaded = json.loads(cli(capsys, "load", "script", "cmdemo-thing", "--json")[1])
    assert loaded["uid"] == UID and loaded["path"] == str(module.parent) and "large" in loaded["variations"]
    status, out, _ = cli(capsys, "show", "script", UID)
    assert status == 0 and "--level  (env CMDEMO_LEVEL)  how much" in out

    status, out, err = cli(capsys, "add", "script", "get-my-tool", "--tags=get,my-tool")
    assert status == 0, err
    made = Path(out.split()[1])
    assert made.is_file() and 'cmpy run "get my-tool"' in out
    assert cli(capsys, "run", "script", "get my-tool", "-s")[0] == 0
    status, out, err = cli(capsys, "rm", "script", "get-my-tool")
    assert status == 0 and f"removed get-my-tool: deleted {made}" in out, err
    assert not made.exists()
    status, _, err = cli(capsys, "rm", "script", "--tags=cmdemo")
    assert status == 2 and "4 recipes match" in err and "-f" in err
    status, out, err = cli(capsys, "rm", "script", "--tags=cmdemo", "-f")
    assert status == 0 and out.count("removed") == 4 and not module.exists(), err


def test_cache_spellings(recipe_dir: Write, capsys: pytest.CaptureFixture[str]) -> None:
    recipe_dir("cmdemo", RECIPES)
    cli(capsys, "run", "script", "cmdemo thing", "-s")
    cli(capsys, "run", "script", "cmdemo thing _large", "-s")
    for argv in (["list", "cache"], ["find", "cache", "--tags=cmdemo"], ["show", "cache"], ["ls", "cache", "cmdemo thing"]):
        status, out, _ = cli(capsys, *argv)
        assert status == 0 and out.count("cmdemo-thing") == 2, argv
    listed = json.loads(cli(capsys, "find", "cache", "--tags=cmdemo,_large", "-j")[1])
    assert [e["variations"] for e in listed] == [["large"]]
    status, out, _ = cli(capsys, "rm", "cache", "--tags=cmdemo,_large")
    assert status == 0 and "removed 1 cached result" in out
    status, out, _ = cli(capsys, "rm", "cache", "--tags=cmdemo,_small", "-f")
    assert status == 0 and "removed 1 cached result" in out
    cli(capsys, "run", "script", "cmdemo thing", "-s")
    assert "removed 1 cached result" in cli(capsys, "rm", "cache", "-f")[1]
    cli(capsys, "run", "script", "cmdemo thing", "-s")
    assert "removed 1 cached result" in cli(capsys, "rm", "cache", "--all")[1]
    assert "no cached results match" in cli(capsys, "list", "cache")[2]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["find", "script", "--tags="], "--tags= names no tag"),
        (["run", "script", "--tags=,"], "--tags=, names no tag"),
        (["find", "cache", "--tags="], "--tags= names no tag"),
        (["rm", "cache"], "-f (or --all)"),
        (["rm", "cache", "--tags=-x"], "only excludes"),
        (["rm", "cache", "--tags=-x", "-f"], "only excludes"),
        (["rm", "cache", "--tags=x", "--all"], "not both"),
        (["run", "script", "--tags=detect,os", "--ad..x=1"], "--ad..x=1"),
        (["run", "script", "--tags=detect,os", "--ad.python=1"], "--ad.python=1"),
        (["run", "script", "--tags=detect,os", "--ad", "x"], "--ad is not an option on its own"),
        (["run", "script", "--tags=detect,os", "--adr.python.version_min-"], "--adr.python.version_min-"),
        (["run", "script", "--tags=detect,os", "--env.=x"], "--env.=x"),
        (["run", "script", "--tags=detect,os", "--out=xml"], "--out=xml"),
        (["run", "script", "--tags=detect,os", "--verbose=1"], "--verbose takes no value"),
        (["run", "script"], "cmpy run script needs tags"),
        (["run", "cache", "x"], "not run"),
        (["frob", "script"], "unknown command 'frob'"),
        (["search"], "cmpy search takes what to search: script or cache"),
        (["list", "recipes"], "script or cache"),
        (["rm"], "script or cache"),
        (["rm", "script"], "needs an alias"),
        (["rm", "script", "detect-os"], "not a folder of your own recipes"),
        (["rm", "script", "no-such-recipe"], "no recipe matches"),
        (["rm", "script", "-x"], "does not take -x"),
        (["load", "script"], "needs an alias"),
        (["load", "script", "detect"], "recipes match"),
        (["find", "script", "-f"], "does not take -f"),
        (["find", "script", "--frob"], "does not take --frob"),
        (["find", "script", "--json=yes"], "--json takes no value"),
        (["list", "cache", "--all"], "does not take --all"),
        (["add", "script"], "usage: cmpy add"),
        (["add", "script", "get-x", "--tags="], "--tags= names no tag"),
        (["add", "script", "get-x"], "needs --tags"),
    ],
)
def test_a_bad_cm_command_line_is_one_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    status, _, err = cli(capsys, *argv)
    assert status == 2, err
    assert "internal error" not in err and "Traceback" not in err
    assert err.startswith("cmpy: error:") and named in err


def test_help_lists_the_cm_spellings(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "--help")
    assert status == 0 and "CM's spellings" in out and "rm cache --tags=T | -f" in out
    status, out, _ = cli(capsys, "rm", "script", "--help")
    assert status == 0 and out.startswith("usage: cmpy rm") and "rm cache" in out


def test_the_cm_commands_are_imported_only_when_they_run() -> None:
    code = (
        "import sys, cmpy._cli;"
        "print(sorted(m for m in sys.modules if m in ('cmpy._cli_cm', 'cmpy._access', 'cmpy._artifacts')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
