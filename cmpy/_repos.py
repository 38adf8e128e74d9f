"""Recipe repositories: folders of recipe modules that cmpy remembers under ``CMPY_HOME``.

A repository is a folder whose ``*.py`` files are recipe modules (a cloned
git repository that has a ``recipes/`` folder contributes that folder).
The list lives in ``CMPY_HOME/repos.txt``, one absolute path per line (UTF-8),
which the registry reads on every command. A list that is not UTF-8 text or
holds a NUL (which no path can) is damaged: it is moved to
``CMPY_HOME/damaged/`` and the folders it still names are kept.

``cmpy repo pull URL`` clones into ``CMPY_HOME/repos/NAME``, NAME being the
last part of the URL; a URL that git could read as an option, or a NAME that
is not a plain folder name, is refused.
"""

from __future__ import annotations

import os
import re

from ._errors import CmpyError, UsageError
from ._home import Damage, home, make_dir, move_aside, not_writable, warn

__all__ = ["Repo", "add_repo", "check_list", "list_repos", "pull_repo", "read_list", "remove_repo", "new_recipe"]

_LIST = "repos.txt"
# what git may fetch from; ext:: (a command as a URL) among what it may not
_GIT_PROTOCOLS = "file:git:http:https:ssh"
_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


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
    return [Repo(_name_of(path), path) for path in read_list(home())]


def read_list(root: str) -> list[str]:
    """The folders listed in ``root/repos.txt``; a damaged list is repaired, with a warning."""
    paths, damage = _read(root)
    if damage is not None:
        warn(str(damage))
    return paths


def check_list(root: str) -> list[Damage]:
    """Check ``root/repos.txt`` and repair it; returns what was damaged."""
    _, damage = _read(root)
    return [damage] if damage is not None else []


def _read(root: str) -> tuple[list[str], Damage | None]:
    path = os.path.join(root, _LIST)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return [], None
    except IsADirectoryError:
        return [], _set_aside(root, path, "a folder where the list of repositories belongs", [])
    except OSError:
        return [], None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        why = "it is not UTF-8 text"
    else:
        if "\0" not in text:
            return [line.strip() for line in text.splitlines() if line.strip()], None
        why = "it holds NUL bytes"
    # a damaged list registers nothing: a line of garbage that happens to name a
    # folder (/tmp) would make cmpy import every module in it
    return [], _set_aside(root, path, why, _salvage(data))


def _salvage(data: bytes) -> list[str]:
    """The lines of a damaged list that still name an existing folder by its absolute path."""
    kept: list[str] = []
    for raw in data.split(b"\n"):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            continue
        if line and "\0" not in line and os.path.isabs(line) and os.path.isdir(line) and line not in kept:
            kept.append(line)
    return kept


def _set_aside(root: str, path: str, why: str, named: list[str]) -> Damage:
    try:
        moved = move_aside(path, root)
        _write([], root)
    except OSError as exc:
        return Damage(path, why, note=f"could not move it aside: {exc}")
    note = ""
    if named:
        note = "no repository is registered now; add back those you want with: " + "; ".join(
            f"cmpy repo add {p}" for p in named
        )
    return Damage(path, why, moved, repaired=True, note=note)


def _name_of(path: str) -> str:
    base = os.path.basename(path.rstrip(os.sep))
    if base == "recipes":
        base = os.path.basename(os.path.dirname(path.rstrip(os.sep))) or base
    return base


def _write(paths: list[str], root: str | None = None) -> None:
    target = os.path.join(root, _LIST) if root is not None else _list_file()
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("".join(p + "\n" for p in paths))
        os.replace(tmp, target)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _save(paths: list[str]) -> None:
    target = _list_file()
    try:
        _write(paths)
    except IsADirectoryError:
        read_list(os.path.dirname(target))  # a folder in its place: moved aside
        _write(paths)
    except OSError as exc:
        raise not_writable(target, exc) from None


def add_repo(path: str) -> Repo:
    """Register a folder of recipe modules.

    Raises:
        UsageError: the folder does not exist, or another repository has its name.
    """
    folder = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{path!r} is not a folder", hint="give the folder that holds the recipe modules")
    try:
        folder.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"{path!r} is not a path cmpy can remember: it is not UTF-8", hint="rename the folder, or link to it"
        ) from None
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
    _save([r.path for r in repos] + [folder])
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
    _save([r.path for r in repos if r is not found])
    return found


def pull_repo(url: str, *, quiet: bool = False) -> Repo:
    """Clone a git repository of recipes into ``CMPY_HOME/repos`` (or update it), then register it.

    Raises:
        UsageError: a URL that starts with ``-`` (git would read it as an option) or whose
            last part is not a plain folder name, or a folder of that name that is not a
            clone of that URL.
        CmpyError: git is missing or the clone/pull failed (with git's message).
    """
    import shutil
    import subprocess

    from ._redact import redact

    name = _folder_name(url)
    git = shutil.which("git")
    if git is None:
        raise CmpyError("cannot pull a repository: git was not found", hint='cmpy run "get generic-sys-util _git"')
    root = os.path.join(home(), "repos")
    try:
        make_dir(root)
    except FileExistsError:
        warn(str(Damage(root, "a file where cmpy keeps a folder", move_aside(root, home()), repaired=True)))
        make_dir(root)
    folder = os.path.join(root, name)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    env.setdefault("GIT_ALLOW_PROTOCOL", _GIT_PROTOCOLS)
    shown = redact(url)
    if os.path.lexists(folder):
        if not _is_clone_of(git, folder, url, env):
            raise UsageError(
                f"cannot pull {shown}: {folder} exists and is not a git clone of that URL",
                hint=f"move that folder away (or, for another repository called {name!r}, "
                "clone it yourself and use: cmpy repo add PATH)",
            )
        done = subprocess.run([git, "-C", folder, "pull", "--ff-only"], capture_output=True, text=True, env=env)
    else:
        # cloned beside its final name, so that a failed clone leaves nothing in its place
        tmp = os.path.join(root, f".{name}.{os.getpid()}.{os.urandom(2).hex()}.tmp")
        done = subprocess.run(
            [git, "clone", "--depth", "1", "--", url, tmp], capture_output=True, text=True, env=env
        )
        if done.returncode == 0:
            try:
                os.rename(tmp, folder)
            except OSError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                raise CmpyError(f"cannot pull {shown}: {folder}: {exc}") from None
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if done.returncode != 0:
        raise CmpyError(
            f"git failed for {shown}: {redact(done.stderr.strip() or done.stdout.strip())}",
            hint="check the URL and that you can reach it",
        )
    recipes = os.path.join(folder, "recipes")
    return add_repo(recipes if os.path.isdir(recipes) else folder)


def _folder_name(url: str) -> str:
    """The folder a URL is cloned into (its last part, less ``.git``).

    Raises:
        UsageError: the URL starts with ``-``, holds a control character, or does not end in a
            plain folder name.
    """
    if url.startswith("-"):
        raise UsageError(
            f"{url!r} is not a repository URL: it starts with '-', which git would read as an option",
            hint="give the repository's URL or path, such as https://github.com/team/recipes.git",
        )
    if not url.strip() or any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise UsageError(f"{url!r} is not a repository URL", hint="such as https://github.com/team/recipes.git")
    tail = re.split(r"[/\\:]", url.rstrip("/\\"))[-1]
    name = tail[: -len(".git")] if tail.endswith(".git") else tail
    if not _FOLDER_NAME.fullmatch(name):
        raise UsageError(
            f"cannot pull {url!r}: its last part {name!r} is not a plain folder name to clone it into",
            hint="a URL that ends in the repository's name, such as https://github.com/team/recipes.git",
        )
    return name


def _is_clone_of(git: str, folder: str, url: str, env: dict[str, str]) -> bool:
    """Whether ``folder`` is the top of a git work tree whose origin is ``url``."""
    import subprocess

    if os.path.islink(folder) or not os.path.isdir(os.path.join(folder, ".git")):
        return False

    def ask(*args: str) -> str | None:
        done = subprocess.run([git, "-C", folder, *args], capture_output=True, text=True, env=env)
        return done.stdout.strip() if done.returncode == 0 else None

    top = ask("rev-parse", "--show-toplevel")
    if top is None or os.path.realpath(top) != os.path.realpath(folder):
        return False
    return ask("config", "--get", "remote.origin.url") == url


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
            make_dir(folder)
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
        uid=os.urandom(8).hex(),
        prefix=prefix,
        function=module,
    )
    with open(path, "x", encoding="utf-8") as fh:
        fh.write(text)
    return path
