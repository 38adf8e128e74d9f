"""What passes between the engine and a run script: the env file it sources, the files it writes.

The env reaches the script as a file of ``export KEY='value'`` lines, each
value quoted for the shell, so that ``$(...)``, backquotes and quotes in a
value arrive as text, never run. ``+KEY`` lists are prepended to the
current value of ``KEY``. The script hands results back in
``tmp-run-env.out`` (``KEY=VALUE`` lines) and ``tmp-run-state.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from . import _env

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "TMP_FILES",
    "flavoured",
    "has_commands",
    "plus_list",
    "quote",
    "read_back",
    "shell_exports",
]

TMP_FILES = ("tmp-run-env.out", "tmp-run-state.json", "tmp-ver.out", "tmp-run.sh", "tmp-run-env.sh")


def quote(text: str) -> str:
    """``text`` as one shell word that the shell takes literally (``shlex.quote``'s rule, without its import)."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


def shell_exports(env: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """The ``export`` lines that give a script ``env`` (``+KEY`` lists prepended to ``environ``'s)."""
    shell_env: dict[str, str] = {}
    for key in sorted(env):
        value = env[key]
        if key.startswith("+"):
            name, _sep = _env.plus_separator(key)
            current = shell_env.get(name) or environ.get(name, "")
            items = value if isinstance(value, list) else plus_list(key, value)
            shell_env[name] = _env.plus_join(key, items, current)
        elif _shell_name(key):
            shell_env[key] = _env.render(value)
    return [f"export {k}={quote(v)}" for k, v in shell_env.items() if _shell_name(k)]


def read_back(work: str, env: dict[str, Any], state: dict[str, Any]) -> None:
    """Merge what a run script wrote into ``tmp-run-env.out`` and ``tmp-run-state.json``."""
    try:
        with open(os.path.join(work, "tmp-run-env.out"), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, eq, value = line.rstrip("\n").partition("=")
                key = key.strip()
                if eq and key:
                    if key.startswith("+"):
                        _env.merge_plus(env, key, value)
                    else:
                        env[key] = value
    except OSError:
        pass
    try:
        with open(os.path.join(work, "tmp-run-state.json"), encoding="utf-8") as fh:
            got = json.load(fh)
        if isinstance(got, dict):
            _env.merge_dicts(state, got)
    except (OSError, ValueError):
        pass


def plus_list(key: str, value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    _name, sep = _env.plus_separator(key)
    return [v for v in _env.render(value).split(sep) if v]


def _shell_name(key: str) -> bool:
    """Whether bash takes ``key`` as a variable name: ASCII letters, digits and ``_``."""
    return (
        bool(key)
        and key.isascii()
        and (key[0].isalpha() or key[0] == "_")
        and all(c.isalnum() or c == "_" for c in key)
    )


def flavoured(base: str) -> str:
    """The most specific run script present: ``run-ubuntu-22.04-x86_64.sh`` ... ``run.sh``."""
    from ._customize import os_info

    info = os_info()
    flavour, version, arch = info["platform_flavor"], info["platform_version"], info["arch"]
    for suffix in (
        f"-{flavour}-{version}-{arch}",
        f"-{flavour}-{version}",
        f"-{flavour}-{arch}",
        f"-{flavour}",
        f"-{info['platform']}-{arch}",
        f"-{info['platform']}",
        "",
    ):
        candidate = f"{base}{suffix}.sh"
        if os.path.isfile(candidate):
            return candidate
    return base + ".sh"


def has_commands(script: str) -> bool:
    """Whether a shell script holds anything but blank lines and comments (its ``#!`` too)."""
    try:
        with open(script, encoding="utf-8", errors="replace") as fh:
            return any(line.strip() and not line.lstrip().startswith("#") for line in fh)
    except OSError:
        return True  # let bash say what is wrong with it
