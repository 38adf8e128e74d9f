"""Recipe repositories and new recipes from the command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def cmpy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cmpy", *args], capture_output=True, text=True, timeout=120
    )


RECIPE = """
from cmpy import script

@script(tags="repo made")
def repo_made(ctx):
    return {"FROM": "repo"}
"""


def test_repo_add_ls_rm(tmp_path: Path) -> None:
    folder = tmp_path / "team-recipes"
    folder.mkdir()
    (folder / "made.py").write_text(RECIPE)
    assert cmpy("run", "repo made").returncode == 2
    added = cmpy("repo", "add", str(folder))
    assert added.returncode == 0 and "team-recipes" in added.stdout
    assert json.loads(cmpy("run", "repo made", "--json", "-q").stdout)["env"] == {"FROM": "repo"}
    assert str(folder) in cmpy("repo", "ls").stdout
    assert json.loads(cmpy("repo", "ls", "--json").stdout) == [{"name": "team-recipes", "path": str(folder)}]
    assert cmpy("repo", "add", str(tmp_path / "nope")).returncode == 2
    assert cmpy("repo", "rm", "team-recipes").returncode == 0
    assert cmpy("run", "repo made").returncode == 2
    assert cmpy("repo", "rm", "team-recipes").returncode == 2


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_repo_pull_from_a_local_git_repository(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    work = tmp_path / "work"
    (work / "recipes").mkdir(parents=True)
    (work / "recipes" / "made.py").write_text(RECIPE)
    (work / "README.md").write_text("recipes for cmpy\n")
    bare = tmp_path / "shared-recipes.git"
    for command in (
        ["git", "init", "-q", str(work)],
        ["git", "-C", str(work), "add", "."],
        ["git", "-C", str(work), "commit", "-q", "-m", "recipes"],
        ["git", "clone", "-q", "--bare", str(work), str(bare)],
    ):
        subprocess.run(command, check=True, env=env, capture_output=True)
    pulled = cmpy("repo", "pull", f"file://{bare}")
    assert pulled.returncode == 0, pulled.stderr
    assert "shared-recipes" in pulled.stdout
    assert json.loads(cmpy("run", "repo made", "--json", "-q").stdout)["env"] == {"FROM": "repo"}
    again = cmpy("repo", "pull", f"file://{bare}")
    assert again.returncode == 0, again.stderr
    bad = cmpy("repo", "pull", f"file://{tmp_path}/missing.git")
    assert bad.returncode == 1 and "git failed" in bad.stderr


def test_add_recipe_runs_right_away(tmp_path: Path) -> None:
    done = cmpy("add", "recipe", "say-something", "--tags=say,something")
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.split()[1])
    assert path.exists()
    result = cmpy("run", "say something", "--message=hi", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["env"]["CMPY_SAY_SOMETHING_TEXT"].startswith("hi from ")
    assert cmpy("add", "recipe", "say-something", "--tags=say,something").returncode == 2
    folder = tmp_path / "mine"
    folder.mkdir()
    other = cmpy("add", "recipe", "other_one", "--tags=other,one", "--repo", str(folder))
    assert other.returncode == 0, other.stderr
    assert (folder / "other_one.py").exists()
    assert cmpy("run", "other one", "-q").returncode == 0
    assert cmpy("add", "recipe", "bad name!", "--tags=x").returncode == 2
