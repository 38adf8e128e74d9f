"""Where the built-in recipes are imported from: ``cmpy.recipes``, installed or not.

A wheel installs the repository's top-level ``recipes/`` folder as the
package ``cmpy/recipes``. A source checkout (what ``pip install -e .``
makes: the checkout on ``sys.path`` through a plain ``.pth``) has no such
folder inside ``cmpy/``, so :func:`install` adds a finder that serves
``cmpy.recipes`` from ``<checkout>/recipes``. Either way the recipes are
``cmpy.recipes.*`` and nothing needs a top-level ``recipes`` module.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = ["install"]

_NAME = "cmpy.recipes"


class _CheckoutRecipes:
    """A meta path finder for ``cmpy.recipes`` alone (its submodules follow its ``__path__``)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != _NAME:
            return None
        import importlib.util

        return importlib.util.spec_from_file_location(
            fullname,
            os.path.join(self.folder, "__init__.py"),
            submodule_search_locations=[self.folder],
        )


def install(package_dir: str) -> None:
    """Serve ``cmpy.recipes`` from a source checkout's ``recipes/`` (no-op when installed)."""
    if os.path.isdir(os.path.join(package_dir, "recipes")):
        return  # a wheel: cmpy/recipes is a real subpackage
    folder = os.path.join(os.path.dirname(package_dir), "recipes")
    if not os.path.isfile(os.path.join(folder, "__init__.py")):
        return
    if not any(isinstance(f, _CheckoutRecipes) for f in sys.meta_path):
        sys.meta_path.append(_CheckoutRecipes(folder))
