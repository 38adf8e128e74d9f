"""Helpers for testing recipes (and cmpy): a home of one's own, a clean slate after.

::

    import cmpy.testing

    def test_my_recipe(tmp_path):
        with cmpy.testing.isolated(tmp_path / "home"):
            assert cmpy.run("my recipe").env["MY_OUT"] == "42"

``isolated()`` points ``CMPY_HOME`` at a folder of its own and, on the way
out, closes the runtimes the test opened, forgets the recipes it defined and
the recipe modules it loaded from folders, and puts ``CMPY_HOME`` back.
``new_process()`` forgets the open runtimes only, so that the next call sees
the cache as the next command (a new process) would.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ._definitions import DEFINITIONS
from ._pyloader import FOLDER_PACKAGE_PREFIX
from ._runtime import RUNTIMES

__all__ = ["isolated", "new_process"]


def new_process() -> None:
    """Close and forget every runtime: the next run reads the cache as a new process would."""
    RUNTIMES.close_all()


@contextmanager
def isolated(home: str | os.PathLike[str] | None = None) -> Iterator[str]:
    """Run the block with a ``CMPY_HOME`` of its own (a new temporary folder by default).

    Yields the home's path. Recipes defined and folder modules loaded inside
    the block are forgotten after it; ``CMPY_HOME`` is put back.
    """
    import tempfile

    made = None
    if home is None:
        made = tempfile.TemporaryDirectory(prefix="cmpy-home-")
        home = made.name
    before_home = os.environ.get("CMPY_HOME")
    os.environ["CMPY_HOME"] = os.fspath(home)
    definitions = DEFINITIONS.snapshot()
    modules = set(sys.modules)
    try:
        yield os.fspath(home)
    finally:
        RUNTIMES.close_all()
        DEFINITIONS.restore(definitions)
        for name in set(sys.modules) - modules:
            if name.startswith(FOLDER_PACKAGE_PREFIX):
                del sys.modules[name]
        if before_home is None:
            os.environ.pop("CMPY_HOME", None)
        else:
            os.environ["CMPY_HOME"] = before_home
        if made is not None:
            made.cleanup()
