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

Each entry folder also holds its own record (:mod:`cmpy._entry`), so that
damaged state never stops the tool (:mod:`cmpy._cache_repair`). Locks are
in :mod:`cmpy._keylock`, the index's records in :mod:`cmpy._cache_records`.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator

from ._cache_records import BASE as _BASE
from ._cache_records import ENTRY as _ENTRY
from ._cache_records import Damaged as _Damaged
from ._cache_records import all_entries as _all_entries
from ._cache_records import as_entry as _as_entry
from ._cache_records import as_family as _as_family
from ._cache_records import commit as _commit
from ._cache_records import remove as _remove
from ._cache_repair import Repairs
from ._entry import FORMAT as _FORMAT
from ._entry import RECORD_FILE, Entry, artifact_stamp
from ._entry import discard_folder as _discard
from ._entry import rmtree as _rmtree
from ._entry import token as _token
from ._entry import write_record as _write_record
from ._errors import CmpyError
from ._home import make_dir, warn
from ._keylock import KeyLock

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = ["Cache", "Entry", "KeyLock", "RECORD_FILE", "artifact_stamp"]


class Cache(Repairs):
    """The cache under one cmpy home folder.

    Args:
        home: the cmpy home folder.
        warn: called with one line when damaged state was found and dealt with.
    """

    def __init__(self, home: str, *, warn: Callable[[str], None] = warn) -> None:
        self.home = home
        self.entries_dir = os.path.join(home, "entries")
        self.locks_dir = os.path.join(home, "locks")
        self.runs_dir = os.path.join(home, "runs")
        self.index_dir = os.path.join(home, f"index-{_FORMAT}")
        self.warn = warn
        self._index: Any = None
        self._index_ino = 0

    @property
    def index(self) -> Any:
        if self._index is None:
            # imported here: diskcache is ~20 ms of start-up a plan with no cached node never needs
            import diskcache

            try:
                st = os.stat(self.index_dir)
            except FileNotFoundError:
                make_dir(self.index_dir)
                st = os.stat(self.index_dir)
            if not stat.S_ISDIR(st.st_mode):
                raise _Damaged(f"{self.index_dir} is a file, not a folder")
            self._index = diskcache.Cache(self.index_dir, eviction_policy="none", statistics=False)
            self._index_ino = st.st_ino
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def _use(self, op: Callable[[Any], T]) -> T:
        """``op(index)``; when it fails on a damaged index, repair the index and try once more."""
        try:
            return op(self.index)
        except CmpyError:
            raise
        except Exception as exc:
            failure = exc
        try:
            self._recover()
            return op(self.index)
        except CmpyError:
            raise
        except Exception as exc:
            raise self._unusable(exc if isinstance(exc, _Damaged) else failure) from exc

    # -- reading ---------------------------------------------------------

    def get(self, key: str) -> Entry | None:
        """The entry recorded under a key, if any (intact or not)."""
        entry = self._use(lambda index: _as_entry(index.get(_ENTRY + key), key))
        return entry if entry is not None else self._lost(key)


    def family(self, base_key: str) -> list[Entry]:
        """Entries that differ from ``base_key`` only by their version specifier."""
        keys = self._use(lambda index: _as_family(index.get(_BASE + base_key), base_key))
        found = (self.get(k) for k in keys)
        return [e for e in found if e is not None]

    def has_candidate(self, key: str, base_key: str) -> bool:
        """Whether a lookup could hit (cheap: no integrity checks)."""
        return self._use(
            lambda index: (_ENTRY + key) in index or bool(_as_family(index.get(_BASE + base_key), base_key))
        )

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._use(_all_entries))

    # -- writing ---------------------------------------------------------

    def lock(self, key: str) -> KeyLock:
        self._ensure_dir(self.locks_dir)
        return KeyLock(os.path.join(self.locks_dir, f"{key}.lock"))

    def new_folder(self, key: str) -> str:
        """A fresh folder for an attempt at ``key`` (call with the key's lock held)."""
        self._sweep_attempts(key)
        parent = os.path.join(self.entries_dir, key[:2])
        self._ensure_dir(parent)
        folder = os.path.join(parent, f"{key}.{_token(4)}")
        make_dir(folder)
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
                _discard(child.path)

    def commit(self, entry: Entry) -> None:
        """Make an entry visible (replacing an older one under the same key).

        Its record is written into its folder first, so a rebuilt index knows it.
        """
        _write_record(entry)
        if self._index is not None and self._replaced():
            self.close()  # another process repaired the index: use the new one
        old = self._use(lambda index: _commit(index, entry))
        if old is not None and old.folder != entry.folder:
            _discard(old.folder)

    def discard(self, folder: str) -> None:
        """Remove a failed attempt's folder (and its shard folder, when no other entry is in it)."""
        _discard(folder)
        try:
            os.rmdir(os.path.dirname(folder))
        except OSError:
            pass

    def remove(self, entry: Entry) -> None:
        """Delete an entry: its record first, then its folder."""
        self._use(lambda index: _remove(index, entry))
        _discard(entry.folder)

    def prune(self, *, run_age: float = 7 * 86400) -> dict[str, int]:
        """Drop broken entries, unreferenced folders, old run folders and old partial downloads.

        A partial download (``partial-downloads/``, kept for a later resume)
        goes when it has not grown for ``run_age`` and no download holds it.

        Lock files stay: deleting one while another process opens it would let
        two processes hold "the" lock on two different files. ``damaged/``
        stays too: what is in it is for a person to look at.
        """
        removed = {"entries": 0, "folders": 0, "runs": 0}
        referenced: set[str] = set()
        for entry in list(self):
            if entry.intact(os.environ):
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
                    _discard(child.path)
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
        removed["partial downloads"] = self._prune_partials(now - run_age)
        return removed

    def _prune_partials(self, before: float) -> int:
        folder = os.path.join(self.home, "partial-downloads")
        if not os.path.isdir(folder):
            return 0
        count = 0
        for child in os.scandir(folder):
            if not child.name.endswith(".part"):
                continue
            try:
                if child.stat().st_mtime > before:
                    continue
            except OSError:
                continue
            lock = KeyLock(child.path.removesuffix(".part") + ".lock")
            if lock.try_acquire():
                try:
                    os.unlink(child.path)
                    count += 1
                except OSError:
                    pass
                finally:
                    lock.release()
        return count

    def run_folder(self, alias: str) -> str:
        """A new folder for one run of an uncached recipe."""
        self._ensure_dir(self.runs_dir)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = alias.replace(os.sep, "_").replace("/", "_")
        folder = os.path.join(self.runs_dir, f"{stamp}-{name}-{os.getpid()}-{_token(2)}")
        make_dir(folder)
        return folder

    # -- damage --------------------------------------------------------------











