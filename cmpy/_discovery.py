"""Where recipes come from: installed packages, folders, and what changed since last time.

- Packages declare themselves under the ``cmpy.recipes`` entry-point group
  (the built-in ``cmpy.recipes`` is one); installing or removing one changes
  the mtime of its ``site-packages`` folder, which :func:`site_signature`
  watches so that the entry points are looked up again only then.
- Folders come from ``CMPY_RECIPES_PATH`` and from ``cmpy repo add`` (the
  list in ``CMPY_HOME/repos.txt``; a damaged list is set aside with a warning).
"""

from __future__ import annotations

import os
import sys

from ._loaders import Root

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ENTRY_POINT_GROUP",
    "EntryPoint",
    "entry_points",
    "folder_stamps",
    "folders",
    "roots",
    "site_signature",
]

ENTRY_POINT_GROUP = "cmpy.recipes"

# (entry point name, package or module name, the folders or file it lives in)
EntryPoint = tuple[str, str, list[str]]


def site_signature() -> list[tuple[str, int]]:
    """The mtimes of the site-packages folders on sys.path (where entry points are declared)."""
    signature = []
    for entry in sys.path:
        if os.path.basename(entry) in ("site-packages", "dist-packages"):
            try:
                signature.append((entry, os.stat(entry).st_mtime_ns))
            except OSError:
                continue
    return signature


def entry_points() -> list[EntryPoint]:
    """Packages under the ``cmpy.recipes`` group, and the files they live in."""
    import importlib.util
    from importlib.metadata import entry_points as declared

    found: list[EntryPoint] = []
    seen: set[str] = set()
    for ep in declared(group=ENTRY_POINT_GROUP):
        if ep.value in seen:
            continue
        seen.add(ep.value)
        try:
            spec = importlib.util.find_spec(ep.value)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue
        if spec.submodule_search_locations:
            places = [str(p) for p in spec.submodule_search_locations]
        elif spec.origin:
            places = [spec.origin]
        else:
            continue
        found.append((ep.name, ep.value, places))
    return found


def folders(home: str | None, extra: Iterable[str] = ()) -> list[str]:
    """The recipe folders: ``CMPY_RECIPES_PATH``, then the registered repositories, then ``extra``."""
    found = [f for f in os.environ.get("CMPY_RECIPES_PATH", "").split(os.pathsep) if f]
    if home is not None:
        try:
            with open(os.path.join(home, "repos.txt"), encoding="utf-8") as fh:
                text: str | None = fh.read()
        except FileNotFoundError:
            text = ""
        except (OSError, ValueError):
            text = None
        if text is None or "\0" in text:
            # damaged (not UTF-8, a NUL, a folder): moved aside, with a warning
            from ._repos import read_list

            found += read_list(home)
        else:
            found += [line.strip() for line in text.splitlines() if line.strip()]
    return found + list(extra)


def folder_stamps(path: str) -> tuple[tuple[str, int], ...]:
    """The mtimes of a root's folder and the folders below it (a file root: of its folder).

    A folder's mtime moves when an entry is added, removed or renamed in it,
    which is what changes the list of sources under a root.
    """
    top = path if os.path.isdir(path) else os.path.dirname(path)
    out = []
    todo = [top]
    while todo:
        folder = todo.pop()
        try:
            out.append((folder, os.stat(folder).st_mtime_ns))
            with os.scandir(folder) as it:
                todo += [e.path for e in it if e.is_dir(follow_symlinks=False) and not e.name.startswith((".", "_"))]
        except OSError:
            continue
    return tuple(out)


def roots(eps: list[EntryPoint], folder_list: list[str]) -> list[Root]:
    """Every root, packages first (so a built-in comes before a user's duplicate)."""
    out: list[Root] = []
    for _name, package, places in eps:
        for place in places:
            out.append(Root(place, package, single_module=place.endswith(".py")))
    seen: set[str] = set()
    for folder in folder_list:
        path = os.path.abspath(os.path.expanduser(folder))
        if path not in seen:
            seen.add(path)
            out.append(Root(path))
    return out
