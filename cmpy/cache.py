"""The cache of the current ``CMPY_HOME``, as a Python API: list, show, remove, prune, check.

Cached results are found by the words a query would use for recipes: their
tags, alias, ``_variations`` and ``version-X``. ``cmpy cache ...`` is a thin
shell over these functions::

    import cmpy.cache
    for entry in cmpy.cache.ls("ml-model _fp32"):
        print(entry.key[:12], entry.recipe, entry.folder)
    cmpy.cache.rm("ml-model -onnx")
"""

from __future__ import annotations

from ._cache import Entry
from ._errors import UsageError
from ._query import Query, parse_query

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from ._home import Damage

__all__ = ["Entry", "check", "ls", "prune", "rm", "show"]


def ls(query: str | Query = "") -> list[Entry]:
    """Cached results whose tags, alias, variations or version match a query (all for "").

    Raises:
        QuerySyntaxError: a query that does not parse.
        UsageError: ``CMPY_HOME`` cannot be used (a file, not writable).
    """
    from ._api import runtime

    parsed = query if isinstance(query, Query) else parse_query(query)
    wanted = set(parsed.tags) | {"_" + v for v in parsed.variations}
    excluded = set(parsed.excluded) | {"_" + v for v in parsed.excluded_variations}
    out = [e for e in runtime().cache if wanted <= e.labels() and not excluded & e.labels()]
    return sorted(out, key=lambda e: (e.recipe, e.variations, -e.created))


def show(key: str) -> Entry:
    """The one cached result whose key starts with ``key``.

    Raises:
        UsageError: no key, or several, start with it.
    """
    matches = [e for e in ls() if e.key.startswith(key.strip())] if key.strip() else []
    if len(matches) != 1:
        what = "no cached result has" if not matches else f"{len(matches)} cached results have"
        raise UsageError(f"{what} a key starting with {key!r}", hint="see: cmpy cache ls")
    return matches[0]


def rm(query: str | Query = "", *, all: bool = False) -> list[Entry]:
    """Remove the cached results a query matches (or a key prefix names); returns them.

    A query made only of exclusions (``-f``, ``-tflite``) would remove
    nearly everything, so it is refused: removing everything takes ``all=True``.

    Raises:
        UsageError: no query and not ``all``, both, or a query of exclusions alone.
    """
    from ._api import runtime

    text = str(query)
    if all and text.strip():
        raise UsageError(
            f"cmpy cache rm takes a query or --all, not both ({text!r} and --all)",
            hint="cmpy cache rm QUERY removes what matches; cmpy cache rm --all removes everything",
        )
    if not all:
        parsed = query if isinstance(query, Query) else parse_query(query)
        if parsed.is_empty:
            raise UsageError(
                "cmpy cache rm needs a query, or --all", hint="cmpy cache rm ml-model, or cmpy cache rm --all"
            )
        if not (parsed.tags or parsed.variations):
            hint = (
                "add a tag to say what to remove (cmpy cache rm ml-model -tflite), "
                "or --all to remove everything"
            )
            if "f" in parsed.excluded:
                hint = (
                    "-f is not needed: cmpy never asks for confirmation (CM's `rm cache -f`); "
                    "here -f means 'without the tag f'. " + hint
                )
            raise UsageError(
                f"cmpy cache rm {text!r} only excludes, so it would remove every cached result but those",
                hint=hint,
            )
    cache = runtime().cache
    entries = ls("" if all else query)
    words = text.split()
    if not entries and len(words) == 1:
        try:
            entries = [show(words[0])]
        except UsageError:
            entries = []
    for entry in entries:
        cache.remove(entry)
    return entries


def prune() -> dict[str, int]:
    """Drop broken entries, leftovers of killed runs, old run folders and partial downloads;
    returns how many of each went."""
    from ._api import runtime

    return runtime().cache.prune()


def check() -> tuple[list[Damage], list[str]]:
    """Find damaged state under ``CMPY_HOME`` and repair it; returns what was damaged
    (each says whether it was repaired) and notes on what else was done.

    Raises:
        UsageError: ``CMPY_HOME`` cannot be written.
    """
    from ._api import runtime
    from ._home import home
    from ._repos import check_list

    # before the registry reads it (and repairs it on its own)
    damages = check_list(home())
    found, notes = runtime().cache.check()
    return damages + found, notes
