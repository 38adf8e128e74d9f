"""The executor: evaluates a plan, from the cache where it can, concurrently where it must.

Each node is looked up in the cache first: a hit needs an intact entry whose
recorded dep digests equal what the deps export now (early cutoff: a
detector that re-ran with the same output keeps the entry). A miss runs the
body under the key's inter-process lock. Two evaluators share that logic:

- a synchronous one, used when nothing can run concurrently (every node a
  hit, or the nodes that must run form a chain): no event loop is started,
  which keeps the command line fast;
- an anyio one, which starts each node when its deps are done, runs
  independent nodes concurrently up to ``jobs``, and cancels the rest on
  the first failure, killing the process groups of running commands.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Mapping, Sequence

from ._cache import Cache, Entry, artifact_stamp
from ._ctx import Ctx
from ._errors import (
    CmpyError,
    CommandFailed,
    DependencyCycle,
    Interrupted,
    RecipeDefinitionError,
    RecipeFailed,
    ToolNotFound,
    UsageError,
    VersionConflict,
)
from ._model import env_value
from ._plan import Node, Plan, plan
from ._record import Record, field
from ._redact import redact_env
from ._registry import Registry
from ._report import Reporter
from ._request import make_request
from ._result import Result, export_digest

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

    import anyio

__all__ = ["Executor", "Options"]

_MISSING = "missing"
# how long a cancelled plain-def body, which runs in a worker thread, is given to
# notice ctx.cancelled and return (its commands are killed at once)
_STOP_GRACE = 5.0


class Options(Record):
    """How a run behaves, as the caller asked."""

    quiet: bool = False
    live: bool = False
    verbose: bool = False
    refresh: bool = False
    jobs: int = 0
    env: Mapping[str, str] = field(default_factory=dict)
    adr: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class _DepFailed(Exception):
    """A dep this node waited for failed elsewhere (the real error is reported there)."""


class _Dynamic(Record, frozen=False):
    """The deps a body asked for with ``ctx.run`` while it ran."""

    records: list[tuple[Any, str, str]] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)


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


def _unpack(returned: Any, recipe: str) -> tuple[dict[str, str], dict[str, Any], str | None]:
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


def _artifacts(env: Mapping[str, str]) -> tuple[tuple[str, int, int], ...]:
    found = set()
    for value in env.values():
        if value.startswith(os.sep) and "\n" not in value and len(value) < 4096:
            stamp = artifact_stamp(value)
            if stamp is not None:
                found.add(stamp)
    return tuple(sorted(found))


class Executor:
    """Evaluates one plan (and the deps its bodies ask for on the way)."""

    def __init__(
        self, registry: Registry, cache: Cache, the_plan: Plan, options: Options
    ) -> None:
        self.registry = registry
        self.cache = cache
        self.options = options
        self.nodes: dict[str, Node] = dict(the_plan.nodes)
        self.root = the_plan.root
        # which of the caller's adr the plan (and the sub-plans of ctx.run) took
        self.adr_used: set[str] = set(the_plan.adr_used)
        self.adr_env_unread: list[tuple[str, str]] = list(the_plan.adr_env_unread)
        self.results: dict[str, Result] = {}
        self.failures: dict[str, BaseException] = {}
        self.first_failure: BaseException | None = None
        self.digests: dict[str, str] = {}
        self.reporter = Reporter(quiet=options.quiet, verbose=options.verbose)
        self._events: dict[str, anyio.Event] = {}
        # what each running body asked for through ctx.run, to refuse waits in a loop
        self._waits: dict[str, set[str]] = {}
        # the labels of the bodies running now, and of those an interruption stopped
        self.running: dict[str, str] = {}
        self.stopped: list[str] = []
        # what bodies in worker threads said they stopped when they were cancelled
        self.said_stopped: list[Interrupted] = []
        self._limiter: anyio.CapacityLimiter | None = None

    # -- choosing how to run ----------------------------------------------

    def needs_concurrency(self) -> bool:
        """Whether two nodes that must run could run at the same time."""
        jobs = self.options.jobs or os.cpu_count() or 1
        if jobs <= 1:
            return False
        to_run = [k for k, n in self.nodes.items() if not self._likely_hit(n)]
        if len(to_run) <= 1:
            return False
        below: dict[str, set[str]] = {}

        def descendants(key: str) -> set[str]:
            if key not in below:
                found: set[str] = set()
                for child in self.nodes[key].deps:
                    found.add(child)
                    found |= descendants(child)
                below[key] = found
            return below[key]

        return any(a not in descendants(b) for a, b in itertools.pairwise(to_run))

    def _likely_hit(self, node: Node) -> bool:
        if not node.recipe.cache or self._refreshing(node):
            return False
        return self.cache.has_candidate(node.key, node.base_key)

    def _refreshing(self, node: Node) -> bool:
        return self.options.refresh and node.key == self.root

    # -- shared steps -------------------------------------------------------

    def _dep_results(self, node: Node) -> list[Result | None]:
        return [self.results.get(k) for k in node.deps]

    def _digest(self, key: str, result: Result | None) -> str:
        if result is None:
            return _MISSING
        digest = self.digests.get(key)
        if digest is None:
            digest = export_digest(result.env, result.state, result.version)
            self.digests[key] = digest
        return digest

    def _dep_digests(self, node: Node, deps: Sequence[Result | None]) -> tuple[tuple[str, str], ...]:
        return tuple((k, self._digest(k, r)) for k, r in zip(node.deps, deps))

    def _candidate(self, node: Node, deps: Sequence[Result | None]) -> Entry | None:
        """An intact entry whose static deps still export what they did (no dynamic check)."""
        if not node.recipe.cache or self._refreshing(node):
            return None
        wanted = self._dep_digests(node, deps)
        exact = self.cache.get(node.key)
        candidates = [exact] if exact is not None else []
        if node.spec:
            family = [e for e in self.cache.family(node.base_key) if e.key != node.key]
            family.sort(key=lambda e: -e.created)
            candidates += [e for e in family if satisfies(e.version, node.spec)]
        for entry in candidates:
            if entry.dep_digests == wanted and entry.intact():
                return entry
        return None

    def _from_entry(self, node: Node, entry: Entry, deps: Sequence[Result | None]) -> Result:
        self.reporter.cached(node.label, entry.env)
        if entry.digest:
            self.digests[node.key] = entry.digest
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

    def _make_ctx(
        self,
        node: Node,
        deps: Sequence[Result | None],
        folder: str | None,
        request: Callable[..., Any],
        request_sync: Callable[..., Result],
        *,
        dry_run: bool = False,
    ) -> Ctx:
        env = dict(node.env)
        state: dict[str, Any] = {}
        named: dict[str, Result] = {}
        for name, result in zip(node.dep_names, deps):
            if result is None:
                continue
            env.update(result.env)
            state.update(result.state)
            if name:
                named[name] = result
        inputs = {
            name: node.env[spec.env]
            for name, spec in node.recipe.inputs.items()
            if spec.env in node.env
        }
        return Ctx(
            recipe=node.recipe.alias,
            env=env,
            state=state,
            inputs=inputs,
            variations=node.variations,
            version_spec=node.spec,
            deps=named,
            quiet=self.options.quiet or dry_run,
            live=self.options.live and not dry_run,
            dry_run=dry_run,
            path=folder,
            make_path=lambda: self.cache.run_folder(node.recipe.alias),
            make_lock=lambda name: self.cache.lock("resource-" + _digest_name(name)),
            request=request,
            request_sync=request_sync,
        )

    def interrupted(self, exc: KeyboardInterrupt) -> Interrupted:
        """An interruption, said to have stopped the bodies that were running."""
        if not isinstance(exc, Interrupted):
            exc = Interrupted()
        if self.said_stopped and not exc.recipe:
            said = self.said_stopped[0]
            return Interrupted(
                said.what, note=said.note, signal_name=exc.signal_name, recipe=said.recipe
            )
        names = list(dict.fromkeys([*self.stopped, *self.running.values()]))
        if names:
            exc = exc.within(", ".join(names))
        return exc

    def _failed(self, node: Node, exc: BaseException, ctx: Ctx | None) -> CmpyError:
        if isinstance(exc, CommandFailed):
            return RecipeFailed(
                node.recipe.alias, node.chain, exc, output_tail=exc.output_tail, log=exc.log
            )
        if isinstance(exc, CmpyError):
            return exc.with_chain(node.chain)
        failed = RecipeFailed(node.recipe.alias, node.chain, exc)
        failed.__cause__ = exc
        return failed

    def _finish(
        self,
        node: Node,
        ctx: Ctx,
        returned: Any,
        started: float,
        folder: str | None,
        deps: Sequence[Result | None],
        dynamic: _Dynamic,
    ) -> Result:
        recipe = node.recipe
        env_out, state_out, version = _unpack(returned, recipe.alias)
        if recipe.exports is None:
            exported = env_out
        else:
            import fnmatch

            pool = dict(node.env)
            pool.update(env_out)
            exported = {
                k: v
                for k, v in pool.items()
                if any(fnmatch.fnmatchcase(k, p) for p in recipe.exports)
            }
        state = {k: v for k, v in ctx.state.items() if not _inherited(k, v, deps)}
        state.update(state_out)
        if node.spec and not satisfies(version, node.spec):
            raise VersionConflict(recipe.alias, version, node.spec, chain=node.chain)
        duration = time.perf_counter() - started
        path = folder if folder is not None else ctx._path
        result = Result(
            env=exported,
            state=state,
            version=version,
            path=path,
            cached=False,
            recipe=recipe.alias,
            variations=node.variations,
            deps=tuple(r for r in deps if r is not None) + tuple(dynamic.results),
            duration=duration,
            key=node.key,
        )
        if recipe.cache and folder is not None:
            digest = self._digest(node.key, result)
            self.cache.commit(
                Entry(
                    key=node.key,
                    base_key=node.base_key,
                    recipe=recipe.alias,
                    uid=recipe.uid,
                    tags=recipe.tags,
                    variations=node.variations,
                    spec=node.spec,
                    version=version,
                    env=exported,
                    state=state,
                    folder=str(folder),
                    created=time.time(),
                    duration=duration,
                    dep_digests=self._dep_digests(node, deps),
                    dynamic=tuple((rec, f"{key}:{digest}") for rec, key, digest in dynamic.records),
                    artifacts=_artifacts(exported),
                    # shown by `cmpy cache show`: no password of a URL in it
                    input_env=redact_env(node.env),
                    digest=digest,
                    process_env=tuple((n, os.environ.get(n)) for n in recipe.process_env),
                )
            )
        self.reporter.done(node.label, duration, exported)
        return result

    def _sub_plan(self, parent: Node, query: str, inherited: dict[str, str], kwargs: dict[str, Any]) -> tuple[Any, str]:
        record = (query, tuple(sorted(inherited.items())), tuple(sorted(kwargs.items())))
        kwargs = dict(kwargs)
        options = {k: kwargs.pop(k) for k in ("env", "adr", "version", "version_min", "version_max") if k in kwargs}
        for banned in ("jobs", "quiet", "refresh", "dry_run"):
            if banned in kwargs:
                raise UsageError(f"ctx.run does not take {banned!r}: it belongs to the top-level run")
        env = dict(self.options.env)
        passed_env = {k: env_value(v) for k, v in dict(options.pop("env", None) or {}).items()}
        env.update(passed_env)
        adr = dict(self.options.adr)
        adr.update(options.pop("adr", None) or {})
        try:
            request = make_request(
                self.registry, query, kwargs=kwargs, env=env, adr=adr, inherited=inherited, **options
            )
            sub = plan(self.registry, request, chain=parent.chain)
        except CmpyError as exc:
            raise exc.with_chain(parent.chain + (query,)) from None
        for key, node in sub.nodes.items():
            self.nodes.setdefault(key, node)
        self.adr_used |= sub.adr_used
        self.adr_env_unread += sub.adr_env_unread
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
        return record, sub.root

    def unread_notes(self) -> list[str]:
        """What the caller passed that no recipe of the run took, one line each."""
        notes: list[str] = []
        if not (self.options.env or self.options.adr or self.adr_env_unread):
            return notes
        read: set[str] = set().union(*(set(n.env) for n in self.nodes.values()))
        declare = (
            "a recipe sees only the env it declares (env defaults, inputs, variations, "
            "reads=); add reads=[{key!r}] to the recipe that should see it"
        )
        for key in sorted(k for k in self.options.env if k not in read):
            notes.append(
                f"the env {key} given to this run (--env.{key}=...) is read by no recipe "
                "of it: " + declare.format(key=key)
            )
        names = sorted({n for node in self.nodes.values() for n in node.dep_names if n})
        for name in sorted(n for n in self.options.adr if n not in self.adr_used):
            known = ", ".join(names) or "none"
            notes.append(
                f"--adr.{name}... names no dep of this run (the deps' names here: {known})"
            )
        for name, key in dict.fromkeys(self.adr_env_unread):
            notes.append(
                f"--adr.{name}.env.{key}=...: {key} is read by no recipe at or below the dep "
                f"{name!r}: " + declare.format(key=key)
            )
        return notes

    def _check_wait(self, parent: Node, query: str, root: str) -> None:
        """Refuse a body's request that would wait, through any path, for that body itself.

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
            node = self.nodes.get(key)
            if node is not None:
                todo += node.deps + node.post_deps
            todo += self._waits.get(key, ())
        self._waits.setdefault(parent.key, set()).add(root)

    def _record(self, dynamic: _Dynamic, record: Any, key: str) -> Result:
        result = self.results[key]
        dynamic.records.append((record, key, self._digest(key, result)))
        dynamic.results.append(result)
        return result

    def _dynamic_requests(self, entry: Entry) -> list[tuple[str, dict[str, str], dict[str, Any], str]]:
        out = []
        for record, stamp in entry.dynamic:
            query, inherited, kwargs = record
            out.append((query, dict(inherited), dict(kwargs), stamp))
        return out

    def _discard(self, node: Node, folder: str, exc: BaseException) -> None:
        """Remove a failed attempt's folder, keeping its log in a run folder for the user."""
        log = os.path.join(folder, "cmpy-run.log")
        if os.path.exists(log):
            kept = os.path.join(self.cache.run_folder(node.recipe.alias), "cmpy-run.log")
            os.replace(log, kept)
            for err in (exc, getattr(exc, "cause", None)):
                if isinstance(err, (CommandFailed, RecipeFailed)) and err.log == log:
                    err.log = kept
                    if err.hint:
                        err.hint = err.hint.replace(log, kept)
        _remove(folder)

    # -- synchronous evaluation ----------------------------------------------

    def run_sync(self) -> Result:
        """Evaluate the plan in this thread, without an event loop."""
        self.eval_sync(self.root)
        return self.results[self.root]

    def eval_sync(self, key: str) -> None:
        if key in self.results:
            return
        if key in self.failures:
            raise _DepFailed(key)
        node = self.nodes[key]
        try:
            for dep, optional in zip(node.deps, node.optional):
                try:
                    self.eval_sync(dep)
                except (ToolNotFound, VersionConflict):
                    if not optional:
                        raise
                    self.reporter.skipped(self.nodes[dep].label, "optional, not available")
            result = self._evaluate_sync(node)
            for post in node.post_deps:
                self.eval_sync(post)
            result.deps += tuple(self.results[p] for p in node.post_deps)
            self.results[key] = result
        except BaseException as exc:
            self.failures[key] = exc
            if self.first_failure is None and not isinstance(exc, _DepFailed):
                self.first_failure = exc
            raise

    def _dynamic_ok_sync(self, node: Node, entry: Entry) -> bool:
        for query, inherited, kwargs, stamp in self._dynamic_requests(entry):
            try:
                _record, key = self._sub_plan(node, query, inherited, kwargs)
                self.eval_sync(key)
            except CmpyError:
                return False
            if f"{key}:{self._digest(key, self.results[key])}" != stamp:
                return False
        return True

    def _evaluate_sync(self, node: Node) -> Result:
        deps = self._dep_results(node)
        entry = self._candidate(node, deps)
        if entry is not None and self._dynamic_ok_sync(node, entry):
            return self._from_entry(node, entry, deps)
        if not node.recipe.cache:
            return self._run_sync(node, deps, None)
        lock = self.cache.lock(node.key)
        if not lock.try_acquire():
            self.reporter.waiting(node.label)
            lock.acquire()
        try:
            entry = self._candidate(node, deps)
            if entry is not None and self._dynamic_ok_sync(node, entry):
                return self._from_entry(node, entry, deps)
            folder = self.cache.new_folder(node.key)
            try:
                return self._run_sync(node, deps, folder)
            except BaseException as exc:
                self._discard(node, folder, exc)
                raise
        finally:
            lock.release()

    def _in_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one coroutine function on a fresh event loop (from the synchronous evaluator)."""
        import anyio

        self._limiter = None
        self._events = {}
        return anyio.run(fn, *args)

    def _run_sync(self, node: Node, deps: Sequence[Result | None], folder: str | None) -> Result:
        if node.recipe.is_async:
            result: Result = self._in_loop(self._run_async, node, deps, folder)
            return result
        dynamic = _Dynamic()

        def request_sync(query: str, inherited: dict[str, str], kwargs: dict[str, Any]) -> Result:
            record, key = self._sub_plan(node, query, inherited, kwargs)
            self._check_wait(node, query, key)
            self.eval_sync(key)
            return self._record(dynamic, record, key)

        async def request(query: str, inherited: dict[str, str], kwargs: dict[str, Any]) -> Result:
            raise CmpyError("await ctx.run(...) is for async bodies; a plain def body calls ctx.run_sync(...)")

        ctx = self._make_ctx(node, deps, folder, request, request_sync)
        body = self.registry.body(node.recipe)
        self.reporter.start(node.label)
        started = time.perf_counter()
        self.running[node.key] = node.label
        try:
            returned = body(ctx)
            return self._finish(node, ctx, returned, started, folder, deps, dynamic)
        except BaseException as exc:
            ctx.kill()
            if not isinstance(exc, Exception):
                self.stopped.append(node.label)
            self.reporter.failed(node.label, time.perf_counter() - started)
            if isinstance(exc, Exception):
                raise self._failed(node, exc, ctx) from (None if isinstance(exc, CmpyError) else exc)
            if isinstance(exc, KeyboardInterrupt):
                raise _interrupted(exc, node) from None
            raise
        finally:
            self.running.pop(node.key, None)

    # -- concurrent evaluation ------------------------------------------------

    async def run_async(self) -> Result:
        """Evaluate the plan on the running anyio event loop."""
        try:
            await self.eval_async(self.root)
        except BaseException as exc:
            raise self._unwrap(exc) from None
        return self.results[self.root]

    def _unwrap(self, exc: BaseException) -> BaseException:
        if self.first_failure is not None:
            return self.first_failure
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        return exc

    async def eval_async(self, key: str) -> None:
        import anyio

        if key in self.results:
            return
        event = self._events.get(key)
        if event is not None:
            await event.wait()
            if key not in self.results:
                raise _DepFailed(key)
            return
        event = self._events[key] = anyio.Event()
        node = self.nodes[key]
        try:
            await self._eval_many(node.deps, node)
            result = await self._evaluate_async(node)
            await self._eval_many(node.post_deps, None)
            result.deps += tuple(self.results[p] for p in node.post_deps)
            self.results[key] = result
        except BaseException as exc:
            self.failures[key] = exc
            if self.first_failure is None and not isinstance(
                exc, (_DepFailed, anyio.get_cancelled_exc_class(), BaseExceptionGroup)
            ):
                self.first_failure = exc
            raise
        finally:
            event.set()

    async def _eval_many(self, keys: Sequence[str], parent: Node | None) -> None:
        import anyio

        optional = dict(zip(parent.deps, parent.optional)) if parent is not None else {}

        async def one(key: str) -> None:
            try:
                await self.eval_async(key)
            except (ToolNotFound, VersionConflict):
                if not optional.get(key):
                    raise
                self.reporter.skipped(self.nodes[key].label, "optional, not available")

        pending = [k for k in keys if k not in self.results]
        if len(pending) == 1:
            await one(pending[0])
        elif pending:
            async with anyio.create_task_group() as group:
                for key in pending:
                    group.start_soon(one, key)

    async def _dynamic_ok_async(self, node: Node, entry: Entry) -> bool:
        for query, inherited, kwargs, stamp in self._dynamic_requests(entry):
            try:
                _record, key = self._sub_plan(node, query, inherited, kwargs)
                await self.eval_async(key)
            except CmpyError:
                return False
            if f"{key}:{self._digest(key, self.results[key])}" != stamp:
                return False
        return True

    async def _evaluate_async(self, node: Node) -> Result:
        deps = self._dep_results(node)
        entry = self._candidate(node, deps)
        if entry is not None and await self._dynamic_ok_async(node, entry):
            return self._from_entry(node, entry, deps)
        if not node.recipe.cache:
            return await self._run_async(node, deps, None)
        lock = self.cache.lock(node.key)
        if not lock.try_acquire():
            self.reporter.waiting(node.label)
            await lock.acquire_async()
        try:
            entry = self._candidate(node, deps)
            if entry is not None and await self._dynamic_ok_async(node, entry):
                return self._from_entry(node, entry, deps)
            folder = self.cache.new_folder(node.key)
            try:
                return await self._run_async(node, deps, folder)
            except BaseException as exc:
                self._discard(node, folder, exc)
                raise
        finally:
            lock.release()

    async def _run_async(self, node: Node, deps: Sequence[Result | None], folder: str | None) -> Result:
        import anyio
        import anyio.from_thread
        import anyio.to_thread

        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.options.jobs or os.cpu_count() or 1)
        limiter = self._limiter
        dynamic = _Dynamic()
        token = object()
        held = [False]

        async def request(query: str, inherited: dict[str, str], kwargs: dict[str, Any]) -> Result:
            record, key = self._sub_plan(node, query, inherited, kwargs)
            self._check_wait(node, query, key)
            # a body waiting for its dep must not hold a slot the dep needs
            limiter.release_on_behalf_of(token)
            held[0] = False
            try:
                await self.eval_async(key)
            finally:
                await limiter.acquire_on_behalf_of(token)
                held[0] = True
            return self._record(dynamic, record, key)

        def request_sync(query: str, inherited: dict[str, str], kwargs: dict[str, Any]) -> Result:
            return anyio.from_thread.run(request, query, inherited, kwargs)

        ctx = self._make_ctx(node, deps, folder, request, request_sync)
        body = self.registry.body(node.recipe)
        await limiter.acquire_on_behalf_of(token)
        held[0] = True
        self.reporter.start(node.label)
        started = time.perf_counter()
        self.running[node.key] = node.label
        try:
            if node.recipe.is_async:
                returned = await body(ctx)
            else:
                returned = await _in_thread(
                    body, ctx, lambda said: self.said_stopped.append(said.within(node.label))
                )
            return self._finish(node, ctx, returned, started, folder, deps, dynamic)
        except BaseException as exc:
            ctx.kill()
            if not isinstance(exc, Exception):
                self.stopped.append(node.label)
            if not isinstance(exc, anyio.get_cancelled_exc_class()):
                self.reporter.failed(node.label, time.perf_counter() - started)
            if isinstance(exc, Exception) and not isinstance(exc, BaseExceptionGroup):
                raise self._failed(node, exc, ctx) from (None if isinstance(exc, CmpyError) else exc)
            if isinstance(exc, KeyboardInterrupt):
                raise _interrupted(exc, node) from None
            raise
        finally:
            self.running.pop(node.key, None)
            if held[0]:
                limiter.release_on_behalf_of(token)

    # -- dry run --------------------------------------------------------------

    def preview(self) -> Result:
        """The plan as a tree of results that say what would happen (runs nothing)."""
        built: dict[str, Result] = {}

        def visit(key: str) -> Result:
            if key in built:
                return built[key]
            node = self.nodes[key]
            children = tuple(visit(k) for k in node.deps + node.post_deps)
            entry = None
            if node.recipe.cache and not self._refreshing(node):
                entry = self.cache.get(node.key)
                if entry is not None and not entry.intact():
                    entry = None
                if entry is None and node.spec:
                    entry = next(
                        (
                            e
                            for e in self.cache.family(node.base_key)
                            if satisfies(e.version, node.spec) and e.intact()
                        ),
                        None,
                    )
            status = "cached" if entry is not None else ("run" if node.recipe.cache else "run (not cached)")
            if entry is None and node.recipe.dry_run_safe:
                previewed = self._preview_body(node, children, status)
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

        return visit(self.root)

    def _preview_body(self, node: Node, children: tuple[Result, ...], status: str) -> Result | None:
        """Run a ``dry_run_safe`` body under ``--dry-run``, if its deps' results are known."""
        deps = list(children[: len(node.deps)])
        if any(not (d.cached or d.state.get("previewed")) for d in deps):
            return None  # a dep that would run: its result, and so this one's, is unknown

        def request_sync(query: str, inherited: dict[str, str], kwargs: dict[str, Any]) -> Result:
            raise CmpyError(f"{node.recipe.alias} asked for {query!r} under --dry-run")

        async def request(query: str, inherited: dict[str, str], kwargs: dict[str, Any]) -> Result:
            return request_sync(query, inherited, kwargs)

        ctx = self._make_ctx(node, deps, None, request, request_sync, dry_run=True)
        body = self.registry.body(node.recipe)
        try:
            if node.recipe.is_async:
                import anyio

                returned = anyio.run(body, ctx)
            else:
                returned = body(ctx)
            env, state, version = _unpack(returned, node.recipe.alias)
        except Exception as exc:
            raise self._failed(node, exc, ctx) from (None if isinstance(exc, CmpyError) else exc)
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


async def _in_thread(
    body: Callable[[Ctx], Any], ctx: Ctx, on_stop: Callable[[Interrupted], None] | None = None
) -> Any:
    """Run a plain ``def`` body in a worker thread; when cancelled, give it time to stop.

    The body's commands are killed and ``ctx.cancelled`` turns true at once;
    the body then has :data:`_STOP_GRACE` seconds to return (a benchmark
    ending LoadGen's run, a training loop between epochs) before it is
    abandoned, so that what it cleans up on the way out is cleaned up.
    """
    import threading

    import anyio
    import anyio.to_thread

    finished = threading.Event()
    stopped: list[Interrupted] = []

    def call() -> Any:
        try:
            return body(ctx)
        except Interrupted as exc:
            stopped.append(exc)  # what the body says it stopped, for the message
            raise
        finally:
            finished.set()

    try:
        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        ctx.kill()
        with anyio.CancelScope(shield=True), anyio.move_on_after(_STOP_GRACE):
            while not finished.is_set():
                await anyio.sleep(0.02)
        if stopped and on_stop is not None:
            on_stop(stopped[0])
        raise


def _interrupted(exc: KeyboardInterrupt, node: Node) -> Interrupted:
    what = exc if isinstance(exc, Interrupted) else Interrupted()
    return what.within(node.label)


def _digest_name(name: str) -> str:
    from ._hash import digest

    return digest(name)


def _inherited(key: str, value: Any, deps: Sequence[Result | None]) -> bool:
    return any(dep is not None and key in dep.state and dep.state[key] is value for dep in deps)


def _remove(folder: str) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    parent = os.path.dirname(folder)
    try:
        os.rmdir(parent)  # only when no other entry shares it
    except OSError:
        pass
