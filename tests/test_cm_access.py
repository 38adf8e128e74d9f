"""``cmpy.access``: CM's Python API over cmpy's recipes and cache, in CM's shapes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _cm_recipes import RECIPES, UID

import cmpy
from cmpy import access

Write = Callable[[str, str], Path]


def run_thing(**extra: Any) -> dict[str, Any]:
    return access({"action": "run", "automation": "script", "tags": "cmdemo,thing", "quiet": True, **extra})


def test_run_find_load_round_trip(recipe_dir: Write) -> None:
    module = recipe_dir("cmdemo", RECIPES)
    r = run_thing(env={"CMDEMO_CALLER": 1}, state={"mine": True}, level=3)
    assert r["return"] == 0, r
    assert r["new_env"] == {"CMDEMO_OUT": "3small", "CMDEMO_LOUD": "", "CMDEMO_SEEN": "none"}
    assert r["env"] == {"CMDEMO_CALLER": "1", **r["new_env"]}  # the caller's env, updated
    assert r["new_state"] == {"made": ["thing"]}
    assert r["state"] == {"mine": True, "made": ["thing"]}
    assert r["deps"] == ["cmdemo-reader"]
    assert r["version"] == "1.2.3" and r["cached"] is False and Path(r["path"]).is_dir()
    assert run_thing(env={"CMDEMO_CALLER": 1}, level=3)["cached"] is True

    listed = access({"action": "find", "automation": "script", "tags": "cmdemo"})
    assert listed["return"] == 0
    assert [a.meta["alias"] for a in listed["list"]] == ["cmdemo-fails", "cmdemo-missing", "cmdemo-reader", "cmdemo-thing"]
    thing = listed["list"][-1]
    assert thing.meta["uid"] == UID and thing.meta["tags"] == ["cmdemo", "thing"]
    assert thing.meta["automation_alias"] == "script" and thing.meta["automation_uid"] == "5b4e0237da074764"
    assert thing.path == str(module.parent) and thing.file == str(module)
    assert "large" in thing.meta["variations"]
    for artifact in ("cmdemo-thing", UID, f"cmdemo-thing,{UID}", "cmdemo thing"):
        loaded = access({"action": "load", "automation": "script", "artifact": artifact})
        assert loaded["return"] == 0, (artifact, loaded)
        assert loaded["meta"]["alias"] == "cmdemo-thing" and loaded["path"] == str(module.parent)
        assert loaded["original_meta"] == loaded["meta"] and loaded["artifact"].meta is loaded["meta"]
    # a variation filters what is found, as CM's search does
    assert [a.meta["alias"] for a in access("search script --tags=cmdemo,_large")["list"]] == ["cmdemo-thing"]
    assert len(access({"action": "ls", "automation": "script"})["list"]) > 4


def test_a_command_line_string_and_cm_flags(recipe_dir: Write, capsys: pytest.CaptureFixture[str]) -> None:
    recipe_dir("cmdemo", RECIPES)
    r = access("run script --tags=cmdemo,thing -j -s --level=2 --loud- --env.CMDEMO_EXTRA=x")
    assert r["return"] == 0, r
    out, err = capsys.readouterr()
    assert json.loads(out)["new_env"] == {"CMDEMO_OUT": "2small", "CMDEMO_LOUD": "no", "CMDEMO_SEEN": "x"}
    assert "never for stdout" in err  # what a recipe prints goes to stderr under -j
    r = access(["run", "script", "cmdemo thing", "--large", "--quiet"])
    assert r["new_env"]["CMDEMO_OUT"] == "0large"
    r = access('run script "cmdemo thing" --large- -s')
    assert r["new_env"]["CMDEMO_OUT"] == "0small"  # --large- : without _large
    capsys.readouterr()
    r = access("run script --tags=cmdemo,thing --out=json -s")
    assert json.loads(capsys.readouterr().out)["return"] == 0


def test_adr_and_ad(recipe_dir: Write) -> None:
    recipe_dir("cmdemo", RECIPES)
    seen = "CMDEMO_SEEN"
    assert run_thing(adr={"reader": {"env": {"CMDEMO_EXTRA": "r"}}})["new_env"][seen] == "r"
    assert run_thing(add_deps_recursive={"reader": {"env": {"CMDEMO_EXTRA": "R"}}})["new_env"][seen] == "R"
    # ad is applied as an adr: the reader is a direct dep here
    assert run_thing(ad={"reader": {"env": {"CMDEMO_EXTRA": "d"}}})["new_env"][seen] == "d"
    both = run_thing(ad={"reader": {"env": {"CMDEMO_EXTRA": "d"}}}, adr={"reader": {"env": {"CMDEMO_EXTRA": "r"}}})
    assert both["new_env"][seen] == "r"  # the adr wins
    assert access("run script --tags=cmdemo,thing -s --ad.reader.env.CMDEMO_EXTRA=c")["new_env"][seen] == "c"


def test_errors_are_return_codes(recipe_dir: Write) -> None:
    recipe_dir("cmdemo", RECIPES)
    missing = access({"action": "run", "automation": "script", "tags": "cmdemo,thnig"})
    assert missing["return"] == 16 and "no recipe matches" in missing["error"] and "try:" in missing["error"]
    assert access({"action": "run", "automation": "script", "tags": "cmdemo,missing", "quiet": True})["return"] == 16
    failed = access({"action": "run", "automation": "script", "tags": "cmdemo,fails", "quiet": True})
    assert failed["return"] == 1 and "broken on purpose" in failed["error"]
    too_new = run_thing(version_min="2")
    assert too_new["return"] == 1 and "1.2.3" in too_new["error"]
    unknown = run_thing(no_such_input="x")
    assert unknown["return"] == 1 and "no_such_input" in unknown["error"]
    assert run_thing(version_max_usable="3")["return"] == 1  # a Python recipe has no such input
    assert access({"action": "frob", "automation": "script"})["return"] == 4
    assert access({"action": "run", "automation": "frob"})["return"] == 4
    assert access({"action": "run"})["return"] == 4
    assert access({"automation": "script"})["return"] == 4
    assert access({"action": "run", "automation": "cache"})["return"] == 4
    assert access({"action": "run", "automation": "script"})["return"] == 1  # no tags
    assert access({"action": "run", "automation": "script", "tags": 3})["return"] == 1
    assert access({"action": "run", "automation": "script", "tags": "cmdemo,thing", "env": "x"})["return"] == 1
    assert access("run script --tags=cmdemo,thing --ad..x=1")["return"] == 1
    assert access("run script 'unclosed")["return"] == 1
    assert access(3)["return"] == 1  # type: ignore[arg-type]
    loaded = access({"action": "load", "automation": "script", "tags": "cmdemo"})
    assert loaded["return"] == 1 and "recipes match" in loaded["error"]
    assert access({"action": "load", "automation": "script", "artifact": "nope-nothing"})["return"] == 16
    assert access({"action": "find", "automation": "script", "frob": 1})["return"] == 1


def test_automation_forms(recipe_dir: Write) -> None:
    recipe_dir("cmdemo", RECIPES)
    for automation in ("script", "script,5b4e0237da074764", "5b4e0237da074764"):
        r = access({"action": "run", "automation": automation, "artifact": "cmdemo-thing", "quiet": True})
        assert r["return"] == 0, (automation, r)
    for automation in ("cache", "cache,541d6f712a6b464e", "541d6f712a6b464e"):
        assert len(access({"action": "find", "automation": automation})["list"]) == 1


def test_add_run_and_remove_a_script(recipe_dir: Write, tmp_path: Path) -> None:
    recipe_dir("cmdemo", RECIPES)
    added = access({"action": "add", "automation": "script", "artifact": "get-my-tool", "tags": "get,my-tool"})
    assert added["return"] == 0, added
    made = Path(added["file"])
    assert made.is_file() and added["path"] == str(made.parent) and added["meta"]["tags"] == ["get", "my-tool"]
    r = access({"action": "run", "automation": "script", "tags": "get,my-tool", "quiet": True, "message": "hi"})
    assert r["return"] == 0 and r["new_env"]["CMPY_GET_MY_TOOL_TEXT"].startswith("hi from ")
    again = access({"action": "add", "automation": "script", "artifact": "get-my-tool", "tags": "get,my-tool"})
    assert again["return"] == 1 and "exists already" in again["error"]
    gone = access({"action": "rm", "automation": "script", "artifact": "get-my-tool"})
    assert gone["return"] == 0 and [a.meta["alias"] for a in gone["deleted_list"]] == ["get-my-tool"]
    assert not made.exists()
    assert access({"action": "find", "automation": "script", "tags": "my-tool"})["list"] == []
    assert access({"action": "rm", "automation": "script", "artifact": "get-my-tool"})["return"] == 16
    builtin = access({"action": "rm", "automation": "script", "artifact": "detect-os"})
    assert builtin["return"] == 1 and "not a folder of your own recipes" in builtin["error"]
    # a module that defines other recipes too is not deleted for one of them
    shared = access({"action": "rm", "automation": "script", "artifact": "cmdemo-reader"})
    assert shared["return"] == 1 and "also defines" in shared["error"]
    several = access({"action": "rm", "automation": "script", "tags": "cmdemo"})
    assert several["return"] == 1 and "-f" in several["error"]
    assert access({"action": "add", "automation": "script", "artifact": "x-y"})["return"] == 1  # no tags


def test_cache_find_load_and_rm(recipe_dir: Write) -> None:
    recipe_dir("cmdemo", RECIPES)
    run_thing()
    run_thing(large=True)
    found = access({"action": "find", "automation": "cache", "tags": "cmdemo"})["list"]
    assert len(found) == 2 and all(Path(a.path).is_dir() for a in found)
    big = access("find cache --tags=cmdemo,_large")["list"]
    assert len(big) == 1 and "_large" in big[0].meta["tags"] and "version-1.2.3" in big[0].meta["tags"]
    assert big[0].meta["automation_uid"] == "541d6f712a6b464e" and big[0].entry.env["CMDEMO_OUT"] == "0large"
    assert len(access({"action": "show", "automation": "cache", "artifact": "cmdemo thing"})["list"]) == 2
    loaded = access({"action": "load", "automation": "cache", "artifact": big[0].meta["uid"]})
    assert loaded["return"] == 0 and loaded["path"] == big[0].path and loaded["new_env"]["CMDEMO_OUT"] == "0large"
    assert access({"action": "load", "automation": "cache", "tags": "cmdemo"})["return"] == 1
    assert access({"action": "load", "automation": "cache", "tags": "nothing-here"})["return"] == 16
    refused = access({"action": "rm", "automation": "cache"})
    assert refused["return"] == 1 and "-f" in refused["error"]
    assert access({"action": "rm", "automation": "cache", "tags": "-cmdemo-reader", "f": True})["return"] == 1
    assert access({"action": "rm", "automation": "cache", "tags": "cmdemo", "all": True})["return"] == 1
    assert access({"action": "rm", "automation": "cache", "tags": "nothing-here"})["return"] == 16
    gone = access({"action": "rm", "automation": "cache", "tags": "cmdemo,_large", "f": True})
    assert gone["return"] == 0 and len(gone["deleted_list"]) == 1 and not Path(big[0].path).exists()
    assert len(access("rm cache -f")["deleted_list"]) == 1
    assert access({"action": "find", "automation": "cache"})["list"] == []


def test_access_is_lazy_and_public() -> None:
    """``import cmpy`` imports nothing of access(); ``cmpy.access`` is it."""
    code = "import sys, cmpy; print(sorted(m for m in sys.modules if m.startswith(('cmpy._access', 'cmpy._artifacts', 'cmpy._cli_cm'))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert "access" in cmpy.__all__ and cmpy.access is access


def test_the_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    [block] = re.findall(r"```python\n(import cmpy\nr = cmpy\.access.*?)```", text, flags=re.S)
    exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip()
