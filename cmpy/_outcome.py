"""What a node's evaluation produces: a body's return made a Result, and a cache Entry.

A body returns ``None``, a dict of env, or ``Result(env=, state=, version=)``;
:func:`unpack` reads any of them, :func:`exported` keeps what the recipe's
``exports`` patterns let out, :func:`new_entry` records it for the cache with
what it was made from, and :func:`from_entry` turns a cache hit back into a
Result.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ._cache import Entry, artifact_stamp
from ._errors import CmpyError
from ._model import Recipe, env_value
from ._plan import Node
from ._redact import redact_env
from ._result import Result

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Asked", "exported", "from_entry", "inherited", "new_entry", "satisfies", "unpack"]


class Asked:
    """The deps a body asked for with ``ctx.run`` while it ran, in order."""

    __slots__ = ("records", "results")

    def __init__(self) -> None:
        self.records: list[tuple[Any, str, str]] = []
        self.results: list[Result] = []

    def add(self, record: Any, key: str, digest: str, result: Result) -> Result:
        self.records.append((record, key, digest))
        self.results.append(result)
        return result

    def stamps(self) -> tuple[tuple[Any, str], ...]:
        """What a cache entry keeps of them: each request with ``key:digest``."""
        return tuple((record, f"{key}:{digest}") for record, key, digest in self.records)


def satisfies(version: str | None, spec: str) -> bool:
    """Whether a version fits a PEP 440 specifier (no specifier: anything fits)."""
    if not spec:
        return True
    if version is None:
        return False
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version) in SpecifierSet(spec, prereleases=True)
    except InvalidVersion:
        return False


def unpack(returned: Any, recipe: str) -> tuple[dict[str, str], dict[str, Any], str | None]:
    """A body's return as (env, state, version).

    Raises:
        CmpyError: the body returned something else.
    """
    if returned is None:
        return {}, {}, None
    if isinstance(returned, Mapping):
        return {str(k): env_value(v) for k, v in returned.items() if v is not None}, {}, None
    env = getattr(returned, "env", None)
    state = getattr(returned, "state", None)
    version = getattr(returned, "version", None)
    if env is None and state is None and version is None:
        raise CmpyError(
            f"recipe {recipe!r} returned {type(returned).__name__}",
            hint="a body returns None, a dict of env, or Result(env=..., state=..., version=...)",
        )
    return (
        {str(k): env_value(v) for k, v in dict(env or {}).items() if v is not None},
        dict(state or {}),
        None if version is None else str(version),
    )


def exported(recipe: Recipe, node_env: Mapping[str, str], env_out: dict[str, str]) -> dict[str, str]:
    """What a recipe hands back: all it returned, or (with ``exports``) the matching keys of
    what it returned and of its own input env."""
    if recipe.exports is None:
        return env_out
    import fnmatch

    pool = dict(node_env)
    pool.update(env_out)
    return {k: v for k, v in pool.items() if any(fnmatch.fnmatchcase(k, p) for p in recipe.exports)}


def inherited(key: str, value: Any, deps: Sequence[Result | None]) -> bool:
    """Whether a state item is a dep's own (passed through, not the body's)."""
    return any(dep is not None and key in dep.state and dep.state[key] is value for dep in deps)


def _artifacts(env: Mapping[str, str]) -> tuple[tuple[str, int, int], ...]:
    found = set()
    for value in env.values():
        if value.startswith(os.sep) and "\n" not in value and len(value) < 4096:
            stamp = artifact_stamp(value)
            if stamp is not None:
                found.add(stamp)
    return tuple(sorted(found))


def new_entry(
    node: Node,
    result: Result,
    *,
    folder: str,
    created: float,
    digest: str,
    dep_digests: tuple[tuple[str, str], ...],
    dynamic: tuple[tuple[Any, str], ...],
    environ: Mapping[str, str],
) -> Entry:
    """The cache record of a node's fresh result (files it exported stamped now)."""
    recipe = node.recipe
    return Entry(
        key=node.key,
        base_key=node.base_key,
        recipe=recipe.alias,
        uid=recipe.uid,
        tags=recipe.tags,
        variations=node.variations,
        spec=node.spec,
        version=result.version,
        env=result.env,
        state=result.state,
        folder=folder,
        created=created,
        duration=result.duration,
        dep_digests=dep_digests,
        dynamic=dynamic,
        artifacts=_artifacts(result.env),
        # shown by `cmpy cache show`: no password of a URL in it
        input_env=redact_env(node.env),
        digest=digest,
        process_env=tuple((n, environ.get(n)) for n in recipe.process_env),
    )


def from_entry(node: Node, entry: Entry, deps: Sequence[Result | None]) -> Result:
    """A cache hit as the Result the node would have produced."""
    return Result(
        env=dict(entry.env),
        state=dict(entry.state),
        version=entry.version,
        path=entry.folder,
        cached=True,
        recipe=node.recipe.alias,
        variations=node.variations,
        deps=tuple(r for r in deps if r is not None),
        duration=0.0,
        key=node.key,
    )
