"""The CM / MLCFlow loader: script folders become recipes beside the Python ones.

It claims three kinds of root: a CM repository (``cmr.yaml`` and a
``script/`` folder), an MLCFlow one (``meta.yaml`` at the top and
``script/``), and one script folder (a meta file at its top). A root it
claims is read by it alone: none of its Python files (``customize.py``,
``setup.py``, ``automation/*.py``) is ever imported as a recipe module.
Symlinked folders (CM's ``script/by-category/``) are not followed, so no
script is listed twice.

Each script folder is one source (every file in it is stat'ed to know it
changed) and one :class:`~cmpy._model.Recipe`: its alias, uid and tags, its
variations (names, groups and aliases: what a query may ask for; CM's own
rules for defaults, bases and env are the runner's), its ``input_mapping``
as inputs, ``cache``, and what it reads (:func:`read_env_names`). A recipe
from a repository the user added overrides a built-in of the same uid or
alias (the user's choice, as on a PATH; the registry says so once), and is
known as ``REPO:ALIAS`` as well.
"""

from __future__ import annotations

import os

from .._hash import digest
from .._loaders import LoadFailed, Root, Source, looks_like_cm
from .._model import Input, Recipe, Variation
from ._meta import MetaError, find_meta, read_meta, unknown_keys

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .._model import Body

__all__ = ["CMScripts", "is_cm_root", "read_env_names"]

LOADER = "cm"
MODULE_PREFIX = "cm:"
_UID = r"[0-9a-f]{16}"
# names a script's files may read: CM's <<<KEY>>>, env['KEY'], env.get('KEY'), $KEY, ${KEY}
_NAMES = (
    r"<<<([A-Za-z_][A-Za-z0-9_]*)>>>"
    r"|env(?:\.get\(|\[|\.setdefault\(|\.pop\()\s*['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]"
    r"|\$\{?([A-Za-z_][A-Za-z0-9_]*)"
    r"|\b((?:CM|MLC)_[A-Z0-9_]+)\b"
)
_PROCESS = r"os\.environ(?:\.get\(|\[)\s*['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]|getenv\(\s*['\"]([A-Za-z_][A-Za-z0-9_]*)"
# shell's own names: never the caller's env
_SHELL = frozenset(
    [
        "PWD",
        "OLDPWD",
        "SHLVL",
        "IFS",
        "RANDOM",
        "LINENO",
        "BASH_SOURCE",
        "PIPESTATUS",
        "REPLY",
        "OPTARG",
        "OPTIND",
    ]
)
# reserved by cmpy's run: an input may not take these names
_RESERVED_INPUTS = frozenset(
    ["env", "adr", "version", "version_min", "version_max", "quiet", "jobs", "refresh", "dry_run"]
)
# text files of a script folder whose names count as what it reads
_READ_SUFFIXES = (".py", ".sh", ".yaml", ".json", ".bat")


def is_cm_root(path: str) -> bool:
    """Whether ``path`` is a CM / MLCFlow repository or one script folder (a marker file at its top)."""
    return os.path.isdir(path) and looks_like_cm(Root(path))


class CMScripts:
    """Reads CM and MLCFlow script folders (see the module's documentation)."""

    name = LOADER

    def __init__(self, say: Callable[[str], None] | None = None) -> None:
        self.say = say
        # the engine is part of every script's fingerprint: its version is in the loader's
        # name, so that a changed engine makes the index load every script again
        self.name = f"{LOADER}@{_engine_stamp()}"
        # unknown keys, said once per repository and process (loading happens on change only)
        self.warnings: list[str] = []
        self._warned: set[str] = set()
        self._roots: dict[str, tuple[str, str]] = {}
        # the registry this loader serves (set by it): a script's deps are resolved there
        self.registry: Any = None

    def claims(self, root: Root) -> bool:
        return not root.package and is_cm_root(root.path)

    def sources(self, root: Root) -> list[Source]:
        top = os.path.abspath(root.path)
        scripts = os.path.join(top, "script")
        if os.path.isdir(scripts) and (
            os.path.isfile(os.path.join(top, "cmr.yaml")) or not _is_script(top)
        ):
            origin = os.path.basename(top)
            folders = _script_folders(scripts)
        else:
            origin = os.path.basename(os.path.dirname(top)) or os.path.basename(top)
            folders = [top]
        out = []
        for folder in folders:
            files = _files(folder)
            if not files:
                continue
            self._roots[folder] = (origin, top)
            name = os.path.basename(folder)
            meta = find_meta(folder)
            out.append(
                Source(
                    self.name,
                    folder,
                    f"{MODULE_PREFIX}{origin}/{name}",
                    tuple(files),
                    # a refresh stats the folder and the meta; the rest when the script is used
                    quick=(folder, meta[0]) if meta else None,
                )
            )
        return out

    def load(self, source: Source) -> list[Recipe]:
        found = find_meta(source.path)
        if found is None:
            raise LoadFailed(
                source.path, "it has no _cm.yaml, _cm.json or meta.yaml", what="the CM script"
            )
        path, flavour = found
        try:
            meta = read_meta(path)
        except MetaError as exc:
            raise LoadFailed(source.path, exc.message, what="the CM script") from None
        origin, repo = self._roots.get(source.path) or (
            source.module[len(MODULE_PREFIX) :].partition("/")[0],
            os.path.dirname(os.path.dirname(source.path)),
        )
        self._warn_unknown(repo, path, meta)
        try:
            recipe = to_recipe(meta, source, path, flavour, origin)
        except (TypeError, ValueError, AttributeError) as exc:
            raise LoadFailed(
                source.path, f"its meta is malformed: {exc}", what="the CM script"
            ) from None
        return [recipe]

    def body(self, recipe: Recipe, source: Source) -> Body:
        from ._runner import body_for

        body: Body = body_for(source.path, self)
        return body

    def _warn_unknown(self, repo: str, path: str, meta: dict[str, Any]) -> None:
        keys = unknown_keys(meta)
        if not keys:
            return
        line = f"{os.path.relpath(path, os.path.dirname(repo))}: keys the engine does not read: {', '.join(keys)}"
        if line not in self._warned:
            self._warned.add(line)
            self.warnings.append(line)


def _is_script(folder: str) -> bool:
    found = find_meta(folder)
    if found is None or found[1] == "cm":
        return found is not None
    # an MLCFlow repository's root meta.yaml describes the repository, not a script
    try:
        with open(found[0], encoding="utf-8", errors="replace") as fh:
            return "automation_alias" in fh.read(4096)
    except OSError:
        return False


def _script_folders(scripts: str) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    try:
        entries = sorted(os.scandir(scripts), key=lambda e: e.name)
    except OSError:
        return out
    for entry in entries:
        if entry.name.startswith((".", "_")) or entry.is_symlink() or not entry.is_dir():
            continue
        real = os.path.realpath(entry.path)
        if real in seen or find_meta(entry.path) is None:
            continue
        seen.add(real)
        out.append(entry.path)
    return out


def _files(folder: str) -> list[str]:
    """Every file of a script folder that can change what it does (not its tmp-* leftovers)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
        for name in sorted(filenames):
            if name.startswith((".", "tmp-")) or name.endswith(".pyc"):
                continue
            path = os.path.join(dirpath, name)
            if os.path.isfile(path):
                out.append(path)
    return out


def to_recipe(meta: dict[str, Any], source: Source, path: str, flavour: str, origin: str) -> Recipe:
    """The recipe of one script folder's meta."""
    from .._fingerprint import of_texts

    folder = source.path
    alias = str(meta.get("alias") or os.path.basename(folder))
    uid = str(meta.get("uid") or "")
    import re

    if not re.fullmatch(_UID, uid):
        uid = digest(f"cm:{origin}:{alias}", 8)
    tags = _tags(meta.get("tags"))
    prefix = "CM_" if flavour == "cm" else "MLC_"
    own = source.files
    reads, process = read_env_names(folder, own, prefix)
    recipe = Recipe(
        alias=alias,
        uid=uid,
        tags=tags,
        variations=_variations(meta.get("variations")),
        inputs=_inputs(meta.get("input_mapping"), meta.get("input_description")),
        exports=None,
        reads=reads,
        process_env=process,
        cache=_truthy(meta.get("cache")),
        # CM takes the lowest "sort" of several matches; cmpy the highest priority
        priority=-_int(meta.get("sort")),
        # under --dry-run the body only reads its meta and plans its deps (see _preview)
        dry_run_safe=True,
        override=True,
        module=source.module,
        qualname=alias,
        file=path,
        line=1,
        doc=_doc(meta, flavour, origin),
    )
    texts = []
    for file in (*source.files, *_engine_files()):
        try:
            with open(file, "rb") as fh:
                name = (
                    os.path.relpath(file, folder)
                    if file in own
                    else "engine/" + os.path.basename(file)
                )
                texts.append(name + "\0" + digest(fh.read().hex()))
        except OSError as exc:
            raise LoadFailed(
                folder, f"{file} cannot be read: {exc.strerror}", what="the CM script"
            ) from None
    return of_texts(recipe, texts)


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    return tuple(dict.fromkeys(str(t).strip() for t in value or () if str(t).strip()))


def _variations(value: Any) -> dict[str, Variation]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, Variation] = {}
    for name, var in value.items():
        name = str(name).strip().lstrip("_")
        if not name:
            continue
        var = var if isinstance(var, dict) else {}
        group = var.get("group")
        alias = var.get("alias")
        out[name] = Variation(
            group=str(group) if group not in (None, "") else None,
            alias=str(alias) if isinstance(alias, str) and alias and "," not in name else None,
        )
    return out


def _inputs(mapping: Any, described: Any) -> dict[str, Input]:
    if not isinstance(mapping, dict):
        return {}
    described = described if isinstance(described, dict) else {}
    out = {}
    for name, key in mapping.items():
        name = str(name)
        if name in _RESERVED_INPUTS or not name.isidentifier() or not isinstance(key, str):
            continue
        help_ = described.get(name)
        if isinstance(help_, dict):
            help_ = help_.get("desc", "")
        out[name] = Input(env=key, help=str(help_ or ""))
    return out


def read_env_names(
    folder: str, files: tuple[str, ...], prefix: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What a script reads: env names (from above) and process env names.

    From above: every ``PREFIX*`` key it is handed, and the other names its
    meta, ``customize.py`` and shell scripts mention (``<<<KEY>>>``,
    ``env['KEY']``, ``$KEY``). From the process: names its Python files read
    from ``os.environ`` and its shell scripts from ``$KEY`` that are not
    prefix keys (``PATH``, ``HOME``, ``CUDA_HOME``).
    """
    import re

    mentioned: set[str] = set()
    process: set[str] = set()
    for file in files:
        if not file.endswith(_READ_SUFFIXES):
            continue
        try:
            with open(file, encoding="utf-8", errors="replace") as fh:
                text = fh.read(1 << 20)
        except OSError:
            continue
        shell = file.endswith((".sh", ".bat"))
        for match in re.finditer(_NAMES, text):
            name = next(g for g in match.groups() if g)
            if name in _SHELL or name.isdigit():
                continue
            mentioned.add(name)
            if shell and match.group(3) and not name.startswith(("CM_", "MLC_")):
                process.add(name)
        if file.endswith(".py"):
            for match in re.finditer(_PROCESS, text):
                process.add(match.group(1) or match.group(2))
    # CMPY_ADR: the overrides (adr) in force for the deps it asks for as it runs
    reads = [f"{prefix}*", "CMPY_ADR"] + sorted(n for n in mentioned if not n.startswith(prefix))
    return tuple(reads), tuple(sorted(process))


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "on", "1")


def _doc(meta: dict[str, Any], flavour: str, origin: str) -> str:
    kind = "CM" if flavour == "cm" else "MLCFlow"
    first = str(meta.get("name") or meta.get("category") or "").strip()
    head = f"{kind} script of {origin}" + (f": {first}" if first else "")
    return head + "\n\nRun by cmpy's CM engine (customize.py, run.sh) unmodified."


_ENGINE: list[str] = []


def _engine_stamp() -> str:
    """A short digest of the engine files' sizes and times (cheap: one stat each)."""
    stamps = []
    for path in _engine_files():
        try:
            st = os.stat(path)
        except OSError:
            continue
        stamps.append((os.path.basename(path), st.st_mtime_ns, st.st_size))
    return digest(repr(stamps), 4)


def _engine_files() -> list[str]:
    """The files of the engine that runs CM scripts."""
    if not _ENGINE:
        here = os.path.dirname(os.path.abspath(__file__))
        _ENGINE.extend(os.path.join(here, n) for n in sorted(os.listdir(here)) if n.endswith(".py"))
    return _ENGINE
