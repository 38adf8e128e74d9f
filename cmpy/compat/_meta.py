"""Reading a CM / MLCFlow script's meta, and the keys the engine knows.

A script folder holds ``_cm.yaml`` or ``_cm.json`` (CM) or ``meta.yaml`` /
``meta.json`` (MLCFlow). YAML is read with PyYAML (its C loader when it was
built with one), imported only here, when a CM repository is loaded; the
registry's index then keeps what was read, so a repository's YAML is parsed
once per change, not on every command.

The original engines ignore keys they do not know, typos included
(``force-cache``, ``default-variations``, a key with a non-breaking space).
:func:`unknown_keys` names them, so that the loader can warn once per
repository with the file and the key.
"""

from __future__ import annotations

import os

from .._errors import CmpyError

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["META_FILES", "MetaError", "find_meta", "flavour_of", "read_meta", "unknown_keys"]

# (file name, flavour), in the order CM looks for them
META_FILES = (("_cm.yaml", "cm"), ("_cm.json", "cm"), ("meta.yaml", "mlc"), ("meta.json", "mlc"))

_DEP_LISTS = ("deps", "prehook_deps", "posthook_deps", "post_deps", "predeps", "docker_deps")

TOP_KEYS = frozenset(
    [
        "alias",
        "uid",
        "tags",
        "automation_alias",
        "automation_uid",
        "category",
        "category_sort",
        "name",
        "sort",
        "developers",
        "tags_help",
        "input_description",
        "deps",
        "prehook_deps",
        "posthook_deps",
        "post_deps",
        "predeps",
        "default_env",
        "env",
        "const",
        "state",
        "const_state",
        "input_mapping",
        "docker_input_mapping",
        "new_env_keys",
        "new_state_keys",
        "local_env_keys",
        "default_version",
        "versions",
        "variations",
        "variation_groups_order",
        "valid_variation_combinations",
        "invalid_variation_combinations",
        "variation_tags_alias",
        "cache",
        "cache_expiration",
        "can_force_cache",
        "clean_files",
        "clean_output_files",
        "extra_cache_tags_from_env",
        "print_env_at_the_end",
        "print_env_at_the_end_disabled",
        "print_files_if_script_error",
        "docker",
        "docker_off",
        "tests",
        "script_name",
        "env_key_mappings",
        "update_meta_if_env",
        "file_path_env_keys",
        "folder_path_env_keys",
        "private",
        "min_mlc_version",
        "min_cm_version",
        "sudo_install",
        "warnings",
        "gui",
        "version",
        "version_min",
        "version_max",
        "version_max_usable",
        "license",
        "copyright_owner",
        "ignore_inputs",
    ]
)
DEP_KEYS = frozenset(
    [
        "tags",
        "names",
        "enable_if_env",
        "skip_if_env",
        "enable_if_any_env",
        "skip_if_any_env",
        "env",
        "extra_cache_tags",
        "extra_cache_rm_tags",
        "update_tags_from_env_with_prefix",
        "update_tags_from_env",
        "force_cache",
        "force_env_keys",
        "force_new_env_keys",
        "new_env_keys",
        "version",
        "version_min",
        "version_max",
        "version_max_usable",
        "inherit_variation_tags",
        "skip_inherit_variation_groups",
        "reuse_version",
        "adr",
        "dynamic",
        "skip_if_fake_run",
        "verify",
        "inherit_cache_expiration",
        "ignore_missing",
        "revision",
        "model_filename",
        "full_subfolder",
        "md5sum",
        "env_key",
    ]
)
VARIATION_KEYS = frozenset(
    [
        "env",
        "default_env",
        "const",
        "state",
        "const_state",
        "group",
        "default",
        "default_variations",
        "deps",
        "prehook_deps",
        "posthook_deps",
        "post_deps",
        "new_env_keys",
        "new_state_keys",
        "base",
        "add_deps_recursive",
        "add_deps",
        "adr",
        "ad",
        "alias",
        "docker",
        "script_name",
        "update_meta_if_env",
        "required_disk_space",
        "default_version",
        "warning",
        "warnings",
        "default_gui",
        "cache",
        "cache_expiration",
        "names",
        "add_deps_tags",
        "force_cache",
    ]
)


class MetaError(CmpyError):
    """A meta file that cannot be read (the loader turns it into a skipped script)."""


def find_meta(folder: str) -> tuple[str, str] | None:
    """The meta file of a script folder and its flavour (``cm`` / ``mlc``), if it has one."""
    for name, flavour in META_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path, flavour
    return None


def flavour_of(repo: str) -> str:
    """``cm`` for a CM repository (``cmr.yaml``), ``mlc`` for an MLCFlow one."""
    return "cm" if os.path.isfile(os.path.join(repo, "cmr.yaml")) else "mlc"


_READ: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}


def read_meta(path: str) -> dict[str, Any]:
    """The meta in ``path`` (YAML or JSON) as a dict (a copy: the caller may change it).

    A process parses each file once while it stays the same (a plan meets
    detect-os many times).

    Raises:
        MetaError: it does not parse, is not a mapping, or PyYAML is missing.
    """
    import copy

    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            stamp = (st.st_mtime_ns, st.st_size)
            known = _READ.get(path)
            if known is not None and known[0] == stamp:
                return copy.deepcopy(known[1])
            meta = _from_disk_cache(path, stamp)
            if meta is None:
                meta = _parse(path, fh.read())
                _to_disk_cache(path, stamp, meta)
    except OSError as exc:
        raise MetaError(f"{path} cannot be read: {exc.strerror or exc}") from None
    _READ[path] = (stamp, meta)
    return copy.deepcopy(meta)


def _cache_file(path: str) -> str | None:
    """Where the parsed form of a YAML meta is kept as JSON (``None``: not for JSON metas)."""
    if path.endswith(".json"):
        return None
    from .._hash import digest
    from .._home import home_path

    return os.path.join(home_path(), "cm-metas", digest(path) + ".json")


def _from_disk_cache(path: str, stamp: tuple[int, int]) -> dict[str, Any] | None:
    # a command runs a script from the index without importing PyYAML (about 12 ms)
    cached = _cache_file(path)
    if cached is None:
        return None
    import json

    try:
        with open(cached, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("path") != path or doc.get("stamp") != list(stamp):
        return None
    meta = doc.get("meta")
    return meta if isinstance(meta, dict) else None


def _to_disk_cache(path: str, stamp: tuple[int, int], meta: dict[str, Any]) -> None:
    cached = _cache_file(path)
    if cached is None:
        return
    import json

    try:
        text = json.dumps({"path": path, "stamp": list(stamp), "meta": meta})
        if json.loads(text)["meta"] != meta:
            return  # not plain JSON data (a date, a number as a key): parsed each time
        os.makedirs(os.path.dirname(cached), mode=0o700, exist_ok=True)
        partial = f"{cached}.{os.getpid()}.tmp"
        with open(partial, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(partial, cached)
    except (OSError, TypeError, ValueError):
        pass


def _parse(path: str, data: bytes) -> dict[str, Any]:
    if path.endswith(".json"):
        import json

        try:
            meta = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MetaError(f"{path} is not valid JSON: {exc}") from None
    else:
        meta = _load_yaml(path, data)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise MetaError(f"{path} holds a {type(meta).__name__}, not a mapping of keys")
    return meta


def _load_yaml(path: str, data: bytes) -> Any:
    try:
        import yaml
    except ImportError:
        raise MetaError(
            f"{path} is YAML and PyYAML is not installed",
            hint="install the extra for CM repositories: pip install 'cmpy-automation[cm]'",
        ) from None
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    try:
        return yaml.load(data, Loader=loader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise MetaError(f"{path} is not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None


def unknown_keys(meta: dict[str, Any]) -> list[str]:
    """The keys of a meta the engine does not read, as dotted paths (``deps[2].force-cache``)."""
    out = [repr(k) if not _plain(k) else k for k in meta if k not in TOP_KEYS]
    for lists, where in ((meta, ""), *_variation_parts(meta)):
        for name in _DEP_LISTS:
            for n, dep in enumerate(lists.get(name) or []):
                if isinstance(dep, dict):
                    out += [f"{where}{name}[{n}].{_name(k)}" for k in dep if k not in DEP_KEYS]
    for vname, var in (meta.get("variations") or {}).items():
        if isinstance(var, dict):
            out += [f"variations.{vname}.{_name(k)}" for k in var if k not in VARIATION_KEYS]
    return out


def _variation_parts(meta: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    variations = meta.get("variations") or {}
    if not isinstance(variations, dict):
        return []
    return [(v, f"variations.{k}.") for k, v in variations.items() if isinstance(v, dict)]


def _plain(key: object) -> bool:
    return isinstance(key, str) and key.isascii() and key.strip() == key


def _name(key: object) -> str:
    return str(key) if _plain(key) else repr(key)
