"""Recipes defined while the program runs: what ``@script`` saw, by module.

``@script`` marks the function it decorates (``fn.__cmpy_recipe__``) and
tells this book. A loader that imports a recipe module collects that
module's recipes itself (from the markers, and from this book for the ones a
loop defined under one name); what is left are the recipes of the program's
own modules (a script, a test, a notebook), which every registry of the
process shows on top of the ones its loaders found.

There is one book per process (:data:`DEFINITIONS`), because a decorator
cannot be handed an object; it is the only process-wide table of cmpy, and
``cmpy.testing.isolated()`` sets it back after a test.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from ._model import Body, Recipe

__all__ = ["DEFINITIONS", "Definitions"]


class Definitions:
    """Recipes and their bodies as modules define them; ``version`` moves on each change."""

    def __init__(self) -> None:
        self._by_module: dict[str, dict[str, tuple[Recipe, Body]]] = {}
        self.version = 0

    def add(self, recipe: Recipe, body: Body) -> None:
        """Remember a definition (a module defining a uid again replaces it)."""
        self._by_module.setdefault(recipe.module, {})[recipe.uid] = (recipe, body)
        self.version += 1

    def of_module(self, module: str) -> list[tuple[Recipe, Body]]:
        """What one module defined, in order."""
        return list(self._by_module.get(module, {}).values())

    def forget(self, module: str) -> None:
        """Drop a module's definitions (before it is imported again)."""
        if self._by_module.pop(module, None) is not None:
            self.version += 1

    def outside(self, modules: set[str]) -> list[tuple[Recipe, Body]]:
        """The definitions of every module not in ``modules`` (those a loader owns)."""
        return [
            item
            for module, items in list(self._by_module.items())
            if module not in modules
            for item in items.values()
        ]

    def snapshot(self) -> dict[str, dict[str, tuple[Recipe, Body]]]:
        return {module: dict(items) for module, items in self._by_module.items()}

    def restore(self, snapshot: dict[str, dict[str, tuple[Recipe, Body]]]) -> None:
        self._by_module = {module: dict(items) for module, items in snapshot.items()}
        self.version += 1


DEFINITIONS = Definitions()
