"""Loaders: how the registry turns what is on disk into recipes.

A *root* is a place recipes come from: a package declared under the
``cmpy.recipes`` entry point, or a folder (``CMPY_RECIPES_PATH``, ``cmpy
repo add``). A *loader* knows one kind of root:

- :meth:`Loader.claims` says whether a root is its kind (the first loader
  that claims a root reads it alone: a CM repository's ``setup.py`` is never
  imported as a Python recipe module);
- :meth:`Loader.sources` lists the sources under it, each with the files to
  stat to know it changed (one module file, or every file of a script folder);
- :meth:`Loader.load` turns one source into recipe definitions with their
  fingerprints (raising :class:`LoadFailed` when it cannot);
- :meth:`Loader.body` provides the callable a recipe runs.

The registry keeps what each source defined in its persisted index, keyed by
the stamps of its files, so a command loads only the sources that changed
and the bodies it runs. The Python-module loader (:mod:`cmpy._pyloader`) is
the first; CM and MLCFlow script folders are read by another.
"""

from __future__ import annotations

import os

from ._errors import CmpyError

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from ._model import Body, Recipe

    class Loader(Protocol):
        """What the registry asks of a loader (see the module's documentation)."""

        @property
        def name(self) -> str: ...

        def claims(self, root: Root) -> bool: ...

        def sources(self, root: Root) -> list[Source]: ...

        def load(self, source: Source) -> list[Recipe]: ...

        def body(self, recipe: Recipe, source: Source) -> Body: ...


__all__ = ["LazyLoader", "LoadFailed", "Loader", "Root", "Source", "named", "stamp"]


class Root:
    """A place recipes come from: a folder, or an installed package (``package`` set).

    (Plain classes, not records: a record compiles its ``__init__`` on first
    use, start-up time every command would pay.)
    """

    __slots__ = ("package", "path", "single_module")

    def __init__(self, path: str, package: str = "", single_module: bool = False) -> None:
        self.path = path
        self.package = package
        # an entry point may name one module file rather than a package
        self.single_module = single_module

    def _key(self) -> tuple[str, str, bool]:
        return (self.path, self.package, self.single_module)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Root) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Root({self.path!r}, {self.package!r})"


class Source:
    """One thing a loader reads: a module file, a script folder."""

    __slots__ = ("by_name", "files", "loader", "module", "path", "quick")

    def __init__(
        self,
        loader: str,
        path: str,
        module: str,
        files: tuple[str, ...],
        *,
        by_name: bool = False,
        quick: tuple[str, ...] | None = None,
    ) -> None:
        self.loader = loader
        # where it is: its identity in the index
        self.path = path
        # what its recipes are defined in: a module name, or the folder's own name
        self.module = module
        # what to stat to know it changed
        self.files = files
        # imported by name (a package's module) rather than from its path
        self.by_name = by_name
        # what a refresh stats (None: every file): a source of many files (a CM script
        # folder) is stat'ed whole only when one of its recipes is used (Registry.select)
        self.quick = quick

    def __repr__(self) -> str:
        return f"Source({self.loader!r}, {self.path!r})"


class LoadFailed(CmpyError):
    """A source that could not be read; its recipes are missing until it changes.

    ``what`` names the kind of source and ``failing`` what went wrong with it
    ("failed to import" for a module, "could not be loaded" otherwise).
    """

    def __init__(
        self,
        path: str,
        problem: str,
        *,
        what: str = "the recipe source",
        failing: str = "could not be loaded",
    ) -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"{what} {path} {failing}: {problem}",
            hint="fix it, or remove it from the recipe path",
        )


def stamp(source: Source, *, quick: bool = False) -> tuple[tuple[int, int], ...] | None:
    """The (mtime_ns, size) of each of a source's files (``quick``: of its quick ones); ``None``
    when one is gone."""
    out = []
    for path in source.quick if quick and source.quick is not None else source.files:
        try:
            st = os.stat(path)
        except OSError:
            return None
        out.append((st.st_mtime_ns, st.st_size))
    return tuple(out)


class LazyLoader:
    """A loader imported only once a root looks like its kind, or the index names one of its sources.

    The CM loader is one: a user without a CM repository never imports it.
    ``probe`` is a cheap look at a root (a marker file); the real loader's
    ``name`` starts with ``prefix`` (it may carry a version).
    """

    def __init__(self, module: str, attr: str, prefix: str, probe: Callable[[Root], bool], *args: Any) -> None:
        self._module, self._attr, self._prefix, self._probe, self._args = module, attr, prefix, probe, args
        self._real: Any = None
        self.registry: Any = None

    @property
    def real(self) -> Any:
        if self._real is None:
            import importlib

            self._real = getattr(importlib.import_module(self._module), self._attr)(*self._args)
            if hasattr(self._real, "registry"):
                self._real.registry = self.registry
        return self._real

    @property
    def name(self) -> str:
        return str(self.real.name)

    @property
    def warnings(self) -> list[str]:
        return self._real.warnings if self._real is not None else []

    def answers_to(self, name: str) -> bool:
        return name.startswith(self._prefix) and self.real.name == name

    def claims(self, root: Root) -> bool:
        return self._probe(root) and bool(self.real.claims(root))

    def sources(self, root: Root) -> list[Source]:
        return list(self.real.sources(root))

    def load(self, source: Source) -> list[Recipe]:
        return list(self.real.load(source))

    def body(self, recipe: Recipe, source: Source) -> Body:
        body: Body = self.real.body(recipe, source)
        return body


def named(loader: Any, name: str) -> bool:
    """Whether ``loader`` is the one a source or an index record calls ``name``."""
    answers = getattr(loader, "answers_to", None)
    return bool(answers(name)) if answers is not None else loader.name == name


def looks_like_cm(root: Root) -> bool:
    """A cheap look: a CM or MLCFlow repository, or one script folder, has one of these files."""
    if root.package:
        return False
    return any(
        os.path.isfile(os.path.join(root.path, marker))
        for marker in ("cmr.yaml", "_cm.yaml", "_cm.json", "meta.yaml", "meta.json")
    )
