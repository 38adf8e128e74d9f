"""The built-in get git-repo recipe, against bare repositories the tests make (file:// URLs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cmpy import RecipeFailed, UsageError, run

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


class Origin:
    """A bare repository with two commits on main, a feature branch and a submodule."""

    def __init__(self, root: Path) -> None:
        sub_bare = root / "sub.git"
        bare = root / "main.git"
        for repo in (sub_bare, bare):
            git("init", "-q", "--bare", "-b", "main", str(repo), cwd=root)
        work = root / "sub-work"
        git("clone", "-q", sub_bare.as_uri(), str(work), cwd=root)
        (work / "sub.txt").write_text("from the submodule\n")
        git("add", "sub.txt", cwd=work)
        git("commit", "-qm", "sub", cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)

        work = root / "work"
        git("clone", "-q", bare.as_uri(), str(work), cwd=root)
        (work / "README").write_text("one\n")
        git("add", "README", cwd=work)
        git("commit", "-qm", "one", cwd=work)
        self.first = git("rev-parse", "HEAD", cwd=work)
        (work / "README").write_text("two\n")
        git("submodule", "add", "-q", sub_bare.as_uri(), "sub", cwd=work)
        git("commit", "-qam", "two", cwd=work)
        self.second = git("rev-parse", "HEAD", cwd=work)
        git("checkout", "-qb", "feature", cwd=work)
        (work / "feature.txt").write_text("feature\n")
        git("add", "feature.txt", cwd=work)
        git("commit", "-qm", "feature", cwd=work)
        self.feature = git("rev-parse", "HEAD", cwd=work)
        git("push", "-q", "origin", "main", "feature", cwd=work)
        self.url = bare.as_uri()


@pytest.fixture
def origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Origin:
    # an identity for the commits, no user or system config, and file://
    # submodules allowed (git refuses them by default since 2.38.1)
    for key, value in {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "protocol.file.allow",
        "GIT_CONFIG_VALUE_0": "always",
    }.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "gitconfig").write_text("")
    return Origin(tmp_path)


def _commits(repo: str) -> int:
    return int(git("rev-list", "--count", "HEAD", cwd=Path(repo)))


def test_default_branch_shallow(origin: Origin) -> None:
    r = run("get git-repo", url=origin.url, quiet=True)
    repo = Path(r["CMPY_GIT_REPO_PATH"])
    assert r.path is not None and repo == r.path / "repo"
    assert (repo / "README").read_text() == "two\n"
    assert r["CMPY_GIT_REPO_COMMIT"] == origin.second
    assert r["CMPY_GIT_REPO_BRANCH"] == "main"
    assert r["CMPY_GIT_REPO_URL"] == origin.url
    assert _commits(str(repo)) == 1
    assert not (repo / "sub" / "sub.txt").exists()


def test_a_branch(origin: Origin) -> None:
    r = run("get git-repo", url=origin.url, branch="feature", quiet=True)
    assert (Path(r["CMPY_GIT_REPO_PATH"]) / "feature.txt").is_file()
    assert r["CMPY_GIT_REPO_COMMIT"] == origin.feature
    assert r["CMPY_GIT_REPO_BRANCH"] == "feature"


def test_full_history(origin: Origin) -> None:
    r = run("get git-repo _full-history", url=origin.url, quiet=True)
    assert _commits(r["CMPY_GIT_REPO_PATH"]) == 2


def test_a_sha_fetched_alone(origin: Origin) -> None:
    r = run("get git-repo", url=origin.url, sha=origin.first, quiet=True)
    repo = r["CMPY_GIT_REPO_PATH"]
    assert (Path(repo) / "README").read_text() == "one\n"
    assert r["CMPY_GIT_REPO_COMMIT"] == origin.first
    assert _commits(repo) == 1


def test_a_sha_the_server_will_not_hand_out_alone(
    origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # protocol v0 without uploadpack.allowReachableSHA1InWant refuses a
    # commit that is not a branch tip: the recipe falls back to the history
    monkeypatch.setenv("GIT_CONFIG_COUNT", "2")
    monkeypatch.setenv("GIT_CONFIG_KEY_1", "protocol.version")
    monkeypatch.setenv("GIT_CONFIG_VALUE_1", "0")
    r = run("get git-repo", url=origin.url, sha=origin.first, quiet=True)
    assert r["CMPY_GIT_REPO_COMMIT"] == origin.first
    log = Path(r["CMPY_GIT_REPO_PATH"]).parent / "cmpy-run.log"
    assert log.read_text().count("fetching the history") == 1
    # an abbreviated hash always needs the history
    short = run("get git-repo", url=origin.url, sha=origin.feature[:10], quiet=True)
    assert short["CMPY_GIT_REPO_COMMIT"] == origin.feature


def test_submodules(origin: Origin) -> None:
    r = run("get git-repo _submodules", url=origin.url, quiet=True)
    sub = Path(r["CMPY_GIT_REPO_PATH"]) / "sub" / "sub.txt"
    assert sub.read_text() == "from the submodule\n"


def test_cached_per_url_and_revision(origin: Origin) -> None:
    first = run("get git-repo", url=origin.url, quiet=True)
    again = run("get git-repo", url=origin.url, quiet=True)
    assert again.cached and again.env == first.env
    other = run("get git-repo", url=origin.url, sha=origin.first, quiet=True)
    assert not other.cached and other.path != first.path


def test_a_bad_url_fails_cleanly(tmp_path: Path, cmpy_home: Path) -> None:
    url = (tmp_path / "no-such-repo.git").as_uri()
    with pytest.raises(RecipeFailed) as info:
        run("get git-repo", url=url, quiet=True)
    text = str(info.value)
    assert "git clone" in text and "no-such-repo.git" in text
    assert "does not appear to be a git repository" in info.value.output_tail
    # the hint says what to check, not where a log was (it went with the failed entry)
    assert info.value.hint is not None and "check that" in info.value.hint
    entries = cmpy_home / "entries"
    assert not entries.exists() or not [p for d in entries.iterdir() for p in d.iterdir()]


def test_a_missing_sha_is_named(origin: Origin) -> None:
    with pytest.raises(UsageError, match="is not in"):
        run("get git-repo", url=origin.url, sha="0123456789abcdef" * 2 + "01234567", quiet=True)


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        ({}, "needs the repository's URL"),
        ({"url": "--upload-pack=touch /tmp/x"}, "not a valid url"),
        ({"url": "file:///r.git", "sha": "main"}, "not a commit hash"),
        ({"url": "file:///r.git", "depth": "0"}, "not a positive number"),
    ],
)
def test_bad_inputs(inputs: dict[str, Any], words: str) -> None:
    with pytest.raises(UsageError, match=words):
        run("get git-repo", quiet=True, **inputs)
