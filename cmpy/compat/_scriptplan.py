"""What one script run will do, as its variations and version change its meta.

Each chosen variation (and the ``versions`` entry of the version asked
for) adds env (never over an input), default env, state, deps of every
list, ``new_env_keys`` / ``new_state_keys``, ``adr`` / ``add_deps_recursive``
for every dep below, ``ad`` / ``add_deps`` for this script's own deps, and
may name another run script or default version.
"""

from __future__ import annotations

import copy

from . import _env

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ScriptPlan", "apply_adr", "merge_adr"]


class ScriptPlan:
    """What a script will do, as its variations and version change it."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.lists = {
            name: list(copy.deepcopy(meta.get(name) or []))
            for name in ("predeps", "deps", "prehook_deps", "posthook_deps", "post_deps")
        }
        self.new_env_keys = [str(k) for k in meta.get("new_env_keys") or []]
        self.new_state_keys = [str(k) for k in meta.get("new_state_keys") or []]
        self.script_name = _script_name(meta.get("script_name"))
        self.default_version = str(meta.get("default_version") or "")

    def apply(
        self,
        vmeta: dict[str, Any],
        env: dict[str, Any],
        state: dict[str, Any],
        inputs: dict[str, Any],
        adr: dict[str, Any],
    ) -> None:
        for key, value in (vmeta.get("env") or {}).items():
            if str(key) not in inputs:
                env[str(key)] = value
        for key, value in (vmeta.get("default_env") or {}).items():
            env.setdefault(str(key), value)
        _env.merge_dicts(state, vmeta.get("state") or {})
        for name in self.lists:
            self.lists[name] += copy.deepcopy(vmeta.get(name) or [])
        self.new_env_keys += [str(k) for k in vmeta.get("new_env_keys") or []]
        self.new_state_keys += [str(k) for k in vmeta.get("new_state_keys") or []]
        for key in ("add_deps_recursive", "adr"):
            merge_adr(adr, vmeta.get(key) or {})
        for key in ("add_deps", "ad"):
            direct = vmeta.get(key) or {}
            if isinstance(direct, dict):
                for deplist in self.lists.values():
                    for dep in deplist:
                        if isinstance(dep, dict):
                            apply_adr(dep, direct)
        if vmeta.get("script_name"):
            self.script_name = _script_name(vmeta["script_name"])
        if vmeta.get("default_version"):
            self.default_version = str(vmeta["default_version"])


def merge_adr(into: dict[str, Any], more: Any) -> None:
    if not isinstance(more, dict):
        return
    for name, update in more.items():
        if not isinstance(update, dict):
            continue
        have = into.setdefault(str(name), {})
        for key, value in update.items():
            if key == "tags" and have.get("tags"):
                have["tags"] = f"{have['tags']},{value}"
            else:
                have[key] = copy.deepcopy(value)


def apply_adr(dep: dict[str, Any], adr: dict[str, Any]) -> None:
    """Apply the ``adr`` updates addressed to one of ``dep``'s names, in place."""
    names = dep.get("names") or []
    names = [names] if isinstance(names, str) else names
    for name in names:
        update = adr.get(str(name))
        if not isinstance(update, dict):
            continue
        for key, value in update.items():
            if key == "tags":
                dep["tags"] = f"{dep.get('tags', '')},{value}".strip(",")
            else:
                dep[key] = copy.deepcopy(value)


def _script_name(value: object) -> str:
    """A run script's name: a file of the script's folder, never a path out of it.

    Raises:
        ScriptFailed: a name with a folder in it (``../x``, ``/bin/sh``).
    """
    name = str(value or "")
    if name and (name in (".", "..") or "/" in name or "\\" in name or "\0" in name):
        from ._customize import ScriptFailed

        raise ScriptFailed(
            f"script_name {name!r} is not the name of a run script in the script's folder",
            hint="a script_name names a file beside the meta, such as run-nvidia (for run-nvidia.sh)",
        )
    return name
