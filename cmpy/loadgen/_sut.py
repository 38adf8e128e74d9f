"""The system under test: LoadGen's queries in, batches to a backend, responses out.

The hot path is built for LoadGen's speed, not Python's: ``ConstructFastSUT``
hands over plain lists of ids and indices (no per-sample ``QuerySample``
objects); empty responses are not built per sample but taken from a pool
each worker keeps, only their ids rewritten (a third of the cost of making
new ones); every batch is completed with one ``QuerySamplesComplete`` (never
one call per sample); and each output array stays referenced until that
call has returned, because LoadGen reads the response bytes through raw
addresses.

A plan capped to fit in memory (``_plan.py``) comes with a speed limit:
Offline workers then take a chunk only once the run is due for it, and the
inline scenarios wait after completing a query (so its latency is untouched)
until the next one is due, in bursts (see ``PACE_QUANTUM_S``). Without a
limit the hot path only tests for one.

The module is longer than most because its parts share one hot path: the
SUT's issue, batching, completion and pacing read the same counters under
one lock, and splitting them would put an attribute lookup or a call
across modules into the loop LoadGen's throughput depends on.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Any

from cmpy.loadgen._backends import BackendError
from cmpy.loadgen._optional import import_loadgen, import_numpy
from cmpy.loadgen._settings import Scenario

if TYPE_CHECKING:
    from collections.abc import Callable

    from cmpy.loadgen._backends import Backend
    from cmpy.loadgen._dataset import Dataset
    from cmpy.loadgen._stop import Interruptible

__all__ = ["HarnessSUT", "RunStats", "run_loadgen"]

# Offline arrives as one query of up to millions of samples; a worker takes
# it in chunks this size, which amortises QuerySamplesComplete's locking
# while keeping the response list small enough to stay in cache.
COMPLETE_CHUNK = 4096
# Server queries arrive one at a time. A worker woken for each one spends
# its time handing the GIL back and forth with LoadGen's issue thread; one
# that waits this long first takes a batch of them for the same cost (the
# "max queue delay" of dynamic batching). 100 us is 1% of a 10 ms bound and
# took the null backend from about 175 k to 300 k VALID queries/s.
SERVER_BATCH_WINDOW_S = 100e-6
# A speed limit lets the run go at full speed until it is this far ahead of
# its schedule, then sleeps it back onto it. Sleeping after every query
# instead would hand each one a cold start (the digits model's SingleStream
# p50 went from 14 to 24 us), where bursts leave one cold query in hundreds.
PACE_QUANTUM_S = 0.02


@dataclass(frozen=True, slots=True)
class RunStats:
    """What the harness saw during one LoadGen run."""

    samples: int
    queries: int
    first_issue: float | None
    last_complete: float | None
    wall_s: float
    output_dtype: str | None
    output_row_shape: tuple[int, ...] | None
    held_back_s: float = 0.0

    @property
    def busy_s(self) -> float | None:
        """Seconds from the first query issued to the last sample completed."""
        if self.first_issue is None or self.last_complete is None:
            return None
        return max(self.last_complete - self.first_issue, 1e-9)


class HarnessSUT:
    """Hands LoadGen's queries to a backend and completes them in batches.

    SingleStream and MultiStream run inline (LoadGen has one query out at a
    time); Server and Offline go through ``threads`` workers, which for
    Server coalesce queued queries up to ``max_batchsize`` and for Offline
    take the one big query in chunks.

    ``max_rate`` (samples/s for Offline, queries/s for SingleStream and
    MultiStream; ignored for Server) is the speed limit of a capped plan.

    With ``respond_with_data`` each response carries its output row (the
    accuracy log needs it); otherwise responses are empty, which LoadGen
    accepts in performance mode.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        scenario: Scenario,
        respond_with_data: bool,
        max_batchsize: int,
        threads: int,
        max_rate: float | None = None,
    ) -> None:
        self._np = import_numpy()
        self._lg = import_loadgen()
        self._backend = backend
        self._with_data = respond_with_data
        self._batch = max(1, max_batchsize)
        self._chunk = max(self._batch, COMPLETE_CHUNK // self._batch * self._batch)
        self._inline = scenario in (Scenario.SINGLE_STREAM, Scenario.MULTI_STREAM)
        self._coalesce = scenario is Scenario.SERVER
        self._threads = 0 if self._inline else max(1, threads)
        self._queue: queue.SimpleQueue[tuple[list[int], list[int]] | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        # One counter per worker, each written by one thread only, so the
        # hot path needs no lock; readers sum them.
        self._done = [0] * max(1, self._threads)
        # Reusable empty responses, one pool per worker for the same reason.
        self._pools: list[list[Any]] = [[] for _ in self._done]
        self._set_id = self._lg.QuerySampleResponse.id.fset
        self._queries = 0
        self._lock = threading.Lock()
        self._failed = False
        self._max_rate = max_rate if max_rate and scenario is not Scenario.SERVER else None
        self._paced = 0  # samples or queries the limit has let through so far
        self._held = [0.0] * len(self._done)  # seconds each thread waited for it
        self.error: BaseException | None = None
        self.first_issue: float | None = None
        self.last_complete: float | None = None
        self.output_dtype: str | None = None
        self.output_row_shape: tuple[int, ...] | None = None

    @property
    def completed(self) -> int:
        """Samples completed so far (read by the progress line)."""
        return sum(self._done)

    def start(self) -> None:
        """Start the worker threads (none for the inline scenarios)."""
        for slot in range(self._threads):
            worker = threading.Thread(
                target=self._work, args=(slot,), name=f"cmpy-loadgen-{slot}", daemon=True
            )
            worker.start()
            self._workers.append(worker)

    def stop_early(self) -> None:
        """Answer every sample from now on at once, empty and without inference.

        A stop request in a run that cannot be killed (one in this process):
        Offline then ends at once, the other scenarios at their minimum
        duration. The hot path already checks this flag for a failed backend.
        """
        self._failed = True

    def stop(self) -> None:
        """Let the workers finish and join them."""
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join()
        self._workers.clear()

    def construct(self) -> Any:
        """The LoadGen SUT handle (free it with ``DestroyFastSUT``)."""
        issue = self._issue_inline if self._inline else self._issue_queued
        return self._lg.ConstructFastSUT(issue, self._flush)

    def stats(self, wall_s: float) -> RunStats:
        """The counters of the run that just ended."""
        return RunStats(
            samples=self.completed,
            queries=self._queries,
            first_issue=self.first_issue,
            last_complete=self.last_complete,
            wall_s=wall_s,
            output_dtype=self.output_dtype,
            output_row_shape=self.output_row_shape,
            held_back_s=max(self._held),
        )

    # LoadGen calls the next three from its own threads; an exception that
    # escaped into C++ would abort the process, so each one is contained.

    def _issue_inline(self, ids: list[int], indices: list[int]) -> None:
        if self.first_issue is None:
            self.first_issue = time.perf_counter()
        self._queries += 1
        self._complete(ids, indices, 0)
        if self._max_rate is not None:
            self._paced += 1
            self._wait_until(self._paced, 0)

    def _issue_queued(self, ids: list[int], indices: list[int]) -> None:
        if self.first_issue is None:
            self.first_issue = time.perf_counter()
        self._queries += 1
        put = self._queue.put
        if len(ids) <= self._chunk:
            put((ids, indices))
            return
        step = self._chunk
        for start in range(0, len(ids), step):
            put((ids[start : start + step], indices[start : start + step]))

    def _flush(self) -> None:
        # Workers drain the queue continuously; nothing is held back.
        return None

    def _work(self, slot: int) -> None:
        q, limit, coalesce = self._queue, self._batch, self._coalesce
        while True:
            item = q.get()
            if item is None:
                return
            ids, indices = item
            if coalesce and q.qsize() < limit:
                time.sleep(SERVER_BATCH_WINDOW_S)
            if coalesce and len(ids) < limit and not q.empty():
                ids, indices = list(ids), list(indices)
                while len(ids) < limit:
                    try:
                        more = q.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        q.put(None)
                        break
                    ids += more[0]
                    indices += more[1]
            if self._max_rate is not None:
                with self._lock:
                    before = self._paced
                    self._paced += len(ids)
                self._wait_until(before, slot)
            self._complete(ids, indices, slot)

    def _complete(self, ids: list[int], indices: list[int], slot: int) -> None:
        count = len(ids)
        keep: list[Any] = []
        try:
            if self._failed:
                raise _Skipped
            index_array = self._np.array(indices, dtype=self._np.int64)
            predict, step = self._backend.predict, self._batch
            if self._with_data:
                responses: list[Any] = []
                for start in range(0, count, step):
                    part = ids[start : start + step] if count > step else ids
                    out = predict(
                        index_array[start : start + step] if count > step else index_array
                    )
                    responses += self._data_responses(part, out, keep)
            else:
                for start in range(0, count, step):
                    out = predict(
                        index_array[start : start + step] if count > step else index_array
                    )
                    if len(out) != min(step, count - start):
                        raise _wrong_length(self._backend.name, min(step, count - start), out)
                responses = self._empty_responses(ids, slot)
        except BaseException as exc:  # re-raised after the run
            if not isinstance(exc, _Skipped):
                self._fail(exc)
            # Complete anyway: LoadGen waits forever for a sample never answered.
            responses = self._empty_responses(ids, slot)
        self._lg.QuerySamplesComplete(responses)
        del keep  # the output buffers may go only now that LoadGen has copied them
        self._done[slot] += count
        self.last_complete = time.perf_counter()

    def _empty_responses(self, ids: list[int], slot: int) -> list[Any]:
        # QuerySamplesComplete copies the responses into C++, so the same
        # Python objects can carry the next batch once it has returned.
        pool, count = self._pools[slot], len(ids)
        if len(pool) < count:
            response = self._lg.QuerySampleResponse
            pool.extend(map(response, repeat(0, count - len(pool)), repeat(0), repeat(0)))
        deque(map(self._set_id, pool, ids), maxlen=0)
        return pool if len(pool) == count else pool[:count]

    def _data_responses(self, ids: list[int], out: Any, keep: list[Any]) -> list[Any]:
        np = self._np
        rows = np.ascontiguousarray(out).reshape(len(out), -1) if len(out) else out
        if len(rows) != len(ids):
            raise _wrong_length(self._backend.name, len(ids), out)
        keep.append(rows)
        if self.output_dtype is None:
            self.output_dtype = str(rows.dtype)
            self.output_row_shape = tuple(int(d) for d in np.shape(out)[1:])
        row_bytes = int(rows.strides[0]) if rows.shape[1] else 0
        response = self._lg.QuerySampleResponse
        if row_bytes == 0:
            return list(map(response, ids, repeat(0), repeat(0)))
        base = int(rows.ctypes.data)
        addresses = range(base, base + row_bytes * len(ids), row_bytes)
        return list(map(response, ids, addresses, repeat(row_bytes)))

    def _wait_until(self, units: int, slot: int) -> None:
        """Sleep, once well ahead of the schedule, until the limit lets ``units`` through."""
        if self._failed or self.first_issue is None or self._max_rate is None:
            return
        began = time.perf_counter()
        due = self.first_issue + units / self._max_rate
        if due - began <= PACE_QUANTUM_S:
            return
        now = began
        while now < due and not self._failed:  # a stop request ends the wait
            time.sleep(min(due - now, 0.1))
            now = time.perf_counter()
        self._held[slot] += now - began

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
            self._failed = True


class _Skipped(Exception):
    """The backend already failed: answer the rest empty so LoadGen can end."""


def _wrong_length(backend: str, expected: int, out: Any) -> BackendError:
    shape = getattr(out, "shape", None)
    return BackendError(
        backend,
        f"predict() returned {len(out)} rows (shape {shape}) for {expected} samples",
        hint="return one output row per index",
    )


class _QslAdapter:
    """LoadGen's load/unload callbacks onto a :class:`Dataset`, with errors held."""

    def __init__(self, dataset: Dataset, on_error: Callable[[BaseException], None]) -> None:
        self._dataset = dataset
        self._on_error = on_error

    def load(self, indices: list[int]) -> None:
        try:
            self._dataset.load_samples(indices)
        except BaseException as exc:  # re-raised after the run
            self._on_error(exc)

    def unload(self, indices: list[int]) -> None:
        try:
            self._dataset.unload_samples(indices)
        except BaseException as exc:  # re-raised after the run
            self._on_error(exc)


class _Watcher:
    """A thread that turns a stop request into :meth:`HarnessSUT.stop_early`."""

    def __init__(self, stop: Interruptible, sut: HarnessSUT) -> None:
        self._stop = stop
        self._sut = sut
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cmpy-loadgen-stop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # polled: ``requested`` also reads the signal wakeup pipe, which sees a
        # signal while the main thread sits in LoadGen's C++
        while not self._done.wait(0.02):
            if self._stop.requested:
                self._sut.stop_early()
                return

    def close(self) -> None:
        self._done.set()
        self._thread.join()


def run_loadgen(
    test_settings: Any,
    log_settings: Any,
    backend: Backend,
    dataset: Dataset,
    *,
    scenario: Scenario,
    respond_with_data: bool,
    max_batchsize: int,
    threads: int,
    on_start: Callable[[HarnessSUT], None] | None = None,
    stop: Interruptible | None = None,
    max_rate: float | None = None,
) -> RunStats:
    """Run LoadGen once against a loaded backend; free every handle afterwards.

    :param on_start: called with the SUT just before LoadGen starts (the
        progress line reads its counters).
    :param stop: watched from a thread while LoadGen runs; once it is asked
        the SUT answers the rest at once (:meth:`HarnessSUT.stop_early`).
        The caller checks it afterwards: the run's logs are then no result.
    :param max_rate: the speed limit of a capped plan (see :class:`HarnessSUT`).
    :raises BackendError: the backend or the dataset failed during the run.
    """
    lg = import_loadgen()
    sut = HarnessSUT(
        backend,
        scenario=scenario,
        respond_with_data=respond_with_data,
        max_batchsize=max_batchsize,
        threads=threads,
        max_rate=max_rate,
    )
    qsl_adapter = _QslAdapter(dataset, sut._fail)
    sut.start()
    watcher = _Watcher(stop, sut) if stop is not None else None
    sut_handle = qsl_handle = None
    began = time.perf_counter()
    try:
        sut_handle = sut.construct()
        qsl_handle = lg.ConstructQSL(
            len(dataset), dataset.performance_count, qsl_adapter.load, qsl_adapter.unload
        )
        if on_start is not None:
            on_start(sut)
        lg.StartTestWithLogSettings(sut_handle, qsl_handle, test_settings, log_settings)
    finally:
        wall = time.perf_counter() - began
        if watcher is not None:
            watcher.close()
        sut.stop()
        if qsl_handle is not None:
            lg.DestroyQSL(qsl_handle)
        if sut_handle is not None:
            lg.DestroyFastSUT(sut_handle)
    if sut.error is not None:
        error = sut.error
        if isinstance(error, BackendError):
            raise error
        raise BackendError(
            backend.name,
            f"failed during the LoadGen run: {type(error).__name__}: {error}",
            hint="the remaining samples were answered empty; the logs are not a valid result",
        ) from error
    return sut.stats(wall)
