"""The ``cmpy`` command line, run as a user runs it (a new process each time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cmpy._cli import main


def cmpy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cmpy", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


RECIPES = """
    from cmpy import Ctx, Dep, Result, Variation, script

    @script(
        tags="demo thing",
        cache=True,
        inputs={"level": ("DEMO_LEVEL", "how much")},
        variations={
            "small": Variation(group="size", default=True, env={"DEMO_SIZE": "small"}),
            "large": Variation(group="size", env={"DEMO_SIZE": "large"}),
            "batch.#": Variation(env={"DEMO_BATCH": "#"}),
        },
        deps=[Dep("detect os", name="os")],
    )
    def demo_thing(ctx: Ctx) -> Result:
        print("this line must not reach stdout under --json")
        return Result(
            env={
                "DEMO_OUT": ctx.env.get("DEMO_LEVEL", "0") + ctx.env["DEMO_SIZE"],
                "DEMO_BATCH": ctx.env.get("DEMO_BATCH", ""),
                "DEMO_EXTRA": ctx.env.get("DEMO_EXTRA", ""),
                "DEMO_OS": ctx.env["CMPY_HOST_OS_NAME"],
            },
            version="1.2.3",
        )

    @script(tags="demo fails")
    def demo_fails(ctx: Ctx) -> None:
        ctx.sh_sync("echo about to fail; exit 7", quiet=True)
"""


def test_run_json_prints_one_document(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir("demo", RECIPES)
    done = cmpy("run", "demo thing", "--level=3", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["recipe"] == "demo-thing"
    assert doc["variations"] == ["small"]
    assert doc["env"]["DEMO_OUT"] == "3small"
    assert doc["version"] == "1.2.3"
    assert doc["cached"] is False
    assert Path(doc["path"]).is_dir()
    assert isinstance(doc["state"], dict)
    assert "this line must not reach stdout" in done.stderr
    again = json.loads(cmpy("run", "demo thing", "--level=3", "--json").stdout)
    assert again["cached"] is True


def test_cli_variations_inputs_env_and_cm_spellings(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir("demo", RECIPES)
    doc = json.loads(cmpy("run", "demo", "thing", "_large", "--batch=8", "--json", "-q").stdout)
    assert doc["env"]["DEMO_OUT"] == "0large" and doc["env"]["DEMO_BATCH"] == "8"
    doc = json.loads(cmpy("run", "script", "--tags=demo,thing,_large", "--json", "-q").stdout)
    assert doc["variations"] == ["large"]
    doc = json.loads(cmpy("run", "script", "demo thing", "--large", "--json", "-q").stdout)
    assert doc["variations"] == ["large"]
    done = cmpy("run", "demo thing", "--version_min=2", "--json", "-q")
    assert done.returncode == 1
    assert "1.2.3" in done.stderr and ">=2" in done.stderr


def test_progress_goes_to_stderr_and_quiet_silences_it(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir("demo", RECIPES)
    done = cmpy("run", "demo thing")
    assert "run    demo-thing _small" in done.stderr
    assert "done   demo-thing _small" in done.stderr
    assert "DEMO_OUT=0small" in done.stdout
    quiet = cmpy("run", "demo thing", "-q")
    assert quiet.stderr == ""
    verbose = cmpy("run", "demo thing", "--verbose")
    assert "cached demo-thing _small" in verbose.stderr and "DEMO_OUT=0small" in verbose.stderr


def test_exit_codes_and_messages(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir("demo", RECIPES)
    failed = cmpy("run", "demo fails")
    assert failed.returncode == 1
    assert "exit code 7" in failed.stderr and "about to fail" in failed.stderr
    assert "Traceback" not in failed.stderr
    verbose = cmpy("run", "demo fails", "--verbose")
    assert "Traceback" in verbose.stderr
    usage = cmpy("run", "demo thing _huge")
    assert usage.returncode == 2 and "_huge" in usage.stderr
    assert cmpy("run", "no such recipe").returncode == 2
    assert cmpy("run").returncode == 2
    assert cmpy("frobnicate").returncode == 2
    assert cmpy("run", "demo thing", "--jobs", "zero").returncode == 2
    assert cmpy("--help").returncode == 0


def test_dry_run_prints_the_plan_tree(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir("demo", RECIPES)
    done = cmpy("run", "demo thing", "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("demo-thing _small  [run]")
    assert "└── detect-os  [run (not cached), previewed]" in lines[1]
    cmpy("run", "demo thing", "-q")
    assert "[cached]" in cmpy("run", "demo thing", "--dry-run").stdout.splitlines()[0]


def test_env_and_adr_options(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir(
        "demo",
        RECIPES
        + """
    @script(tags="demo reader", reads=["DEMO_*"])
    def demo_reader(ctx: Ctx) -> dict:
        return {"SEEN": ctx.env.get("DEMO_EXTRA", "none")}

    @script(tags="demo parent", deps=[Dep("demo reader", name="reader")])
    def demo_parent(ctx: Ctx) -> dict:
        return {"GOT": ctx.env["SEEN"]}
    """,
    )
    doc = json.loads(cmpy("run", "demo parent", "--env.DEMO_EXTRA=x", "--json", "-q").stdout)
    assert doc["env"]["GOT"] == "x"
    doc = json.loads(
        cmpy("run", "demo parent", "--adr.reader.env.DEMO_EXTRA=y", "--json", "-q").stdout
    )
    assert doc["env"]["GOT"] == "y"


def test_find_show_and_cache_commands(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir("demo", RECIPES)
    found = cmpy("find", "demo")
    assert "demo-thing" in found.stdout and "demo-fails" in found.stdout
    assert json.loads(cmpy("find", "detect", "--json").stdout)[0]["alias"] == "detect-cpu"
    missing = cmpy("find", "demo thnig")
    assert missing.returncode == 2 and "demo-thing" in missing.stderr
    shown = cmpy("show", "demo-thing")
    assert "--level  (env DEMO_LEVEL)  how much" in shown.stdout
    assert "group size:" in shown.stdout and "_small  (default" in shown.stdout
    assert "detect os" in shown.stdout
    cmpy("run", "demo thing", "-q")
    cmpy("run", "demo thing _large", "-q")
    listing = cmpy("cache", "ls", "demo")
    assert listing.stdout.count("demo-thing") == 2
    key = listing.stdout.split()[0]
    shown = cmpy("cache", "show", key)
    assert "DEMO_OUT=0" in shown.stdout
    assert json.loads(cmpy("cache", "ls", "--json").stdout)[0]["recipe"] == "demo-thing"
    assert "removed 1" in cmpy("cache", "rm", "demo _large").stdout
    assert cmpy("cache", "ls").stdout.count("demo-thing") == 1
    assert "removed 1" in cmpy("cache", "rm", "--all").stdout
    assert cmpy("cache", "prune").returncode == 0
    assert cmpy("cache", "show", "zzzz").returncode == 2


def test_index_sees_added_edited_and_deleted_modules(recipe_dir: Callable[[str, str], Path]) -> None:
    """The persisted metadata index never hides a change from the next command."""
    assert cmpy("find", "fresh").returncode == 2
    path = recipe_dir(
        "fresh",
        """
        from cmpy import script

        @script(tags="fresh recipe")
        def fresh_recipe(ctx):
            return {"V": "one"}
        """,
    )
    doc = json.loads(cmpy("run", "fresh recipe", "--json", "-q").stdout)
    assert doc["env"]["V"] == "one"
    recipe_dir("fresh", path.read_text().replace('"one"', '"two"'))
    doc = json.loads(cmpy("run", "fresh recipe", "--json", "-q").stdout)
    assert doc["env"]["V"] == "two"
    recipe_dir("fresh", path.read_text().replace("fresh recipe", "renamed recipe"))
    assert cmpy("find", "fresh").returncode == 2
    assert "fresh-recipe" in cmpy("find", "renamed").stdout
    path.unlink()
    assert cmpy("find", "renamed").returncode == 2


def test_a_cached_run_imports_no_recipe_module(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir(
        "lazy",
        """
        import os
        from cmpy import script

        with open(os.environ["IMPORT_LOG"], "a") as fh:
            fh.write("imported\\n")

        @script(tags="lazy recipe", cache=True)
        def lazy_recipe(ctx):
            return {"L": "1"}
        """,
    )
    log = Path(os.environ["CMPY_HOME"]) / "imports.log"
    env = {"IMPORT_LOG": str(log)}
    assert cmpy("run", "lazy recipe", "-q", env=env).returncode == 0
    before = log.read_text().count("imported")
    assert cmpy("run", "lazy recipe", "-q", env=env).returncode == 0
    assert cmpy("find", "lazy", env=env).returncode == 0
    assert log.read_text().count("imported") == before


def test_main_in_process_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "detect os", "--json", "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["recipe"] == "detect-os"
    assert main(["cache", "frob"]) == 2
    assert "unknown cache subcommand" in capsys.readouterr().err


def test_a_broken_recipe_module_does_not_stop_the_others(recipe_dir: Callable[[str, str], Path]) -> None:
    recipe_dir("demo", RECIPES)
    broken = recipe_dir("broken", "from cmpy import script\n\nthis is not python\n")
    done = cmpy("run", "demo thing", "-q", "--json")
    assert done.returncode == 0
    assert "warning: skipping the recipe module" in done.stderr and str(broken) in done.stderr
    missing = cmpy("run", "something from broken")
    assert missing.returncode == 2 and "NameError" in missing.stderr
    recipe_dir("broken", "from cmpy import script\n\n@script(tags='now fixed')\ndef fixed(ctx):\n    return {}\n")
    fixed = cmpy("run", "now fixed", "-q")
    assert fixed.returncode == 0 and "warning" not in fixed.stderr
