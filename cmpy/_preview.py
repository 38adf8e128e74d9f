"""``--dry-run``: the plan as a tree of results that say what would happen.

Each node is looked up in the cache (an intact entry, or one of its family
whose version fits); nothing runs, except the bodies of recipes declared
``dry_run_safe`` whose deps' results are known, which say what they would do.
"""

from __future__ import annotations

import os

from ._errors import CmpyError
from ._outcome import satisfies, unpack
from ._plan import Node
from ._result import Result

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

    from ._execute import Executor

__all__ = ["preview"]


def preview(executor: Executor) -> Result:
    """The plan of ``executor`` as a tree of dry-run results (runs nothing but safe bodies).

    Raises:
        CmpyError: a ``dry_run_safe`` body failed (with the chain down to it).
    """
    built: dict[str, Result] = {}
    cache = executor.cache

    def visit(key: str) -> Result:
        if key in built:
            return built[key]
        node = executor.nodes[key]
        children = tuple(visit(k) for k in node.deps + node.post_deps)
        entry = None
        if node.recipe.cache and not executor.refreshing(node):
            entry = cache.get(node.key)
            if entry is not None and not entry.intact(os.environ):
                entry = None
            if entry is None and node.spec:
                entry = next(
                    (
                        e
                        for e in cache.family(node.base_key)
                        if satisfies(e.version, node.spec) and e.intact(os.environ)
                    ),
                    None,
                )
        status = "cached" if entry is not None else ("run" if node.recipe.cache else "run (not cached)")
        if entry is None and node.recipe.dry_run_safe:
            previewed = _preview_body(executor, node, children, status)
            if previewed is not None:
                built[key] = previewed
                return previewed
        built[key] = Result(
            env=dict(entry.env) if entry else {},
            state={"plan": status},
            version=entry.version if entry else None,
            path=entry.folder if entry else None,
            cached=entry is not None,
            recipe=node.recipe.alias,
            variations=node.variations,
            deps=children,
            key=key,
            dry_run=True,
        )
        return built[key]

    return visit(executor.root)


def _preview_body(
    executor: Executor, node: Node, children: tuple[Result, ...], status: str
) -> Result | None:
    """Run a ``dry_run_safe`` body under ``--dry-run``, if its deps' results are known."""
    deps = list(children[: len(node.deps)])
    if any(not (d.cached or d.state.get("previewed")) for d in deps):
        return None  # a dep that would run: its result, and so this one's, is unknown

    def request_sync(query: str, inherited: dict[str, str], kwargs: dict[str, Any]) -> Result:
        raise CmpyError(f"{node.recipe.alias} asked for {query!r} under --dry-run")

    async def request(query: str, inherited: dict[str, str], kwargs: dict[str, Any]) -> Result:
        return request_sync(query, inherited, kwargs)

    ctx = executor.make_ctx(node, deps, None, request, request_sync, dry_run=True)
    body = executor.registry.body(node.recipe)
    try:
        if node.recipe.is_async:
            import anyio

            returned = anyio.run(body, ctx)
        else:
            returned = body(ctx)
        env, state, version = unpack(returned, node.recipe.alias)
    except Exception as exc:
        raise executor.failed(node, exc) from (None if isinstance(exc, CmpyError) else exc)
    if isinstance(returned, Result) and returned.deps:
        # what the body would ask for (a CM script's deps, which it decides as it goes)
        children = children + tuple(returned.deps)
    return Result(
        env=env,
        state={**state, "plan": status + ", previewed", "previewed": True, "said": list(ctx.said)},
        version=version,
        recipe=node.recipe.alias,
        variations=node.variations,
        deps=children,
        key=node.key,
        dry_run=True,
    )
