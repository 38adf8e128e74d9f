"""One benchmark run end to end: settings -> LoadGen -> logs -> result record.

Each run's LoadGen test happens in a forked child process (see
``_child.py`` for why), which loads the backend, calibrates, runs LoadGen
into the output folder and closes the backend; this process waits, parses
the logs and scores them. A stop request (Ctrl-C, SIGTERM or SIGHUP in the
main thread, ``cancelled()`` in a worker thread) kills the child at once,
removes the run's partial logs and raises :class:`cmpy.Interrupted`: a
folder holds a ``results.json`` only beside logs of a run that finished.
A performance run holds the machine-wide benchmark lock (``_lock.py``).
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cmpy._errors import CmpyError, UsageError
from cmpy.loadgen._accuracy import score_classification
from cmpy.loadgen._calibrate import Calibration, calibrate_loaded
from cmpy.loadgen._child import Stopped, can_fork, run_in_child
from cmpy.loadgen._lock import BenchmarkLock
from cmpy.loadgen._logparse import ResultRecord, parse_detail_log
from cmpy.loadgen._outdir import RESULTS_FILE, clear, missing_folders, write_json
from cmpy.loadgen._plan import Plan, plan_run
from cmpy.loadgen._progress import ProgressLine
from cmpy.loadgen._settings import LoadgenSettings, Mode, Scenario, expand_modes
from cmpy.loadgen._stop import Interruptible
from cmpy.loadgen._sut import HarnessSUT, RunStats, run_loadgen

if TYPE_CHECKING:
    from cmpy.loadgen._backends import Backend
    from cmpy.loadgen._dataset import Dataset

__all__ = ["calibrate", "run_benchmark", "run_modes"]

T = TypeVar("T")


def run_benchmark(
    settings: LoadgenSettings,
    backend: Backend,
    dataset: Dataset,
    output_dir: str | Path,
    *,
    max_batchsize: int = 64,
    threads: int | None = None,
    quiet: bool = False,
    calibrate: bool = True,
    label_offset: int = 0,
    cancelled: Callable[[], bool] | None = None,
    wait: bool = True,
    notify: Callable[[str], None] | None = None,
    in_process: bool = False,
    plan_memory: int | None = None,
) -> ResultRecord:
    """Run LoadGen once and return what its logs say, scored when labels exist.

    Loads the backend for ``dataset``, fills unset load figures from a short
    measurement (``calibrate``), fits what the run plans into memory (an
    unofficial run whose plan is cut short is held to the rate that makes it
    last the minimum duration, and a note says so), runs LoadGen into
    ``output_dir`` and writes ``results.json`` beside its logs.
    The backend is closed at the end. All of that happens in a forked child
    process unless ``in_process``, so the ``backend`` and ``dataset``
    objects passed keep their state here.

    A stop request (Ctrl-C, SIGTERM or SIGHUP when called from the main
    thread; ``cancelled()`` returning True from any thread) ends the run
    within a fraction of a second, even an official 10-minute one: its
    partial logs are removed and :class:`cmpy.Interrupted` is raised.

    :param max_batchsize: the most samples handed to one ``predict`` call.
    :param threads: worker threads for Server and Offline (default: the
        number of CPUs, at most 4, or fewer if the backend's ``max_threads``
        says so).
    :param quiet: no progress line (there is none off a terminal anyway).
    :param calibrate: measure before the run; without it, unset figures
        take mlperf.conf's values, which rarely fit.
    :param label_offset: subtracted from each prediction before it is scored
        (1 for a model with a background class, such as MLPerf's ResNet50).
    :param cancelled: polled while the run goes on (``lambda: ctx.cancelled``
        in a recipe body, which may run in a worker thread).
    :param wait: a performance run waits for the machine-wide benchmark
        lock while another benchmark holds it (saying so once through
        ``notify``); with ``wait=False`` it fails at once instead.
    :param notify: where a line such as "waiting for the benchmark lock" goes
        (default: stderr).
    :param in_process: run LoadGen in this process (always so where there is
        no ``fork``): the backend's and data set's own state changes here,
        but a stop request ends an Offline run at once and the other
        scenarios only at their minimum duration.
    :param plan_memory: bytes LoadGen's plan may take (default: a share of
        the memory available, see ``cmpy.loadgen._plan.memory_budget``).
    :raises UsageError: bad arguments, a user.conf that does not parse, or a
        min_query_count that alone plans more than the memory allows.
    :raises BackendError: the backend could not load or failed mid-run.
    :raises BenchmarkBusy: ``wait=False`` and another benchmark is running.
    :raises cmpy.Interrupted: the run was stopped (see above).
    :raises ToolNotFound: mlperf_loadgen or numpy is missing.
    :raises CmpyError: the run's process crashed.
    """
    if isinstance(max_batchsize, bool) or not isinstance(max_batchsize, int) or max_batchsize < 1:
        raise UsageError(f"max_batchsize must be a positive integer, not {max_batchsize!r}")
    workers = _resolve_threads(threads, backend)
    if settings.user_conf:
        settings = settings.with_user_conf(settings.user_conf)
    out = Path(output_dir)
    made = missing_folders(out)
    out.mkdir(parents=True, exist_ok=True)
    clear(out)  # an earlier run's logs here would read as this one's
    started = time.time()
    label = f"{settings.scenario.value} {settings.mode.value}"

    def measure(
        report: Callable[[str], None], stop: Interruptible | None, scratch: str
    ) -> tuple[LoadgenSettings, Calibration | None, Plan | None, RunStats]:
        run_settings = settings
        report("loading the backend")
        backend.load(dataset)
        try:
            calibration: Calibration | None = None
            if calibrate:
                report("calibrating")
                run_settings, calibration = calibrate_loaded(
                    run_settings,
                    backend,
                    dataset,
                    max_batchsize=max_batchsize,
                    threads=workers,
                    stop=stop,
                    log_root=scratch,
                )
            run_settings, plan = plan_run(run_settings, budget=plan_memory)
            test_settings = run_settings.to_test_settings()
            report("running")
            # The SUT exists only inside run_loadgen; the progress line reads it
            # through this box once LoadGen is about to start.
            box: list[HarnessSUT] = []
            try:
                with ProgressLine(
                    lambda: box[0].completed if box else 0,
                    label=label,
                    min_duration_s=test_settings.min_duration_ms / 1000,
                    enabled=not quiet,
                ):
                    stats = run_loadgen(
                        test_settings,
                        run_settings.log_settings(out),
                        backend,
                        dataset,
                        scenario=run_settings.scenario,
                        respond_with_data=run_settings.mode is Mode.ACCURACY,
                        max_batchsize=max_batchsize,
                        threads=workers,
                        on_start=box.append,
                        stop=stop,
                        max_rate=plan.max_rate if plan else None,
                    )
            except MemoryError:  # LoadGen allocates what it plans up front
                planned = (
                    f": this run plans {plan.planned:,} {plan.unit} (~{plan.bytes >> 20:,} MiB)"
                    if plan
                    else ""
                )
                raise CmpyError(
                    f"the {label} run ran out of memory{planned}",
                    hint="plan less: a lower target_qps (Offline issues 1.1 x target_qps x "
                    "min_duration samples at once), a shorter min_duration, or a higher "
                    "target_latency for SingleStream/MultiStream",
                ) from None
        finally:
            _close(backend)
        return run_settings, calibration, plan, stats

    # A run that failed keeps its logs (they may say why) but gets no results.json.
    settings, calibration, plan, stats = _measure(
        measure,
        what=f"the {label} run",
        locked=settings.mode is Mode.PERFORMANCE,
        cancelled=cancelled,
        wait=wait,
        notify=notify,
        in_process=in_process,
        partial=lambda: clear(out, remove_folders=made),
    )

    record = parse_detail_log(out)
    accuracy = None
    if settings.mode is Mode.ACCURACY and dataset.labels is not None and stats.output_dtype:
        accuracy = score_classification(
            out, dataset.labels, dtype=stats.output_dtype, label_offset=label_offset
        )
    cap_note = plan.note(stats.held_back_s) if plan else None
    notes = (
        settings.notes
        + (calibration.notes if calibration else ())
        + ((cap_note,) if cap_note else ())
    )
    record = record.replace(
        accuracy=accuracy,
        notes=notes,
        settings=settings.to_dict(),
        harness={
            "backend": backend.name,
            "dataset": dataset.name,
            "dataset_size": len(dataset),
            "max_batchsize": max_batchsize,
            "threads": workers if settings.scenario in (Scenario.SERVER, Scenario.OFFLINE) else 0,
            "calibration": calibration.to_dict() if calibration else None,
            "plan": plan.to_dict() if plan else None,
            "held_back_s": round(stats.held_back_s, 4),
            "samples_completed": stats.samples,
            "queries_issued": stats.queries,
            "output_dtype": stats.output_dtype,
            "output_row_shape": list(stats.output_row_shape) if stats.output_row_shape else None,
            "wall_s": round(stats.wall_s, 4),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
    )
    write_json(out / RESULTS_FILE, record.to_dict())
    return record


def run_modes(
    settings: LoadgenSettings,
    backend: Backend,
    dataset: Dataset,
    output_dir: str | Path,
    *,
    modes: str | Mode = "both",
    **options: Any,
) -> dict[Mode, ResultRecord]:
    """Run several modes (``"both"``: performance, then accuracy) into
    ``output_dir/<mode>``, and write ``output_dir/results.json`` holding them all.

    ``options`` go to :func:`run_benchmark` (``cancelled``, ``wait`` among
    them). A run that is stopped leaves no ``output_dir/results.json``; the
    modes that finished before it keep their own.

    :raises UsageError: an unknown mode.
    :raises cmpy.Interrupted: a run was stopped.
    """
    out = Path(output_dir)
    chosen = expand_modes(modes)
    (out / RESULTS_FILE).unlink(missing_ok=True)
    records: dict[Mode, ResultRecord] = {}
    for mode in chosen:
        records[mode] = run_benchmark(
            settings.replace(mode=mode), backend, dataset, out / mode.value, **options
        )
    combined = {mode.value: record.to_dict() for mode, record in records.items()}
    write_json(out / RESULTS_FILE, combined)
    return records


def calibrate(
    settings: LoadgenSettings,
    backend: Backend,
    dataset: Dataset,
    *,
    max_batchsize: int = 64,
    threads: int | None = None,
    pilot_ms: int | None = None,
    cancelled: Callable[[], bool] | None = None,
    wait: bool = True,
    notify: Callable[[str], None] | None = None,
    in_process: bool = False,
) -> tuple[LoadgenSettings, Calibration]:
    """Measure the backend briefly and fill the load figures ``settings`` leaves unset.

    Offline: the expected QPS; SingleStream/MultiStream: the expected
    latency; Server: a conservative target QPS. Returns the new settings and
    what was measured. Like :func:`run_benchmark` it measures in a forked
    child (unless ``in_process``), which loads the backend and closes it,
    under the benchmark lock, and stops when asked (``cancelled``, ``wait``,
    ``notify``: as there).

    :raises BackendError: the backend could not load or failed.
    :raises BenchmarkBusy: ``wait=False`` and another benchmark is running.
    :raises cmpy.Interrupted: the measurement was stopped.
    """
    workers = _resolve_threads(threads, backend)

    def measure(
        report: Callable[[str], None], stop: Interruptible | None, scratch: str
    ) -> tuple[LoadgenSettings, Calibration]:
        report("loading the backend")
        backend.load(dataset)
        try:
            report("calibrating")
            return calibrate_loaded(
                settings,
                backend,
                dataset,
                max_batchsize=max_batchsize,
                threads=workers,
                pilot_ms=pilot_ms,
                stop=stop,
                log_root=scratch,
            )
        finally:
            _close(backend)

    return _measure(
        measure,
        what=f"the {settings.scenario.value} {settings.mode.value} run",
        locked=True,
        cancelled=cancelled,
        wait=wait,
        notify=notify,
        in_process=in_process,
        partial=lambda: False,
    )


def _measure(
    work: Callable[[Callable[[str], None], Interruptible | None, str], T],
    *,
    what: str,
    locked: bool,
    cancelled: Callable[[], bool] | None,
    wait: bool,
    notify: Callable[[str], None] | None,
    in_process: bool,
    partial: Callable[[], bool],
) -> T:
    """``work(report, stop, scratch)`` under the lock, in a child, stopped when asked.

    ``partial()`` removes what a stopped run left and says whether there
    was anything; ``scratch`` is a folder for throw-away files (the
    pilots' logs), removed here afterwards even when the child is killed.
    """
    with Interruptible(cancelled) as stop:
        stop.check(what, note="nothing was run")
        lock = BenchmarkLock(f"an MLPerf {what.removeprefix('the ')}") if locked else None
        if lock is not None:
            lock.acquire(wait=wait, stop=stop, notify=notify)
        scratch = tempfile.mkdtemp(prefix="cmpy-loadgen-")
        here = in_process or not can_fork()
        try:
            phase = ["starting"]
            if here:
                result = work(phase.append, stop, scratch)
            else:
                result = run_in_child(
                    lambda report: work(report, None, scratch), stop=stop, what=what
                )
            if stop.requested:  # even as it ended: the user asked for no result
                raise Stopped(phase[-1] if here else "running")
        except Stopped as stopped:
            removed = partial()
            raise stop.interrupted(
                _stopped_while(stopped.phase, what),
                note="its partial logs were removed" if removed else "nothing was kept",
            ) from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            if lock is not None:
                lock.release()
    return result


def _stopped_while(phase: str, what: str) -> str:
    if phase == "calibrating":
        return f"{what}, calibrating"
    if phase in ("starting", "loading the backend"):
        return f"{what}, loading the backend"
    return what


def _close(backend: Backend) -> None:
    close = getattr(backend, "close", None)
    if callable(close):
        close()


def _resolve_threads(threads: int | None, backend: Backend) -> int:
    if threads is None:
        hint = getattr(backend, "max_threads", None)
        default = max(1, min(4, os.cpu_count() or 1))
        return min(default, hint) if isinstance(hint, int) and hint >= 1 else default
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise UsageError(f"threads must be a positive integer, not {threads!r}")
    return threads
