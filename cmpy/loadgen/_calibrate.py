"""Picking the load LoadGen should plan for, from a short measurement.

LoadGen sizes a run from numbers the user states up front: Offline issues
``1.1 x expected_qps x min_duration`` samples in one query (too high: tens of
millions of samples; too low: the run ends before the minimum duration and
is INVALID), and SingleStream/MultiStream pre-generate queries from the
expected latency (too high: INVALID for the same reason). Guessing these is
the most common way to waste a run, so the harness measures instead: it
times the backend directly, then runs a short LoadGen pilot in the same
scenario (a twentieth of the minimum duration, from 300 ms to 3 s: a long
run gets a longer, steadier measurement), and plans from what that
achieved. The Offline rate is LoadGen's own figure for the pilot, which
counts what the harness cannot see (the binding building the query's
Python lists before the SUT gets it), so the run plans for the rate LoadGen
will measure. What the plan then costs in memory, and what is done when it
does not fit, is ``_plan.py``'s part.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cmpy._errors import CmpyError, UsageError
from cmpy.loadgen._child import Stopped
from cmpy.loadgen._logparse import parse_detail_log
from cmpy.loadgen._optional import import_numpy
from cmpy.loadgen._plan import effective_duration_s, plan_run
from cmpy.loadgen._settings import LoadgenSettings, Mode, Scenario
from cmpy.loadgen._sut import RunStats, run_loadgen

if TYPE_CHECKING:
    from cmpy.loadgen._backends import Backend
    from cmpy.loadgen._dataset import Dataset
    from cmpy.loadgen._stop import Interruptible

__all__ = ["Calibration", "calibrate_loaded", "pilot_length_ms"]

# Room above the measured Offline throughput: a run that goes faster than
# its pilot (warm caches, a quieter machine) must still last the minimum
# duration; LoadGen adds its own 10% on top. A pilot of a second or more is
# steadier, and a long run's big query is slower to build than the pilot's
# (LoadGen's binding takes about 60 ns per sample for 8 M, 220 ns for 30 M
# on a 2-core VM), so long runs need less room; they would pay for more in
# memory and in minutes.
OFFLINE_HEADROOM = 1.5
OFFLINE_HEADROOM_LONG = 1.2
LONG_PILOT_MS = 1000
# Below the measured time per query, for the same reason (LoadGen already
# generates twice the queries its expected latency implies).
LATENCY_MARGIN = 0.8
# Server target as a share of the single-stream query rate: queries arrive
# at random (Poisson), so a SUT needs slack to keep its tail latency bounded.
SERVER_SHARE = 0.5
# The pilot may not plan more than this rate before it has measured one.
PILOT_RATE_CAP = 2_000_000.0
# A pilot lasts this share of the run's minimum duration, within these bounds (ms).
PILOT_SHARE = 0.05
PILOT_MIN_MS = 300
PILOT_MAX_MS = 3000


def pilot_length_ms(duration_s: float) -> int:
    """How long the calibration pilot runs for a run of ``duration_s`` seconds."""
    return int(min(max(duration_s * 1000 * PILOT_SHARE, PILOT_MIN_MS), PILOT_MAX_MS))


@dataclass(frozen=True, slots=True)
class Calibration:
    """What was measured and what was chosen from it (for the report)."""

    scenario: str
    measured: dict[str, float] = field(default_factory=dict)
    chosen: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {
            "scenario": self.scenario,
            "measured": dict(self.measured),
            "chosen": dict(self.chosen),
            "notes": list(self.notes),
        }


def calibrate_loaded(
    settings: LoadgenSettings,
    backend: Backend,
    dataset: Dataset,
    *,
    max_batchsize: int,
    threads: int,
    pilot_ms: int | None = None,
    stop: Interruptible | None = None,
    log_root: str | None = None,
) -> tuple[LoadgenSettings, Calibration]:
    """Fill the load figures ``settings`` leaves unset, for a backend already loaded.

    Offline (performance): ``target_qps``. SingleStream/MultiStream
    (performance): ``target_latency_ms``. Server (any mode): ``target_qps``.
    Figures already set are kept. LoadGen sizes the run from these and the
    minimum duration; :func:`cmpy.loadgen._plan.plan_run` then fits it into
    memory.

    :param pilot_ms: how long the pilot runs (default: :func:`pilot_length_ms`
        of the run's minimum duration).
    :param stop: a pilot run in this process ends early once it is asked
        (see :func:`run_loadgen`).
    :param log_root: where the pilots' throw-away logs go (default: the
        system's temporary folder).
    :raises BackendError: the backend failed while being measured.
    :raises UsageError: the pilot completed nothing to plan from.
    :raises Stopped: ``stop`` was asked.
    """
    if pilot_ms is None:
        pilot_ms = pilot_length_ms(effective_duration_s(settings))
    scenario = settings.scenario
    measured: dict[str, float] = {}
    chosen: dict[str, float] = {}
    notes: list[str] = []
    performance = settings.mode is Mode.PERFORMANCE
    if scenario is Scenario.OFFLINE and performance and settings.target_qps is None:
        per_call = _time_predict(backend, dataset, max_batchsize)
        measured["predict_samples_per_s"] = max_batchsize / per_call
        pilot = _pilot(
            settings.replace(target_qps=min(max_batchsize / per_call, PILOT_RATE_CAP)),
            backend,
            dataset,
            max_batchsize,
            threads,
            pilot_ms,
            stop=stop,
            log_root=log_root,
        )
        stats, record_rate = pilot
        rate = record_rate or stats.samples / (stats.busy_s or stats.wall_s)
        measured["pilot_samples_per_s"] = rate
        measured["pilot_s"] = stats.wall_s
        headroom = OFFLINE_HEADROOM_LONG if pilot_ms >= LONG_PILOT_MS else OFFLINE_HEADROOM
        chosen["target_qps"] = rate * headroom
        notes.append(
            f"Offline expected QPS {chosen['target_qps']:,.0f}: a {stats.wall_s:.1f} s "
            f"pilot ran {rate:,.0f} samples/s (LoadGen's figure), plus "
            f"{headroom - 1:.0%} headroom"
        )
    elif (
        scenario in (Scenario.SINGLE_STREAM, Scenario.MULTI_STREAM)
        and performance
        and settings.target_latency_ms is None
    ):
        per_query = _query_time(
            settings,
            backend,
            dataset,
            max_batchsize,
            threads,
            pilot_ms,
            measured,
            stop=stop,
            log_root=log_root,
        )
        chosen["target_latency_ms"] = per_query * LATENCY_MARGIN * 1e3
        notes.append(
            f"{scenario.value} expected latency {chosen['target_latency_ms']:.4f} ms: "
            f"{LATENCY_MARGIN:.0%} of the {per_query * 1e3:.4f} ms per query the pilot took"
        )
    elif scenario is Scenario.SERVER and settings.target_qps is None:
        per_query = _query_time(
            settings,
            backend,
            dataset,
            max_batchsize,
            threads,
            pilot_ms,
            measured,
            stop=stop,
            log_root=log_root,
        )
        chosen["target_qps"] = SERVER_SHARE / per_query
        notes.append(
            f"Server target QPS {chosen['target_qps']:,.0f}: {SERVER_SHARE:.0%} of the "
            f"single-stream rate ({1 / per_query:,.0f} queries/s); a conservative "
            "start, not the peak; set target_qps to push harder"
        )
    calibrated = settings.replace(**chosen) if chosen else settings
    return calibrated, Calibration(
        scenario=scenario.value, measured=measured, chosen=chosen, notes=tuple(notes)
    )


def _time_predict(backend: Backend, dataset: Dataset, batch: int, budget_s: float = 0.1) -> float:
    """Seconds per ``predict`` call on ``batch`` samples (best of a short loop)."""
    np = import_numpy()
    indices = np.arange(batch, dtype=np.int64) % len(dataset)
    backend.predict(indices)  # warm-up: first calls allocate
    best, began, calls = float("inf"), time.perf_counter(), 0
    while calls < 3 or (time.perf_counter() - began < budget_s and calls < 10_000):
        start = time.perf_counter()
        backend.predict(indices)
        best = min(best, time.perf_counter() - start)
        calls += 1
    return max(best, 1e-7)


def _query_time(
    settings: LoadgenSettings,
    backend: Backend,
    dataset: Dataset,
    max_batchsize: int,
    threads: int,
    pilot_ms: int,
    measured: dict[str, float],
    *,
    stop: Interruptible | None,
    log_root: str | None,
) -> float:
    """Seconds per query in a short inline (single/multi-stream) LoadGen pilot."""
    scenario = (
        settings.scenario if settings.scenario is Scenario.MULTI_STREAM else Scenario.SINGLE_STREAM
    )
    per_query = (settings.samples_per_query or 8) if scenario is Scenario.MULTI_STREAM else 1
    guess = _time_predict(backend, dataset, per_query)
    measured["predict_ms_per_query"] = guess * 1e3
    # The pilot's own expected latency only sizes its query list: err low.
    pilot, _ = _pilot(
        settings.replace(
            scenario=scenario, target_latency_ms=max(guess * 1e3, 1e-3), target_qps=None
        ),
        backend,
        dataset,
        max_batchsize,
        threads,
        pilot_ms,
        stop=stop,
        log_root=log_root,
    )
    if pilot.queries == 0 or pilot.busy_s is None:
        raise UsageError(
            "the calibration pilot completed no query",
            hint="set target_qps / target_latency_ms yourself",
        )
    seconds = pilot.busy_s / pilot.queries
    measured["pilot_ms_per_query"] = seconds * 1e3
    return seconds


def _pilot(
    settings: LoadgenSettings,
    backend: Backend,
    dataset: Dataset,
    max_batchsize: int,
    threads: int,
    pilot_ms: int,
    *,
    stop: Interruptible | None,
    log_root: str | None,
) -> tuple[RunStats, float | None]:
    """One short LoadGen run; the harness's counters and LoadGen's samples/s (if it says)."""
    if stop is not None and stop.requested:
        raise Stopped("calibrating")
    pilot = settings.replace(
        mode=Mode.PERFORMANCE,
        official=False,
        min_duration_ms=pilot_ms,
        max_duration_ms=4 * pilot_ms,
        min_query_count=16,
        max_query_count=None,
        user_conf=None,
        enable_trace=False,
    )
    # a pilot is short: it only needs its plan to fit, never a speed limit
    pilot, _ = plan_run(pilot)
    with tempfile.TemporaryDirectory(prefix="cmpy-loadgen-pilot-", dir=log_root) as logs:
        stats = run_loadgen(
            pilot.to_test_settings(),
            pilot.log_settings(logs),
            backend,
            dataset,
            scenario=pilot.scenario,
            respond_with_data=False,
            max_batchsize=max_batchsize,
            threads=threads,
            stop=stop,
        )
        try:
            rate = parse_detail_log(logs).samples_per_second
        except CmpyError:  # no usable log: the harness's own counters will do
            rate = None
    if stop is not None and stop.requested:
        raise Stopped("calibrating")
    return stats, rate
