"""Picking the load LoadGen should plan for, from a short measurement.

LoadGen sizes a run from numbers the user states up front: Offline issues
``1.1 x expected_qps x min_duration`` samples in one query (too high: tens of
millions of samples; too low: the run ends before the minimum duration and
is INVALID), and SingleStream/MultiStream pre-generate queries from the
expected latency (too high: INVALID for the same reason). Guessing these is
the most common way to waste a run, so the harness measures instead: it
times the backend directly, then runs a fraction of a second of LoadGen in
the same scenario, and plans from what that achieved.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cmpy._errors import UsageError
from cmpy.loadgen._child import Stopped
from cmpy.loadgen._optional import import_numpy
from cmpy.loadgen._settings import UNOFFICIAL_MIN_DURATION_MS, LoadgenSettings, Mode, Scenario
from cmpy.loadgen._sut import RunStats, run_loadgen

if TYPE_CHECKING:
    from cmpy.loadgen._backends import Backend
    from cmpy.loadgen._dataset import Dataset
    from cmpy.loadgen._stop import Interruptible

__all__ = ["Calibration", "apply_caps", "calibrate_loaded"]

# Unofficial runs never plan more than this many samples (Offline) or
# pre-generated queries (SingleStream/MultiStream): LoadGen keeps a record
# of every one, about 160 bytes each, so 8 M is ~1.3 GB.
MAX_PLANNED = 8_000_000
# Room above the measured Offline throughput: a run that goes faster than
# its short pilot (warm caches, a quieter machine) must still last the
# minimum duration. 1.5 held on a busy 2-core machine where 1.25 did not.
OFFLINE_HEADROOM = 1.5
# Below the measured time per query, for the same reason (LoadGen already
# generates twice the queries its expected latency implies).
LATENCY_MARGIN = 0.8
# Server target as a share of the single-stream query rate: queries arrive
# at random (Poisson), so a SUT needs slack to keep its tail latency bounded.
SERVER_SHARE = 0.5
# The pilot may not plan more than this rate before it has measured one.
PILOT_RATE_CAP = 2_000_000.0


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
    pilot_ms: int = 300,
    stop: Interruptible | None = None,
    log_root: str | None = None,
) -> tuple[LoadgenSettings, Calibration]:
    """Fill the load figures ``settings`` leaves unset, for a backend already loaded.

    Offline (performance): ``target_qps``. SingleStream/MultiStream
    (performance): ``target_latency_ms``. Server (any mode): ``target_qps``.
    Figures already set are kept.

    :param stop: a pilot run in this process ends early once it is asked
        (see :func:`run_loadgen`).
    :param log_root: where the pilots' throw-away logs go (default: the
        system's temporary folder).
    :raises BackendError: the backend failed while being measured.
    :raises Stopped: ``stop`` was asked.
    """
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
        rate = pilot.samples / (pilot.busy_s or pilot.wall_s)
        measured["pilot_samples_per_s"] = rate
        chosen["target_qps"] = rate * OFFLINE_HEADROOM
        notes.append(
            f"Offline expected QPS {chosen['target_qps']:,.0f}: the {pilot_ms} ms pilot "
            f"ran {rate:,.0f} samples/s, plus {OFFLINE_HEADROOM - 1:.0%} headroom"
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


def apply_caps(settings: LoadgenSettings) -> tuple[LoadgenSettings, tuple[str, ...]]:
    """Bound what an unofficial performance run may plan (see ``MAX_PLANNED``).

    Official runs are left as asked, with a note when they plan more.
    """
    if settings.mode is not Mode.PERFORMANCE:
        return settings, ()
    duration_s = (settings.min_duration_ms or UNOFFICIAL_MIN_DURATION_MS) / 1000
    if settings.official and settings.min_duration_ms is None:
        duration_s = 600.0
    scenario = settings.scenario
    if scenario is Scenario.OFFLINE and settings.target_qps is not None:
        planned = 1.1 * settings.target_qps * duration_s
        limit = MAX_PLANNED / (1.1 * duration_s)
        what, fix = f"{planned:,.0f} samples in one query", {"target_qps": limit}
    elif (
        scenario in (Scenario.SINGLE_STREAM, Scenario.MULTI_STREAM)
        and settings.target_latency_ms is not None
    ):
        planned = 2 * duration_s * 1e3 / settings.target_latency_ms
        limit = 2 * duration_s * 1e3 / MAX_PLANNED
        what, fix = f"{planned:,.0f} pre-generated queries", {"target_latency_ms": limit}
    else:
        return settings, ()
    if planned <= MAX_PLANNED:
        return settings, ()
    if settings.official:
        return settings, (f"this run plans {what}; LoadGen needs memory for each",)
    name, value = next(iter(fix.items()))
    return settings.replace(**fix), (
        f"{name} capped to {value:,.4g}: as asked it planned {what} (the cap is {MAX_PLANNED:,})",
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
    pilot = _pilot(
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
) -> RunStats:
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
    pilot, _ = apply_caps(pilot)
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
    if stop is not None and stop.requested:
        raise Stopped("calibrating")
    return stats
