"""Re-record the LoadGen detail logs the parser tests read (not a test).

    python tests/loadgen/data/record_logs.py

Each case runs real LoadGen (mlcommons-loadgen) against a minimal fast SUT
that answers every sample at once, with settings chosen to land on a known
verdict, and keeps only ``mlperf_log_detail.txt``. A 16-sample QSL keeps the
logs small. The tests assert on the verdicts and key names, not on timings.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import mlperf_loadgen as lg
import numpy as np

HERE = Path(__file__).resolve().parent
ANSWER = np.arange(16, dtype=np.int64)  # response bytes: the sample index

CASES: dict[str, dict[str, object]] = {
    # VALID: expected QPS well below what a null SUT does, so the one query
    # lasts longer than the minimum duration.
    "offline_valid": {"scenario": "Offline", "offline_expected_qps": 2_000_000.0},
    # INVALID: 110 samples finish in far less than the minimum duration.
    "offline_invalid": {"scenario": "Offline", "offline_expected_qps": 100.0},
    "server_valid": {
        "scenario": "Server",
        "server_target_qps": 2000.0,
        "server_target_latency_ns": 50_000_000,
    },
    # INVALID: a 1 ns latency bound no SUT meets.
    "server_invalid": {
        "scenario": "Server",
        "server_target_qps": 2000.0,
        "server_target_latency_ns": 1,
    },
    "singlestream_valid": {"scenario": "SingleStream", "single_stream_expected_latency_ns": 2_000},
    "multistream_valid": {
        "scenario": "MultiStream",
        "multi_stream_expected_latency_ns": 4_000,
        "min_query_count": 662,
    },
    # INVALID: queries pre-generated for 5 ms latency run out long before 300 ms.
    "multistream_invalid": {
        "scenario": "MultiStream",
        "multi_stream_expected_latency_ns": 5_000_000,
    },
    "offline_accuracy": {"scenario": "Offline", "mode": "AccuracyOnly"},
}


def issue(ids: list[int], indices: list[int]) -> None:
    base = ANSWER.ctypes.data
    lg.QuerySamplesComplete(
        [lg.QuerySampleResponse(i, base + 8 * x, 8) for i, x in zip(ids, indices)]
    )


def record(name: str, options: dict[str, object]) -> None:
    settings = lg.TestSettings()
    settings.scenario = getattr(lg.TestScenario, str(options.pop("scenario")))
    settings.mode = getattr(lg.TestMode, str(options.pop("mode", "PerformanceOnly")))
    settings.min_duration_ms = 300
    for key, value in options.items():
        setattr(settings, key, value)
    log = lg.LogSettings()
    log.enable_trace = False
    sut = lg.ConstructFastSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(16, 16, lambda s: None, lambda s: None)
    with tempfile.TemporaryDirectory() as scratch:
        log.log_output.outdir = scratch
        lg.StartTestWithLogSettings(sut, qsl, settings, log)
        target = HERE / name
        target.mkdir(exist_ok=True)
        shutil.copy(Path(scratch) / "mlperf_log_detail.txt", target / "mlperf_log_detail.txt")
    lg.DestroyQSL(qsl)
    lg.DestroyFastSUT(sut)


def main() -> int:
    for name, options in CASES.items():
        record(name, dict(options))
        print("recorded", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
