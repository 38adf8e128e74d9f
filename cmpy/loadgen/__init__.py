"""The MLPerf LoadGen harness: benchmark a model in the four MLPerf scenarios.

``run_benchmark`` drives ``mlperf_loadgen`` against a backend (an ONNX model
through onnxruntime, or the null backend that measures the harness alone)
over a dataset held in memory, then parses LoadGen's logs into a
:class:`ResultRecord` and, for accuracy runs with labels, scores top-1::

    from cmpy.loadgen import Dataset, LoadgenSettings, OnnxRuntimeBackend, run_benchmark

    record = run_benchmark(
        LoadgenSettings(scenario="Offline", mode="performance"),
        OnnxRuntimeBackend("model.onnx"),
        Dataset(inputs, labels),
        "out/offline",
    )
    print(record.summary())

Defaults are short, unofficial runs (2 s minimum); ``official=True`` takes
mlperf.conf's durations. Each LoadGen test runs in a forked child process,
so that Ctrl-C (or ``cancelled()``) ends even a 10-minute run at once and
raises :class:`cmpy.Interrupted`, with the run's partial logs removed; and a
performance run holds a machine-wide lock (:class:`BenchmarkLock`), so that
two benchmarks never measure each other. Importing this package loads neither numpy,
onnxruntime nor LoadGen; each is imported when a run needs it (install them
with ``pip install 'cmpy-automation[mlperf]'``).
"""

from __future__ import annotations

from cmpy.loadgen._accuracy import AccuracyReport as AccuracyReport
from cmpy.loadgen._accuracy import score_classification as score_classification
from cmpy.loadgen._backends import Backend as Backend
from cmpy.loadgen._backends import BackendError as BackendError
from cmpy.loadgen._backends import NullBackend as NullBackend
from cmpy.loadgen._backends import OnnxRuntimeBackend as OnnxRuntimeBackend
from cmpy.loadgen._bench import calibrate as calibrate
from cmpy.loadgen._bench import run_benchmark as run_benchmark
from cmpy.loadgen._bench import run_modes as run_modes
from cmpy.loadgen._calibrate import Calibration as Calibration
from cmpy.loadgen._dataset import Dataset as Dataset
from cmpy.loadgen._lock import BenchmarkBusy as BenchmarkBusy
from cmpy.loadgen._lock import BenchmarkLock as BenchmarkLock
from cmpy.loadgen._lock import benchmark_lock_path as benchmark_lock_path
from cmpy.loadgen._logparse import ResultRecord as ResultRecord
from cmpy.loadgen._logparse import parse_detail_log as parse_detail_log
from cmpy.loadgen._settings import UNOFFICIAL_MIN_DURATION_MS as UNOFFICIAL_MIN_DURATION_MS
from cmpy.loadgen._settings import LoadgenSettings as LoadgenSettings
from cmpy.loadgen._settings import Mode as Mode
from cmpy.loadgen._settings import Scenario as Scenario
from cmpy.loadgen._settings import expand_modes as expand_modes
from cmpy.loadgen._stop import Interruptible as Interruptible
from cmpy.loadgen._userconf import UserConf as UserConf
from cmpy.loadgen._userconf import read_user_conf as read_user_conf

__all__ = [
    "UNOFFICIAL_MIN_DURATION_MS",
    "AccuracyReport",
    "Backend",
    "BackendError",
    "BenchmarkBusy",
    "BenchmarkLock",
    "Calibration",
    "Dataset",
    "Interruptible",
    "LoadgenSettings",
    "Mode",
    "NullBackend",
    "OnnxRuntimeBackend",
    "ResultRecord",
    "Scenario",
    "UserConf",
    "benchmark_lock_path",
    "calibrate",
    "expand_modes",
    "parse_detail_log",
    "read_user_conf",
    "run_benchmark",
    "run_modes",
    "score_classification",
]
