"""A cached result: its record, the files it exported, and the record file in its folder.

An :class:`Entry` is what the cache index keeps of a result: what it was
made from (key, recipe, variations, the digests of its deps) and what it
made (env, state, version, its folder). The same record is written into the
entry's folder (``cmpy-entry.pickle``: the pickled ``(FORMAT, Entry)``,
atomically, before the index record), so that a damaged index can be
rebuilt from the folders.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from ._home import not_writable
from ._record import Record, field

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "FORMAT",
    "RECORD_FILE",
    "Entry",
    "artifact_stamp",
    "discard_folder",
    "read_record",
    "rmtree",
    "token",
    "write_record",
]

# the file in each entry folder that holds its record, for rebuilding the index
RECORD_FILE = "cmpy-entry.pickle"
# the layout of Entry records: a new layout gets a new index, never misreads an old one
FORMAT = 3


class Entry(Record):
    """A cached result and what it was made from."""

    key: str
    base_key: str
    recipe: str
    uid: str
    tags: tuple[str, ...]
    variations: tuple[str, ...]
    spec: str
    version: str | None
    env: dict[str, str]
    state: dict[str, Any]
    folder: str
    created: float
    duration: float
    dep_digests: tuple[tuple[str, str], ...]
    dynamic: tuple[tuple[Any, str], ...] = ()
    # (path, mtime_ns, size) of each file it exported; (path, -1, -1) for a folder
    artifacts: tuple[tuple[str, int, int], ...] = ()
    input_env: dict[str, str] = field(default_factory=dict)
    digest: str = ""
    # the process env values the result depended on, when it was made
    process_env: tuple[tuple[str, str | None], ...] = ()

    def intact(self, environ: Mapping[str, str]) -> bool:
        """Whether the folder is there, every file it exported is there unchanged, and the
        process env it depended on is what it was (``environ``: the process env now)."""
        if not os.path.isdir(self.folder):
            return False
        if any(environ.get(name) != value for name, value in self.process_env):
            return False
        return all(artifact_stamp(path) == (path, mtime, size) for path, mtime, size in self.artifacts)

    def describe(self) -> dict[str, Any]:
        """A plain description (what ``cmpy cache ls --json`` and ``cache show`` print)."""
        return {
            "key": self.key,
            "recipe": self.recipe,
            "variations": list(self.variations),
            "version": self.version,
            "spec": self.spec,
            "folder": self.folder,
            "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.created)),
            "duration": round(self.duration, 3),
            "env": self.env,
            "input_env": self.input_env,
            "state": self.state,
            "tags": list(self.tags),
        }

    def labels(self) -> set[str]:
        """The words a cache query can match: tags, alias, ``_variations``, version."""
        words = set(self.tags) | {self.recipe} | {"_" + v for v in self.variations}
        if self.version:
            words.add("version-" + self.version)
        return words


def artifact_stamp(path: str) -> tuple[str, int, int] | None:
    """What is recorded of an exported path: a file's mtime and size, or that a folder exists.

    A folder's own mtime moves whenever something is added to it (a package
    installed into a virtual environment), so only its existence counts.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    if os.path.isdir(path):
        return (path, -1, -1)
    return (path, st.st_mtime_ns, st.st_size)


def write_record(entry: Entry) -> None:
    """Write an entry's record into its folder, atomically (a rename)."""
    import pickle

    target = os.path.join(entry.folder, RECORD_FILE)
    tmp = os.path.join(entry.folder, f".{RECORD_FILE}.{os.getpid()}.{token(2)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            pickle.dump((FORMAT, entry), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise not_writable(target, exc) from None


def read_record(folder: str) -> Entry | None:
    """The entry a folder's record file describes, if it is readable and describes that folder."""
    import pickle

    try:
        with open(os.path.join(folder, RECORD_FILE), "rb") as fh:
            layout, entry = pickle.load(fh)
    except Exception:
        return None
    if layout != FORMAT or not isinstance(entry, Entry):
        return None
    if os.path.normpath(entry.folder) != os.path.normpath(folder):
        return None  # copied from elsewhere: its absolute paths point there
    if not os.path.basename(folder).startswith(entry.key + "."):
        return None
    return entry


def discard_folder(folder: str) -> None:
    """Remove an entry folder, its record file first (a half-removed folder must never be rebuilt)."""
    try:
        os.unlink(os.path.join(folder, RECORD_FILE))
    except OSError:
        pass
    rmtree(folder)


def rmtree(path: str) -> None:
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def token(nbytes: int) -> str:
    return os.urandom(nbytes).hex()
