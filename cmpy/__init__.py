"""cmpy: portable, cached automation recipes in Python, in the spirit of MLCommons CM.

A recipe is a Python function decorated with :func:`script`, found by tags,
specialised by variations, chained through dependencies, and cached under a
hash of everything that went into it::

    from cmpy import run
    r = run("detect os")
    print(r["CMPY_HOST_OS_NAME"], r.cached)
"""

from __future__ import annotations

from ._api import arun, find, run, show
from ._errors import (
    AmbiguousQuery,
    ArchiveError,
    ChecksumMismatch,
    CmpyError,
    CommandFailed,
    DependencyCycle,
    DownloadError,
    Interrupted,
    ProgramNotFound,
    QuerySyntaxError,
    RecipeDefinitionError,
    RecipeFailed,
    RecipeNotFound,
    ToolNotFound,
    UsageError,
    VariationError,
    VersionConflict,
)
from ._model import Dep, Input, Variation
from ._result import Result

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    from ._access import access
    from ._ctx import Ctx
    from ._script import script
    from ._shell import Completed

__version__ = "0.1.0"

__all__ = [
    "AmbiguousQuery",
    "ArchiveError",
    "ChecksumMismatch",
    "CmpyError",
    "CommandFailed",
    "Completed",
    "Ctx",
    "Dep",
    "DependencyCycle",
    "DownloadError",
    "Input",
    "Interrupted",
    "ProgramNotFound",
    "QuerySyntaxError",
    "RecipeDefinitionError",
    "RecipeFailed",
    "RecipeNotFound",
    "Result",
    "ToolNotFound",
    "UsageError",
    "Variation",
    "VariationError",
    "VersionConflict",
    "__version__",
    "access",
    "arun",
    "find",
    "run",
    "script",
    "show",
]



def _serve_checkout_recipes() -> None:
    """Make a source checkout's top-level ``recipes/`` importable as ``cmpy.recipes``.

    A wheel installs that folder as the package ``cmpy/recipes``. An editable
    install only puts the checkout on ``sys.path`` (a plain ``.pth``, free at
    start-up), so there a finder serves ``cmpy.recipes`` from the folder:
    either way nothing needs a top-level ``recipes`` module.
    """
    import os
    import sys

    here = __path__[0]
    folder = os.path.join(os.path.dirname(here), "recipes")
    if os.path.isdir(os.path.join(here, "recipes")) or not os.path.isfile(
        os.path.join(folder, "__init__.py")
    ):
        return

    class CheckoutRecipes:
        def find_spec(
            self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
        ) -> ModuleSpec | None:
            if fullname != "cmpy.recipes":
                return None
            import importlib.util

            return importlib.util.spec_from_file_location(
                fullname, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
            )

    sys.meta_path.append(CheckoutRecipes())


_serve_checkout_recipes()


# imported when first used: a command answered from the index needs none of them
_LAZY = {"script": "._script", "Ctx": "._ctx", "Completed": "._shell", "access": "._access"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cmpy' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
