"""A CM script's deps, asked for one after another with ``ctx.run``.

For each entry of a dep list, in order: the ``adr`` addressed to its names
is applied, its conditions are checked against the env as it is now, its
tags are completed (``update_tags_from_env_with_prefix``,
``update_tags_from_env``, ``inherit_variation_tags``), the script's local
keys are put aside (``force_env_keys`` excepted) and the dep's own ``env``
added, and the dep is resolved: among the script's own repository first,
then anywhere, the lowest ``sort`` first. What it exports is merged into the
env (``+KEY`` lists joined) before the next one runs.
"""

from __future__ import annotations

import copy
import fnmatch
import json

from .._errors import CmpyError, RecipeNotFound
from .._query import parse_query
from .._table import origin as origin_of
from . import _env

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

    from .._ctx import Ctx
    from .._model import Recipe
    from ._runner import Script

__all__ = ["DepRunner"]


class DepRunner:
    """Runs the dep lists of one script run (see the module's documentation)."""

    def __init__(
        self, script: Script, ctx: Ctx | None, chosen: list[str], adr: dict[str, Any]
    ) -> None:
        self.script = script
        self.ctx = ctx
        self.chosen = chosen
        self.adr = adr
        self.updates: dict[str, Any] = {}

    def update(self, updates: dict[str, Any]) -> None:
        """CM's ``update_deps``: changes for the deps, by name, not run yet."""
        for name, change in (updates or {}).items():
            if isinstance(change, dict):
                self.updates.setdefault(str(name), {}).update(copy.deepcopy(change))

    def run_all(self, deps: list[Any], env: dict[str, Any], state: dict[str, Any]) -> None:
        for raw in deps:
            dep = self.prepared(raw, env)
            if dep is not None:
                self._run_one(dep, env, state)

    def prepared(self, raw: Any, env: dict[str, Any]) -> dict[str, Any] | None:
        """A dep entry with the ``adr`` and updates addressed to it; ``None`` when it is off."""
        from ._scriptplan import apply_adr

        if not isinstance(raw, dict) or not raw.get("tags"):
            return None
        dep = copy.deepcopy(raw)
        apply_adr(dep, self.adr)
        apply_adr(dep, self.updates)
        return dep if self._enabled(dep, env) else None

    def _enabled(self, dep: dict[str, Any], env: dict[str, Any]) -> bool:
        if "enable_if_env" in dep and not _env.condition_holds(env, dep["enable_if_env"]):
            return False
        if "enable_if_any_env" in dep and not _env.condition_holds(
            env, dep["enable_if_any_env"], any_=True
        ):
            return False
        if dep.get("skip_if_env") and _env.condition_holds(env, dep["skip_if_env"]):
            return False
        return not (
            dep.get("skip_if_any_env")
            and _env.condition_holds(env, dep["skip_if_any_env"], any_=True)
        )

    def tags_of(self, dep: dict[str, Any], env: dict[str, Any]) -> list[str]:
        tags = [t.strip() for t in str(dep["tags"]).split(",") if t.strip()]
        prefixed = dep.get("update_tags_from_env_with_prefix") or {}
        if isinstance(prefixed, dict):
            for prefix, keys in prefixed.items():
                for key in keys if isinstance(keys, list) else [keys]:
                    tags += [f"{prefix}{v}" for v in self._from_env(env, str(key), dep)]
        for key in dep.get("update_tags_from_env") or []:
            tags += self._from_env(env, str(key), dep)
        return [t for t in dict.fromkeys(tags) if t]

    def _from_env(self, env: dict[str, Any], key: str, dep: dict[str, Any]) -> list[str]:
        """The tags an env value adds to a dep (comma separated, as in CM).

        A value is data, never query syntax: one that would read as an
        exclusion (``-x``) or split into several words (a space) is refused.

        Raises:
            ScriptFailed: such a value, naming the key, the value and the dep.
        """
        value = _env.render(env.get(key, "")).strip()
        parts = [v.strip() for v in value.split(",") if v.strip()]
        for part in parts:
            if part.startswith("-") or any(c.isspace() for c in part):
                from ._customize import ScriptFailed

                raise ScriptFailed(
                    f"CM script {self.script.alias}: {key}={part!r} cannot become a tag of its "
                    f"dep {dep.get('tags')!r}: a tag taken from env has no spaces and no leading '-'",
                    hint=f"give {key} a value without spaces that does not start with '-'",
                )
        return parts

    def _run_one(self, dep: dict[str, Any], env: dict[str, Any], state: dict[str, Any]) -> None:
        from ._runner import local_keys

        script = self.script
        ctx = self.ctx
        assert ctx is not None, "a planning DepRunner runs nothing"
        tags = self.tags_of(dep, env)
        forced = [str(k) for k in dep.get("force_env_keys") or []]
        if dep.get("reuse_version"):  # the dep is asked for this script's version
            forced.append(script.prefix + "VERSION*")
        local = local_keys(script.prefix, script.meta)
        child = {
            k: v
            for k, v in env.items()
            if not any(fnmatch.fnmatchcase(k, p) for p in local)
            or any(fnmatch.fnmatchcase(k, f) for f in forced)
        }
        extra = copy.deepcopy(dep.get("env") or {})
        if isinstance(extra, dict):
            filled = {str(k): v for k, v in extra.items()}
            _env.substitute(filled, env)
            child.update(filled)
        adr = copy.deepcopy(self.adr)
        from ._scriptplan import merge_adr

        merge_adr(adr, dep.get("adr") or {})
        versions = {
            key: _env.render(dep[key]).strip()
            for key in ("version", "version_min", "version_max")
            if _env.render(dep.get(key, "")).strip()
        }
        if _env.render(dep.get("version_max_usable", "")).strip():
            child[script.prefix + "VERSION_MAX_USABLE"] = _env.render(
                dep["version_max_usable"]
            ).strip()
        query = self.query_of(dep, tags)
        rendered = {
            k: _env.render(v) if not k.startswith("+") else _plus_text(k, v)
            for k, v in child.items()
        }
        if adr:
            rendered["CMPY_ADR"] = json.dumps(adr, sort_keys=True)
        names = dep.get("names") or []
        names = [names] if isinstance(names, str) else [str(n) for n in names]
        saved = ctx.env
        ctx.env = rendered
        try:
            result = ctx.run_sync(query, **versions)
        except CmpyError as exc:
            if names and "\n" not in exc.message and "(dep " not in exc.message:
                exc.message = f"{exc.message} (dep {names[0]!r} of CM script {script.alias})"
            raise
        finally:
            ctx.env = saved
        for key, value in result.env.items():
            if key.startswith("+"):
                _env.merge_plus(env, key, value)
            else:
                env[key] = value
        _env.merge_dicts(state, result.state or {})

    def query_of(self, dep: dict[str, Any], tags: list[str]) -> str:
        """The query that names the dep: its own repository's match first, by CM's sort."""
        words = [t for t in tags if not t.startswith("_")]
        variations = [t for t in tags if t.startswith("_") or t.startswith("-_")]
        registry = getattr(self.script.loader, "registry", None)
        if registry is None:
            return " ".join(tags)
        try:
            query = parse_query(" ".join(words))
        except CmpyError:
            return " ".join(tags)
        found = registry.matches(query, everywhere=True)
        if not found:
            raise RecipeNotFound(" ".join(tags), [])
        own = [r for r in found if origin_of(r) == self.script.origin] or found
        own.sort(key=lambda r: (-r.priority, r.file))
        picked = _cached_first([r for r in own if r.priority == own[0].priority])
        inherit = []
        if dep.get("inherit_variation_tags"):
            skip = {str(g) for g in dep.get("skip_inherit_variation_groups") or []}
            parent = self.script.meta.get("variations") or {}
            for name in self.chosen:
                group = (_env.variation_meta(parent, name) or {}).get("group")
                if str(group) in skip:
                    continue
                if _knows(picked, name):
                    inherit.append("_" + name)
        label = f"{origin_of(picked)}:{picked.uid}"
        return " ".join([label, *dict.fromkeys(variations + inherit)])

    def access(self, request: dict[str, Any]) -> dict[str, Any]:
        """An ``automation.cmind.access`` request of the script, served by cmpy."""
        ctx = self.ctx
        assert ctx is not None, "a planning DepRunner runs nothing"
        action = str(request.get("action", ""))
        automation = str(request.get("automation", "")).partition(",")[0]
        if action == "run" and automation in ("script", ""):
            tags = str(request.get("tags", ""))
            env = {str(k): _env.render(v) for k, v in (request.get("env") or {}).items()}
            saved = ctx.env
            ctx.env = {**saved, **env}
            try:
                result = ctx.run_sync(
                    self.query_of({"tags": tags}, self.tags_of({"tags": tags}, {}))
                )
            except CmpyError as exc:
                return {"return": 1, "error": exc.message}
            finally:
                ctx.env = saved
            return {
                "return": 0,
                "new_env": dict(result.env),
                "env": dict(result.env),
                "new_state": dict(result.state),
                "state": dict(result.state),
                "version": result.version,
            }
        try:
            from .. import _access
        except ImportError:
            return {
                "return": 1,
                "error": f"the action {action!r} of {automation!r} is not supported",
            }
        return _access.access(request)


def _cached_first(tied: list[Recipe]) -> Recipe:
    """Of several equal matches, CM's choice: one with a cache entry, else the first."""
    if len(tied) > 1:
        from .._api import runtime

        cached = {entry.recipe for entry in runtime().cache}
        for recipe in tied:
            if recipe.alias in cached:
                return recipe
    return tied[0]


def _knows(recipe: Recipe, name: str) -> bool:
    from .._variations import canonical

    return canonical(recipe, name) is not None


def _plus_text(key: str, value: Any) -> str:
    _name, sep = _env.plus_separator(key)
    items = value if isinstance(value, list) else [value]
    return sep.join(_env.render(v) for v in items if _env.render(v))
