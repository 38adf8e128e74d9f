"""The persisted metadata index: what every source defines, without importing it.

One ``marshal`` file under ``CMPY_HOME`` (fast to read on every command)
holds, for each source, the stamps of its files and the summaries of the
recipes it defines (or why it failed to load), plus the lookup tables made
from them. A source whose files still have those stamps is not read again.
A file that cannot be read (garbage, another Python's format, a folder in
its place) is made again from the sources, never fatal.
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["NAME", "read", "write"]

NAME = "recipe-index.marshal"
_FORMAT = 7
_KEYS = {"entry_points": list, "sources": dict, "sys_path": list}


def read(folder: str | None) -> dict[str, Any] | None:
    """The index in ``folder``, or ``None`` when there is none that this cmpy can use."""
    if folder is None:
        return None
    path = os.path.join(folder, NAME)
    try:
        with open(path, "rb") as fh:
            index = marshal.loads(fh.read())
    except IsADirectoryError:
        # it would never be rewritten: move it aside (the index is made again from the sources)
        from ._home import Damage, move_aside, warn

        try:
            warn(str(Damage(path, "a folder where a file belongs", move_aside(path, folder))))
        except OSError:
            pass
        return None
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(index, dict) or index.get("format") != (_FORMAT, sys.version):
        return None
    if not all(isinstance(index.get(key), kind) for key, kind in _KEYS.items()):
        return None
    lookup = index.get("lookup")
    if lookup is not None and not (
        isinstance(lookup, dict) and {"entries", "by_tag", "by_alias"} <= lookup.keys()
    ):
        return None
    return index


def write(folder: str | None, content: dict[str, Any]) -> None:
    """Replace the index in ``folder`` (atomically; a failure to write is no error)."""
    if folder is None:
        return
    content = dict(content)
    content["format"] = (_FORMAT, sys.version)
    target = os.path.join(folder, NAME)
    tmp = os.path.join(folder, f".{NAME}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(marshal.dumps(content))
        os.replace(tmp, target)
    except (OSError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass
