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


GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def _bare_repository(tmp_path: Path, name: str) -> Path:
    """A local bare git repository holding one recipe module."""
    env = {**os.environ, **GIT_ENV}
    work = tmp_path / f"{name}-work"
    (work / "recipes").mkdir(parents=True)
    (work / "recipes" / "made.py").write_text(RECIPE)
    bare = tmp_path / f"{name}.git"
    for command in (
        ["git", "init", "-q", str(work)],
        ["git", "-C", str(work), "add", "."],
        ["git", "-C", str(work), "commit", "-q", "-m", "recipes"],
        ["git", "clone", "-q", "--bare", str(work), str(bare)],
    ):
        subprocess.run(command, check=True, env=env, capture_output=True)
    return bare


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_repo_pull_never_hands_git_an_option(tmp_path: Path, cmpy_home: Path) -> None:
    marker = tmp_path / "pwned"
    bare = _bare_repository(tmp_path, "some")
    # where cmpy used to clone it: git would clone from this bare repository with the payload
    subprocess.run(["git", "clone", "-q", "--bare", str(bare), str(cmpy_home / "repos" / marker.name)], check=True)
    payload = f"--upload-pack=touch {marker}"
    done = cmpy("repo", "pull", "--", payload)
    assert done.returncode == 2, done.stderr
    assert repr(payload) in done.stderr and "option" in done.stderr
    assert not marker.exists()
    from cmpy import UsageError
    from cmpy._repos import pull_repo

    with pytest.raises(UsageError, match="upload-pack"):
        pull_repo(payload)
    assert not marker.exists()
    # a command as a URL (git's ext:: transport) is not a protocol cmpy lets git use
    ext_marker = tmp_path / "pwned-by-ext"
    done = cmpy("repo", "pull", f"ext::sh -c touch% {ext_marker}")
    assert done.returncode == 1 and not ext_marker.exists(), done.stderr
    assert cmpy("repo", "ls", "--json").stdout.strip() == "[]"


@pytest.mark.parametrize(
    "url",
    ["file:///srv/..", "file:///srv/.", "/srv/.git", "file:///srv/-x", "file:///srv/-x.git", "host:..",
     "..", ".", "file:///srv/a b", "C:\\srv\\..", "file:///srv/x\n"],
)
def test_repo_pull_refuses_a_url_without_a_plain_folder_name(url: str, cmpy_home: Path) -> None:
    from cmpy import UsageError
    from cmpy._repos import pull_repo

    with pytest.raises(UsageError):
        pull_repo(url)
    assert not (cmpy_home / "repos").exists() or list((cmpy_home / "repos").iterdir()) == []
    assert not (cmpy_home.parent / "x").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_repo_pull_never_reuses_a_folder_that_is_not_that_clone(tmp_path: Path, cmpy_home: Path) -> None:
    bare = _bare_repository(tmp_path, "shared-recipes")
    other = _bare_repository(tmp_path / "elsewhere", "shared-recipes")
    folder = cmpy_home / "repos" / "shared-recipes"
    folder.mkdir(parents=True)
    (folder / "mine.txt").write_text("keep me")
    done = cmpy("repo", "pull", f"file://{bare}")
    assert done.returncode == 2 and "is not a git clone of" in done.stderr, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["mine.txt"]
    shutil.rmtree(folder)
    # a clone of another URL under the same name is not pulled either
    assert cmpy("repo", "pull", f"file://{other}").returncode == 0
    done = cmpy("repo", "pull", f"file://{bare}")
    assert done.returncode == 2 and "is not a git clone of" in done.stderr
    # nor a bare repository there (what the option-injection needs)
    shutil.rmtree(folder)
    subprocess.run(["git", "clone", "-q", "--bare", str(bare), str(folder)], check=True)
    assert cmpy("repo", "pull", f"file://{bare}").returncode == 2
    # a failed clone leaves nothing behind
    shutil.rmtree(folder)
    bad = cmpy("repo", "pull", f"file://{tmp_path}/missing.git")
    assert bad.returncode == 1 and "git failed" in bad.stderr
    assert sorted(p.name for p in (cmpy_home / "repos").iterdir()) == []
    assert cmpy("repo", "pull", f"file://{bare}").returncode == 0
    assert cmpy("repo", "pull", f"file://{bare}").returncode == 0  # and it updates


def test_a_damaged_repo_list_is_set_aside_and_registers_nothing(
    tmp_path: Path, cmpy_home: Path
) -> None:
    """Garbage that happens to name a folder must not make cmpy import its modules:
    the folders a damaged list names are only suggested for `cmpy repo add`."""
    folder = tmp_path / "team-recipes"
    folder.mkdir()
    (folder / "made.py").write_text(RECIPE)
    (cmpy_home / "repos.txt").write_bytes(str(folder).encode() + b"\n\xff\xfe\x00junk\n")
    listed = cmpy("repo", "ls")
    assert listed.returncode == 0 and listed.stdout.split() == []
    assert "repos.txt was damaged" in listed.stderr and "damaged/repos.txt." in listed.stderr
    assert f"cmpy repo add {folder}" in listed.stderr
    assert cmpy("repo", "add", str(folder)).returncode == 0
    again = cmpy("run", "repo made", "--json", "-q")
    assert again.returncode == 0 and "warning" not in again.stderr
    [moved] = (cmpy_home / "damaged").iterdir()
    assert moved.read_bytes().endswith(b"junk\n")
    (cmpy_home / "repos.txt").unlink()
    (cmpy_home / "repos.txt").mkdir()
    cmpy("repo", "rm", "team-recipes")
    added = cmpy("repo", "add", str(folder))
    assert added.returncode == 0, added.stderr
    assert (cmpy_home / "repos.txt").read_text() == f"{folder}\n"
