"""The recipe registry: every recipe a process can see, found by tags, alias, uid or wildcard.

The registry asks its loaders (:mod:`cmpy._loaders`) for the sources under
each root (:mod:`cmpy._discovery`), keeps what each source defines in the
persisted index (:mod:`cmpy._index`) so that a command reads only the
sources that changed, builds the lookup tables (:mod:`cmpy._table`, which
settles duplicates), and answers queries (:mod:`cmpy._selection`). On top
come the recipes the program itself defined (:mod:`cmpy._definitions`).

:meth:`Registry.refresh` is where it touches the disk (and imports changed
modules); lookups do no I/O, so planning from a registry is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from . import _discovery, _index, _selection
from ._definitions import DEFINITIONS, Definitions
from ._errors import CmpyError
from ._loaders import LazyLoader, LoadFailed, Source, looks_like_cm, named, stamp
from ._model import Recipe
from ._pyloader import PythonModules
from ._query import Query
from ._table import Summary, Table, build_lookup, origin, summary

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

    from ._loaders import Loader
    from ._model import Body

__all__ = ["Registry"]

if TYPE_CHECKING:
    # what the index keeps of a source: loader, module, by_name, files, stamps, summaries, error
    _SourceRecord = tuple[str, str, bool, tuple[str, ...], Any, list[Summary], str]


class Registry:
    """All recipes this process can see under one ``CMPY_HOME``."""

    def __init__(
        self,
        index_dir: str | None,
        *,
        extra_folders: Iterable[str] = (),
        loaders: Iterable[Loader] | None = None,
        definitions: Definitions = DEFINITIONS,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self._index_dir = index_dir
        self._extra_folders = list(extra_folders)
        # says what is being loaded (--verbose); the runtime may set it per command
        self.say = say
        if loaders is None:
            loaders = [
                LazyLoader("cmpy.compat._loader", "CMScripts", "cm@", looks_like_cm, self._say),
                PythonModules(self._say),
            ]
        self.loaders: list[Loader] = list(loaders)
        for loader in self.loaders:
            if hasattr(loader, "registry"):
                loader.registry = self  # a CM script resolves its deps through it
        self._definitions = definitions
        self._table = Table({"entries": {}, "by_tag": {}, "by_alias": {}})
        self._lookup: dict[str, Any] = {"entries": {}, "by_tag": {}, "by_alias": {}}
        self._records: dict[str, _SourceRecord] = {}
        self._sources: dict[str, Source] = {}
        self._by_module: dict[str, Source] = {}
        self._eps: list[_discovery.EntryPoint] = []
        self._signature: list[tuple[str, int]] = []
        self._stamps: dict[str, Any] = {}
        self._root_sources: dict[Any, tuple[Any, list[Source]]] = {}
        # the full stamps of the sources with quick ones, and those checked since the last refresh
        self._deep: dict[str, Any] = {}
        self._verified: set[str] = set()
        self._listed: dict[Any, Any] = {}
        self._relisted = False
        self._defs_seen = -1
        self._scanned = False
        self._selected: dict[Any, Recipe] = {}
        # sources that failed to load: path -> why
        self.broken: dict[str, str] = {}
        # duplicates nobody asked for (said on every command) and overrides on purpose
        # (said when the tables were made, i.e. when a source changed)
        self.warnings: list[str] = []
        self.notices: list[str] = []
        # what loaders noticed when they loaded a changed source (said once)
        self.load_warnings: list[str] = []
        # moves whenever the set of recipes may have changed (plans made before are stale)
        self.version = 0
        # plans made from this registry, by the request that made them (see _api)
        self.plans: dict[object, Any] = {}

    # -- refreshing: the only place that touches the disk -------------------------

    def refresh(self) -> None:
        """Bring the registry up to date with the sources on disk and the program's definitions.

        Cheap when nothing changed: a stat of each source's files and of the
        site-packages folders (where entry points are declared).
        """
        signature = _discovery.site_signature()
        if self._scanned and signature == self._signature:
            sources = self._discover(self._eps)
            if {p: stamp(s, quick=True) for p, s in sources.items()} == self._stamps:
                self._verified = set()
                if self._defs_seen != self._definitions.version:
                    self._rebuild()
                return
        self.notices = []
        index = _index.read(self._index_dir)
        # the sources of each root as the last process listed them (a CM repository's
        # hundreds of folders are not walked again while their folders stay the same)
        self._listed = index.get("roots", {}) if index else {}
        self._relisted = False
        self._deep = dict(index.get("deep", {})) if index else {}
        self._verified = set()
        if index is not None and index.get("sys_path") == signature:
            eps = index["entry_points"]
        else:
            eps = _discovery.entry_points()
        sources = self._discover(eps)
        old: dict[str, _SourceRecord] = index["sources"] if index else {}
        records: dict[str, _SourceRecord] = {}
        changed = index is None or eps != index.get("entry_points")
        stamps: dict[str, Any] = {}
        for path, source in sources.items():
            stamps[path] = current = stamp(source, quick=True)
            if current is None:
                continue
            before = old.get(path)
            if before is not None and tuple(before[4]) == current and before[0] == source.loader:
                records[path] = before
                continue
            changed = True
            records[path] = self._load(source, current)
        changed = changed or set(records) != set(old) or self._relisted
        self._eps, self._signature, self._stamps = eps, signature, stamps
        self._sources = sources
        by_module = {s.module: s for s in sources.values()}
        # a source that is gone takes its recipes along: they were a loader's, not the program's
        for module in set(self._by_module) - set(by_module):
            self._definitions.forget(module)
        self._by_module = by_module
        self._records = records
        self.broken = {path: r[6] for path, r in records.items() if r[6]}
        for loader in self.loaders:
            # what a loader noticed while loading (a CM meta's unknown keys): said once
            said = getattr(loader, "warnings", None)
            if said:
                self.load_warnings += said
                said.clear()
        lookup = None if changed or index is None else index.get("lookup")
        if lookup is None or index is None:
            lookup, warnings, notices = build_lookup(self._summaries())
            self.notices = notices
        else:
            warnings = list(index.get("warnings", []))
        self._lookup, self.warnings = lookup, warnings
        if changed:
            _index.write(
                self._index_dir,
                {"entry_points": eps, "sources": records, "sys_path": signature, "lookup": lookup,
                 "warnings": warnings, "roots": self._listing(), "deep": self._deep},
            )
        self._rebuild()
        self._scanned = True

    def _discover(self, eps: list[_discovery.EntryPoint]) -> dict[str, Source]:
        found: dict[str, Source] = {}
        for root in _discovery.roots(eps, _discovery.folders(self._index_dir, self._extra_folders)):
            # a root's sources change only when one of its folders does (a file added,
            # removed, renamed): asked again then, not on every command of a process
            folders = _discovery.folder_stamps(root.path)
            known = self._root_sources.get(root)
            if known is None or known[0] != folders:
                known = self._root_sources[root] = (folders, self._sources_of(root, folders))
            for source in known[1]:
                found.setdefault(source.path, source)
        return found

    def _sources_of(self, root: Any, folders: Any) -> list[Source]:
        """A root's sources: as listed before while its folders are the same, else asked for."""
        listed = self._listed.get(root._key())
        if (
            listed is not None
            and tuple(listed[0]) == folders
            and all(len(s) == 6 and any(named(ld, s[0]) for ld in self.loaders) for s in listed[1])
        ):
            return [
                Source(a, b, c, tuple(d), by_name=e, quick=tuple(q) if q else None)
                for a, b, c, d, e, q in listed[1]
            ]
        self._relisted = True
        loader = next(loader for loader in self.loaders if loader.claims(root))
        return loader.sources(root)

    def _listing(self) -> dict[Any, Any]:
        return {
            root._key(): (
                folders, [(s.loader, s.path, s.module, s.files, s.by_name, s.quick) for s in found]
            )
            for root, (folders, found) in self._root_sources.items()
        }

    def _load(self, source: Source, current: Any) -> _SourceRecord:
        if source.quick is not None:
            self._deep[source.path] = stamp(source)
            self._verified.add(source.path)
        loader = self._loader(source)
        try:
            recipes = loader.load(source)
        except CmpyError as exc:
            # one broken source must not stop every command: its recipes are missing
            # (and said to be) until it changes
            return (source.loader, source.module, source.by_name, source.files, current, [], exc.message)
        return (
            source.loader, source.module, source.by_name, source.files, current,
            [summary(r) for r in recipes], "",
        )

    def _summaries(self) -> list[Summary]:
        return [item for record in self._records.values() for item in record[5]]

    def _rebuild(self) -> None:
        """The tables: the index's, with the program's own recipes on top."""
        from ._fingerprint import of_recipe

        owned = set(self._by_module)
        dynamic = [
            of_recipe(recipe, body) for recipe, body in self._definitions.outside(owned)
        ]
        lookup = self._lookup
        if dynamic:
            lite = [(*summary(r)[:6], b"") for r in dynamic]
            lookup, warnings, _notices = build_lookup(self._summaries() + lite)
            self.warnings = warnings
            kept = lookup["entries"]
            # the very definition the tables kept for each uid (another with the same uid
            # was reported, not served: its tags must not decide what this one matches)
            dynamic = [
                r
                for r in dynamic
                if r.uid in kept and kept[r.uid][6] == b"" and kept[r.uid][5] == r.where
            ]
        table = Table(lookup, dynamic)
        table.reuse(self._table)
        self._table = table
        self._selected = {}
        self._defs_seen = self._definitions.version
        self.version += 1

    def _say(self, text: str) -> None:
        if self.say is not None:
            self.say(text)

    def _loader(self, source: Source) -> Loader:
        return next(loader for loader in self.loaders if named(loader, source.loader))

    # -- lookups: no I/O ---------------------------------------------------------

    def all(self) -> list[Recipe]:
        """Every recipe, sorted by alias."""
        return sorted((e.load() for e in self._table.values()), key=lambda r: r.alias)

    def matches(self, query: Query, *, everywhere: bool = False) -> list[Recipe]:
        """Every recipe the query selects (tags, exclusions and variations), by alias.

        ``everywhere`` adds those others override (see :func:`cmpy._selection.matches`).
        """
        return _selection.matches(self._table, query, everywhere=everywhere)

    def select_near(self, query: Query, near: Recipe) -> Recipe:
        """:meth:`select` for a dep of ``near``.

        Where recipes override others, a dep resolves among the recipes of
        its own repository first, so a built-in's ``detect os`` stays the
        built-in after a CM repository with its own detect-os is added.
        """
        if not self._table.shadowed():
            return self.select(query)
        key = (query, origin(near))
        hit = self._selected.get(key)
        if hit is None:
            hit = self._selected[key] = _selection.select_near(self._table, query, near, broken=self.broken)
        if not self._current(hit):
            return self.select_near(query, near)
        return hit

    def select(self, query: Query) -> Recipe:
        """The one recipe a query selects (see :func:`cmpy._selection.select` for the errors)."""
        hit = self._selected.get(query)
        if hit is None:
            hit = self._selected[query] = _selection.select(self._table, query, broken=self.broken)
        if not self._current(hit):
            return self.select(query)
        return hit

    def _current(self, recipe: Recipe) -> bool:
        """Whether a recipe's source is as it was loaded, every file of it; else load it again.

        A refresh stats only the quick files of a source that has them (a CM
        script's folder and meta), so a file changed in place below is found
        here, before the recipe is planned with a stale fingerprint.
        """
        source = self._by_module.get(recipe.module)
        if source is None or source.quick is None or source.path in self._verified:
            return True
        self._verified.add(source.path)
        now = stamp(source)
        if now is not None and now == self._deep.get(source.path):
            return True
        self._records[source.path] = self._load(source, stamp(source, quick=True))
        self.broken = {path: r[6] for path, r in self._records.items() if r[6]}
        self._lookup, self.warnings, self.notices = build_lookup(self._summaries())
        _index.write(
            self._index_dir,
            {"entry_points": self._eps, "sources": self._records, "sys_path": self._signature,
             "lookup": self._lookup, "warnings": self.warnings, "roots": self._listing(),
             "deep": self._deep},
        )
        self._rebuild()
        return False

    def closest(self, query: Query) -> list[str]:
        """The aliases nearest to a query that matches nothing, nearest first."""
        return _selection.closest(self._table, query)

    def body(self, recipe: Recipe) -> Body:
        """The body of a recipe, loading its source if this process has not (or it changed).

        Raises:
            CmpyError: the source no longer loads, or no longer defines the recipe.
        """
        source = self._by_module.get(recipe.module)
        if source is not None:
            try:
                return self._loader(source).body(recipe, source)
            except LoadFailed as exc:
                exc.hint = "the recipe's source changed while cmpy ran; run the command again"
                raise
        for defined, body in self._definitions.of_module(recipe.module):
            if defined.uid == recipe.uid:
                return body
        raise CmpyError(
            f"the body of recipe {recipe.alias!r} is gone from {recipe.where}",
            hint="the module changed while cmpy ran; run the command again",
        )
