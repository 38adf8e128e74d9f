"""The registry's lookup tables: recipes by uid, by tag and by alias, and their duplicates.

Each recipe is known first by a summary (alias, uid, tags, priority, where
it is defined, the pickled Recipe); the Recipe itself is unpickled when a
query needs it. Building the tables settles duplicates, in the order the
sources come (installed packages, then folders, then what the program
defined):

- two recipes with one uid: one must go. The one marked ``override=True``
  wins, and the registry says so once; without a mark the first is kept
  and the other is reported, naming both files.
- two recipes with one alias: both stay findable by their tags, unless one
  overrides the other (then only it is there) or has a higher ``priority``
  (then queries pick it); otherwise the duplicate is reported, naming both
  files, because ``run ALIAS`` cannot tell them apart.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator

from ._model import Recipe

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Summary", "Table", "build_lookup", "origin", "summary"]

# alias, uid, tags, priority, override, where, pickled Recipe
Summary = tuple[str, str, tuple[str, ...], int, bool, str, bytes]


def summary(recipe: Recipe) -> Summary:
    """What the index keeps of a recipe."""
    return (
        recipe.alias,
        recipe.uid,
        recipe.tags,
        recipe.priority,
        recipe.override,
        recipe.where,
        pickle.dumps(recipe, 5),
    )


class _Entry:
    """One recipe as the tables know it; the full Recipe is unpickled on demand."""

    __slots__ = ("alias", "blob", "priority", "recipe", "tags", "uid", "where")

    def __init__(
        self,
        alias: str,
        uid: str,
        tags: tuple[str, ...],
        priority: int,
        where: str,
        blob: bytes | None,
        recipe: Recipe | None = None,
    ) -> None:
        self.alias = alias
        self.uid = uid
        self.tags = tags
        self.priority = priority
        self.where = where
        self.blob = blob
        self.recipe = recipe

    def load(self) -> Recipe:
        if self.recipe is None:
            assert self.blob is not None
            self.recipe = pickle.loads(self.blob)
        return self.recipe


class Table:
    """Every recipe by uid: summaries, made into entries when first used."""

    def __init__(self, lookup: dict[str, Any], dynamic: Iterable[Recipe] = ()) -> None:
        self._summaries: dict[str, Summary] = lookup["entries"]
        self._dynamic = {r.uid: _Entry(r.alias, r.uid, r.tags, r.priority, r.where, None, r) for r in dynamic}
        self._made: dict[str, _Entry] = {}
        # recipes another of the same uid or alias overrides: reachable only as REPO:NAME
        self._shadowed: list[Summary] = lookup.get("shadowed", [])
        self.by_tag: dict[str, list[str]] = lookup["by_tag"]
        self.by_alias: dict[str, list[str]] = lookup["by_alias"]

    def __contains__(self, uid: object) -> bool:
        return uid in self._dynamic or uid in self._summaries

    def __getitem__(self, uid: str) -> _Entry:
        entry = self._dynamic.get(uid) or self._made.get(uid)
        if entry is None:
            item = self._shadowed[int(uid[1:])] if uid.startswith("~") else self._summaries[uid]
            alias, _uid, tags, priority, _override, where, blob = item
            entry = self._made[uid] = _Entry(alias, uid, tuple(tags), priority, where, blob)
        return entry

    def __iter__(self) -> Iterator[str]:
        yield from self._summaries
        yield from (uid for uid in self._dynamic if uid not in self._summaries)

    def values(self) -> Iterator[_Entry]:
        return (self[uid] for uid in self)

    def shadowed(self) -> list[str]:
        """The keys of the recipes others override (``~N``): found only when asked by origin."""
        return [f"~{n}" for n in range(len(self._shadowed))]

    def reuse(self, old: Table) -> None:
        """Keep recipes another table already unpickled, where the blob is the same."""
        for uid, entry in old._made.items():
            found = self._summaries.get(uid)
            if found is not None and found[6] is entry.blob:
                self._made[uid] = entry


def build_lookup(summaries: Iterable[Summary]) -> tuple[dict[str, Any], list[str], list[str]]:
    """The lookup tables of recipes in source order, with duplicates settled.

    Returns the tables (``entries``, ``by_tag``, ``by_alias``), the warnings
    (duplicates nobody asked for: said on every command until fixed) and the
    notices (overrides on purpose: said when the tables are made).
    """
    entries: dict[str, Summary] = {}
    shadowed: list[Summary] = []
    warnings: list[str] = []
    notices: list[str] = []
    for item in summaries:
        alias, uid, _tags, _priority, override, where, _blob = item
        old = entries.get(uid)
        if old is not None:
            if override and not old[4]:
                notices.append(_overrides(item, old, f"the same uid {uid}"))
                entries[uid] = item
                shadowed.append(old)
            elif old[4] and not override:
                notices.append(_overrides(old, item, f"the same uid {uid}"))
                shadowed.append(item)
            elif old[4] and override:
                # two repositories the user added: the first added is used, the other named
                shadowed.append(item)
                notices.append(_overrides(old, item, f"the same uid {uid}, and it was added first"))
            else:
                warnings.append(
                    f"two recipes have the uid {uid}: {old[0]} ({old[5]}) and {alias} ({where}); "
                    f"the first is used. Give one another uid, or mark the one to use "
                    "@script(override=True)"
                )
            continue
        entries[uid] = item
    by_alias: dict[str, list[str]] = {}
    for uid, item in entries.items():
        by_alias.setdefault(item[0], []).append(uid)
    for alias, uids in list(by_alias.items()):
        if len(uids) < 2:
            continue
        marked = [u for u in uids if entries[u][4]]
        if len(marked) == 1:
            for u in uids:
                if u != marked[0]:
                    notices.append(_overrides(entries[marked[0]], entries[u], "the same alias"))
                    shadowed.append(entries.pop(u))
            by_alias[alias] = marked
            continue
        top = max(entries[u][3] for u in uids)
        if sum(1 for u in uids if entries[u][3] == top) == 1:
            continue  # a higher priority tells them apart, on purpose
        wheres = ", ".join(entries[u][5] for u in uids)
        warnings.append(
            f"{len(uids)} recipes are called {alias}: {wheres}; `cmpy run {alias}` cannot tell "
            "them apart. Rename one, or mark the one to use @script(override=True) "
            "(or give it a higher priority)"
        )
    by_tag: dict[str, list[str]] = {}
    for uid, item in entries.items():
        for tag in item[2]:
            by_tag.setdefault(tag, []).append(uid)
    lookup = {"entries": entries, "by_tag": by_tag, "by_alias": by_alias, "shadowed": shadowed}
    return lookup, warnings, _grouped(notices)


def origin(recipe: Recipe) -> str:
    """The repository a recipe comes from, as ``REPO:NAME`` names it (``cmpy`` for the built-ins)."""
    module = recipe.module
    if module.startswith("cm:"):
        return module[3:].partition("/")[0]
    if module.startswith("cmpy.recipes"):
        return "cmpy"
    return module.partition(".")[0]


def _overrides(winner: Summary, loser: Summary, why: str) -> str:
    lost = origin(pickle.loads(loser[6])) if loser[6] else ""
    return (
        f"{winner[0]} ({winner[5]}) overrides {loser[0]} ({loser[5]}): {why}; "
        f"name the other as {lost}:{loser[0]}"
    )


def _grouped(notices: list[str]) -> list[str]:
    """The notices; past a handful, those of one overridden repository as one line."""
    if len(notices) <= 8:
        return notices
    import re

    by_repo: dict[str, list[str]] = {}
    for line in notices:
        found = re.search(r"name the other as ([^:]+):", line)
        by_repo.setdefault(found.group(1) if found else "", []).append(line)
    out: list[str] = []
    for repo, lines in sorted(by_repo.items()):
        if len(lines) <= 3 or not repo:
            out += lines
        else:
            out.append(
                f"{len(lines)} recipes of {repo} are overridden by others of the same uid or "
                f"alias (such as: {lines[0].split(' (', 1)[0]}); name one as {repo}:ALIAS"
            )
    return out
