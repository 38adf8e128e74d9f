"""The index's records: an entry under ``entry:<key>``, a family under ``base:<base key>``.

A family lists the keys of entries that differ only by their version
specifier (a cached 3.11 serves ">=3.8" and ">=3.10"). Every read checks
that a record is what its key says; one that is not raises :class:`Damaged`,
which the cache answers by rebuilding the index.
"""

from __future__ import annotations

from ._entry import Entry

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["BASE", "ENTRY", "Damaged", "all_entries", "as_entry", "as_family", "commit", "remove"]

BASE = "base:"
ENTRY = "entry:"


class Damaged(Exception):
    """A record in the index is not what its key says (raised inside an index operation)."""


def as_entry(value: object, key: str) -> Entry | None:
    if value is None or (isinstance(value, Entry) and value.key == key):
        return value
    raise Damaged(f"the record of {key} is not its entry but {type(value).__name__} {_short(value)}")


def as_family(value: object, base_key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, tuple) and all(isinstance(k, str) for k in value):
        return value
    raise Damaged(f"the family record of {base_key} is not a tuple of keys but {type(value).__name__} {_short(value)}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def all_entries(index: Any) -> list[Entry]:
    out = []
    for name in list(index.iterkeys()):
        if isinstance(name, str) and name.startswith(ENTRY):
            entry = as_entry(index.get(name), name[len(ENTRY) :])
            if entry is not None:
                out.append(entry)
    return out


def commit(index: Any, entry: Entry) -> Entry | None:
    with index.transact():
        old = as_entry(index.get(ENTRY + entry.key), entry.key)
        index.set(ENTRY + entry.key, entry)
        family = list(as_family(index.get(BASE + entry.base_key), entry.base_key))
        if entry.key not in family:
            family.append(entry.key)
            index.set(BASE + entry.base_key, tuple(family))
    return old


def remove(index: Any, entry: Entry) -> None:
    with index.transact():
        index.delete(ENTRY + entry.key)
        family = [k for k in as_family(index.get(BASE + entry.base_key), entry.base_key) if k != entry.key]
        if family:
            index.set(BASE + entry.base_key, tuple(family))
        else:
            index.delete(BASE + entry.base_key)
