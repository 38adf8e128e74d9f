"""What a script's ``customize.py`` meets: its import, the engine behind ``automation``, no stdin.

``customize.py`` is imported by path under a private name (never as a
recipe module), with the ``cmind`` / ``mlc`` / ``utils`` shims importable
while it imports and runs. ``sys.stdin`` is replaced while a hook runs: an
``input()`` gets end of file, and the error says which script asked.
``os_info`` is CM's description of the host.
"""

from __future__ import annotations

import copy
import os
import sys

from .._errors import CmpyError

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType
    from typing import Any

    from .._ctx import Ctx
    from ._deps import DepRunner
    from ._runner import Script

__all__ = ["Asked", "Host", "NoInput", "ScriptFailed", "import_customize", "make_i", "os_info"]


class ScriptFailed(CmpyError):
    """A CM script's hook or run script reported an error."""


class Host:
    """What the ``automation`` object asks of the engine (see ``_automation.Host``)."""

    def __init__(self, script: Script, ctx: Ctx, deps: DepRunner, work: str) -> None:
        self._script = script
        self._ctx = ctx
        self._deps = deps
        self._work = work
        self.script_path = script.folder
        self.meta = script.meta
        self.flavour = script.flavour
        self.prefix = script.prefix
        self.repo_path = script.repo_path

    def run_native(
        self, script_name: str, env: dict[str, str], *, cwd: str | None = None
    ) -> dict[str, Any]:
        try:
            self._script.run_native(self._ctx, script_name, env, cwd or os.getcwd())
        except ScriptFailed as exc:
            return {"return": 2, "error": exc.message}
        return {"return": 0}

    def call_customize(
        self, hook: str, env: dict[str, str], state: dict[str, Any]
    ) -> dict[str, Any]:
        module = self._script.customize()
        function = getattr(module, hook, None) if module is not None else None
        if function is None:
            return {"return": 0}
        i = self._script.make_i(self._ctx, dict(env), state, [], self._work, self._deps)
        try:
            return self._script.call(function, i, hook, os.getcwd(), quiet=self._ctx.quiet)
        except ScriptFailed as exc:
            return {"return": 1, "error": exc.message}

    def access(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._deps.access(request)

    def update_deps(self, updates: dict[str, Any]) -> None:
        self._deps.update(updates)

    def say(self, text: str) -> None:
        self._ctx.log(text)


class Asked(Exception):
    pass


class NoInput:
    """``sys.stdin`` while customize.py runs: reading it is end of file, and noted."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def readline(self, *_args: Any) -> str:
        raise Asked("input() is not available")

    read = readline

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError("no stdin for CM scripts")


def import_customize(path: str, script: Script, paths: Sequence[Any] = ()) -> ModuleType:
    import importlib.util

    from .._hash import digest
    from ._utils import shim_imports

    name = f"cmpy_cm_customize_{digest(path, 6)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ScriptFailed(f"CM script {script.alias}: {path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    saved = list(sys.path)
    try:
        with shim_imports():
            sys.path[:0] = [script.folder, *(str(p) for p in paths if p)]
            spec.loader.exec_module(module)
    except CmpyError:
        raise
    except Exception as exc:
        raise ScriptFailed(
            f"CM script {script.alias}: its customize.py failed to import: {type(exc).__name__}: {exc}",
            hint="a module it imports may be missing: cmpy never pip-installs what customize.py imports",
        ) from exc
    finally:
        sys.path[:] = saved
    return module


_OS: dict[str, Any] = {}


def os_info() -> dict[str, Any]:
    """CM's ``os_info``: platform, flavour, bits, the env syntax of the shell."""
    if not _OS:
        uname = os.uname()
        system = uname.sysname.lower()
        flavor, version = system, ""
        try:
            with open("/etc/os-release", encoding="utf-8") as fh:
                rel = dict(line.rstrip("\n").split("=", 1) for line in fh if "=" in line)
            flavor = rel.get("ID", system).strip('"')
            version = rel.get("VERSION_ID", "").strip('"')
        except OSError:
            pass
        _OS.update(
            platform="windows"
            if system == "windows"
            else ("darwin" if system == "darwin" else "linux"),
            platform_flavor=flavor,
            platform_version=version,
            arch=uname.machine,
            bits="64" if sys.maxsize > 2**32 else "32",
            python_bits="64" if sys.maxsize > 2**32 else "32",
            env_separator=os.pathsep,
            env_var="${env_var}",
            set_env='export ${key}="${value}"',
            start_script=["#!/bin/bash", ""],
            script_ext="sh",
            file_ext="",
            run_local_bat_from_python="bash -c ./run.sh",
        )
    return dict(_OS)


def make_i(
    script: Script,
    ctx: Ctx,
    env: dict[str, Any],
    state: dict[str, Any],
    chosen: list[str],
    host: Host,
) -> dict[str, Any]:
    """The ``i`` dict CM hands a hook: env and state (changed in place), meta, input, automation, ..."""
    from ._automation import Automation

    info = os_info()
    return {
        "env": env,
        "state": state,
        "const": {},
        "const_state": {},
        "meta": copy.deepcopy(script.meta),  # a hook may change it: the next run must not see that
        "input": dict(ctx.inputs),
        "os_info": info,
        "automation": Automation(host),
        "artifact": None,
        "run_script_input": {
            "path": script.folder,
            "script_name": script.script_name,
            "env": env,
            "state": state,
            "run_state": {},
            "recursion_spaces": "  ",
            "os_info": info,
        },
        "recursion_spaces": "  ",
        "variation_tags": list(chosen),
        "script_tags": list(script.meta.get("tags") or []),
        "ad": {},
        "add_deps_recursive": {},
        "quiet": True,
        "silent": True,
        "verbose": False,
        "run_state": {},
    }
