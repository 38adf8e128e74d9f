"""Where recipes come from: folder modules by path, broken modules, duplicates and overrides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cmpy import AmbiguousQuery, run
from cmpy._cli import main

Write = Callable[[str, str], Path]


def cmpy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cmpy", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


USES_A_NEIGHBOUR = """
    from cmpy import Ctx, script

    from . import helper

    @script(tags="neighbour user", alias="neighbour-user")
    def user(ctx: Ctx) -> dict:
        return {"FROM_HELPER": helper.VALUE}
"""


def test_a_folder_module_imports_its_neighbours_relatively(recipe_dir: Write) -> None:
    recipe_dir("helper", "VALUE = 'helped'\n")
    recipe_dir("user", USES_A_NEIGHBOUR)
    assert run("neighbour user", quiet=True)["FROM_HELPER"] == "helped"


def test_a_helper_named_json_never_shadows_the_standard_library(recipe_dir: Write) -> None:
    """The folder never goes on sys.path: its json.py is its own module, not `json`."""
    recipe_dir("json", "raise SystemExit('the folder json.py was imported as json')\n")
    recipe_dir(
        "plain",
        """
        from cmpy import Ctx, script

        @script(tags="plain json", alias="plain-json")
        def plain(ctx: Ctx) -> dict:
            import json
            return {"DUMPED": json.dumps([1])}
        """,
    )
    for _ in range(2):  # the second run answers from the metadata index
        done = cmpy("run", "plain json", "--json", "-q", env={"CMPY_RECIPES_PATH": os.environ["CMPY_RECIPES_PATH"]})
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["env"]["DUMPED"] == "[1]"
    assert "json.py" in done.stderr and "sys.exit" in done.stderr  # skipped, and said so


def test_a_module_that_exits_at_import_is_skipped_with_a_warning(recipe_dir: Write) -> None:
    recipe_dir("exits", "import sys\nsys.exit(3)\n")
    recipe_dir(
        "fine",
        """
        from cmpy import script

        @script(tags="still here", alias="still-here")
        def fine(ctx): return {"OK": "yes"}
        """,
    )
    done = cmpy("run", "still here", "-q", env={"CMPY_RECIPES_PATH": os.environ["CMPY_RECIPES_PATH"]})
    assert done.returncode == 0, done.stderr
    assert "OK=yes" in done.stdout
    (line,) = [x for x in done.stderr.splitlines() if "exits.py" in x]
    assert "warning" in line and "sys.exit(3)" in line


def test_verbose_names_each_module_as_it_is_imported(recipe_dir: Write) -> None:
    recipe_dir(
        "announced",
        """
        from cmpy import script

        @script(tags="announced one", alias="announced-one")
        def one(ctx): return {}
        """,
    )
    done = cmpy("run", "announced one", "--verbose", "-q", env={"CMPY_RECIPES_PATH": os.environ["CMPY_RECIPES_PATH"]})
    assert done.returncode == 0, done.stderr
    assert "importing recipe module" in done.stderr and "announced.py" in done.stderr


def _two_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: str, second: str) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "one.py").write_text(first)
    (b / "two.py").write_text(second)
    monkeypatch.setenv("CMPY_RECIPES_PATH", f"{a}{os.pathsep}{b}")
    return a / "one.py", b / "two.py"


RECIPE = """
from cmpy import script

@script(tags="twin {tag}", alias="twin", uid="{uid}"{extra})
def twin(ctx):
    return {{"FROM": "{tag}"}}
"""


def test_two_recipes_with_one_alias_are_reported_with_both_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = _two_folders(
        tmp_path,
        monkeypatch,
        RECIPE.format(tag="a", uid="aaaaaaaaaaaaaaaa", extra=""),
        RECIPE.format(tag="b", uid="bbbbbbbbbbbbbbbb", extra=""),
    )
    with pytest.raises(AmbiguousQuery) as caught:
        run("twin", quiet=True)
    assert str(one) in str(caught.value) and str(two) in str(caught.value)
    err = capsys.readouterr().err
    assert "2 recipes are called twin" in err and str(one) in err and str(two) in err
    assert run("twin a", quiet=True)["FROM"] == "a"  # the tags still tell them apart


def test_a_duplicate_uid_is_reported_not_silently_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = _two_folders(
        tmp_path,
        monkeypatch,
        RECIPE.format(tag="a", uid="cccccccccccccccc", extra=""),
        RECIPE.format(tag="b", uid="cccccccccccccccc", extra=""),
    )
    assert run("twin", quiet=True)["FROM"] == "a"
    err = capsys.readouterr().err
    assert "two recipes have the uid cccccccccccccccc" in err
    assert str(one) in err and str(two) in err and "the first is used" in err


def test_an_override_on_purpose_wins_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _one, two = _two_folders(
        tmp_path,
        monkeypatch,
        RECIPE.format(tag="a", uid="dddddddddddddddd", extra=""),
        RECIPE.format(tag="b", uid="eeeeeeeeeeeeeeee", extra=", override=True"),
    )
    assert run("twin", quiet=True)["FROM"] == "b"
    err = capsys.readouterr().err
    assert "warning" not in err
    assert f"note: twin ({two}" in err and "overrides twin" in err


def test_a_users_detect_os_overrides_the_built_in_for_every_recipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user module that redefines detect-os on purpose is what every dep on it gets."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "os.py").write_text(
        "from cmpy import script\n\n"
        "@script(tags='detect os', alias='detect-os', uid='863735b7db8c44fc', override=True)\n"
        "def detect_os(ctx):\n    return {'CMPY_HOST_OS_NAME': 'mine'}\n"
    )
    monkeypatch.setenv("CMPY_RECIPES_PATH", str(folder))
    assert run("detect os", quiet=True)["CMPY_HOST_OS_NAME"] == "mine"
    assert "overrides detect-os" in capsys.readouterr().err
    assert main(["show", "detect-os"]) == 0
    assert str(folder / "os.py") in capsys.readouterr().out


def test_a_removed_module_takes_its_recipes_along(recipe_dir: Write) -> None:
    """In one process: a module deleted from the recipe path is no longer a source of recipes."""
    import cmpy

    path = recipe_dir(
        "fleeting",
        """
        from cmpy import script

        @script(tags="fleeting thing", alias="fleeting-thing")
        def fleeting(ctx): return {}
        """,
    )
    assert [d["alias"] for d in cmpy.find("fleeting")] == ["fleeting-thing"]
    assert run("fleeting thing", quiet=True).recipe == "fleeting-thing"  # its body was imported
    path.unlink()
    assert cmpy.find("fleeting") == []
