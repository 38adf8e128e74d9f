"""Recipe repositories: folders of recipe modules that cmpy remembers under ``CMPY_HOME``.

A repository is a folder whose ``*.py`` files are recipe modules (a cloned
git repository that has a ``recipes/`` folder contributes that folder).
The list lives in ``CMPY_HOME/repos.txt``, one absolute path per line, which
the registry reads on every command.
"""

from __future__ import annotations

import os
import re
import secrets

from ._errors import CmpyError, UsageError
from ._home import home

__all__ = ["Repo", "add_repo", "list_repos", "pull_repo", "remove_repo", "new_recipe"]

_LIST = "repos.txt"


class Repo:
    """A registered folder of recipe modules."""

    __slots__ = ("name", "path")

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path = path

    def __repr__(self) -> str:
        return f"Repo({self.name!r}, {self.path!r})"


def _list_file() -> str:
    return os.path.join(home(), _LIST)


def list_repos() -> list[Repo]:
    """The registered repositories, in the order they were added."""
    try:
        with open(_list_file(), encoding="utf-8") as fh:
            lines = [line.strip() for line in fh if line.strip()]
    except OSError:
        return []
    return [Repo(_name_of(path), path) for path in lines]


def _name_of(path: str) -> str:
    base = os.path.basename(path.rstrip(os.sep))
    if base == "recipes":
        base = os.path.basename(os.path.dirname(path.rstrip(os.sep))) or base
    return base


def _write(paths: list[str]) -> None:
    target = _list_file()
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("".join(p + "\n" for p in paths))
    os.replace(tmp, target)


def add_repo(path: str) -> Repo:
    """Register a folder of recipe modules.

    Raises:
        UsageError: the folder does not exist, or another repository has its name.
    """
    folder = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{path!r} is not a folder", hint="give the folder that holds the recipe modules")
    repos = list_repos()
    for repo in repos:
        if repo.path == folder:
            return repo
    name = _name_of(folder)
    clash = next((r for r in repos if r.name == name), None)
    if clash is not None:
        raise UsageError(
            f"a repository named {name!r} is already registered ({clash.path})",
            hint=f"remove it first with: cmpy repo rm {name}",
        )
    _write([r.path for r in repos] + [folder])
    return Repo(name, folder)


def remove_repo(name: str) -> Repo:
    """Forget a repository (its files stay where they are).

    Raises:
        UsageError: no repository has that name or path.
    """
    repos = list_repos()
    target = os.path.abspath(os.path.expanduser(name))
    found = next((r for r in repos if r.name == name or r.path == target), None)
    if found is None:
        known = ", ".join(r.name for r in repos) or "none"
        raise UsageError(f"no repository called {name!r} (registered: {known})")
    _write([r.path for r in repos if r is not found])
    return found


def pull_repo(url: str, *, quiet: bool = False) -> Repo:
    """Clone a git repository of recipes into ``CMPY_HOME/repos`` (or update it), then register it.

    Raises:
        CmpyError: git is missing or the clone/pull failed (with git's message).
    """
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        raise CmpyError("cannot pull a repository: git was not found", hint='cmpy run "get generic-sys-util _git"')
    name = re.sub(r"\.git$", "", url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]) or "repo"
    folder = os.path.join(home(), "repos", name)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if os.path.isdir(os.path.join(folder, ".git")):
        command = [git, "-C", folder, "pull", "--ff-only"]
    else:
        os.makedirs(os.path.dirname(folder), exist_ok=True)
        command = [git, "clone", "--depth", "1", url, folder]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise CmpyError(
            f"git failed for {url}: {done.stderr.strip() or done.stdout.strip()}",
            hint="check the URL and that you can reach it",
        )
    recipes = os.path.join(folder, "recipes")
    return add_repo(recipes if os.path.isdir(recipes) else folder)


_TEMPLATE = '''"""{doc}"""

from __future__ import annotations

from cmpy import Ctx, Dep, Result, script


@script(
    tags="{tags}",
    alias="{alias}",
    uid="{uid}",
    deps=[Dep("detect os", name="os")],
    inputs={{"message": ("{prefix}_MESSAGE", "what to say")}},
    env={{"{prefix}_MESSAGE": "hello"}},
    exports=["{prefix}_*"],
)
async def {function}(ctx: Ctx) -> Result:
    """{doc}"""
    text = f"{{ctx.env['{prefix}_MESSAGE']}} from {{ctx.env['CMPY_HOST_OS_NAME']}}"
    # a command: a list runs without a shell; env goes in as environment
    await ctx.sh(["echo", text])
    return Result(env={{"{prefix}_TEXT": text}})
'''


def new_recipe(name: str, tags: str, repo: str | None = None) -> str:
    """Write a new recipe module from a template that runs as it is; returns its path.

    Raises:
        UsageError: a bad name, no tags, or the module exists already.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name):
        raise UsageError(f"{name!r} is not a recipe name", hint="letters, digits, - and _, such as get-my-tool")
    words = [w for w in re.split(r"[,\s]+", tags) if w]
    if not words:
        raise UsageError("a new recipe needs tags: --tags=get,my-tool")
    from ._query import parse_query

    parse_query(" ".join(words))
    if repo is not None:
        folder = add_repo(repo).path
    else:
        repos = list_repos()
        if repos:
            folder = repos[0].path
        else:
            folder = os.path.join(home(), "local-recipes")
            os.makedirs(folder, exist_ok=True)
            folder = add_repo(folder).path
    module = name.replace("-", "_").lower()
    path = os.path.join(folder, f"{module}.py")
    if os.path.exists(path):
        raise UsageError(f"{path} exists already", hint="choose another name, or edit that file")
    prefix = "CMPY_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
    text = _TEMPLATE.format(
        doc=f"The {name} recipe (made by cmpy add recipe; edit me).",
        tags=" ".join(words),
        alias=name,
        uid=secrets.token_hex(8),
        prefix=prefix,
        function=module,
    )
    with open(path, "x", encoding="utf-8") as fh:
        fh.write(text)
    return path
