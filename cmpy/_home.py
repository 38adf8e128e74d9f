"""Where cmpy keeps its state: ``CMPY_HOME``, else the user cache dir."""

from __future__ import annotations

import os

__all__ = ["home"]


def home() -> str:
    """The cmpy home folder (created on first use).

    ``CMPY_HOME`` overrides the platform's user cache dir, so each test and
    each experiment can have its own.
    """
    explicit = os.environ.get("CMPY_HOME")
    if explicit:
        path = os.path.abspath(os.path.expanduser(explicit))
    else:
        # imported here: platformdirs costs ~15 ms of start-up when CMPY_HOME is set
        import platformdirs

        path = platformdirs.user_cache_dir("cmpy", appauthor=False)
    os.makedirs(path, exist_ok=True)
    return path
