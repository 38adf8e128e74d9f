"""One benchmark run end to end: settings -> LoadGen -> logs -> result record."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmpy._errors import UsageError
from cmpy.loadgen._accuracy import score_classification
from cmpy.loadgen._calibrate import Calibration, apply_caps, calibrate_loaded
from cmpy.loadgen._logparse import ResultRecord, parse_detail_log
from cmpy.loadgen._progress import ProgressLine
from cmpy.loadgen._settings import LoadgenSettings, Mode, Scenario, expand_modes
from cmpy.loadgen._sut import HarnessSUT, run_loadgen

if TYPE_CHECKING:
    from cmpy.loadgen._backends import Backend
    from cmpy.loadgen._dataset import Dataset

__all__ = ["calibrate", "run_benchmark", "run_modes"]

RESULTS_FILE = "results.json"


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
) -> ResultRecord:
    """Run LoadGen once and return what its logs say, scored when labels exist.

    Loads the backend for ``dataset``, fills unset load figures from a short
    measurement (``calibrate``), caps what an unofficial run may plan, runs
    LoadGen into ``output_dir`` and writes ``results.json`` beside its logs.
    The backend is closed at the end.

    :param max_batchsize: the most samples handed to one ``predict`` call.
    :param threads: worker threads for Server and Offline (default: the
        number of CPUs, at most 4, or fewer if the backend's ``max_threads``
        says so).
    :param quiet: no progress line (there is none off a terminal anyway).
    :param calibrate: measure before the run; without it, unset figures
        take mlperf.conf's values, which rarely fit.
    :param label_offset: subtracted from each prediction before it is scored
        (1 for a model with a background class, such as MLPerf's ResNet50).
    :raises UsageError: bad arguments, or a user.conf that does not parse.
    :raises BackendError: the backend could not load or failed mid-run.
    :raises ToolNotFound: mlperf_loadgen or numpy is missing.
    """
    if isinstance(max_batchsize, bool) or not isinstance(max_batchsize, int) or max_batchsize < 1:
        raise UsageError(f"max_batchsize must be a positive integer, not {max_batchsize!r}")
    workers = _resolve_threads(threads, backend)
    if settings.user_conf:
        settings = settings.with_user_conf(settings.user_conf)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    backend.load(dataset)
    try:
        calibration: Calibration | None = None
        if calibrate:
            settings, calibration = calibrate_loaded(
                settings, backend, dataset, max_batchsize=max_batchsize, threads=workers
            )
        settings, cap_notes = apply_caps(settings)
        test_settings = settings.to_test_settings()
        label = f"{settings.scenario.value} {settings.mode.value}"
        # The SUT exists only inside run_loadgen; the progress line reads it
        # through this box once LoadGen is about to start.
        box: list[HarnessSUT] = []
        with ProgressLine(
            lambda: box[0].completed if box else 0,
            label=label,
            min_duration_s=test_settings.min_duration_ms / 1000,
            enabled=not quiet,
        ):
            stats = run_loadgen(
                test_settings,
                settings.log_settings(out),
                backend,
                dataset,
                scenario=settings.scenario,
                respond_with_data=settings.mode is Mode.ACCURACY,
                max_batchsize=max_batchsize,
                threads=workers,
                on_start=box.append,
            )
    finally:
        close = getattr(backend, "close", None)
        if callable(close):
            close()

    record = parse_detail_log(out)
    accuracy = None
    if settings.mode is Mode.ACCURACY and dataset.labels is not None and stats.output_dtype:
        accuracy = score_classification(
            out, dataset.labels, dtype=stats.output_dtype, label_offset=label_offset
        )
    notes = settings.notes + cap_notes + (calibration.notes if calibration else ())
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
    (out / RESULTS_FILE).write_text(json.dumps(record.to_dict(), indent=2) + "\n", encoding="utf-8")
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

    ``options`` go to :func:`run_benchmark`.

    :raises UsageError: an unknown mode.
    """
    out = Path(output_dir)
    records: dict[Mode, ResultRecord] = {}
    for mode in expand_modes(modes):
        records[mode] = run_benchmark(
            settings.replace(mode=mode), backend, dataset, out / mode.value, **options
        )
    combined = {mode.value: record.to_dict() for mode, record in records.items()}
    (out / RESULTS_FILE).write_text(json.dumps(combined, indent=2) + "\n", encoding="utf-8")
    return records


def calibrate(
    settings: LoadgenSettings,
    backend: Backend,
    dataset: Dataset,
    *,
    max_batchsize: int = 64,
    threads: int | None = None,
    pilot_ms: int = 300,
) -> tuple[LoadgenSettings, Calibration]:
    """Measure the backend briefly and fill the load figures ``settings`` leaves unset.

    Offline: the expected QPS; SingleStream/MultiStream: the expected
    latency; Server: a conservative target QPS. Loads the backend (and
    leaves it loaded); returns the new settings and what was measured.

    :raises BackendError: the backend could not load or failed.
    """
    backend.load(dataset)
    return calibrate_loaded(
        settings,
        backend,
        dataset,
        max_batchsize=max_batchsize,
        threads=_resolve_threads(threads, backend),
        pilot_ms=pilot_ms,
    )


def _resolve_threads(threads: int | None, backend: Backend) -> int:
    if threads is None:
        hint = getattr(backend, "max_threads", None)
        default = max(1, min(4, os.cpu_count() or 1))
        return min(default, hint) if isinstance(hint, int) and hint >= 1 else default
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise UsageError(f"threads must be a positive integer, not {threads!r}")
    return threads
