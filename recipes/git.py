"""``get git-repo``: a git repository checked out into the cache, per URL and revision.

The clone is shallow unless ``_full-history`` is asked for: depth 1 (or
``depth``) at the branch's tip, or, for a given ``sha``, a fetch of that one
commit, which servers speaking protocol v2 (or allowing unadvertised objects)
accept; a server that refuses gets a full fetch instead. Git never prompts
(``GIT_TERMINAL_PROMPT=0``): a repository that needs credentials fails with
git's own message rather than waiting for a password nobody will type.

Git comes from the ``get git`` recipe when one exists (an optional dep named
``git``, so ``--adr.git.version_min=...`` works), otherwise from PATH.
"""

from __future__ import annotations

import os
import re

from cmpy import CommandFailed, Ctx, Dep, Result, ToolNotFound, UsageError, Variation, script
from cmpy.tools import redact

_SHA = re.compile(r"[0-9a-fA-F]{4,64}")
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
# git's own environment: never ask for a password on a terminal
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0"}


def _git_from(dep: Result | None) -> str | None:
    """The git executable the ``get git`` dep found (recipes/compilers.py exports it so)."""
    found = dep.env.get("CMPY_GIT_BIN_WITH_PATH") if dep is not None else None
    return found if found and os.path.isfile(found) else None


def _find_git(ctx: Ctx) -> str:
    found = _git_from(ctx.deps.get("git"))
    if found is not None:
        return found
    from cmpy.tools import find_executables, search_dirs

    on_path = find_executables(["git"], patterns=False)
    if not on_path:
        raise ToolNotFound(
            "git",
            searched=[str(d) for d in search_dirs(None)],
            hint="install git (e.g. `apt-get install git`) or put it on PATH",
        )
    return str(on_path[0])


def _option_safe(what: str, value: str) -> str:
    """A value passed to git as an argument, which git must not mistake for an option."""
    text = value.strip()
    if text.startswith("-") or any(c.isspace() or ord(c) < 32 for c in text):
        raise UsageError(f"{what}={value!r} is not a valid {what}")
    return text


@script(
    tags="get git-repo repo",
    alias="get-git-repo",
    uid="ca13f6514847321b",
    cache=True,
    deps=[Dep("get git", name="git", optional=True)],
    variations={
        "shallow": Variation(
            group="history",
            default=True,
            env={"CMPY_GIT_FULL_HISTORY": "no"},
            help="only the commits needed (depth 1, or depth=N)",
        ),
        "full-history": Variation(
            group="history",
            env={"CMPY_GIT_FULL_HISTORY": "yes"},
            help="every commit",
        ),
        "submodules": Variation(
            env={"CMPY_GIT_SUBMODULES": "yes"},
            help="check out the submodules too, recursively",
        ),
    },
    inputs={
        "url": ("CMPY_GIT_URL", "the repository's URL (https://, ssh, file://, or a path)"),
        "branch": (
            "CMPY_GIT_BRANCH",
            "the branch (or tag) to check out (default: the remote's HEAD)",
        ),
        "sha": ("CMPY_GIT_CHECKOUT_SHA", "the commit to check out (hex, 4 to 64 digits)"),
        "depth": ("CMPY_GIT_DEPTH", "how many commits a shallow clone holds (default 1)"),
    },
    env={
        "CMPY_GIT_URL": "",
        "CMPY_GIT_BRANCH": "",
        "CMPY_GIT_CHECKOUT_SHA": "",
        "CMPY_GIT_DEPTH": "",
    },
    exports=["CMPY_GIT_REPO_*"],
)
def get_git_repo(ctx: Ctx) -> dict[str, str]:
    """Clone a git repository (shallow by default) at a branch or commit, with submodules if asked."""
    url = _option_safe("url", ctx.env.get("CMPY_GIT_URL", ""))
    if not url:
        raise UsageError(
            "get git-repo needs the repository's URL",
            hint='cmpy run "get git-repo" --url=https://github.com/org/repo.git',
        )
    branch = _option_safe("branch", ctx.env.get("CMPY_GIT_BRANCH", ""))
    sha = ctx.env.get("CMPY_GIT_CHECKOUT_SHA", "").strip()
    if sha and not _SHA.fullmatch(sha):
        raise UsageError(
            f"sha={sha!r} is not a commit hash",
            hint="give 4 to 64 hex digits; a branch or tag goes in branch=...",
        )
    full = ctx.env.get("CMPY_GIT_FULL_HISTORY", "no") == "yes"
    depth_text = ctx.env.get("CMPY_GIT_DEPTH", "").strip()
    if depth_text and full:
        raise UsageError(
            "depth= and _full-history ask for different histories", hint="drop one of them"
        )
    if depth_text and not (depth_text.isascii() and depth_text.isdigit() and int(depth_text)):
        raise UsageError(f"depth={depth_text!r} is not a positive number of commits")
    depth = None if full else (depth_text or "1")
    git = _find_git(ctx)
    repo = ctx.path / "repo"
    # file:// (not a bare path) for local repositories would honour --depth;
    # a bare path makes git copy objects locally and ignore it, which is fine
    if not sha:
        cmd = [git, "clone"]
        if depth:
            cmd += ["--depth", depth]
        if branch:
            cmd += ["--branch", branch]
        _remote(ctx, [*cmd, "--", url, repo], url)
    else:
        _fetch_commit(ctx, git, url, repo, branch, sha, depth)
    if ctx.env.get("CMPY_GIT_SUBMODULES") == "yes":
        _update_submodules(ctx, git, repo, depth)
    commit = _git_out(ctx, git, repo, "rev-parse", "HEAD")
    if not branch and not sha:
        branch = _git_out(ctx, git, repo, "symbolic-ref", "--short", "-q", "HEAD", check=False)
    return {
        "CMPY_GIT_REPO_PATH": os.path.abspath(repo),
        "CMPY_GIT_REPO_COMMIT": commit,
        # a token in the URL is for the clone, not for every env that inherits this
        "CMPY_GIT_REPO_URL": redact(url),
        "CMPY_GIT_REPO_BRANCH": branch,
    }


def _fetch_commit(
    ctx: Ctx, git: str, url: str, repo: os.PathLike[str], branch: str, sha: str, depth: str | None
) -> None:
    """Check out one commit: fetched alone when the server allows, else with the history."""
    ctx.sh_sync([git, "init", "-q", repo], env=_GIT_ENV)
    ctx.sh_sync([git, "-C", repo, "remote", "add", "origin", url], env=_GIT_ENV)
    fetched = False
    # a server fetches only whole object names; an abbreviated one needs the history
    if depth and _FULL_SHA.fullmatch(sha):
        done = ctx.sh_sync(
            [git, "-C", repo, "fetch", "--depth", depth, "origin", sha],
            env=_GIT_ENV,
            check=False,
            quiet=True,
        )
        fetched = done.ok
        if not fetched:
            ctx.log(f"fetching commit {sha} alone failed; fetching the history instead")
    if not fetched:
        refspec = [f"+refs/heads/{branch}:refs/remotes/origin/{branch}"] if branch else []
        _remote(ctx, [git, "-C", repo, "fetch", "--tags", "origin", *refspec], url)
    done = ctx.sh_sync(
        [git, "-C", repo, "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", sha],
        env=_GIT_ENV,
        check=False,
    )
    if not done.ok:
        where = f"the branch {branch!r} of {url}" if branch else url
        raise UsageError(
            f"commit {sha} is not in {where}",
            hint="check the hash (and the branch), or that the commit was pushed",
        )


def _remote(ctx: Ctx, cmd: list[str | os.PathLike[str]], url: str) -> None:
    """Run a clone or fetch; a failure says what to check, and where the whole output is."""
    try:
        ctx.sh_sync(cmd, env=_GIT_ENV)
    except CommandFailed as exc:
        exc.hint = (
            f"check that {url} is a git repository you can reach; one that needs "
            "credentials must get them from a credential helper or ssh agent"
            + (f" (the whole output is in {exc.log})" if exc.log else "")
        )
        raise


def _update_submodules(ctx: Ctx, git: str, repo: os.PathLike[str], depth: str | None) -> None:
    cmd: list[str | os.PathLike[str]] = [
        git,
        "-C",
        repo,
        "submodule",
        "update",
        "--init",
        "--recursive",
    ]
    if depth:
        done = ctx.sh_sync([*cmd, "--depth", depth], env=_GIT_ENV, check=False, quiet=True)
        if done.ok:
            return
        # a submodule pinned below its branch's tip cannot always be fetched shallow
        ctx.log("a shallow submodule update failed; fetching the submodules' history")
    ctx.sh_sync(cmd, env=_GIT_ENV)


def _git_out(ctx: Ctx, git: str, repo: os.PathLike[str], *args: str, check: bool = True) -> str:
    done = ctx.sh_sync([git, "-C", repo, *args], env=_GIT_ENV, check=check, quiet=True)
    return done.output.strip() if done.ok else ""
