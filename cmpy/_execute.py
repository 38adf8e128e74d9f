"""The executor: evaluates a plan, from the cache where it can, concurrently where it must.

How one node is evaluated is written once, as a generator (:meth:`Executor._steps`):
its deps, the cache lookup (a hit needs an intact entry whose recorded dep
digests equal what the deps export now, and whose ``ctx.run`` deps still
answer the same), the key's inter-process lock, the body, the post deps. It
yields what it needs done, and one of two drivers does it:

- the synchronous driver, in this thread, when nothing can run concurrently
  (every node a hit, or the nodes that must run form a chain of plain
  ``def`` bodies): no event loop starts, which keeps the command line fast;
- the anyio driver, which evaluates a node's deps concurrently up to ``jobs``,
  runs plain bodies in worker threads and cancels the rest on the first
  failure, killing the process groups of running commands.

A failure is recorded where it propagates, never before: a dep a parent
tolerates (optional, and not available) is no failure of the run, and the
same dep's error reaches every parent that needs it as that error.

(This module is longer than most on purpose: the evaluation of a node and
the two drivers that carry it out are one piece of logic, read together.
What a node produces is in :mod:`cmpy._outcome`, ``ctx.run`` planning in
:mod:`cmpy._dynamic`, ``--dry-run`` in :mod:`cmpy._preview`.)
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Generator, Mapping, Sequence

from ._cache import Cache, Entry, KeyLock
from ._ctx import Ctx
from ._errors import (
    CmpyError,
    CommandFailed,
    Interrupted,
    RecipeFailed,
    ToolNotFound,
    VersionConflict,
)
from ._outcome import Asked, exported, from_entry, inherited, new_entry, satisfies, unpack
from ._plan import Node, Plan
from ._record import Record, field
from ._registry import Registry
from ._report import Reporter
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
# what a parent may go on without when the dep is optional: "not here", "not that version"
_TOLERABLE = (ToolNotFound, VersionConflict)


class Options(Record):
    """How a run behaves, as the caller asked."""

    quiet: bool = False
    live: bool = False
    verbose: bool = False
    refresh: bool = False
    jobs: int = 0
    env: Mapping[str, str] = field(default_factory=dict)
    adr: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # the interpreter running cmpy, which every request inherits as CMPY_HOST_PYTHON
    host_python: str = ""


# -- what the evaluation of a node asks its driver to do ---------------------


class _Need:
    """Evaluate these nodes; those in ``optional`` may fail as not available.

    The driver answers with the tolerated failures, by key.
    """

    __slots__ = ("keys", "optional")

    def __init__(self, keys: tuple[str, ...], optional: frozenset[str] = frozenset()) -> None:
        self.keys = keys
        self.optional = optional


class _Lock:
    """Take a cache key's inter-process lock (saying so when it has to wait)."""

    __slots__ = ("label", "lock")

    def __init__(self, lock: KeyLock, label: str) -> None:
        self.lock = lock
        self.label = label


class _Body:
    """Run the node's body; the driver answers with its Result."""

    __slots__ = ("deps", "folder", "node")

    def __init__(self, node: Node, deps: tuple[Result | None, ...], folder: str | None) -> None:
        self.node = node
        self.deps = deps
        self.folder = folder


class _Stopped(Exception):
    """An interruption on its way through the event loop (asyncio stops a loop whose task
    raises KeyboardInterrupt, the caller's loop under ``arun`` too); turned back into the
    :class:`Interrupted` it carries where the run ends. Never leaves the executor."""

    def __init__(self, interrupted: Interrupted) -> None:
        super().__init__(str(interrupted))
        self.interrupted = interrupted


if TYPE_CHECKING:
    _Step = _Need | _Lock | _Body
    _Steps = Generator[_Step, Any, Result]


class Executor:
    """Evaluates one plan (and the deps its bodies ask for on the way)."""

    def __init__(self, registry: Registry, cache: Cache, the_plan: Plan, options: Options) -> None:
        self.registry = registry
        self.cache = cache
        self.options = options
        self.nodes: dict[str, Node] = dict(the_plan.nodes)
        self.root = the_plan.root
        # which of the caller's adr the plan (and the sub-plans of ctx.run) took
        self.adr_used: set[str] = set(the_plan.adr_used)
        self.adr_env_unread: list[tuple[str, str]] = list(the_plan.adr_env_unread)
        # each node evaluated so far: its Result, or the exception it ended with
        self.outcomes: dict[str, Result | BaseException] = {}
        self.results: dict[str, Result] = {}
        # the first failure that propagated (what the run raises)
        self.first_failure: BaseException | None = None
        self.digests: dict[str, str] = {}
        self.reporter = Reporter(quiet=options.quiet, verbose=options.verbose)
        # what each running body asked for through ctx.run, to refuse waits in a loop
        self._waits: dict[str, set[str]] = {}
        # the labels of the bodies running now, and of those an interruption stopped
        self.running: dict[str, str] = {}
        self.stopped: list[str] = []
        # what bodies in worker threads said they stopped when they were cancelled
        self.said_stopped: list[Interrupted] = []
        self._events: dict[str, anyio.Event] = {}
        self._limiter: anyio.CapacityLimiter | None = None

    # -- choosing how to run ----------------------------------------------

    def needs_concurrency(self) -> bool:
        """Whether the event loop is needed: two nodes that must run could run at once,
        or a node that must run has an ``async def`` body."""
        to_run = [k for k, n in self.nodes.items() if not self._likely_hit(n)]
        if any(self.nodes[k].recipe.is_async for k in to_run):
            return True
        jobs = self.options.jobs or os.cpu_count() or 1
        if jobs <= 1 or len(to_run) <= 1:
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
        if not node.recipe.cache or self.refreshing(node):
            return False
        return self.cache.has_candidate(node.key, node.base_key)

    def refreshing(self, node: Node) -> bool:
        """Whether the run asked for this node to be made again (``--refresh``)."""
        return self.options.refresh and node.key == self.root

    # -- the evaluation of one node, written once ---------------------------

    def _steps(self, key: str) -> _Steps:
        node = self.nodes[key]
        skipped: dict[str, BaseException] = {}
        if node.deps:
            optional = frozenset(k for k, o in zip(node.deps, node.optional) if o)
            skipped = yield _Need(node.deps, optional)
        for dep in skipped:
            self.reporter.skipped(self.nodes[dep].label, "optional, not available")
        deps = tuple(self.results.get(k) for k in node.deps)
        entry = self._candidate(node, deps)
        if entry is not None and (not entry.dynamic or (yield from self._still_answers(node, entry))):
            result = self._hit(node, entry, deps)
        else:
            result = yield from self._make(node, deps)
        if node.post_deps:
            yield _Need(node.post_deps)
            result.deps += tuple(self.results[p] for p in node.post_deps)
        return result

    def _make(self, node: Node, deps: tuple[Result | None, ...]) -> _Steps:
        """The result of a node that missed: its body run, under the key's lock if cached."""
        if not node.recipe.cache:
            result: Result = yield _Body(node, deps, None)
            return result
        lock = self.cache.lock(node.key)
        yield _Lock(lock, node.label)
        try:
            # another process may have made it while this one waited
            entry = self._candidate(node, deps)
            if entry is not None and (yield from self._still_answers(node, entry)):
                return self._hit(node, entry, deps)
            folder = self.cache.new_folder(node.key)
            try:
                result = yield _Body(node, deps, folder)
            except BaseException as exc:
                self._discard(node, folder, exc)
                raise
            return result
        finally:
            lock.release()

    def _still_answers(self, node: Node, entry: Entry) -> Generator[_Step, Any, bool]:
        """Whether the ``ctx.run`` deps a cached entry recorded still answer the same.

        Only staleness says no: a request that no longer plans (the recipes
        changed), a dep that is not available now (the body may decide
        otherwise), a dep that answers differently. Any other failure of a
        dep is the run's failure.
        """
        from . import _dynamic

        for query, inherited_env, kwargs, stamp in _dynamic.recorded_requests(entry.dynamic):
            try:
                _record, key = self._plan_request(node, query, inherited_env, kwargs)
            except CmpyError:
                return False
            gone = yield _Need((key,), frozenset({key}))
            if gone:
                return False
            if f"{key}:{self._digest(key, self.results[key])}" != stamp:
                return False
        return True

    # -- shared pieces ----------------------------------------------------------

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
        if not node.recipe.cache or self.refreshing(node):
            return None
        wanted = self._dep_digests(node, deps)
        exact = self.cache.get(node.key)
        candidates = [exact] if exact is not None else []
        if node.spec:
            family = [e for e in self.cache.family(node.base_key) if e.key != node.key]
            family.sort(key=lambda e: -e.created)
            candidates += [e for e in family if satisfies(e.version, node.spec)]
        for entry in candidates:
            if entry.dep_digests == wanted and entry.intact(os.environ):
                return entry
        return None

    def _hit(self, node: Node, entry: Entry, deps: Sequence[Result | None]) -> Result:
        self.reporter.cached(node.label, entry.env)
        if entry.digest:
            self.digests[node.key] = entry.digest
        return from_entry(node, entry, deps)

    def _tolerated(self, need: _Need, key: str, exc: BaseException) -> bool:
        return key in need.optional and isinstance(exc, _TOLERABLE)

    def _propagates(self, exc: BaseException) -> None:
        """A failure leaves a node for a parent that does not tolerate it: the run's, if first."""
        if self.first_failure is None and not _is_cancellation(exc):
            self.first_failure = exc

    def _plan_request(
        self, parent: Node, query: str, inherited_env: dict[str, str], kwargs: dict[str, Any]
    ) -> tuple[Any, str]:
        if self.options.host_python:
            inherited_env = {"CMPY_HOST_PYTHON": self.options.host_python, **inherited_env}
        from . import _dynamic

        record, sub = _dynamic.plan_request(
            self.registry,
            parent,
            query,
            inherited_env,
            kwargs,
            caller_env=self.options.env,
            caller_adr=self.options.adr,
        )
        for key, node in sub.nodes.items():
            self.nodes.setdefault(key, node)
        self.adr_used |= sub.adr_used
        self.adr_env_unread += sub.adr_env_unread
        return record, sub.root

    def _asked(self, asked: Asked, record: Any, key: str) -> Result:
        result = self.results[key]
        return asked.add(record, key, self._digest(key, result), result)

    def make_ctx(
        self,
        node: Node,
        deps: Sequence[Result | None],
        folder: str | None,
        request: Callable[..., Any],
        request_sync: Callable[..., Result],
        *,
        dry_run: bool = False,
    ) -> Ctx:
        """The context a node's body is handed: its env and its deps' exports, merged."""
        env = dict(node.env)
        state: dict[str, Any] = {}
        named: dict[str, Result] = {}
        for names, result in zip(node.dep_names, deps):
            if result is None:
                continue
            env.update(result.env)
            state.update(result.state)
            for name in names:
                named.setdefault(name, result)
        inputs = {
            name: node.env[spec.env] for name, spec in node.recipe.inputs.items() if spec.env in node.env
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

    def failed(self, node: Node, exc: Exception) -> CmpyError:
        """A body's exception as the run reports it (with the chain down to the node)."""
        if isinstance(exc, CommandFailed):
            return RecipeFailed(node.recipe.alias, node.chain, exc, output_tail=exc.output_tail, log=exc.log)
        if isinstance(exc, CmpyError):
            return exc.with_chain(node.chain)
        wrapped = RecipeFailed(node.recipe.alias, node.chain, exc)
        wrapped.__cause__ = exc
        return wrapped

    def _body_failed(self, node: Node, ctx: Ctx, exc: BaseException, started: float) -> BaseException:
        """What a body that raised ends with: its commands killed, the error said once."""
        ctx.kill()
        if not _is_cancellation(exc):
            self.reporter.failed(node.label, time.perf_counter() - started)
        if not isinstance(exc, Exception):
            self.stopped.append(node.label)
            if isinstance(exc, KeyboardInterrupt):
                stopped = exc if isinstance(exc, Interrupted) else Interrupted()
                return stopped.within(node.label)
            return exc
        if isinstance(exc, BaseExceptionGroup):
            return exc
        return self.failed(node, exc)

    def _finish(
        self,
        node: Node,
        ctx: Ctx,
        returned: Any,
        started: float,
        step: _Body,
        asked: Asked,
    ) -> Result:
        recipe = node.recipe
        env_out, state_out, version = unpack(returned, recipe.alias)
        state = {k: v for k, v in ctx.state.items() if not inherited(k, v, step.deps)}
        state.update(state_out)
        if node.spec and not satisfies(version, node.spec):
            raise VersionConflict(recipe.alias, version, node.spec, chain=node.chain)
        result = Result(
            env=exported(recipe, node.env, env_out),
            state=state,
            version=version,
            path=step.folder if step.folder is not None else ctx._path,
            cached=False,
            recipe=recipe.alias,
            variations=node.variations,
            deps=tuple(r for r in step.deps if r is not None) + tuple(asked.results),
            duration=time.perf_counter() - started,
            key=node.key,
        )
        if recipe.cache and step.folder is not None:
            entry = new_entry(
                node,
                result,
                folder=step.folder,
                created=time.time(),
                digest=self._digest(node.key, result),
                dep_digests=self._dep_digests(node, step.deps),
                dynamic=asked.stamps(),
                environ=os.environ,
            )
            self.cache.commit(entry)
        self.reporter.done(node.label, result.duration, result.env)
        return result

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
        self.cache.discard(folder)

    # -- the synchronous driver -------------------------------------------------

    def run_sync(self) -> Result:
        """Evaluate the plan in this thread, without an event loop."""
        try:
            return self._eval_sync(self.root)
        except BaseException as exc:
            raise self._answer(exc) from None

    def _eval_sync(self, key: str) -> Result:
        done = self.outcomes.get(key)
        if isinstance(done, BaseException):
            raise done
        if done is not None:
            return done
        steps = self._steps(key)
        try:
            result = self._drive_sync(steps)
        except BaseException as exc:
            self.outcomes[key] = exc
            raise
        self.outcomes[key] = self.results[key] = result
        return result

    def _drive_sync(self, steps: _Steps) -> Result:
        answer: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = steps.throw(error) if error is not None else steps.send(answer)
            except StopIteration as stop:
                result: Result = stop.value
                return result
            answer, error = None, None
            try:
                answer = self._do_sync(step)
            except BaseException as exc:
                error = exc

    def _do_sync(self, step: _Step) -> Any:
        if isinstance(step, _Need):
            tolerated: dict[str, BaseException] = {}
            for key in step.keys:
                try:
                    self._eval_sync(key)
                except BaseException as exc:
                    if not self._tolerated(step, key, exc):
                        self._propagates(exc)
                        raise
                    tolerated[key] = exc
            return tolerated
        if isinstance(step, _Lock):
            if not step.lock.try_acquire():
                self.reporter.waiting(step.label)
                step.lock.acquire()
            return None
        if step.node.recipe.is_async:
            try:
                return self._in_loop(self._body_async, step)
            except _Stopped as stopped:
                raise stopped.interrupted from None
        return self._body_sync(step)

    def _in_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one coroutine function on a fresh event loop (from the synchronous driver)."""
        import anyio

        self._limiter = None
        self._events = {}
        return anyio.run(fn, *args)

    def _body_sync(self, step: _Body) -> Result:
        node = step.node
        asked = Asked()

        def request_sync(query: str, inherited_env: dict[str, str], kwargs: dict[str, Any]) -> Result:
            record, key = self._plan_request(node, query, inherited_env, kwargs)
            from ._dynamic import check_wait

            check_wait(self.nodes, self._waits, node, query, key)
            self._eval_sync(key)
            return self._asked(asked, record, key)

        async def request(query: str, inherited_env: dict[str, str], kwargs: dict[str, Any]) -> Result:
            raise CmpyError("await ctx.run(...) is for async bodies; a plain def body calls ctx.run_sync(...)")

        ctx = self.make_ctx(node, step.deps, step.folder, request, request_sync)
        body = self.registry.body(node.recipe)
        self.reporter.start(node.label)
        started = time.perf_counter()
        self.running[node.key] = node.label
        try:
            returned = body(ctx)
            return self._finish(node, ctx, returned, started, step, asked)
        except BaseException as exc:
            raised = self._body_failed(node, ctx, exc, started)
            if raised is exc:
                raise
            raise raised from _cause(exc)
        finally:
            self.running.pop(node.key, None)

    # -- the anyio driver ---------------------------------------------------------

    async def run_async(self) -> Result:
        """Evaluate the plan on the running anyio event loop."""
        try:
            return await self._eval_async(self.root)
        except BaseException as exc:
            answer = self._answer(exc)
            if isinstance(answer, _Stopped):
                answer = answer.interrupted
            raise answer from None

    async def _eval_async(self, key: str) -> Result:
        import anyio

        done = self.outcomes.get(key)
        if done is None:
            event = self._events.get(key)
            if event is not None:
                await event.wait()
                done = self.outcomes.get(key)
                if done is None:
                    # its evaluation was cancelled, and so is this one: let the checkpoint say so
                    await anyio.sleep(0)
                    raise CmpyError(f"the evaluation of {self.nodes[key].label} was cancelled")
        if isinstance(done, BaseException):
            raise done
        if done is not None:
            return done
        event = self._events[key] = anyio.Event()
        try:
            result = await self._drive_async(self._steps(key))
        except BaseException as exc:
            if not _is_cancellation(exc):
                self.outcomes[key] = exc
            raise
        finally:
            event.set()
        self.outcomes[key] = self.results[key] = result
        return result

    async def _drive_async(self, steps: _Steps) -> Result:
        answer: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = steps.throw(error) if error is not None else steps.send(answer)
            except StopIteration as stop:
                result: Result = stop.value
                return result
            answer, error = None, None
            try:
                answer = await self._do_async(step)
            except BaseException as exc:
                error = exc

    async def _do_async(self, step: _Step) -> Any:
        import anyio

        if isinstance(step, _Need):
            tolerated: dict[str, BaseException] = {}

            async def one(key: str) -> None:
                try:
                    await self._eval_async(key)
                except BaseException as exc:
                    if _is_cancellation(exc) or not self._tolerated(step, key, exc):
                        self._propagates(exc)
                        raise
                    tolerated[key] = exc

            pending = [k for k in step.keys if k not in self.results]
            if len(pending) == 1:
                await one(pending[0])
            elif pending:
                async with anyio.create_task_group() as group:
                    for key in pending:
                        group.start_soon(one, key)
            return tolerated
        if isinstance(step, _Lock):
            if not step.lock.try_acquire():
                self.reporter.waiting(step.label)
                await step.lock.acquire_async()
            return None
        return await self._body_async(step)

    async def _body_async(self, step: _Body) -> Result:
        import anyio
        import anyio.from_thread

        node = step.node
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.options.jobs or os.cpu_count() or 1)
        limiter = self._limiter
        asked = Asked()
        token = object()
        held = [False]

        async def request(query: str, inherited_env: dict[str, str], kwargs: dict[str, Any]) -> Result:
            record, key = self._plan_request(node, query, inherited_env, kwargs)
            from ._dynamic import check_wait

            check_wait(self.nodes, self._waits, node, query, key)
            # a body waiting for its dep must not hold a slot the dep needs
            limiter.release_on_behalf_of(token)
            held[0] = False
            try:
                await self._eval_async(key)
            finally:
                await limiter.acquire_on_behalf_of(token)
                held[0] = True
            return self._asked(asked, record, key)

        def request_sync(query: str, inherited_env: dict[str, str], kwargs: dict[str, Any]) -> Result:
            return anyio.from_thread.run(request, query, inherited_env, kwargs)

        ctx = self.make_ctx(node, step.deps, step.folder, request, request_sync)
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
            return self._finish(node, ctx, returned, started, step, asked)
        except BaseException as exc:
            raised = self._body_failed(node, ctx, exc, started)
            if isinstance(raised, Interrupted):
                raise _Stopped(raised) from None
            if raised is exc:
                raise
            raise raised from _cause(exc)
        finally:
            self.running.pop(node.key, None)
            if held[0]:
                limiter.release_on_behalf_of(token)

    # -- what the run ends with ---------------------------------------------------

    def _answer(self, exc: BaseException) -> BaseException:
        """The one exception a failed run raises: its first failure, unwrapped."""
        if self.first_failure is not None and not isinstance(exc, KeyboardInterrupt):
            exc = self.first_failure
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        return exc

    def interrupted(self, exc: KeyboardInterrupt) -> Interrupted:
        """An interruption, said to have stopped the bodies that were running."""
        if not isinstance(exc, Interrupted):
            exc = Interrupted()
        if self.said_stopped and not exc.recipe:
            said = self.said_stopped[0]
            return Interrupted(said.what, note=said.note, signal_name=exc.signal_name, recipe=said.recipe)
        names = list(dict.fromkeys([*self.stopped, *self.running.values()]))
        if names:
            exc = exc.within(", ".join(names))
        return exc

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
        names = sorted({n for node in self.nodes.values() for ns in node.dep_names for n in ns})
        for name in sorted(n for n in self.options.adr if n not in self.adr_used):
            known = ", ".join(names) or "none"
            notes.append(f"--adr.{name}... names no dep of this run (the deps' names here: {known})")
        for name, key in dict.fromkeys(self.adr_env_unread):
            notes.append(
                f"--adr.{name}.env.{key}=...: {key} is read by no recipe at or below the dep "
                f"{name!r}: " + declare.format(key=key)
            )
        return notes


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
    # a body cancelled before a worker thread took it never starts (and is not waited for)
    gate = threading.Lock()
    began = [False]
    abandoned = [False]

    def call() -> Any:
        with gate:
            if abandoned[0]:
                return None
            began[0] = True
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
        with gate:
            abandoned[0] = True
            running = began[0]
        ctx.kill()
        if running:
            with anyio.CancelScope(shield=True), anyio.move_on_after(_STOP_GRACE):
                while not finished.is_set():
                    await anyio.sleep(0.02)
        if stopped and on_stop is not None:
            on_stop(stopped[0])
        raise


def _is_cancellation(exc: BaseException) -> bool:
    """Whether an exception is an event loop's cancellation (asyncio's or trio's)."""
    import sys

    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and isinstance(exc, asyncio.CancelledError):
        return True
    trio = sys.modules.get("trio")
    return trio is not None and isinstance(exc, trio.Cancelled)


def _cause(exc: BaseException) -> BaseException | None:
    """What a wrapped body error keeps as its cause: the original, unless it is cmpy's own."""
    return None if isinstance(exc, CmpyError) or not isinstance(exc, Exception) else exc


def _digest_name(name: str) -> str:
    from ._hash import digest

    return digest(name)


