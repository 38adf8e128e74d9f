"""CM's artifacts over cmpy: scripts (recipes) and cached results, found, made and removed.

What ``cmpy.access`` (:mod:`cmpy._access`) and CM's spellings of the
command line (:mod:`cmpy._cli_cm`) share. A query comes in CM's forms
(:func:`cm_query`): ``tags`` (``"detect,os"`` or a list), an ``artifact``
(an alias, a uid, CM's ``alias,uid``, or words with spaces, which CM reads
as tags) and extra ``artifacts``. What is handed back are plain objects
with the attributes CM's users read: ``meta`` (alias, uid, tags) and
``path``.

Removing a script deletes its source, so it is held to what is the user's
own: only recipes defined under ``CMPY_RECIPES_PATH`` or a folder of ``cmpy
repo add``, a Python module only when every recipe it defines goes with it
(a CM script folder, as a whole), and several matches only with ``force``.
"""

from __future__ import annotations

import os

from ._errors import RecipeNotFound, UsageError
from ._query import Query, parse_query

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

    from ._entry import Entry
    from ._model import Recipe

__all__ = [
    "CACHE_UID",
    "SCRIPT_UID",
    "CacheArtifact",
    "ScriptArtifact",
    "add_script",
    "cm_query",
    "find_cache",
    "find_scripts",
    "load_script",
    "remove_cache",
    "remove_scripts",
]

SCRIPT_UID = "5b4e0237da074764"
CACHE_UID = "541d6f712a6b464e"
# the files that make a folder a CM (or MLCFlow) script: removing one removes the folder
_CM_META = ("_cm.yaml", "_cm.json", "meta.yaml", "meta.json")
_HEX = frozenset("0123456789abcdef")


class ScriptArtifact:
    """A recipe as CM's script automation lists it.

    Attributes:
        meta: CM's meta (``alias``, ``uid``, ``tags``, ``automation_alias``,
            ``automation_uid``) with cmpy's description of the recipe
            (variations, inputs, deps, env, ``where``).
        original_meta: the same dict (cmpy has no meta inheritance).
        path: the folder the recipe is defined in (a CM script's folder, a
            Python recipe's module folder).
        file: the file that defines it.
    """

    __slots__ = ("file", "meta", "original_meta", "path")

    def __init__(self, recipe: Recipe) -> None:
        self.meta: dict[str, Any] = {
            **recipe.describe(),
            "automation_alias": "script",
            "automation_uid": SCRIPT_UID,
        }
        self.original_meta = self.meta
        self.file = recipe.file
        self.path = recipe.file if os.path.isdir(recipe.file) else os.path.dirname(recipe.file)

    def to_dict(self) -> dict[str, Any]:
        """``{"path": ..., "file": ..., "meta": ...}``, ready for JSON."""
        return {"path": self.path, "file": self.file, "meta": self.meta}

    def __repr__(self) -> str:
        return f"<ScriptArtifact {self.meta['alias']} {self.path}>"


class CacheArtifact:
    """A cached result as CM's cache automation lists it.

    Attributes:
        meta: CM's meta (``uid``: the key's first 16 digits, ``tags``: the
            recipe's tags, ``_variations`` and ``version-X``, ``version``,
            ``automation_alias``, ``automation_uid``) with cmpy's ``key``
            and ``recipe``.
        original_meta: the same dict.
        path: the entry's folder.
        entry: cmpy's record of it (env, state, what it was made from).
    """

    __slots__ = ("entry", "meta", "original_meta", "path")

    def __init__(self, entry: Entry) -> None:
        labels = entry.labels()
        self.meta: dict[str, Any] = {
            "alias": "",
            "uid": entry.key[:16],
            "tags": sorted(w for w in labels if not w.startswith("_")) + sorted(w for w in labels if w.startswith("_")),
            "version": entry.version or "",
            "automation_alias": "cache",
            "automation_uid": CACHE_UID,
            "key": entry.key,
            "recipe": entry.recipe,
        }
        self.original_meta = self.meta
        self.path = entry.folder
        self.entry = entry

    def to_dict(self) -> dict[str, Any]:
        """``{"path": ..., "meta": ...}``, ready for JSON."""
        return {"path": self.path, "meta": self.meta}

    def __repr__(self) -> str:
        return f"<CacheArtifact {self.entry.recipe} {self.path}>"


def cm_query(tags: Any = None, artifact: Any = None, artifacts: Any = None) -> Query:
    """The query CM's ``tags``, ``artifact`` and extra ``artifacts`` mean together.

    Raises:
        UsageError: a value of the wrong type.
        QuerySyntaxError: words that do not parse.
    """
    words: list[str] = []
    if artifact is not None and artifact != "":
        if not isinstance(artifact, str):
            raise UsageError(f"artifact must be a string (an alias or a uid), not {artifact!r}")
        alias, comma, uid = artifact.strip().partition(",")
        uid = uid.strip()
        if comma and " " not in alias.strip() and len(uid) == 16 and set(uid) <= _HEX:
            words.append(uid)  # CM's alias,uid: the uid says it exactly
        else:
            words += artifact.replace(",", " ").split()
    for extra in _strings(artifacts, "artifacts"):
        words += extra.replace(",", " ").split()
    for tag in _strings(tags, "tags"):
        words += tag.replace(",", " ").split()
    return parse_query(" ".join(words))


def _strings(value: Any, what: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise UsageError(f"{what} must be a string or a list of strings, not {value!r}")


def find_scripts(query: Query) -> list[ScriptArtifact]:
    """The scripts a query selects (every one for an empty query), by alias."""
    from ._api import runtime

    registry = runtime().registry
    found = registry.all() if query.is_empty else registry.matches(query)
    return [ScriptArtifact(r) for r in found]


def load_script(query: Query) -> ScriptArtifact:
    """The one script a query selects.

    Raises:
        UsageError: an empty query. RecipeNotFound, AmbiguousQuery, VariationError: as ``run``.
    """
    from ._api import runtime

    return ScriptArtifact(runtime().registry.select(query))


def add_script(name: str, tags: Query, repo: str | None = None) -> ScriptArtifact:
    """Write a new recipe module (CM's ``add script``: a Python recipe that runs as it is).

    Raises:
        UsageError: a bad name, no tags, or a module of that name exists already.
    """
    from ._api import runtime
    from ._repos import new_recipe

    if tags.excluded or tags.excluded_variations or tags.variations:
        raise UsageError(f"the tags of a new script are plain tags, not {str(tags)!r}", hint="--tags=get,my-tool")
    path = new_recipe(name, " ".join(tags.tags), repo)
    where = os.path.realpath(path)
    made = [r for r in runtime().registry.all() if os.path.realpath(r.file) == where]
    if len(made) != 1:
        raise UsageError(f"{path} was written but defines no recipe cmpy can load", hint="see: cmpy find")
    return ScriptArtifact(made[0])


def remove_scripts(query: Query, *, force: bool = False) -> list[ScriptArtifact]:
    """Delete the sources of the scripts a query selects; returns them.

    Raises:
        UsageError: an empty query, several matches without ``force``, or a
            recipe that is not the user's own to delete (see the module's doc).
        RecipeNotFound: nothing matches.
    """
    from ._api import runtime
    from ._discovery import folders
    from ._entry import rmtree
    from ._home import home

    if query.is_empty:
        raise UsageError("cmpy rm script needs an alias, a uid or --tags", hint="cmpy rm script my-tool")
    registry = runtime().registry
    found = registry.matches(query)
    if not found:
        raise RecipeNotFound(str(query), registry.closest(query))
    if len(found) > 1 and not force:
        raise UsageError(
            f"{len(found)} recipes match {str(query)!r}: {', '.join(r.alias for r in found)}",
            hint="name one by its alias, or add -f to remove them all",
        )
    own = [os.path.realpath(f) for f in folders(home())]
    doomed = {r.uid for r in found}
    sources: dict[str, list[Recipe]] = {}
    for recipe in found:
        sources.setdefault(_source_of(recipe), []).append(recipe)
    everything = registry.all()
    for source, recipes in sources.items():
        where = os.path.realpath(source)
        if not any(where != top and os.path.commonpath([where, top]) == top for top in own):
            raise UsageError(
                f"{recipes[0].alias} is defined in {source}, which is not a folder of your own recipes",
                hint="cmpy removes only recipes under CMPY_RECIPES_PATH or a folder of `cmpy repo add` "
                "(see: cmpy repo ls)",
            )
        others = [r.alias for r in everything if _source_of(r) == source and r.uid not in doomed]
        if others:
            raise UsageError(
                f"{source} also defines {', '.join(others)}: removing {recipes[0].alias} would remove them too",
                hint="remove them together (a query that selects them all, with -f), or edit the file",
            )
    for source in sources:
        rmtree(source)
    return [ScriptArtifact(r) for r in found]


def _source_of(recipe: Recipe) -> str:
    """What defines a recipe on disk: its module file, or its CM script folder."""
    if os.path.isdir(recipe.file):
        return recipe.file
    if os.path.basename(recipe.file) in _CM_META:
        return os.path.dirname(recipe.file)
    return recipe.file


def find_cache(query: Query, artifact: str | None = None) -> list[CacheArtifact]:
    """The cached results a query matches (all for an empty one), or that a key prefix names."""
    from . import cache

    entries = cache.ls(query)
    if not entries and artifact and " " not in artifact.strip():
        try:
            entries = [cache.show(artifact)]
        except UsageError:
            entries = []
    return [CacheArtifact(e) for e in entries]


def remove_cache(query: Query, *, force: bool = False, every: bool = False) -> list[CacheArtifact]:
    """Remove the cached results a query matches; with no query, all of them, which takes
    ``force`` (CM's ``-f``) or ``every`` (``--all``). cmpy never asks for confirmation.

    Raises:
        UsageError: no query and neither ``force`` nor ``every``; a query and ``every``;
            a query of exclusions alone (it would remove nearly everything).
    """
    from . import cache

    text = str(query)
    if query.is_empty:
        if not (force or every):
            raise UsageError(
                "cmpy rm cache needs --tags=... (what to remove), or -f (or --all) to remove every cached result",
                hint="cmpy rm cache --tags=get,python3; cmpy never asks for confirmation",
            )
        return [CacheArtifact(e) for e in cache.rm("", all=True)]
    if every:
        raise UsageError(
            f"cmpy rm cache takes --tags or --all, not both ({text!r} and --all)",
            hint="--tags=... removes what matches; -f or --all alone removes everything",
        )
    if not (query.tags or query.variations):
        raise UsageError(
            f"the query {text!r} only excludes, so it would remove every cached result but those",
            hint="add a tag to say what to remove (--tags=ml-model,-tflite), or -f alone to remove everything",
        )
    return [CacheArtifact(e) for e in cache.rm(query)]
