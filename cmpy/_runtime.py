"""What the runs of one process share: a registry, a cache and a plan memo per home.

A :class:`Runtime` holds, for one ``CMPY_HOME`` and recipe path, the
registry (with its plan memo), the cache, and what it has told the user
once. The process keeps its runtimes in :data:`RUNTIMES` so that a second
``cmpy.run()`` is answered in microseconds; ``cmpy.testing.isolated()``
closes them after a test.
"""

from __future__ import annotations

import os
import sys

from ._cache import Cache
from ._home import home
from ._registry import Registry

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["RUNTIMES", "Runtime", "Runtimes"]


class Runtime:
    """The registry and the cache of one home, and the warnings already given."""

    def __init__(self, folder: str, *, say: Callable[[str], None] | None = None) -> None:
        self.home = folder
        self.registry = Registry(folder, say=say)
        self.cache = Cache(folder)
        self._told: set[str] = set()

    def refresh(self) -> None:
        """Bring the registry up to date; say once what is broken, duplicated or overridden."""
        registry = self.registry
        registry.refresh()
        lines = [f"skipping {why}" for why in registry.broken.values()]
        lines += registry.warnings
        lines += registry.load_warnings
        registry.load_warnings = []
        for line in lines:
            self._tell(f"cmpy: warning: {line}\n")
        for line in registry.notices:
            self._tell(f"cmpy: note: {line}\n")

    def _tell(self, text: str) -> None:
        if text not in self._told:
            self._told.add(text)
            sys.stderr.write(text)

    def close(self) -> None:
        self.cache.close()


class Runtimes:
    """The runtimes of this process, one per home and recipe path."""

    def __init__(self) -> None:
        self._by_place: dict[tuple[str, str], Runtime] = {}

    def current(self, *, say: Callable[[str], None] | None = None) -> Runtime:
        """The runtime of the current ``CMPY_HOME`` and ``CMPY_RECIPES_PATH``, refreshed.

        Raises:
            UsageError: ``CMPY_HOME`` cannot be used.
        """
        folder = home()
        place = (folder, os.environ.get("CMPY_RECIPES_PATH", ""))
        found = self._by_place.get(place)
        if found is None:
            found = self._by_place[place] = Runtime(folder, say=say)
        found.registry.say = say
        found.refresh()
        return found

    def close_all(self) -> None:
        """Close every runtime (their cache indexes) and forget them."""
        for found in self._by_place.values():
            found.close()
        self._by_place.clear()


RUNTIMES = Runtimes()
