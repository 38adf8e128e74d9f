"""The Python-module loader: recipe modules in packages and in folders.

A package declared under the ``cmpy.recipes`` entry point (the built-in
``cmpy.recipes`` among them) is imported by name, module by module. The
``*.py`` files of a folder are loaded by path, as modules of a private
package made for that folder (``cmpy_ext_<hash>``, whose ``__path__`` is the
folder): a module imports its neighbours with ``from . import helper``, and a
helper named ``json.py`` never shadows the standard library, because the
folder never goes on ``sys.path``.

A module that fails to import in any way (an exception, ``sys.exit()`` at
import) is skipped with its reason; its recipes are missing until it
changes. Recipe modules must import fast (heavy imports belong in bodies):
every command may import one, and a module that hangs at import hangs the
command (``--verbose`` names each module as it is imported).
"""

from __future__ import annotations

import os
import sys

from ._definitions import DEFINITIONS
from ._hash import digest
from ._loaders import LoadFailed, Root, Source, stamp
from ._model import Recipe

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import ModuleType

    from ._model import Body

__all__ = ["PythonModules", "FOLDER_PACKAGE_PREFIX"]

FOLDER_PACKAGE_PREFIX = "cmpy_ext_"


class PythonModules:
    """Reads Python recipe modules (claims every root: it is the last loader asked)."""

    name = "python"

    def __init__(self, say: Callable[[str], None] | None = None) -> None:
        # how the modules imported in this process were, when this loader last imported them
        self._loaded: dict[str, tuple[tuple[int, int], ...] | None] = {}
        # by (source, uid): two sources may (wrongly) share a uid, and each keeps its own
        self._bodies: dict[tuple[str, str], Body] = {}
        self.say = say

    def claims(self, root: Root) -> bool:
        return True

    def sources(self, root: Root) -> list[Source]:
        if root.package:
            if root.single_module:
                return [Source(self.name, root.path, root.package, (root.path,), by_name=True)]
            return [
                Source(self.name, path, module, (path,), by_name=True)
                for path, module in _package_modules(root.path, root.package)
            ]
        folder = os.path.abspath(root.path)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return []
        package = FOLDER_PACKAGE_PREFIX + digest(folder, 4)
        return [
            Source(self.name, os.path.join(folder, name), f"{package}.{name[:-3]}", (os.path.join(folder, name),))
            for name in names
            if name.endswith(".py") and not name.startswith(".") and name != "__init__.py"
        ]

    def load(self, source: Source) -> list[Recipe]:
        """Import (or import again) a module; its recipes, fingerprinted.

        Raises:
            LoadFailed: it raised (or exited) while importing.
        """
        module = self._import(source)
        found: dict[str, tuple[Recipe, Body]] = {}
        # the markers @script left on the module's functions, and what it defined
        # under one name in a loop (which only the book of definitions saw)
        for value in list(vars(module).values()):
            recipe = getattr(value, "__cmpy_recipe__", None)
            if isinstance(recipe, Recipe) and recipe.module == source.module and callable(value):
                found[recipe.uid] = (recipe, value)
        for recipe, body in DEFINITIONS.of_module(source.module):
            found.setdefault(recipe.uid, (recipe, body))
        from . import _fingerprint

        out = []
        for recipe, body in found.values():
            self._bodies[(source.path, recipe.uid)] = body
            out.append(_fingerprint.of_recipe(recipe, body))
        return out

    def body(self, recipe: Recipe, source: Source) -> Body:
        """The body of a recipe, importing its module if this process has not (or it changed).

        Raises:
            LoadFailed: the module no longer imports.
        """
        body = self._bodies.get((source.path, recipe.uid))
        current = stamp(source)
        seen = self._loaded.get(source.path, False)
        if seen is False and source.by_name and source.module in sys.modules:
            # imported by name before any registry looked (a test, a user's import):
            # that import is current, and importing it again would reset it
            module = sys.modules[source.module]
            for value in vars(module).values():
                marked = getattr(value, "__cmpy_recipe__", None)
                if isinstance(marked, Recipe) and marked.module == source.module:
                    self._bodies.setdefault((source.path, marked.uid), value)
            self._loaded[source.path] = seen = current
            body = self._bodies.get((source.path, recipe.uid))
        if body is None or seen != current:
            self.load(source)
            body = self._bodies.get((source.path, recipe.uid))
        if body is None:
            raise LoadFailed(
                source.path,
                f"it no longer defines the recipe {recipe.alias!r} (it changed while cmpy ran); "
                "run the command again",
            )
        return body

    def _import(self, source: Source) -> ModuleType:
        import importlib
        import importlib.util

        name = source.module
        if self.say is not None:
            self.say(f"importing recipe module {source.path}")
        DEFINITIONS.forget(name)
        try:
            if source.by_name:
                if name in sys.modules:
                    module = importlib.reload(sys.modules[name])
                else:
                    module = importlib.import_module(name)
            else:
                _folder_package(name.rpartition(".")[0], os.path.dirname(source.path))
                spec = importlib.util.spec_from_file_location(name, source.path)
                if spec is None or spec.loader is None:
                    raise LoadFailed(source.path, "it is not a Python module")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
        except LoadFailed:
            sys.modules.pop(name, None)
            raise
        except KeyboardInterrupt:
            sys.modules.pop(name, None)
            raise
        except BaseException as exc:  # SystemExit too: a module must not end the command
            sys.modules.pop(name, None)
            what = f"it called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else None
            raise LoadFailed(
                source.path,
                what or f"{type(exc).__name__}: {exc}",
                what="the recipe module",
                failing="failed to import",
            ) from exc
        self._loaded[source.path] = stamp(source)
        return module


def _folder_package(name: str, folder: str) -> None:
    """The private package a folder's modules belong to (its ``__path__`` is the folder)."""
    existing = sys.modules.get(name)
    if existing is not None and list(getattr(existing, "__path__", ())) == [folder]:
        return
    import importlib.machinery
    import importlib.util

    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [folder]
    package = importlib.util.module_from_spec(spec)
    package.__path__ = [folder]
    sys.modules[name] = package


def _package_modules(root: str, package: str) -> Iterator[tuple[str, str]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")) and "-" not in d)
        rel = os.path.relpath(dirpath, root)
        prefix = package if rel == "." else package + "." + rel.replace(os.sep, ".")
        for name in sorted(filenames):
            if not name.endswith(".py") or name.startswith("."):
                continue
            module = prefix if name == "__init__.py" else f"{prefix}.{name[:-3]}"
            yield os.path.join(dirpath, name), module
