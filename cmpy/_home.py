"""Where cmpy keeps its state: ``CMPY_HOME``, else the user cache dir."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home"]


def home() -> Path:
    """The cmpy home folder (created on first use).

    ``CMPY_HOME`` overrides the platform's user cache dir, so each test and
    each experiment can have its own.
    """
    explicit = os.environ.get("CMPY_HOME")
    if explicit:
        path = Path(explicit).expanduser()
    else:
        # imported here: platformdirs costs ~15 ms of start-up when CMPY_HOME is set
        import platformdirs

        path = Path(platformdirs.user_cache_dir("cmpy", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path
