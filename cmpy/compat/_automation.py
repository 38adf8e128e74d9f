"""The ``automation`` object CM and MLCFlow hand to customize.py as ``i['automation']``.

In CM it is the script automation itself, and customize.py calls a dozen of
its methods: :meth:`Automation.find_artifact` (search PATH for a tool, in a
version that fits), :meth:`~Automation.parse_version`,
:meth:`~Automation.run_native_script`, :meth:`~Automation.update_deps`, the
``logger``, and ``cmind`` / ``action_object`` to call other actions. Each
method takes CM's input dict and answers CM's return dict.

Everything that reaches the engine goes through a :class:`Host` the runner
implements: a native script runs only through :meth:`Host.run_native` (which
exports env safely), another hook only through :meth:`Host.call_customize`,
any other action through :meth:`Host.access`. Values found here (file names,
versions) are only compared and stored, never run. Nothing prompts: where CM
asked which of several fitting tools to take, the first in search order is.

The module is longer than 400 lines because it is one object, CM's script
automation as customize.py sees it: half of it is :meth:`Automation.find_artifact`
(the search, the version checks, the PATH updates), which shares the host, the
env prefix and the logger with the other methods.
"""

from __future__ import annotations

import copy
import glob
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from . import _utils
from ._utils import Result, _fail, _version_fits

__all__ = ["ActionObject", "Automation", "Host"]

# versioned names CM accepts beside the plain one: python3.11, gcc-12, clang17 ...
_SUFFIXES = (
    "",
    ".[0-9]",
    ".[0-9][0-9]",
    "-[0-9]",
    "-[0-9][0-9]",
    "[0-9]",
    "[0-9][0-9]",
    "[0-9].[0-9]",
    "[0-9][0-9].[0-9]",
    "[0-9][0-9].[0-9][0-9]",
)


class Host(Protocol):
    """What the ``automation`` object needs from the engine running the script.

    Optional: an attribute ``environ`` (a mapping) is, when the host has it,
    the environment whose PATH-like variables :meth:`Automation.get_default_path_list`
    reads; without it that is ``os.environ``, as in CM.
    """

    script_path: str  # the script's folder
    meta: dict[str, Any]  # the script's parsed meta
    flavour: str  # "cm" or "mlc"
    prefix: str  # "CM_" or "MLC_"
    repo_path: str  # the repository root holding the script ("" for a lone folder)

    def run_native(
        self, script_name: str, env: dict[str, str], *, cwd: str | None = None
    ) -> dict[str, Any]:
        """Run ``<script_name>.sh`` (or the given file) from the script folder under
        bash with env exported; CM's return dict (2 when the script failed)."""
        ...

    def call_customize(self, hook: str, env: dict[str, str], state: dict[str, Any]) -> dict[str, Any]:
        """Call customize.py's ``hook`` with a full ``i`` built on env/state;
        ``{'return': 0}`` when it has none."""
        ...

    def access(self, request: dict[str, Any]) -> dict[str, Any]:
        """Serve a CM action dict (run/search/find script, find/rm cache, ...)."""
        ...

    def update_deps(self, updates: dict[str, Any]) -> None:
        """CM's update_deps: ``{dep name: {key: value}}`` for the deps not run yet."""
        ...

    def say(self, text: str) -> None:
        """Show a line of the script's output."""
        ...


class _SayHandler(logging.Handler):
    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__()
        self._say = say

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.levelno >= logging.WARNING:
                text = f"{record.levelname}: {text}"
            self._say(text)
        except Exception:
            self.handleError(record)


def _script_logger(host: Host) -> logging.Logger:
    alias = str(host.meta.get("alias") or os.path.basename(host.script_path) or "script")
    # made directly, not by logging.getLogger: each run has its own, kept in no global table
    logger = logging.Logger(f"cmpy.compat.{alias}", logging.INFO)
    logger.addHandler(_SayHandler(host.say))
    return logger


# the actions of CM's `utils` automation that customize.py asks for through access()
_UTILS_ACTIONS: dict[str, Callable[[dict[str, Any]], Result]] = {
    "download_file": _utils.download_file,
    "unzip_file": _utils.unzip_file,
    "system": _utils.system,
    "compare_versions": _utils.compare_versions,
}


class ActionObject:
    """``automation.cmind`` (CM) and ``automation.action_object`` (MLCFlow).

    ``access`` serves the ``utils`` actions (download_file, unzip_file, system,
    compare_versions) itself and hands every other action to the host;
    ``logger`` is the script's logger; ``repos_path`` the folder holding its
    repository.
    """

    def __init__(self, host: Host, logger: logging.Logger) -> None:
        self._host = host
        self.logger = logger
        self.repos_path = os.path.dirname(host.repo_path) if host.repo_path else ""

    def access(self, request: Any) -> Result:
        """Run a CM action given as a dict; CM's return dict."""
        if not isinstance(request, Mapping):
            return _fail(f"access() takes an action dict, not {type(request).__name__}")
        automation = str(request.get("automation") or "")
        action = _UTILS_ACTIONS.get(str(request.get("action") or ""))
        if action is not None and automation.partition(",")[0] == "utils":
            return action(dict(request))
        return self._host.access(dict(request))


class Automation:
    """``i['automation']`` for one script's hooks; see the module docstring."""

    tmp_file_ver = "tmp-ver.out"

    def __init__(self, host: Host) -> None:
        self._host = host
        self.prefix = host.prefix
        self.logger = _script_logger(host)
        self.action_object = ActionObject(host, self.logger)
        self.cmind = self.action_object

    # -- finding tools --------------------------------------------------------------------

    def get_default_path_list(self, i: Mapping[str, Any]) -> list[str]:
        """The folders of the variable ``default_path_env_key`` (PATH,
        LD_LIBRARY_PATH ...) split at ``os_info['env_separator']``."""
        key = str(i.get("default_path_env_key") or "")
        if not key:
            return []
        environ = getattr(self._host, "environ", None)
        value = (os.environ if environ is None else environ).get(key, "")
        return [folder for folder in str(value).split(_separator(i)) if folder]

    def find_artifact(self, i: dict[str, Any]) -> Result:
        """Find the file ``file_name`` on the default path, as CM does.

        Searched: ``<PREFIX>TMP_PATH`` when set (folders that must exist), else
        ``<PREFIX>SEARCH_FOLDER_PATH`` and its subfolders, then the folders of
        ``default_path_env_key``; in each the name and its versioned forms
        (``python3.11``), each file once however many links reach it. With
        ``detect_version`` each candidate's version is asked for by running the
        script's run.sh (``env_path_key`` set to it, in a copy of env) and its
        customize ``detect_version``, and checked against ``version``,
        ``version_min``, ``version_max`` (of ``i``, else ``<PREFIX>VERSION``,
        ``..._MIN``, ``..._MAX`` of env). The first that fits is taken:
        ``env[env_path_key]`` is set to it and, when its folder is not on the
        default path already, put first in ``env['+' + default_path_env_key]``
        and ``extra_paths`` (``{"lib": "+LD_LIBRARY_PATH"}``) beside it added.

        :returns: ``found_path``, ``found_file_path``, ``found_file_name``,
            ``default_path_list``; 16 when nothing fits; 1 when a forced path
            is missing, or the version check itself failed.
        """
        env: dict[str, Any] = i["env"] if isinstance(i.get("env"), dict) else {}
        file_name = str(i.get("file_name") or "")
        spaces = str(i.get("recursion_spaces") or "")
        p = self.prefix
        forced = str(env.get(p + "TMP_PATH") or "")
        if forced and env.get(p + "TMP_PATH_IGNORE_NON_EXISTANT") != "yes":
            for folder in forced.split(_separator(i)):
                if folder.strip() and not os.path.isdir(folder):
                    return _fail(f"path {folder} doesn't exist")
        only_forced = bool(forced) and bool(i.get("force_given_path"))
        forced_file = str(env.get(p + "INPUT") or "").strip()
        if forced_file:
            if not os.path.isfile(forced_file):
                return _fail(f"file {forced_file} doesn't exist")
            file_name, forced = os.path.basename(forced_file), os.path.dirname(forced_file)
        if not file_name:
            return _fail("find_artifact: no file_name given")
        defaults = [] if only_forced else self.get_default_path_list(i)
        priority = [] if only_forced else _walk(str(env.get(p + "SEARCH_FOLDER_PATH") or ""), env, p)
        if forced:
            self.logger.info(f"{spaces}    # Requested paths: {forced}")
            folders = forced.split(_separator(i)) + priority
        else:
            folders = priority + defaults
        found = self._candidates(folders, file_name, i.get("hook"))
        if isinstance(found, dict):
            return found
        seen: list[str] = []
        if i.get("detect_version") and found:
            fitting = self._fitting(found, i, env, seen)
            if isinstance(fitting, dict):
                return fitting
            found = fitting
        if not found:
            error = f"{file_name} not found"
            if seen:
                error += f" in a version that fits {_wanted(*self._constraints(i, env))}: " + ", ".join(seen)
            return _fail(error, _utils.ERROR_FILE_NOT_FOUND)
        file_path = found[0]
        if len(found) > 1:
            self.logger.info(f"{spaces}  - More than 1 path found; taking the first: {file_path}")
        folder = os.path.dirname(file_path)
        if os.path.normpath(folder) not in {os.path.normpath(d) for d in defaults}:
            key = str(i.get("default_path_env_key") or "")
            if key:
                _add_path(env, "+" + key, folder, first=True)
            for sub, env_key in dict(i.get("extra_paths") or {}).items():
                extra = os.path.normpath(os.path.join(folder, "..", str(sub)))
                if os.path.exists(extra):
                    _add_path(env, str(env_key), extra, first=False)
        self.logger.info(f"{spaces}    # Found artifact in {file_path}")
        env_path_key = str(i.get("env_path_key") or "")
        if env_path_key:
            env[env_path_key] = file_path
        return {
            "return": 0,
            "found_path": folder,
            "found_file_path": file_path,
            "found_file_name": os.path.basename(file_path),
            "default_path_list": defaults,
        }

    def _candidates(self, folders: list[str], file_name: str, hook: Any) -> list[str] | Result:
        from .._detect import natural_key

        found: list[str] = []
        kept: set[tuple[int, int]] = set()
        for folder in dict.fromkeys(os.path.normpath(f) for f in folders if f.strip()):
            if not os.path.isdir(folder):
                continue
            # the folder and name are literal text, never glob patterns of their own
            base = os.path.join(glob.escape(folder), glob.escape(file_name))
            for suffix in _SUFFIXES:
                for path in sorted(glob.glob(base + suffix), key=natural_key):
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue  # a dangling link
                    if os.path.isdir(path) or (st.st_dev, st.st_ino) in kept:
                        continue
                    if hook is not None:
                        r = hook({"file": path})
                        if r.get("return", 0) > 0:
                            return dict(r)
                        if r.get("skip"):
                            continue
                    kept.add((st.st_dev, st.st_ino))
                    found.append(path)
        return found

    def _constraints(self, i: Mapping[str, Any], env: Mapping[str, Any]) -> tuple[str, str, str]:
        def get(key: str) -> str:
            return str(i.get(key) or env.get(self.prefix + key.upper()) or "")

        return get("version"), get("version_min"), get("version_max")

    def _fitting(
        self, candidates: list[str], i: Mapping[str, Any], env: dict[str, Any], seen: list[str]
    ) -> list[str] | Result:
        version, low, high = self._constraints(i, env)
        spaces = str(i.get("recursion_spaces") or "")
        if version or low or high:
            self.logger.info(f"{spaces}  - Searching for versions: {_wanted(version, low, high)}")
        script, state = self._run_input(i)
        env_path_key = str(i.get("env_path_key") or "")
        fitting = []
        for path in candidates:
            self.logger.info(f"{spaces}    * {path}")
            run_env = copy.deepcopy(env)
            if env_path_key:
                run_env[env_path_key] = path
            r = self._host.run_native(script, run_env)
            if r.get("return", 0) > 0:
                if r["return"] != 2:
                    return r
                seen.append(f"{path} (its version check failed)")
                continue
            r = self._host.call_customize("detect_version", run_env, copy.deepcopy(state))
            if r.get("return", 0) > 0:
                return r
            detected = r.get("version", "")
            if detected in ("", None, -1, "-1"):
                self.logger.info(f"{spaces}    SKIPPED: no version, or not usable")
                seen.append(f"{path} (no version)")
            elif _version_fits(str(detected), version, low, high):
                fitting.append(path)
            else:
                self.logger.info(f"{spaces}    SKIPPED due to version constraints ...")
                seen.append(f"{path} ({detected})")
        return fitting

    def _run_input(self, i: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ris = i.get("run_script_input")
        ris = ris if isinstance(ris, Mapping) else {}
        script = str(ris.get("script_name") or self._host.meta.get("script_name") or "run")
        state = ris.get("state")
        return script, state if isinstance(state, dict) else {}

    def detect_version_using_script(self, i: dict[str, Any]) -> Result:
        """Run the script's run.sh and customize ``detect_version`` on ``env`` (changed
        in place by what run.sh writes back): ``detected_version`` when one was
        found that fits the constraints (as for :meth:`find_artifact`), else 16."""
        env: dict[str, Any] = i["env"] if isinstance(i.get("env"), dict) else {}
        version, low, high = self._constraints(i, env)
        script, state = self._run_input(i)
        r = self._host.run_native(script, env)
        if r.get("return", 0) == 0:
            r = self._host.call_customize("detect_version", env, state)
            detected = r.get("version", "") if r.get("return", 0) == 0 else ""
            if detected not in ("", None, -1, "-1") and _version_fits(str(detected), version, low, high):
                return {"return": 0, "detected_version": str(detected)}
        return _fail("version was not detected", _utils.ERROR_FILE_NOT_FOUND)

    def parse_version(self, i: Mapping[str, Any]) -> Result:
        """Read a version with the regex ``match_text`` out of ``file_name`` (default
        ``tmp-ver.out`` in the current folder): group ``group_number`` (MLC: joined
        with ``group_number_extra`` by ``group_join_string``) is stored in
        ``which_env[env_key]`` and ``which_env['<PREFIX>DETECTED_VERSION']``.

        :returns: ``version`` and ``string`` (the file's text); 16 when the file
            is not there, 1 when the regex does not match (the error quotes the text).
        """
        match_text = str(i.get("match_text") or "")
        env_key = str(i.get("env_key") or "")
        which_env = i.get("which_env")
        if not match_text or not env_key or not isinstance(which_env, dict):
            return _fail("parse_version needs match_text, env_key and which_env (a dict)")
        file_name = str(i.get("file_name") or "") or self.tmp_file_ver
        r = _utils.load_txt(
            file_name, split=True, match_text=match_text, fail_if_no_match="version was not detected"
        )
        if r["return"]:
            text = str(r.get("string") or "").strip()
            if text:
                r["error"] += f" ({text[:300]})"
            return r
        match = r["match"]
        groups = match.lastindex or 0
        group = int(i.get("group_number", 0) or 0)
        version = match.group(group) if group <= groups else None
        if version is None:
            return _fail(
                "Invalid version detection group number. Version was not detected. "
                f"Last index of match = {groups}. Given group number = {group}"
            )
        extra = int(i.get("group_number_extra") or 0)
        if extra and extra <= groups and match.group(extra) is not None:
            version += str(i.get("group_join_string", "-")) + match.group(extra)
        which_env[env_key] = version
        which_env[self.prefix + "DETECTED_VERSION"] = version
        return {"return": 0, "version": version, "string": r["string"]}

    # -- running and changing the script ---------------------------------------------------

    def run_native_script(self, i: dict[str, Any]) -> Result:
        """Run the script's ``script_name`` (``install`` runs install.sh) with ``env``,
        which takes what the script writes back; with ``detect_version`` then call
        customize's ``detect_version``. The answer carries ``env_tmp``, a copy of env."""
        script = str(i.get("script_name") or "")
        if not script:
            return _fail("run_native_script: no script_name given")
        env: dict[str, Any] = i["env"] if isinstance(i.get("env"), dict) else {}
        r = dict(self._host.run_native(script, env))
        if r.get("return", 0) == 0 and i.get("detect_version"):
            r = dict(self._host.call_customize("detect_version", env, self._run_input(i)[1]))
        r["env_tmp"] = copy.deepcopy(env)
        return r

    def update_deps(self, i: Mapping[str, Any]) -> Result:
        """Change deps not run yet by name: ``update_deps`` maps a dep's name (of its
        ``names``) to the keys to set (``tags`` are added to). Served by the host,
        for whichever of the script's dep lists holds that name."""
        updates = i.get("update_deps")
        if not isinstance(updates, Mapping):
            return _fail("update_deps: 'update_deps' must map dependency names to the keys to change")
        self._host.update_deps(dict(updates))
        return {"return": 0}

    def clean_some_tmp_files(self, i: Mapping[str, Any]) -> Result:
        """Remove tmp-run.bat and tmp-state.json from ``<PREFIX>TMP_CURRENT_SCRIPT_WORK_PATH``."""
        env = i.get("env") or {}
        folder = str(env.get(self.prefix + "TMP_CURRENT_SCRIPT_WORK_PATH") or "")
        if folder and os.path.isdir(folder):
            for name in ("tmp-run.bat", "tmp-state.json"):
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    os.remove(path)
        return {"return": 0}

    def _available_variations(self, i: Mapping[str, Any]) -> Result:
        meta = i.get("meta") or self._host.meta
        known = " ".join(sorted("_" + str(v) for v in meta.get("variations") or {}))
        return _fail(
            f'python package variation is not defined in "{meta.get("alias", "")}". Available: {known}'
        )

    # -- files ------------------------------------------------------------------------------

    def find_file_deep(self, i: Mapping[str, Any]) -> Result:
        """The folders under ``paths`` (at any depth) that hold ``file_name``, kept
        only when one of ``restrict_paths`` is part of them: ``found_paths``."""
        file_name = str(i.get("file_name") or "")
        restrict = [str(r) for r in i.get("restrict_paths") or ()]
        found: list[str] = []
        for top in i.get("paths") or ():
            visited: set[tuple[int, int]] = set()
            for root, dirs, files in os.walk(str(top), followlinks=True):
                st = os.stat(root)
                if (st.st_dev, st.st_ino) in visited:
                    dirs[:] = []  # a link back up: seen already
                    continue
                visited.add((st.st_dev, st.st_ino))
                dirs.sort()
                if file_name in files:
                    found.append(root)
        if restrict:
            found = [p for p in found if any(r in p for r in restrict)]
        return {"return": 0, "found_paths": found}

    def find_file_back(self, i: Mapping[str, Any]) -> Result:
        """The nearest of ``path`` and the folders above it holding the file
        ``file_name``: ``found_path`` ('' when none does)."""
        path, file_name = str(i.get("path") or ""), str(i.get("file_name") or "")
        while path:
            if os.path.isfile(os.path.join(path, file_name)):
                return {"return": 0, "found_path": path}
            parent = os.path.dirname(path)
            path = "" if parent == path else parent
        return {"return": 0, "found_path": ""}


def _separator(i: Mapping[str, Any]) -> str:
    os_info = i.get("os_info")
    sep = os_info.get("env_separator") if isinstance(os_info, Mapping) else None
    return str(sep or os.pathsep)


def _walk(top: str, env: Mapping[str, Any], prefix: str) -> list[str]:
    """MLC's search folder and its subfolders, ``<PREFIX>TMP_FOLDER_MAX_DEPTH`` deep (4)."""
    if not top or not os.path.isdir(top):
        return []
    try:
        depth = int(env.get(prefix + "TMP_FOLDER_MAX_DEPTH") or 4)
    except ValueError:
        depth = 4
    folders = []
    for root, dirs, _files in os.walk(top):
        if root[len(top) :].count(os.sep) >= depth:
            dirs[:] = []
        dirs.sort()
        folders.append(root)
    return folders


def _add_path(env: dict[str, Any], key: str, folder: str, *, first: bool) -> None:
    paths = env.get(key)
    paths = [paths] if isinstance(paths, str) and paths else paths
    paths = list(paths) if isinstance(paths, list) else []
    if folder not in paths:
        paths.insert(0 if first else len(paths), folder)
    env[key] = paths


def _wanted(version: str, low: str, high: str) -> str:
    parts = [f"== {version}" * bool(version), f">= {low}" * bool(low), f"<= {high}" * bool(high)]
    return " ".join(p for p in parts if p) or "(any)"
