"""The content-keyed cache: a diskcache index, entry folders and per-key locks.

An entry is a record in the index plus the folder it owns. The folder is
made under its final, unique name (``entries/<key>.<random>``) because tools
bake absolute paths into what they build (a virtual environment's scripts, a
CMake cache), so a folder cannot be renamed after the body ran; instead the
entry becomes visible only when its record is written, in one transaction,
after the body succeeded. A failed body's folder is removed; a killed one's
is unreferenced, and the next run of that key or ``cmpy cache prune``
removes it. Locks are ``flock`` locks, which the OS drops when a process
dies, so a killed run never blocks later ones.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator

from ._record import Record, field

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Cache", "Entry", "KeyLock", "artifact_stamp"]

_BASE = "base:"
_ENTRY = "entry:"
# the layout of Entry records: a new layout gets a new index, never misreads an old one
_FORMAT = 3


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

    def intact(self) -> bool:
        """Whether the folder is there, every file it exported is there unchanged, and the
        process env it depended on is what it was."""
        if not os.path.isdir(self.folder):
            return False
        if any(os.environ.get(name) != value for name, value in self.process_env):
            return False
        return all(artifact_stamp(path) == (path, mtime, size) for path, mtime, size in self.artifacts)

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


class KeyLock:
    """An inter-process lock for one cache key (``flock``; dropped when a process dies)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def acquire(self) -> None:
        delay = 0.005
        while not self.try_acquire():
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def acquire_async(self) -> None:
        import anyio

        delay = 0.005
        while not self.try_acquire():
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.2)

    def release(self) -> None:
        if self._fd is not None:
            try:
                _unlock(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    def held_elsewhere(self) -> bool:
        """Whether another process holds this lock right now."""
        if not os.path.exists(self.path):
            return False
        if self.try_acquire():
            self.release()
            return False
        return True


if sys.platform != "win32":
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

else:  # pragma: no cover - Windows
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


class Cache:
    """The cache under one cmpy home folder."""

    def __init__(self, home: str) -> None:
        self.home = home
        self.entries_dir = os.path.join(home, "entries")
        self.locks_dir = os.path.join(home, "locks")
        self.runs_dir = os.path.join(home, "runs")
        self._index: Any = None

    @property
    def index(self) -> Any:
        if self._index is None:
            # imported here: diskcache is ~20 ms of start-up a plan with no cached node never needs
            import diskcache

            self._index = diskcache.Cache(
                os.path.join(self.home, f"index-{_FORMAT}"), eviction_policy="none", statistics=False
            )
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    # -- reading ---------------------------------------------------------

    def get(self, key: str) -> Entry | None:
        """The entry recorded under a key, if any (intact or not)."""
        entry = self.index.get(_ENTRY + key)
        return entry if isinstance(entry, Entry) else None

    def family(self, base_key: str) -> list[Entry]:
        """Entries that differ from ``base_key`` only by their version specifier."""
        keys = self.index.get(_BASE + base_key) or ()
        found = (self.get(k) for k in keys)
        return [e for e in found if e is not None]

    def has_candidate(self, key: str, base_key: str) -> bool:
        """Whether a lookup could hit (cheap: no integrity checks)."""
        return (_ENTRY + key) in self.index or bool(self.index.get(_BASE + base_key))

    def __iter__(self) -> Iterator[Entry]:
        for name in list(self.index.iterkeys()):
            if isinstance(name, str) and name.startswith(_ENTRY):
                entry = self.get(name[len(_ENTRY) :])
                if entry is not None:
                    yield entry

    # -- writing ---------------------------------------------------------

    def lock(self, key: str) -> KeyLock:
        os.makedirs(self.locks_dir, exist_ok=True)
        return KeyLock(os.path.join(self.locks_dir, f"{key}.lock"))

    def new_folder(self, key: str) -> str:
        """A fresh folder for an attempt at ``key`` (call with the key's lock held)."""
        self._sweep_attempts(key)
        folder = os.path.join(self.entries_dir, key[:2], f"{key}.{_token(4)}")
        os.makedirs(folder)
        return folder

    def _sweep_attempts(self, key: str) -> None:
        """Remove folders of earlier attempts at ``key`` that no record points to."""
        parent = os.path.join(self.entries_dir, key[:2])
        if not os.path.isdir(parent):
            return
        current = self.get(key)
        keep = current.folder if current is not None else None
        for child in os.scandir(parent):
            if child.name.startswith(key + ".") and child.path != keep:
                _rmtree(child.path)

    def commit(self, entry: Entry) -> None:
        """Make an entry visible (replacing an older one under the same key)."""
        index = self.index
        with index.transact():
            old = self.get(entry.key)
            index.set(_ENTRY + entry.key, entry)
            family = list(index.get(_BASE + entry.base_key) or ())
            if entry.key not in family:
                family.append(entry.key)
                index.set(_BASE + entry.base_key, tuple(family))
        if old is not None and old.folder != entry.folder:
            _rmtree(old.folder)

    def remove(self, entry: Entry) -> None:
        """Delete an entry: its record first, then its folder."""
        index = self.index
        with index.transact():
            index.delete(_ENTRY + entry.key)
            family = [k for k in index.get(_BASE + entry.base_key) or () if k != entry.key]
            if family:
                index.set(_BASE + entry.base_key, tuple(family))
            else:
                index.delete(_BASE + entry.base_key)
        _rmtree(entry.folder)

    def prune(self, *, run_age: float = 7 * 86400) -> dict[str, int]:
        """Drop broken entries, unreferenced folders and old run folders.

        Lock files stay: deleting one while another process opens it would let
        two processes hold "the" lock on two different files.
        """
        removed = {"entries": 0, "folders": 0, "runs": 0}
        referenced: set[str] = set()
        for entry in list(self):
            if entry.intact():
                referenced.add(os.path.abspath(entry.folder))
            else:
                self.remove(entry)
                removed["entries"] += 1
        if os.path.isdir(self.entries_dir):
            for parent in os.scandir(self.entries_dir):
                for child in os.scandir(parent.path) if parent.is_dir() else ():
                    if os.path.abspath(child.path) in referenced:
                        continue
                    key = child.name.partition(".")[0]
                    if self.lock(key).held_elsewhere():
                        continue
                    _rmtree(child.path)
                    removed["folders"] += 1
        now = time.time()
        if os.path.isdir(self.runs_dir):
            for child in os.scandir(self.runs_dir):
                try:
                    old = now - child.stat().st_mtime > run_age
                except OSError:
                    continue
                if old:
                    _rmtree(child.path)
                    removed["runs"] += 1
        return removed

    def run_folder(self, alias: str) -> str:
        """A new folder for one run of an uncached recipe."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = os.path.join(self.runs_dir, f"{stamp}-{alias}-{os.getpid()}-{_token(2)}")
        os.makedirs(folder)
        return folder


def _rmtree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _token(nbytes: int) -> str:
    return os.urandom(nbytes).hex()
