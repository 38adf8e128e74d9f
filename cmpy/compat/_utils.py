"""The ``utils`` functions CM and MLCFlow scripts call, and the shims that import them.

A customize.py imports its helpers as ``from cmind import utils`` (CM), ``from
mlc import utils`` (MLCFlow) or ``from utils import is_true`` (MLCFlow, where
``utils`` is the repository's own ``automation/utils.py``); neither cmind nor
mlcflow is installed. :func:`shim_imports` puts the folder :func:`shim_path`
names at the front of ``sys.path`` while a customize.py is imported and
called: its ``cmind``, ``mlc`` and ``utils`` modules re-export this one. On
exit they leave ``sys.modules`` and ``sys.path`` again, and whatever module of
those names was imported before is back.

Every function takes what the corpora's callers pass (keywords as both
engines name them, or an input dict where the engines take one) and answers
CM's return dict: ``{'return': 0, ...}``, or ``{'return': N, 'error': '...'}``
with N = 16 for a file that is not there. Nothing here prompts or reads stdin.

Chosen where cmind and mlcflow differ, or on purpose:

- ``load_txt`` of a missing file answers 16 with or without ``check_if_exists``
  (cmind raised); ``split`` gives ``splitlines()`` (as mlcflow); bytes that are
  not valid in the encoding are replaced rather than fatal.
- ``convert_env_to_dict`` splits each line at its first ``=`` only (cmind
  dropped what followed a second one).
- ``load_yaml`` uses PyYAML's safe loader, imported when first needed.
- ``run_system_cmd`` and the ``system`` action run a command string with
  ``shell=True``, as both engines do: the string is the script's own command,
  like a line of its run.sh, and is never built here from values. stdin is
  closed, so a command that would ask a question reads end-of-file.
- ``download_file`` goes through :func:`cmpy.tools.download` (resumed, retried,
  certificates always verified: ``verify`` is ignored); ``unzip_file`` through
  :func:`cmpy.tools.extract` (no member may land outside the folder, and the
  archive is refused whole), then moves the files into the folder without
  ever writing through a link that is already there.

This module is longer than 400 lines on purpose: the shims re-export it whole
as ``cmind.utils``, ``mlc.utils`` and ``utils``, so it is the one place that
holds every name a customize.py may import from any of them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, overload

__all__ = [
    "ERROR_FILE_NOT_FOUND",
    "check_if_none_false_no_off",
    "check_if_true_yes_on",
    "compare_versions",
    "convert_env_to_dict",
    "download_file",
    "gen_uid",
    "get_current_date_time",
    "get_new_uid",
    "is_false",
    "is_true",
    "load_json",
    "load_json_or_yaml",
    "load_txt",
    "load_yaml",
    "load_yaml_and_json",
    "logger",
    "merge_dicts",
    "run_system_cmd",
    "save_json",
    "save_txt",
    "save_yaml",
    "shim_imports",
    "shim_path",
    "system",
    "unzip_file",
]

Result = dict[str, Any]
Access = Callable[[Any], Result]

ERROR_FILE_NOT_FOUND = 16
_SHIMMED = ("cmind", "mlc", "utils")
_ACCESS: ContextVar[Access | None] = ContextVar("cmpy_compat_access", default=None)
_LOGGER: ContextVar[logging.Logger | None] = ContextVar("cmpy_compat_logger", default=None)


def _fail(error: str, code: int = 1, **extra: Any) -> Result:
    return {"return": code, "error": error, **extra}


# --- the shims ---------------------------------------------------------------------------


def shim_path() -> str:
    """The folder holding the ``cmind``, ``mlc`` and ``utils`` shim modules."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "shims")


def _shimmed(name: str) -> bool:
    return name.partition(".")[0] in _SHIMMED


@contextlib.contextmanager
def shim_imports(
    *, access: Access | None = None, logger: logging.Logger | None = None
) -> Iterator[str]:
    """Make ``cmind``, ``mlc`` and ``utils`` importable as cmpy's shims, for the block.

    :param access: what ``cmind.access(...)`` / ``mlc.access(...)`` call inside
        the block (the automation's ``action_object.access``); without it, what
        an enclosing block gave, else they answer an error.
    :param logger: where ``utils.logger`` (``from utils import logger``) sends
        its records inside the block; without it, an enclosing block's, else
        the logger ``cmpy.compat``.
    :returns: (as the ``with`` target) the shim folder.

    Modules of those names imported before are put aside on entry and put back
    on exit; the shims leave ``sys.modules`` and the folder leaves ``sys.path``.
    Blocks nest. ``sys.path`` and ``sys.modules`` are the process's: customize
    code is imported and called by one thread at a time.
    """
    folder = shim_path()
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if _shimmed(name)}
    sys.path.insert(0, folder)
    access_token = _ACCESS.set(_ACCESS.get() if access is None else access)
    logger_token = _LOGGER.set(_LOGGER.get() if logger is None else logger)
    try:
        yield folder
    finally:
        _LOGGER.reset(logger_token)
        _ACCESS.reset(access_token)
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
        for name in [name for name in sys.modules if _shimmed(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def module_access(request: Any) -> Result:
    """``cmind.access`` / ``mlc.access``: the action of the script being run."""
    target = _ACCESS.get()
    if target is None:
        return _fail("cmind.access and mlc.access work only while cmpy runs a script's hooks")
    return target(request)


class _ScriptLogger(logging.Logger):
    """``utils.logger``: each record goes to the logger of the script being run."""

    def handle(self, record: logging.LogRecord) -> None:
        target = _LOGGER.get() or logging.getLogger("cmpy.compat")
        if target.isEnabledFor(record.levelno):
            target.handle(record)


logger: logging.Logger = _ScriptLogger("cmpy.compat.utils", logging.DEBUG)


# --- files -------------------------------------------------------------------------------


def load_txt(
    file_name: str | os.PathLike[str],
    encoding: str = "utf8",
    remove_after_read: bool = False,
    check_if_exists: bool = False,
    split: bool = False,
    match_text: str | None = "",
    fail_if_no_match: str | None = "",
    debug: bool = False,
) -> Result:
    """Read a text file: ``string``; with ``split`` also ``list`` (its lines); with
    ``match_text`` also ``match`` (``re.search``'s match, or None).

    Answers 16 when the file is not there (``check_if_exists`` is accepted and
    always in effect), 1 with the text when ``fail_if_no_match`` is given and
    nothing matches. ``remove_after_read`` deletes the file once read.
    """
    path = os.fspath(file_name)
    if not os.path.isfile(path):
        return _fail(f"{path} was not found", ERROR_FILE_NOT_FOUND)
    try:
        with open(path, encoding=encoding, errors="replace") as f:
            text = f.read()
    except (OSError, LookupError) as e:
        return _fail(f"cannot read {path}: {e}")
    if remove_after_read:
        with contextlib.suppress(OSError):
            os.remove(path)
    result: Result = {"return": 0, "string": text}
    if split:
        result["list"] = text.splitlines()
    if match_text:
        try:
            match = re.search(match_text, text)
        except re.error as e:
            return _fail(f"invalid regular expression {match_text!r}: {e}")
        if match is None and fail_if_no_match:
            return _fail(fail_if_no_match, string=text)
        result["match"] = match
    return result


def save_txt(file_name: str | os.PathLike[str], string: str = "", encoding: str = "utf8") -> Result:
    """Write ``string`` to a file (``\\n`` line ends)."""
    try:
        with open(file_name, "w", encoding=encoding, newline="\n") as f:
            f.write(string)
    except (OSError, LookupError) as e:
        return _fail(f"cannot write {os.fspath(file_name)}: {e}")
    return {"return": 0}


def load_json(
    file_name: str | os.PathLike[str], check_if_exists: bool = False, encoding: str = "utf8"
) -> Result:
    """Read a JSON file: ``meta``; 16 when it is not there, 4 when it is not JSON."""
    r = load_txt(file_name, encoding=encoding)
    if r["return"]:
        return r
    try:
        return {"return": 0, "meta": json.loads(r["string"])}
    except ValueError as e:
        return _fail(f"detected problem in {os.fspath(file_name)}: {e}", 4)


def save_json(
    file_name: str | os.PathLike[str],
    meta: Any = None,
    indent: int | None = 2,
    sort_keys: bool = True,
    encoding: str = "utf8",
) -> Result:
    """Write ``meta`` as JSON (sorted keys, indent 2, as cmind writes it)."""
    try:
        text = json.dumps({} if meta is None else meta, indent=indent, sort_keys=sort_keys)
    except (TypeError, ValueError) as e:
        return _fail(f"cannot write {os.fspath(file_name)} as JSON: {e}")
    return save_txt(file_name, text + "\n", encoding)


def _yaml() -> Any:
    """PyYAML, imported when first needed; None when it is not installed."""
    import importlib

    try:
        return importlib.import_module("yaml")
    except ImportError:
        return None


def _no_yaml(path: str) -> Result:
    return _fail(
        f"{path} is YAML and PyYAML is not installed: "
        "pip install pyyaml (or the extra for CM repositories: pip install 'cmpy-automation[cm]')"
    )


def load_yaml(
    file_name: str | os.PathLike[str], check_if_exists: bool = False, encoding: str = "utf8"
) -> Result:
    """Read a YAML file: ``meta``; 16 when it is not there, 4 when it is not YAML."""
    path = os.fspath(file_name)
    r = load_txt(path, encoding=encoding)
    if r["return"]:
        return r
    yaml = _yaml()
    if yaml is None:
        return _no_yaml(path)
    try:
        return {"return": 0, "meta": yaml.safe_load(r["string"])}
    except yaml.YAMLError as e:
        return _fail(f"detected problem in {path}: {e}", 4)


def save_yaml(
    file_name: str | os.PathLike[str], meta: Any = None, sort_keys: bool = True, encoding: str = "utf8"
) -> Result:
    """Write ``meta`` as YAML."""
    path = os.fspath(file_name)
    yaml = _yaml()
    if yaml is None:
        return _no_yaml(path)
    text = yaml.safe_dump({} if meta is None else meta, sort_keys=sort_keys)
    return save_txt(path, text, encoding)


def load_json_or_yaml(
    file_name: str | os.PathLike[str], check_if_exists: bool = False, encoding: str = "utf8"
) -> Result:
    """Read a file as JSON when its name ends in ``.json``, else as YAML."""
    path = os.fspath(file_name)
    loader = load_json if path.endswith(".json") else load_yaml
    return loader(path, encoding=encoding)


def load_yaml_and_json(
    file_name_without_ext: str, check_if_exists: bool = False, encoding: str = "utf8"
) -> Result:
    """Read ``NAME.yaml`` and ``NAME.json``, the second's keys over the first's:
    ``meta``; 16 when neither is there."""
    meta: dict[str, Any] = {}
    found = False
    for ext, loader in ((".yaml", load_yaml), (".json", load_json)):
        r = loader(file_name_without_ext + ext, encoding=encoding)
        if r["return"] == ERROR_FILE_NOT_FOUND:
            continue
        if r["return"]:
            return r
        found = True
        if isinstance(r["meta"], dict):
            meta.update(r["meta"])
    if not found:
        return _fail(f"YAML and JSON file {file_name_without_ext} not found", ERROR_FILE_NOT_FOUND)
    return {"return": 0, "meta": meta}


# --- values ------------------------------------------------------------------------------


def gen_uid() -> Result:
    """A new CM uid: ``uid``, 16 hex digits."""
    import uuid

    return {"return": 0, "uid": uuid.uuid4().hex[:16]}


get_new_uid = gen_uid


def get_current_date_time(i: Mapping[str, Any] | None = None) -> Result:
    """Now: ``array`` (``date_year`` ... ``time_second``, numbers) and ``iso_datetime``;
    ``timezone`` (an IANA name such as ``Europe/Paris``) picks the zone."""
    import datetime

    tz: datetime.tzinfo | None = None
    tz_name = str((i or {}).get("timezone", "") or "").strip()
    if tz_name:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError) as e:
            return _fail(f"unknown timezone {tz_name!r}: {e}")
    now = datetime.datetime.now(tz)
    array = {
        "date_year": now.year,
        "date_month": now.month,
        "date_day": now.day,
        "time_hour": now.hour,
        "time_minute": now.minute,
        "time_second": now.second,
    }
    return {"return": 0, "array": array, "iso_datetime": now.isoformat()}


def merge_dicts(i: Mapping[str, Any], in_place: bool = True) -> Result:
    """Merge ``dict2`` into ``dict1`` key by key: ``dict1`` (also as ``merged``).

    Sub-dicts are merged, other values replaced; a list replaces the old one
    (as a new list), or with ``append_lists`` is appended to it, with
    ``append_unique`` only its items not there yet. ``ignore_keys`` (top level)
    are left alone. ``dict1`` is changed in place unless ``in_place`` is False.
    """
    import copy

    a = i.get("dict1")
    a = {} if a is None else a
    b = i.get("dict2") or {}
    if not in_place:
        a = copy.deepcopy(a)
    if a is not b and a != b:
        _merge(
            a,
            b,
            bool(i.get("append_lists")),
            bool(i.get("append_unique")),
            set(i.get("ignore_keys") or ()),
        )
    return {"return": 0, "dict1": a, "merged": a}


def _merge(
    a: dict[Any, Any], b: Mapping[Any, Any], append: bool, unique: bool, ignore: set[Any]
) -> None:
    for key, value in b.items():
        if key in ignore:
            continue
        old = a.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            _merge(old, value, append, unique, set())
        elif isinstance(value, list):
            items = list(old) if append and isinstance(old, list) else []
            for item in value:
                if not unique or item not in items:
                    items.append(item)
            a[key] = items
        else:
            a[key] = value


def convert_env_to_dict(s: str) -> Result:
    """``KEY=VALUE`` lines (as a run.sh writes to tmp-run-env.out) as ``dict``;
    blank lines skipped, key and value stripped, a line without ``=`` a key
    with the value ``''``."""
    env: dict[str, str] = {}
    for line in s.splitlines():
        line = line.strip()
        if line:
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return {"return": 0, "dict": env}


def is_true(val: Any) -> bool:
    """``1``, ``true``, ``on``, ``yes`` in any case (what MLCFlow's scripts test)."""
    return str(val).lower() in ("1", "true", "on", "yes")


def is_false(val: Any) -> bool:
    """``0``, ``false``, ``off``, ``no`` in any case."""
    return str(val).lower() in ("0", "false", "off", "no")


def check_if_true_yes_on(env: Mapping[str, Any], key: str) -> bool:
    """Whether ``env[key]`` is ``true``, ``yes`` or ``on`` (not ``1``, as in cmind)."""
    return str(env.get(key, "")).lower() in ("true", "yes", "on")


def check_if_none_false_no_off(env: Mapping[str, Any], key: str) -> bool:
    """Whether ``env[key]`` is ``none``, ``false``, ``no`` or ``off``."""
    return str(env.get(key, "")).lower() in ("none", "false", "no", "off")


def _version_parts(version: str) -> list[int]:
    # each dotted part counts by its leading digits ("1ubuntu" is 1, "rc1" is 0), as MLC does
    return [int(m.group()) if (m := re.match(r"\d+", part)) else 0 for part in version.split(".")]


def _compare_versions(v1: str, v2: str, *, minor_skip: bool = False) -> int:
    """-1, 0 or 1; with ``minor_skip`` only ``v2``'s parts count (``9.1`` equals ``9``)."""
    a, b = _version_parts(v1), _version_parts(v2)
    for index in range(len(b) if minor_skip else max(len(a), len(b))):
        x = a[index] if index < len(a) else 0
        y = b[index] if index < len(b) else 0
        if x != y:
            return 1 if x > y else -1
    return 0


def _version_fits(detected: str, version: str = "", low: str = "", high: str = "") -> bool:
    """Whether ``detected`` meets CM's ``version`` (the parts given), ``version_min``
    and ``version_max``; an empty constraint admits any."""
    if version and _compare_versions(detected, version, minor_skip=True) != 0:
        return False
    if low and _compare_versions(detected, low) < 0:
        return False
    return not (high and _compare_versions(detected, high) > 0)


@overload
def compare_versions(version1: Mapping[str, Any], version2: None = None) -> Result: ...
@overload
def compare_versions(version1: str, version2: str) -> int: ...
def compare_versions(version1: str | Mapping[str, Any], version2: str | None = None) -> int | Result:
    """Compare two versions by their dotted numbers: -1, 0 or 1 (cmind's form), or,
    given MLCFlow's input dict (``version1``, ``version2``,
    ``version_minor_skip_okay``), ``{'return': 0, 'comparison': ...}``."""
    if isinstance(version1, Mapping):
        i = version1
        skip = bool(i.get("version_minor_skip_okay"))
        comparison = _compare_versions(str(i["version1"]), str(i["version2"]), minor_skip=skip)
        return {"return": 0, "comparison": comparison}
    return _compare_versions(str(version1), str(version2))


# --- commands, downloads, archives -------------------------------------------------------


def _shell(cmd: str, cwd: str | None) -> tuple[int, str, str]:
    import subprocess

    # a script's own command line, run by the shell as both engines do (module docstring)
    done = subprocess.run(
        cmd, shell=True, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    return (
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


def run_system_cmd(i: Mapping[str, Any]) -> Result:
    """Run ``cmd`` (a shell command line) in ``path`` (default the current folder):
    ``output`` and ``error_output``, stripped; 1 when it exits non-zero."""
    cmd = str(i.get("cmd") or "")
    path = str(i.get("path") or ".")
    if not cmd:
        return _fail("No command provided to execute.")
    if not os.path.isdir(path):
        return _fail(f"Specified path does not exist: '{path}'")
    try:
        code, out, err = _shell(cmd, path)
    except OSError as e:
        return _fail(f"Unexpected error occurred: {e}")
    if code:
        return _fail(
            f"Command execution failed with error code {code}.",
            output=out.strip(),
            error_output=err.strip(),
        )
    return {"return": 0, "output": out.strip(), "error_output": err.strip()}


def system(i: Mapping[str, Any]) -> Result:
    """CM's ``system`` action: run ``cmd`` in ``path``: ``ret`` (its exit status),
    ``stdout``, ``stderr``, ``std`` (both), each stripped; ``stdout`` / ``stderr``
    name files to keep the output in as well."""
    cmd = str(i.get("cmd") or "")
    if not cmd:
        return _fail("cmd is empty")
    path = str(i.get("path") or "")
    try:
        code, out, err = _shell(cmd, path if path and os.path.isdir(path) else None)
    except OSError as e:
        return _fail(f"cannot run {cmd!r}: {e}")
    for key, text in (("stdout", out), ("stderr", err)):
        if i.get(key):
            r = save_txt(str(i[key]), text)
            if r["return"]:
                return r
    out, err = out.strip(), err.strip()
    std = "\n".join(part for part in (out, err) if part)
    return {"return": 0, "ret": code, "stdout": out, "stderr": err, "std": std}


def download_file(i: Mapping[str, Any]) -> Result:
    """Download ``url`` into ``path`` (default the current folder) as ``filename``
    (default the last part of the URL): ``filename``, ``path`` (the file) and ``size``.

    Fetched by :func:`cmpy.tools.download`: http(s), file URLs and local files,
    resumed and retried; certificates are always verified.
    """
    from urllib.parse import unquote, urlsplit

    from .._download import download
    from .._errors import CmpyError

    url = str(i.get("url") or "")
    if not url:
        return _fail("download_file: no url given")
    name = str(i.get("filename") or "") or os.path.basename(unquote(urlsplit(url).path))
    if name in ("", ".", ".."):
        return _fail(f"cannot tell a file name from {url}: give filename")
    dest = os.path.join(str(i.get("path") or "") or os.getcwd(), name)
    try:
        got = download(url, dest, progress=False, log=logger.info)
    except CmpyError as e:
        return _fail(str(e))
    return {"return": 0, "filename": name, "path": os.fspath(got.path), "size": got.size}


class _Conflict(Exception):
    pass


def unzip_file(i: Mapping[str, Any]) -> Result:
    """Extract the archive ``filename`` into ``path`` (default the current folder),
    dropping ``strip_folders`` leading folders of each member.

    Any archive :func:`cmpy.tools.extract` reads (zip, tar); an archive with a
    member that would land outside the folder, or past the size limits, is
    refused whole and nothing is written. Files already there are replaced;
    a link already there is replaced, never written through.
    """
    import shutil
    import tempfile

    from .._archive import extract
    from .._errors import CmpyError

    file_name = str(i.get("filename") or "")
    if not os.path.isfile(file_name):
        return _fail(f"file {file_name} not found", ERROR_FILE_NOT_FOUND)
    folder = str(i.get("path") or "") or os.getcwd()
    try:
        strip = int(i.get("strip_folders") or 0)
        os.makedirs(folder, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".cmpy-unzip-", dir=folder)
    except (ValueError, OSError) as e:
        return _fail(f"cannot extract {file_name} into {folder}: {e}")
    try:
        tree = extract(file_name, os.path.join(staging, "tree"), strip_components=strip, allow_empty=True)
        _move_tree(os.fspath(tree), folder)
    except CmpyError as e:
        return _fail(str(e))
    except (_Conflict, OSError) as e:
        return _fail(f"cannot extract {file_name} into {folder}: {e}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"return": 0}


def _plan_moves(src: str, dst: str, moves: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The renames that put the tree ``src`` into ``dst``; raises before any is made."""
    with os.scandir(src) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            target = os.path.join(dst, entry.name)
            here_is_dir = os.path.isdir(target) and not os.path.islink(target)
            if entry.is_dir(follow_symlinks=False):
                if here_is_dir:
                    _plan_moves(entry.path, target, moves)
                    continue
                if os.path.islink(target):
                    raise _Conflict(f"{target} is a link: the archive's folder is not written through it")
                if os.path.lexists(target):
                    raise _Conflict(f"{target} is a file and the archive has a folder there")
            elif here_is_dir:
                raise _Conflict(f"{target} is a folder and the archive has a file there")
            moves.append((entry.path, target))
    return moves


def _move_tree(src: str, dst: str) -> None:
    for old, new in _plan_moves(src, dst, []):
        # a rename replaces a file or a link itself, never what a link points to
        os.replace(old, new)
