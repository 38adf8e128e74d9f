"""The recipe registry: discovery, the persisted metadata index, and tag lookup.

Recipes come from the modules of every package registered under the
``cmpy.recipes`` entry-point group (the built-in ``recipes`` package among
them), from every ``*.py`` in the folders of ``CMPY_RECIPES_PATH`` and of
``cmpy repo add``, and from any module that defines a recipe while the
program runs. Importing every module on every command would make the CLI
slow, so what each module defines is kept in an index file under
``CMPY_HOME``, checked against each module's mtime and size: a command
imports only the modules whose recipes it must actually run.
"""

from __future__ import annotations

import marshal
import os
import pickle
import sys
from collections.abc import Iterable, Iterator
from types import CodeType

from . import _model
from ._errors import AmbiguousQuery, CmpyError, RecipeNotFound, UsageError, VariationError
from ._hash import digest
from ._model import Recipe
from ._query import Query, has_glob
from ._record import Record, replace
from ._variations import canonical, known_names

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

    from ._model import Body

__all__ = ["Registry", "ENTRY_POINT_GROUP", "source_text"]

ENTRY_POINT_GROUP = "cmpy.recipes"
# the (mtime, size) of each recipe module file as this process last executed it
_LOADED: dict[str, tuple[int, int]] = {}
_INDEX_FORMAT = 6
_INDEX_NAME = "recipe-index.marshal"


# what the index keeps of each recipe: alias, uid, tags, priority, the pickled Recipe
_Summary = tuple[str, str, tuple[str, ...], int, bytes]
# and of each module: mtime_ns, size, module name, its recipes
# (and why it could not be imported, "" when it could)
_ModuleRecord = tuple[int, int, str, list[_Summary], str]


class _Entry(Record, frozen=False):
    """One recipe as the index knows it; the full Recipe is unpickled on demand."""

    alias: str
    uid: str
    tags: tuple[str, ...]
    priority: int
    module: str
    blob: bytes | None
    recipe: Recipe | None = None

    def load(self) -> Recipe:
        if self.recipe is None:
            assert self.blob is not None
            self.recipe = pickle.loads(self.blob)
        return self.recipe


class _Table:
    """Every recipe by uid: summaries from the index, made into entries when first used."""

    def __init__(
        self, summaries: dict[str, tuple[str, tuple[str, ...], int, str, bytes]], dynamic: dict[str, _Entry]
    ) -> None:
        self._summaries = summaries
        self._dynamic = dynamic
        self._made: dict[str, _Entry] = {}

    def __contains__(self, uid: object) -> bool:
        return uid in self._dynamic or uid in self._summaries

    def __getitem__(self, uid: str) -> _Entry:
        entry = self._dynamic.get(uid) or self._made.get(uid)
        if entry is None:
            alias, tags, priority, module, blob = self._summaries[uid]
            entry = self._made[uid] = _Entry(alias, uid, tuple(tags), priority, module, blob)
        return entry

    def __iter__(self) -> Iterator[str]:
        yield from self._summaries
        yield from (uid for uid in self._dynamic if uid not in self._summaries)

    def values(self) -> Iterator[_Entry]:
        return (self[uid] for uid in self)

    def reuse(self, old: _Table) -> None:
        """Keep recipes another table already unpickled, where the blob is the same."""
        for uid, entry in old._made.items():
            summary = self._summaries.get(uid)
            if summary is not None and summary[4] is entry.blob:
                self._made[uid] = entry


class _Source(Record):
    """A module file that may define recipes."""

    module: str
    path: str
    folder_module: bool  # loaded from a folder by path, not imported by name


class Registry:
    """All recipes this process can see, found by tags, alias, uid or wildcard."""

    def __init__(self, index_dir: str | None, *, extra_folders: Iterable[str] = ()) -> None:
        self._index_dir = index_dir
        self._extra_folders = list(extra_folders)
        self._entries = _Table({}, {})
        self._by_tag: dict[str, list[str]] = {}
        self._by_alias: dict[str, list[str]] = {}
        # recipe modules that failed to import: path -> why
        self.broken: dict[str, str] = {}
        # the index's lookup tables (all but the recipes defined in this process)
        self._lookup: dict[str, Any] | None = None
        self._modules: dict[str, _ModuleRecord] = {}
        self._sources: dict[str, _Source] = {}
        self._dynamic_seen = -1
        self._scanned = False
        self._eps: list[tuple[str, str, list[str]]] = []
        self._signature: list[tuple[str, int]] = []
        self._stats: dict[str, tuple[int, int]] = {}
        self._selected: dict[Query, Recipe] = {}
        # moves whenever the set of recipes may have changed (plans made before are stale)
        self.version = 0
        # plans made from this registry, by everything that determines them (see _api)
        self.plans: dict[tuple[object, ...], Any] = {}

    # -- discovery -------------------------------------------------------

    def refresh(self) -> None:
        """Bring the registry up to date with the recipe modules on disk.

        Cheap when nothing changed: a stat of each recipe module and of the
        site-packages folders (where entry points are declared).
        """
        signature = _site_signature()
        if self._scanned and signature == self._signature:
            sources = self._discover(self._eps)
            if _stats(sources) == self._stats:
                self._ensure()
                return
        index = self._read_index()
        if index is not None and index.get("sys_path") == signature:
            eps = index["entry_points"]
        else:
            eps = self._find_entry_points()
        sources = self._discover(eps)
        stats = _stats(sources)
        old_modules: dict[str, _ModuleRecord] = index.get("modules", {}) if index else {}
        modules: dict[str, _ModuleRecord] = {}
        changed = index is None or eps != index.get("entry_points")
        for path, source in sources.items():
            stat = stats.get(path)
            if stat is None:
                continue
            old = old_modules.get(path)
            if old is not None and (old[0], old[1]) == stat:
                modules[path] = old
                continue
            changed = True
            try:
                recipes = self._import(source, reload=True)
            except CmpyError as exc:
                # one broken module must not stop every command: its recipes are
                # missing (and said to be) until its file changes
                modules[path] = (stat[0], stat[1], source.module, [], exc.message)
                continue
            modules[path] = (stat[0], stat[1], source.module, [_summary(r) for r in recipes], "")
        if set(modules) != set(old_modules):
            changed = True
        self._sources = {s.path: s for s in sources.values()}
        self._modules = modules
        self.broken = {path: record[4] for path, record in modules.items() if record[4]}
        self._eps = eps
        self._signature = signature
        self._stats = stats
        lookup = None if changed or index is None else index.get("lookup")
        if lookup is None:
            lookup = _lookup(modules)
        self._lookup = lookup
        if changed:
            self._write_index(
                {"entry_points": eps, "modules": modules, "sys_path": signature, "lookup": lookup}
            )
        self._rebuild()
        self._scanned = True

    def _rebuild(self) -> None:
        lookup = self._lookup or _lookup(self._modules)
        known_modules = {s.module for s in self._sources.values()}
        dynamic: dict[str, _Entry] = {}
        for module, recipes in list(_model.DEFINED.items()):
            if module in known_modules:
                continue
            for i, recipe in enumerate(recipes):
                if not recipe.fingerprint:
                    recipe = recipes[i] = _with_fingerprint(recipe)
                dynamic[recipe.uid] = _Entry(
                    recipe.alias, recipe.uid, recipe.tags, recipe.priority, module, None, recipe
                )
        table = _Table(lookup["entries"], dynamic)
        table.reuse(self._entries)
        by_tag: dict[str, list[str]] = lookup["by_tag"]
        by_alias: dict[str, list[str]] = lookup["by_alias"]
        if dynamic:
            # recipes defined in this process go on top of the index's tables
            by_tag, by_alias = dict(by_tag), dict(by_alias)
            for entry in dynamic.values():
                for tag in entry.tags:
                    by_tag[tag] = [*by_tag.get(tag, ()), entry.uid]
                by_alias[entry.alias] = [*by_alias.get(entry.alias, ()), entry.uid]
        self._entries = table
        self._by_tag = by_tag
        self._by_alias = by_alias
        self._selected = {}
        self._dynamic_seen = _model.generation()
        self.version += 1

    def _ensure(self) -> None:
        if not self._scanned:
            self.refresh()
        elif self._dynamic_seen != _model.generation():
            self._rebuild()

    def _folders(self) -> list[str]:
        folders = [f for f in os.environ.get("CMPY_RECIPES_PATH", "").split(os.pathsep) if f]
        if self._index_dir is not None:
            try:
                with open(os.path.join(self._index_dir, "repos.txt"), encoding="utf-8") as fh:
                    text: str | None = fh.read()
            except FileNotFoundError:
                text = ""
            except (OSError, ValueError):
                text = None
            if text is None or "\0" in text:
                # damaged (not UTF-8, a NUL, a folder): moved aside, with a warning
                from ._repos import read_list

                folders += read_list(self._index_dir)
            else:
                folders += [line.strip() for line in text.splitlines() if line.strip()]
        return folders + self._extra_folders

    def _discover(self, eps: list[tuple[str, str, list[str]]]) -> dict[str, _Source]:
        sources: dict[str, _Source] = {}
        for _name, package, roots in eps:
            for root in roots:
                if root.endswith(".py"):
                    sources[root] = _Source(package, root, False)
                    continue
                for path, module in _package_modules(root, package):
                    sources[path] = _Source(module, path, False)
        for folder in self._folders():
            tag = digest(os.path.abspath(folder), 4)
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                if name.endswith(".py") and not name.startswith("."):
                    path = os.path.join(os.path.abspath(folder), name)
                    sources[path] = _Source(f"cmpy_ext_{tag}.{name[:-3]}", path, True)
        return sources

    def _find_entry_points(self) -> list[tuple[str, str, list[str]]]:
        """Packages under the ``cmpy.recipes`` group, and the files they live in."""
        import importlib.util
        from importlib.metadata import entry_points

        found: list[tuple[str, str, list[str]]] = []
        seen: set[str] = set()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.value in seen:
                continue
            seen.add(ep.value)
            spec = importlib.util.find_spec(ep.value)
            if spec is None:
                continue
            if spec.submodule_search_locations:
                roots = [str(p) for p in spec.submodule_search_locations]
            elif spec.origin:
                roots = [spec.origin]
            else:
                continue
            found.append((ep.name, ep.value, roots))
        return found

    def _read_index(self) -> dict[str, Any] | None:
        if self._index_dir is None:
            return None
        path = os.path.join(self._index_dir, _INDEX_NAME)
        try:
            with open(path, "rb") as fh:
                index = marshal.loads(fh.read())
        except IsADirectoryError:
            # it would never be rewritten: move it aside (the index is made again from the modules)
            from ._home import Damage, move_aside, warn

            try:
                warn(str(Damage(path, "a folder where a file belongs", move_aside(path, self._index_dir))))
            except OSError:
                pass
            return None
        except (OSError, ValueError, EOFError, TypeError):
            return None
        # anything else (garbage, another Python's format) is made again from the modules and rewritten
        if not isinstance(index, dict) or index.get("format") != (_INDEX_FORMAT, sys.version):
            return None
        lookup = index.get("lookup")
        if not (
            isinstance(index.get("entry_points"), list)
            and isinstance(index.get("modules"), dict)
            and (lookup is None or (isinstance(lookup, dict) and {"entries", "by_tag", "by_alias"} <= lookup.keys()))
        ):
            return None
        return index

    def _write_index(self, content: dict[str, Any]) -> None:
        if self._index_dir is None:
            return
        content = dict(content)
        content["format"] = (_INDEX_FORMAT, sys.version)
        target = os.path.join(self._index_dir, _INDEX_NAME)
        tmp = os.path.join(self._index_dir, f".{_INDEX_NAME}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(marshal.dumps(content))
            os.replace(tmp, target)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def _import(self, source: _Source, *, reload: bool) -> list[Recipe]:
        """Import (or re-import) a module and return the recipes it defines."""
        import importlib
        import importlib.machinery
        import importlib.util

        module_name = source.module
        _model.DEFINED.pop(module_name, None)
        try:
            if source.folder_module:
                spec = importlib.util.spec_from_file_location(module_name, source.path)
                if spec is None or spec.loader is None:
                    return []
                module = importlib.util.module_from_spec(spec)
                parent = module_name.rpartition(".")[0]
                if parent not in sys.modules:
                    sys.modules[parent] = importlib.util.module_from_spec(
                        importlib.machinery.ModuleSpec(parent, None, is_package=True)
                    )
                sys.modules[module_name] = module
                folder = os.path.dirname(source.path)
                added = folder not in sys.path
                if added:
                    sys.path.insert(0, folder)
                try:
                    spec.loader.exec_module(module)
                finally:
                    if added:
                        sys.path.remove(folder)
            elif reload and module_name in sys.modules:
                importlib.reload(sys.modules[module_name])
            else:
                importlib.import_module(module_name)
        except CmpyError:
            sys.modules.pop(module_name, None)
            raise
        except Exception as exc:
            sys.modules.pop(module_name, None)
            raise CmpyError(
                f"the recipe module {source.path} failed to import: {type(exc).__name__}: {exc}",
                hint="fix the module, or remove it from the recipe path",
            ) from exc
        try:
            st = os.stat(source.path)
            _LOADED[source.path] = (st.st_mtime_ns, st.st_size)
        except OSError:
            pass
        return [_with_fingerprint(r) for r in _model.DEFINED.get(module_name, [])]

    # -- lookup ----------------------------------------------------------

    def all(self) -> list[Recipe]:
        """Every recipe, sorted by alias."""
        self._ensure()
        return sorted((e.load() for e in self._entries.values()), key=lambda r: r.alias)

    def get(self, uid: str) -> Recipe:
        """The recipe with this uid."""
        self._ensure()
        return self._entries[uid].load()

    def matches(self, query: Query) -> list[Recipe]:
        """Every recipe the query selects (tags, exclusions and variations), by alias."""
        self._ensure()
        uids = self._by_words(query)
        out = []
        for uid in uids:
            recipe = self._entries[uid].load()
            if _knows_all(recipe, query):
                out.append(recipe)
        return sorted(out, key=lambda r: (r.alias, r.uid))

    def _by_words(self, query: Query) -> set[str]:
        if len(query.tags) == 1 and not query.excluded:
            word = query.tags[0]
            direct = self._by_alias.get(word) or (
                [word.lower()] if word.lower() in self._entries else None
            )
            if direct:
                return set(direct)
        uids: set[str] | None = None
        for tag in query.tags:
            if has_glob(tag):
                import fnmatch

                hit = {
                    e.uid
                    for e in self._entries.values()
                    if fnmatch.fnmatchcase(e.alias, tag)
                    or any(fnmatch.fnmatchcase(t, tag) for t in e.tags)
                }
            else:
                hit = set(self._by_tag.get(tag, ()))
            uids = hit if uids is None else uids & hit
            if not uids:
                return set()
        if uids is None:
            uids = set(self._entries)
        for tag in query.excluded:
            uids -= set(self._by_tag.get(tag, ()))
        return uids

    def select(self, query: Query) -> Recipe:
        """The one recipe a query selects.

        Raises:
            RecipeNotFound: nothing matches (naming the closest recipes).
            VariationError: recipes match the tags but none has a requested variation.
            AmbiguousQuery: several match and none has a higher priority.
        """
        self._ensure()
        hit = self._selected.get(query)
        if hit is not None:
            return hit
        if not query.tags:
            what = "is empty" if query.is_empty else f"({str(query)!r}) has no tag"
            raise UsageError(
                f"the query {what}: it names no recipe",
                hint='give tags or an alias, such as cmpy run "detect os"; '
                "list the recipes with: cmpy find",
            )
        found = self.matches(query)
        if len(found) == 1:
            self._selected[query] = found[0]
            return found[0]
        text = str(query)
        if not found:
            by_tags = [self._entries[u].load() for u in self._by_words(query)]
            if by_tags:
                raise _variation_error(by_tags, query)
            error = RecipeNotFound(text, self._closest(query))
            if self.broken:
                why = next(iter(sorted(self.broken.items())))[1]
                more = f" (and {len(self.broken) - 1} more)" if len(self.broken) > 1 else ""
                error.hint = f"{error.hint}; note: {why}{more}"
            raise error
        top = max(r.priority for r in found)
        best = [r for r in found if r.priority == top]
        if len(best) == 1:
            self._selected[query] = best[0]
            return best[0]
        raise AmbiguousQuery(text, [r.alias for r in best], _separating(best))

    def _closest(self, query: Query, n: int = 5) -> list[str]:
        """The recipes nearest to a query that matched none, nearest first.

        A recipe's distance is the smaller of: the edits that turn the query's
        words into some of its tags (each word to its nearest tag), and the
        edits that turn the words joined by ``-`` into its alias. So
        "get pyhton3" is one edit from get-python3 and seven from get-cmake,
        and the nearest is always first.
        """
        from ._suggest import distance

        words = [w.lower() for w in query.tags if not has_glob(w)]
        if not words:
            return []
        joined = "-".join(words)
        near: dict[str, int] = {}
        for entry in self._entries.values():
            tags = [t.lower() for t in entry.tags]
            by_tags = sum(min((distance(w, t) for t in tags), default=len(w)) for w in words)
            score = min(by_tags, distance(joined, entry.alias.lower()))
            if score < near.get(entry.alias, score + 1):
                near[entry.alias] = score
        ranked = sorted(near.items(), key=lambda item: (item[1], item[0]))
        if not ranked:
            return []
        best = ranked[0][1]
        # beyond the nearest, only those not much farther and not mostly rewritten
        limit = best + max(1, len(joined) // 5)
        return [alias for alias, score in ranked[:n] if score <= limit or score == best]

    def body(self, recipe: Recipe) -> Body:
        """The body of a recipe, importing its module if this process has not yet."""
        body = _model.BODIES.get(recipe.uid)
        source = next((s for s in self._sources.values() if s.module == recipe.module), None)
        if source is not None:
            try:
                st = os.stat(source.path)
                current = (st.st_mtime_ns, st.st_size)
            except OSError:
                current = None
            loaded = _LOADED.get(source.path)
            if loaded is None and body is not None and source.module in sys.modules:
                # imported by name before any registry looked at it (a test, a user's
                # import): that import is current, and reloading it would reset it
                loaded = _LOADED[source.path] = current  # type: ignore[assignment]
            if body is None or loaded != current:
                self._import(source, reload=True)
                body = _model.BODIES.get(recipe.uid)
        if body is None:
            raise CmpyError(
                f"the body of recipe {recipe.alias!r} is gone from {recipe.where}",
                hint="the module changed while cmpy ran; run the command again",
            )
        return body


def _site_signature() -> list[tuple[str, int]]:
    """The mtimes of the site-packages folders on sys.path.

    Entry points are declared in the dist-info folders there: installing or
    removing a package changes its site-packages folder's mtime.
    """
    signature = []
    for entry in sys.path:
        if os.path.basename(entry) in ("site-packages", "dist-packages"):
            try:
                signature.append((entry, os.stat(entry).st_mtime_ns))
            except OSError:
                continue
    return signature


def _stats(sources: dict[str, _Source]) -> dict[str, tuple[int, int]]:
    out = {}
    for path in sources:
        try:
            st = os.stat(path)
        except OSError:
            continue
        out[path] = (st.st_mtime_ns, st.st_size)
    return out


def _knows_all(recipe: Recipe, query: Query) -> bool:
    names = query.variations + query.excluded_variations
    return all(canonical(recipe, n) is not None for n in names)


def _variation_error(recipes: list[Recipe], query: Query) -> VariationError:
    from ._suggest import closest

    names = query.variations + query.excluded_variations
    known = sorted({n for r in recipes for n in known_names(r)})
    missing = next(
        n for n in names if all(canonical(r, n) is None for r in recipes)
    ) if any(all(canonical(r, n) is None for r in recipes) for n in names) else names[0]
    close = closest(missing, known)
    label = recipes[0].alias if len(recipes) == 1 else ", ".join(r.alias for r in recipes)
    return VariationError(
        label,
        f"no recipe matching {str(query)!r} has the variation _{missing}",
        name=missing,
        known=known,
        suggestion=close[0] if close else None,
    )


def _separating(recipes: list[Recipe]) -> dict[str, str]:
    out: dict[str, str] = {}
    for recipe in recipes:
        others = set().union(*(set(r.tags) for r in recipes if r is not recipe))
        own = sorted(set(recipe.tags) - others, key=lambda t: (len(t), t))
        if own:
            out[recipe.alias] = own[0]
    return out


def _lookup(modules: dict[str, _ModuleRecord]) -> dict[str, Any]:
    """The lookup tables of an index: entries by uid, uids by tag and by alias."""
    entries: dict[str, tuple[str, tuple[str, ...], int, str, bytes]] = {}
    by_tag: dict[str, list[str]] = {}
    by_alias: dict[str, list[str]] = {}
    for _mtime, _size, module, summaries, _error in modules.values():
        for alias, uid, tags, priority, blob in summaries:
            if uid in entries:
                continue
            entries[uid] = (alias, tags, priority, module, blob)
            for tag in tags:
                by_tag.setdefault(tag, []).append(uid)
            by_alias.setdefault(alias, []).append(uid)
    return {"entries": entries, "by_tag": by_tag, "by_alias": by_alias}


def _summary(recipe: Recipe) -> _Summary:
    return (recipe.alias, recipe.uid, recipe.tags, recipe.priority, pickle.dumps(recipe, 5))


def _package_modules(root: str, package: str) -> Iterator[tuple[str, str]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith((".", "_")) and "-" not in d
        )
        rel = os.path.relpath(dirpath, root)
        prefix = package if rel == "." else package + "." + rel.replace(os.sep, ".")
        for name in sorted(filenames):
            if not name.endswith(".py") or name.startswith("."):
                continue
            module = prefix if name == "__init__.py" else f"{prefix}.{name[:-3]}"
            yield os.path.join(dirpath, name), module


def source_text(fn: object) -> str:
    """The source lines of a function, read from its file without ``inspect``."""
    code = getattr(fn, "__code__", None)
    if not isinstance(code, CodeType):
        return ""
    last = _last_line(code)
    try:
        with open(code.co_filename, encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
    except OSError:
        return code.co_code.hex() + repr(code.co_consts)
    return "".join(lines[code.co_firstlineno - 1 : last])


def _last_line(code: CodeType) -> int:
    last = code.co_firstlineno
    for _start, _end, line in code.co_lines():
        if line is not None and line > last:
            last = line
    for const in code.co_consts:
        if isinstance(const, CodeType):
            last = max(last, _last_line(const))
    return last


def _with_fingerprint(recipe: Recipe) -> Recipe:
    if recipe.fingerprint:
        return recipe
    body = _model.BODIES.get(recipe.uid)
    meta = replace(recipe, file="", line=0, fingerprint="")
    import hashlib

    fingerprint = hashlib.sha256(repr(meta).encode())
    fingerprint.update(source_text(body).encode())
    return replace(recipe, fingerprint=fingerprint.hexdigest()[:32])
