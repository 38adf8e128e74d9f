"""How the cache deals with damaged state: found when an operation fails, moved aside, rebuilt.

Damaged state never stops the tool. An index that cannot be opened or read,
or that holds a record that is not what its key says, is moved to
``CMPY_HOME/damaged/`` and rebuilt from the record files of the entry
folders, with one warning, and the command goes on; so is a file where the
cache keeps a folder. An entry the index lost without an error (a database
emptied) is restored from its folder when it is next asked for. Only what a
user must fix (a home that cannot be written) is an error. None of this
costs anything on the healthy path: it runs when an operation has failed.
:class:`Repairs` is the part of :class:`cmpy._cache.Cache` that does it.
"""

from __future__ import annotations

import os

from ._cache_records import BASE as _BASE
from ._cache_records import ENTRY as _ENTRY
from ._cache_records import Damaged as _Damaged
from ._cache_records import as_entry as _as_entry
from ._cache_records import as_family as _as_family
from ._cache_records import commit as _commit
from ._entry import FORMAT as _FORMAT
from ._entry import RECORD_FILE, Entry
from ._entry import read_record as _read_record
from ._entry import write_record as _write_record
from ._errors import CmpyError
from ._home import Damage, make_dir, move_aside, not_writable
from ._keylock import KeyLock

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = ["Repairs"]


class Repairs:
    """Finding and repairing damaged cache state (a part of :class:`cmpy._cache.Cache`)."""

    home: str
    entries_dir: str
    locks_dir: str
    runs_dir: str
    index_dir: str
    warn: Callable[[str], None]
    _index: Any
    _index_ino: int

    if TYPE_CHECKING:

        def _use(self, op: Callable[[Any], T]) -> T: ...

        def close(self) -> None: ...

        def lock(self, key: str) -> KeyLock: ...

        def __iter__(self) -> Any: ...

        @property
        def index(self) -> Any: ...

    def _lost(self, key: str) -> Entry | None:
        """An entry the index does not know though its folder holds its record, restored.

        The index lost it: damage that reads as "not there" (a database cut
        short or emptied), or a commit cut between the record file and the
        index. Asked only on a miss, which is followed by running the recipe:
        one listing of the key's shard folder is nothing beside that.
        """
        shard = os.path.join(self.entries_dir, key[:2])
        try:
            names = sorted(n for n in os.listdir(shard) if n.startswith(key + "."))
        except OSError:
            return None
        found = None
        for name in names:
            record = _read_record(os.path.join(shard, name))
            if record is not None and (found is None or record.created > found.created):
                found = record
        if found is None:
            return None
        self.close()
        lock = self._index_lock()
        lock.acquire()
        try:
            why = self._index_damage()
            if why is not None:
                self.warn(str(self._repair_index(why)))  # rebuilt from the folders, this one too
            else:
                record = found
                self._use(lambda index: _commit(index, record))
                self.warn(
                    f"the cache index had lost the result of {found.recipe} ({key[:12]}); "
                    f"restored it from {found.folder}"
                )
        finally:
            lock.release()
        return self._use(lambda index: _as_entry(index.get(_ENTRY + key), key))

    def check(self) -> tuple[list[Damage], list[str]]:
        """Find damaged cache state and repair it; returns what was damaged and notes.

        A damage is ``repaired`` when it was moved aside and the tool can go on.
        The notes say what else was done (record files written for entries an
        older cmpy made) or what ``cmpy cache prune`` would remove.

        Raises:
            UsageError: ``CMPY_HOME`` cannot be written.
        """
        damages: list[Damage] = []
        for folder in (self.entries_dir, self.locks_dir, self.runs_dir):
            damages += self._clear_way(folder)
        if os.path.isdir(self.entries_dir):
            for shard in os.scandir(self.entries_dir):
                if not shard.is_dir():
                    damages.append(self._move_aside(shard.path, "a file where cmpy keeps a folder"))
        self.close()
        lock = self._index_lock()
        lock.acquire()
        try:
            why = self._index_damage()
            if why is not None:
                try:
                    damages.append(self._repair_index(why))
                except (CmpyError, OSError) as exc:
                    damages.append(Damage(self.index_dir, why, note=f"could not repair it: {exc}"))
                    return damages, []
        finally:
            lock.release()
        notes: list[str] = []
        entries = list(self)
        written = 0
        broken = 0
        for entry in entries:
            if not entry.intact(os.environ):
                broken += 1
            elif _read_record(entry.folder) is None:
                _write_record(entry)
                written += 1
        if written:
            notes.append(
                f"wrote {RECORD_FILE} into {written} entry folder{'s' if written != 1 else ''} "
                "made by an older cmpy, so that the index can be rebuilt from them"
            )
        # a folder whose record is readable but whose key the index lost (an index emptied
        # without an error, a commit cut short after the record was written) is restored
        known = {e.key for e in entries}
        lost, _ = self._folder_records()
        restored = [e for e in lost if e.key not in known]
        if restored:
            self._use(lambda index: [_commit(index, entry) for entry in restored])
            notes.append(
                f"restored {len(restored)} cached result{'s' if len(restored) != 1 else ''} "
                "the index had lost, from their folders"
            )
        referenced = {os.path.abspath(e.folder) for e in entries + restored}
        unreferenced = 0
        if os.path.isdir(self.entries_dir):
            for shard in os.scandir(self.entries_dir):
                if shard.is_dir():
                    unreferenced += sum(os.path.abspath(c.path) not in referenced for c in os.scandir(shard.path))
        if broken or unreferenced:
            notes.append(
                f"{broken} broken entr{'ies' if broken != 1 else 'y'} and {unreferenced} unreferenced "
                f"folder{'s' if unreferenced != 1 else ''} (left by killed runs): cmpy cache prune removes them"
            )
        total = len(entries) + len(restored)
        notes.append(f"{total} cached result{'s' if total != 1 else ''} in {self.index_dir}")
        return damages, notes

    def _recover(self) -> None:
        """After a failed index operation: if the index is damaged, move it aside and rebuild it."""
        self.close()
        lock = self._index_lock()
        lock.acquire()
        try:
            # under the lock: another process may have repaired it meanwhile
            why = self._index_damage()
            if why is not None:
                self.warn(str(self._repair_index(why)))
        finally:
            lock.release()

    def _index_lock(self) -> KeyLock:
        return self.lock(f"index-{_FORMAT}")

    def _replaced(self) -> bool:
        try:
            return os.stat(self.index_dir).st_ino != self._index_ino
        except OSError:
            return True

    def _index_damage(self) -> str | None:
        """What is wrong with the index on disk, or None when nothing is (it may be busy or unwritable)."""
        path = self.index_dir
        if not os.path.lexists(path):
            return None
        if not os.path.isdir(path):
            return "a file where the index folder belongs"
        db = os.path.join(path, "cache.db")
        if os.path.lexists(db) and not os.path.isfile(db):
            return "cache.db is not a file"
        import sqlite3

        import diskcache

        if os.path.exists(db):
            try:
                con = sqlite3.connect(db, timeout=10)
                try:
                    rows = con.execute("PRAGMA quick_check").fetchall()
                finally:
                    con.close()
            except Exception as exc:  # a sqlite3.Error, or text that is not UTF-8
                return None if _is_environmental(exc) else f"{type(exc).__name__}: {exc}"
            if rows != [("ok",)]:
                return f"the database fails its integrity check: {rows[0][0] if rows else 'no answer'}"
        index = None
        try:
            index = diskcache.Cache(path, eviction_policy="none", statistics=False)
            for name in list(index.iterkeys()):
                if not isinstance(name, str) or not name.startswith((_ENTRY, _BASE)):
                    return f"an unknown key {name!r}"
                try:
                    value = index.get(name)
                    if name.startswith(_ENTRY):
                        _as_entry(value, name[len(_ENTRY) :])
                    else:
                        _as_family(value, name[len(_BASE) :])
                except _Damaged as exc:
                    return str(exc)
                except Exception as exc:
                    if _is_environmental(exc):
                        raise
                    return f"the record {name!r} cannot be read: {type(exc).__name__}: {exc}"
        except Exception as exc:
            if _is_environmental(exc):
                return None
            return f"{type(exc).__name__}: {exc}"
        finally:
            if index is not None:
                index.close()
        return None

    def _repair_index(self, why: str) -> Damage:
        """Move the index aside and rebuild it from the entry folders (call with the index lock)."""
        self.close()
        try:
            moved = move_aside(self.index_dir, self.home)
        except OSError as exc:
            raise not_writable(self.index_dir, exc) from None
        entries, unreadable = self._folder_records()
        families: dict[str, list[str]] = {}
        for entry in entries:
            families.setdefault(entry.base_key, []).append(entry.key)

        def fill(index: Any) -> None:
            with index.transact():
                for entry in entries:
                    index.set(_ENTRY + entry.key, entry)
                for base, keys in families.items():
                    index.set(_BASE + base, tuple(keys))

        fill(self.index)
        note = f"rebuilt it from {len(entries)} entry folder{'s' if len(entries) != 1 else ''}"
        if unreadable:
            note += (
                f" ({unreadable} folder{'s' if unreadable != 1 else ''} without a readable {RECORD_FILE} "
                "are left for cmpy cache prune)"
            )
        return Damage(self.index_dir, why, moved, repaired=True, note=note)

    def _folder_records(self) -> tuple[list[Entry], int]:
        """The entries the folders' record files describe (the newest per key), and how many folders had none."""
        found: dict[str, Entry] = {}
        unreadable = 0
        if not os.path.isdir(self.entries_dir):
            return [], 0
        for shard in os.scandir(self.entries_dir):
            if not shard.is_dir():
                continue
            for child in os.scandir(shard.path):
                entry = _read_record(child.path) if child.is_dir() else None
                if entry is None:
                    unreadable += 1
                    continue
                known = found.get(entry.key)
                if known is None or entry.created > known.created:
                    found[entry.key] = entry
        return list(found.values()), unreadable

    def _unusable(self, exc: BaseException) -> CmpyError:
        """The error for an index that fails although it is not damaged."""
        if not os.access(self.home, os.W_OK | os.X_OK) or "readonly" in str(exc) or isinstance(exc, PermissionError):
            return not_writable(self.index_dir, exc)
        if "locked" in str(exc) or type(exc).__name__ == "Timeout":
            return CmpyError(
                f"the cache index {self.index_dir} is busy: {exc}",
                hint="another cmpy holds it; try again when that one is done",
            )
        return CmpyError(
            f"cannot use the cache index {self.index_dir}: {type(exc).__name__}: {exc}",
            hint="run: cmpy cache check",
        )

    def _ensure_dir(self, path: str) -> None:
        """Make a folder of the cache; a file in its way is damage: moved aside, with a warning."""
        try:
            make_dir(path)
        except FileExistsError:
            for damage in self._clear_way(path):
                self.warn(str(damage))
            make_dir(path)

    def _clear_way(self, path: str) -> list[Damage]:
        """Move aside every file under ``home`` that stands where a folder on the way to ``path`` belongs."""
        damages: list[Damage] = []
        rel = os.path.relpath(path, self.home)
        if rel.startswith(os.pardir):
            return damages
        current = self.home
        for part in rel.split(os.sep):
            current = os.path.join(current, part)
            if os.path.lexists(current) and not os.path.isdir(current):
                damages.append(self._move_aside(current, "a file where cmpy keeps a folder"))
                break
        return damages

    def _move_aside(self, path: str, why: str) -> Damage:
        try:
            moved = move_aside(path, self.home)
        except OSError as exc:
            raise not_writable(path, exc) from None
        return Damage(path, why, moved, repaired=True)


def _is_environmental(exc: BaseException) -> bool:
    """Whether a failure says something about the machine (busy, read-only, full), not the data."""
    if type(exc).__name__ == "Timeout" or isinstance(exc, OSError):
        return True
    name = getattr(exc, "sqlite_errorname", "")
    if name:
        # a file that is not a database, a damaged one, or one whose tables are not diskcache's
        return not name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_ERROR"))
    return False
