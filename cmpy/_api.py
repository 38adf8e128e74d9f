"""The front door: ``run``, ``arun``, ``find`` and ``show``."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from ._errors import UsageError
from ._query import Query, parse_query
from ._runtime import RUNTIMES, Runtime

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._execute import Executor
    from ._plan import Plan
    from ._result import Result

__all__ = ["arun", "find", "nearest", "prepare", "run", "runtime", "show"]

# plans kept per registry (a long-lived process asking for many different things)
_MAX_PLANS = 64


def runtime(*, say: Callable[[str], None] | None = None) -> Runtime:
    """The runtime (registry, cache) of the current ``CMPY_HOME``, brought up to date.

    Raises:
        UsageError: ``CMPY_HOME`` cannot be used (a file, not writable).
    """
    return RUNTIMES.current(say=say)


def _in_event_loop() -> bool:
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and asyncio._get_running_loop() is not None:
        return True
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            return False
        return True
    return False


def prepare(
    query: str | Query,
    *,
    env: Mapping[str, Any] | None,
    adr: Mapping[str, Mapping[str, Any]] | None,
    version: str | None,
    version_min: str | None,
    version_max: str | None,
    jobs: int | None,
    quiet: bool,
    refresh: bool,
    verbose: bool,
    kwargs: Mapping[str, Any],
) -> tuple[Executor, Plan]:
    """Plan a request and make the executor for it (no recipe runs yet)."""
    # imported here: `cmpy find` and `cmpy show` need no planner and no executor
    from ._execute import Executor, Options
    from ._plan import plan
    from ._report import live_display
    from ._request import make_request

    if jobs is not None and jobs < 1:
        raise UsageError(f"jobs must be at least 1, not {jobs}")
    current = runtime(say=_verbose_say if verbose else None)
    registry = current.registry
    request = make_request(
        registry,
        query,
        kwargs=kwargs,
        env=env,
        adr=adr,
        version=version,
        version_min=version_min,
        version_max=version_max,
        # the interpreter running cmpy is part of every run's environment: a recipe
        # that reads CMPY_HOST_PYTHON keys its results on it
        inherited={"CMPY_HOST_PYTHON": sys.executable},
    )
    # the memo lives on the registry (it dies with it), keyed on the whole request
    plans = registry.plans
    signature = (registry.version, request.memo_key())
    the_plan = plans.get(signature)
    if the_plan is None:
        the_plan = plan(registry, request)
        if len(plans) >= _MAX_PLANS:
            plans.pop(next(iter(plans)))
        plans[signature] = the_plan
    options = Options(
        quiet=quiet,
        live=live_display(quiet),
        verbose=verbose,
        refresh=refresh,
        jobs=jobs or 0,
        env=request.env,
        adr=request.adr,
        host_python=sys.executable,
    )
    return Executor(registry, current.cache, the_plan, options), the_plan


def _verbose_say(text: str) -> None:
    sys.stderr.write(f"cmpy: {text}\n")


def run(
    query: str | Query,
    /,
    *,
    env: Mapping[str, Any] | None = None,
    adr: Mapping[str, Mapping[str, Any]] | None = None,
    version: str | None = None,
    version_min: str | None = None,
    version_max: str | None = None,
    jobs: int | None = None,
    quiet: bool = False,
    refresh: bool = False,
    dry_run: bool = False,
    verbose: bool = False,
    **kwargs: Any,
) -> Result:
    """Run the recipe a query selects, with its dependencies, from the cache where possible.

    Args:
        query: tags and ``_variations``, e.g. ``"get ml-model resnet50 _fp32"``.
        env: env for the run (the highest precedence, seen by every recipe that reads it).
        adr: overrides for named deps at any depth: ``{"python": {"version_min": "3.10"}}``.
        version, version_min, version_max: constraints on the version the recipe reports.
        jobs: how many recipes may run at once (default: the CPU count).
        quiet: keep progress and command output off the terminal.
        refresh: run the requested recipe again even when its result is cached.
        dry_run: plan only; the result tree says what is cached and what would run.
        verbose: also print the env each recipe exports.
        **kwargs: variations (``fp32=True``, ``batch_size=32``) and inputs of the recipe.

    Raises:
        QuerySyntaxError, RecipeNotFound, AmbiguousQuery, VariationError: the query.
        UsageError: an argument the recipe does not take.
        DependencyCycle: recipes that depend on each other.
        VersionConflict: a version that does not fit what was asked.
        RecipeFailed: a recipe body or command failed (with the chain of recipes).
        RuntimeError: called from inside a running event loop (use ``arun``).
    """
    if _in_event_loop():
        raise RuntimeError(
            "cmpy.run() was called inside a running event loop; use `await cmpy.arun(...)` there"
        )
    executor, _ = prepare(
        query,
        env=env,
        adr=adr,
        version=version,
        version_min=version_min,
        version_max=version_max,
        jobs=jobs,
        quiet=quiet,
        refresh=refresh,
        verbose=verbose,
        kwargs=kwargs,
    )
    if dry_run:
        from ._preview import preview

        result = preview(executor)
        _say_unread(executor)
        return result
    try:
        if not executor.needs_concurrency():
            result = executor.run_sync()
        else:
            import anyio

            result = anyio.run(executor.run_async)
    except KeyboardInterrupt as exc:
        # Ctrl-C or a signal: say which recipes it stopped (their commands are dead)
        raise executor.interrupted(exc) from None
    _say_unread(executor)
    return result


async def arun(
    query: str | Query,
    /,
    *,
    env: Mapping[str, Any] | None = None,
    adr: Mapping[str, Mapping[str, Any]] | None = None,
    version: str | None = None,
    version_min: str | None = None,
    version_max: str | None = None,
    jobs: int | None = None,
    quiet: bool = False,
    refresh: bool = False,
    dry_run: bool = False,
    verbose: bool = False,
    **kwargs: Any,
) -> Result:
    """:func:`run` as a coroutine, for code that already runs an event loop (anyio, asyncio, trio)."""
    executor, _ = prepare(
        query,
        env=env,
        adr=adr,
        version=version,
        version_min=version_min,
        version_max=version_max,
        jobs=jobs,
        quiet=quiet,
        refresh=refresh,
        verbose=verbose,
        kwargs=kwargs,
    )
    if dry_run:
        from ._preview import preview

        result = preview(executor)
    else:
        try:
            result = await executor.run_async()
        except KeyboardInterrupt as exc:
            raise executor.interrupted(exc) from None
    _say_unread(executor)
    return result


def _say_unread(executor: Executor) -> None:
    """Tell the caller, by name, what it passed that no recipe read (never dropped silently)."""
    for note in executor.unread_notes():
        sys.stderr.write(f"cmpy: warning: {note}\n")


def find(query: str | Query = "") -> list[dict[str, Any]]:
    """Describe every recipe a query selects (all recipes for an empty query).

    Each description holds the alias, uid, tags, variations (with groups and
    defaults), inputs, deps, exports and where the recipe is defined.

    Raises:
        QuerySyntaxError: a query that does not parse.
    """
    parsed = query if isinstance(query, Query) else parse_query(query)
    registry = runtime().registry
    found = registry.all() if parsed.is_empty else registry.matches(parsed)
    return [r.describe() for r in found]


def show(query: str | Query) -> dict[str, Any]:
    """Describe the one recipe a query (an alias, a uid, tags) selects.

    Raises:
        QuerySyntaxError, RecipeNotFound, AmbiguousQuery, VariationError: the query.
    """
    parsed = query if isinstance(query, Query) else parse_query(query)
    return runtime().registry.select(parsed).describe()


def nearest(query: str | Query) -> list[str]:
    """The aliases of the recipes nearest to a query that matches none, nearest first."""
    parsed = query if isinstance(query, Query) else parse_query(query)
    return runtime().registry.closest(parsed)
