"""``adr``: overrides of named deps, from a variation or from the caller, at any depth.

CM's ``--adr.NAME.KEY=VALUE`` (``adr={"python": {"version_min": "3.10"}}``)
changes the dep named NAME wherever it is in the plan: its query (``tags``),
its version constraints, the env and inputs it is handed. A dep may have
several names (CM's ``names: [python, python3]``); an adr for any of them
applies, a variation's first and the caller's on top.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._errors import UsageError
from ._model import Dep, checked_spec, env_value
from ._query import Query, parse_query

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ADR_KEYS", "adr_json", "adr_name", "override"]

ADR_KEYS = frozenset({"tags", "query", "version", "version_min", "version_max", "env", "inputs"})
_NONE: frozenset[str] = frozenset()


def override(
    dep: Dep,
    adr: Mapping[str, Mapping[str, Any]],
    caller_adr: Mapping[str, Mapping[str, Any]],
    chain: tuple[str, ...],
) -> tuple[Query, str, dict[str, str], dict[str, str], frozenset[str]]:
    """Apply ``adr`` overrides (variations' first, the caller's on top) to a dep.

    Returns the query, the version specifier, the env and inputs passed, and
    which env keys came from an ``adr``.
    """
    query = dep.query
    version, vmin, vmax = dep.version, dep.version_min, dep.version_max
    env = dict(dep.env)
    inputs = dict(dep.inputs)
    from_adr: set[str] = set()
    # an adr for any of the dep's names applies: the variations' first, the caller's on top
    sources = [(n, a[n]) for a in (adr, caller_adr) for n in dep.names if a.get(n)]
    if sources:
        for handle, source in sources:
            unknown = set(source) - ADR_KEYS
            if unknown:
                raise UsageError(
                    f"adr for {handle!r} has unknown keys: {', '.join(sorted(unknown))}",
                    hint="adr keys are: " + ", ".join(sorted(ADR_KEYS)),
                ).with_chain(chain)
            words = source.get("tags") or source.get("query")
            if words:
                query = query.merged(parse_query(str(words)))
            if "version" in source:
                version, vmin, vmax = source["version"], None, None
            if "version_min" in source:
                vmin = source["version_min"]
            if "version_max" in source:
                vmax = source["version_max"]
            adr_env = {k: env_value(v) for k, v in dict(source.get("env") or {}).items()}
            env.update(adr_env)
            from_adr.update(adr_env)
            inputs.update({k: env_value(v) for k, v in dict(source.get("inputs") or {}).items()})
    if version is dep.version and vmin is dep.version_min and vmax is dep.version_max:
        spec = dep.spec  # checked when the recipe was defined
    else:
        try:
            spec = checked_spec(version, vmin, vmax, where=f"adr {adr_name(dep, caller_adr)}: ")
        except UsageError as exc:
            raise exc.with_chain(chain) from None
    return query, spec, env, inputs, frozenset(from_adr) if from_adr else _NONE


def adr_name(dep: Dep, adr_names: Mapping[str, object]) -> str:
    """The name of a dep that an adr used (its first name the adr knows, else its first)."""
    return next((n for n in dep.names if n in adr_names), dep.name or "")


def adr_json(inherited: str, *layers: Mapping[str, Mapping[str, Any]]) -> str:
    """The adr handed down as JSON: what came from above, then each layer on top."""
    import json

    try:
        merged = json.loads(inherited) if inherited else {}
    except ValueError:
        merged = {}
    if not isinstance(merged, dict):
        merged = {}
    for layer in layers:
        for name, changes in layer.items():
            have = merged.setdefault(str(name), {})
            if isinstance(have, dict):
                have.update({str(k): v for k, v in changes.items()})
    return json.dumps(merged, sort_keys=True, default=str)
