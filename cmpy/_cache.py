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

Damaged state never stops the tool. Each entry folder holds its own record
(``cmpy-entry.pickle``: the pickled ``(format, Entry)``, written atomically
before the index record), so the index can be rebuilt from the folders: an
index that cannot be opened or read, or that holds a record that is not
what its key says, is moved to ``CMPY_HOME/damaged/`` and rebuilt, with one
warning, and the command goes on. A file where the cache keeps a folder
(``entries``, ``locks``, ``runs``, the index) is moved there too. Only what
a user must fix (a home that cannot be written) is an error. The checks
cost nothing on the healthy path: they run when an operation has failed.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping

from ._errors import CmpyError
from ._home import Damage, make_dir, move_aside, not_writable, warn
from ._record import Record, field

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = ["Cache", "Entry", "KeyLock", "RECORD_FILE", "artifact_stamp"]

# the file in each entry folder that holds its record, for rebuilding the index
RECORD_FILE = "cmpy-entry.pickle"

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


class KeyLock:
    """An inter-process lock for one cache key (``flock``; dropped when a process dies)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise not_writable(self.path, exc) from None
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


class _Damaged(Exception):
    """A record in the index is not what its key says (raised inside an index operation)."""


class Cache:
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


def _as_entry(value: object, key: str) -> Entry | None:
    if value is None or (isinstance(value, Entry) and value.key == key):
        return value
    raise _Damaged(f"the record of {key} is not its entry but {type(value).__name__} {_short(value)}")


def _as_family(value: object, base_key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, tuple) and all(isinstance(k, str) for k in value):
        return value
    raise _Damaged(f"the family record of {base_key} is not a tuple of keys but {type(value).__name__} {_short(value)}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _all_entries(index: Any) -> list[Entry]:
    out = []
    for name in list(index.iterkeys()):
        if isinstance(name, str) and name.startswith(_ENTRY):
            entry = _as_entry(index.get(name), name[len(_ENTRY) :])
            if entry is not None:
                out.append(entry)
    return out


def _commit(index: Any, entry: Entry) -> Entry | None:
    with index.transact():
        old = _as_entry(index.get(_ENTRY + entry.key), entry.key)
        index.set(_ENTRY + entry.key, entry)
        family = list(_as_family(index.get(_BASE + entry.base_key), entry.base_key))
        if entry.key not in family:
            family.append(entry.key)
            index.set(_BASE + entry.base_key, tuple(family))
    return old


def _remove(index: Any, entry: Entry) -> None:
    with index.transact():
        index.delete(_ENTRY + entry.key)
        family = [k for k in _as_family(index.get(_BASE + entry.base_key), entry.base_key) if k != entry.key]
        if family:
            index.set(_BASE + entry.base_key, tuple(family))
        else:
            index.delete(_BASE + entry.base_key)


def _write_record(entry: Entry) -> None:
    """Write an entry's record into its folder, atomically (a rename)."""
    import pickle

    target = os.path.join(entry.folder, RECORD_FILE)
    tmp = os.path.join(entry.folder, f".{RECORD_FILE}.{os.getpid()}.{_token(2)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            pickle.dump((_FORMAT, entry), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise not_writable(target, exc) from None


def _read_record(folder: str) -> Entry | None:
    """The entry a folder's record file describes, if it is readable and describes that folder."""
    import pickle

    try:
        with open(os.path.join(folder, RECORD_FILE), "rb") as fh:
            layout, entry = pickle.load(fh)
    except Exception:
        return None
    if layout != _FORMAT or not isinstance(entry, Entry):
        return None
    if os.path.normpath(entry.folder) != os.path.normpath(folder):
        return None  # copied from elsewhere: its absolute paths point there
    if not os.path.basename(folder).startswith(entry.key + "."):
        return None
    return entry


def _discard(folder: str) -> None:
    """Remove an entry folder, its record file first (a half-removed folder must never be rebuilt)."""
    try:
        os.unlink(os.path.join(folder, RECORD_FILE))
    except OSError:
        pass
    _rmtree(folder)


def _rmtree(path: str) -> None:
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def _token(nbytes: int) -> str:
    return os.urandom(nbytes).hex()
