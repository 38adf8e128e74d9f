"""Deps a body asks for while it runs (``ctx.run``): planned, recorded, checked again.

A body's ``ctx.run(query, **kwargs)`` is planned like a top-level request
(with the run's caller env and adr), its nodes join the executor's, and the
request is recorded in the body's cache entry with a digest of what it
returned, so that a later hit can ask again and compare (a cached entry is
stale when a dynamic dep now answers differently). Two guards: a body must
not ask, through any path, for itself (that would wait forever), and env it
hands down must be read by something below.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._errors import CmpyError, DependencyCycle, RecipeDefinitionError, UsageError
from ._model import env_value
from ._plan import Node, Plan, plan
from ._request import make_request

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

    from ._plan import Selector

__all__ = ["check_wait", "plan_request", "recorded_requests"]

# what a top-level run decides, not a body's request
_BANNED = ("jobs", "quiet", "refresh", "dry_run")
_OPTIONS = ("env", "adr", "version", "version_min", "version_max")


def plan_request(
    registry: Selector,
    parent: Node,
    query: str,
    inherited: dict[str, str],
    kwargs: dict[str, Any],
    *,
    caller_env: Mapping[str, str],
    caller_adr: Mapping[str, Mapping[str, Any]],
) -> tuple[Any, Plan]:
    """Plan one ``ctx.run`` request; returns its record and its plan.

    Raises:
        UsageError: an argument that belongs to the top-level run.
        RecipeDefinitionError: env handed down that nothing below reads.
        CmpyError: the request does not plan (with the chain down to it).
    """
    record = (query, tuple(sorted(inherited.items())), tuple(sorted(kwargs.items())))
    kwargs = dict(kwargs)
    options = {k: kwargs.pop(k) for k in _OPTIONS if k in kwargs}
    for banned in _BANNED:
        if banned in kwargs:
            raise UsageError(f"ctx.run does not take {banned!r}: it belongs to the top-level run")
    env = dict(caller_env)
    passed_env = {k: env_value(v) for k, v in dict(options.pop("env", None) or {}).items()}
    env.update(passed_env)
    adr = dict(caller_adr)
    adr.update(options.pop("adr", None) or {})
    try:
        request = make_request(
            registry, query, kwargs=kwargs, env=env, adr=adr, inherited=inherited, **options
        )
        sub = plan(registry, request, chain=parent.chain)
    except CmpyError as exc:
        raise exc.with_chain(parent.chain + (query,)) from None
    if passed_env:
        read = set().union(*(set(n.env) for n in sub.nodes.values()))
        unread = sorted(k for k in passed_env if k not in read)
        if unread:
            raise RecipeDefinitionError(
                parent.recipe.alias,
                f"ctx.run({query!r}, env=...) sets {', '.join(unread)}, which "
                f"{sub.nodes[sub.root].recipe.alias} never reads, nor does anything it "
                "depends on",
                hint="declare it in that recipe (an input, an env default or reads=[...]), "
                "or drop it from env=",
            ).with_chain(parent.chain)
    return record, sub


def check_wait(
    nodes: Mapping[str, Node], waits: dict[str, set[str]], parent: Node, query: str, root: str
) -> None:
    """Refuse a body's request that would wait, through any path, for that body itself;
    otherwise note that ``parent`` now waits for ``root``.

    Raises:
        DependencyCycle: naming the loop.
    """
    seen: set[str] = set()
    todo = [root]
    while todo:
        key = todo.pop()
        if key == parent.key:
            raise DependencyCycle([parent.label, query, parent.label]).with_chain(parent.chain)
        if key in seen:
            continue
        seen.add(key)
        node = nodes.get(key)
        if node is not None:
            todo += node.deps + node.post_deps
        todo += waits.get(key, ())
    waits.setdefault(parent.key, set()).add(root)


def recorded_requests(
    dynamic: tuple[tuple[Any, str], ...],
) -> list[tuple[str, dict[str, str], dict[str, Any], str]]:
    """The ``ctx.run`` requests a cache entry recorded: (query, inherited, kwargs, stamp)."""
    out = []
    for record, stamp in dynamic:
        query, inherited, kwargs = record
        out.append((query, dict(inherited), dict(kwargs), stamp))
    return out
