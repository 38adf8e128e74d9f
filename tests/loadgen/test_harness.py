"""End to end: a real ONNX model through LoadGen in every scenario and mode."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cmpy._errors import CmpyError, UsageError
from cmpy.loadgen import (
    Dataset,
    LoadgenSettings,
    Mode,
    NullBackend,
    OnnxRuntimeBackend,
    calibrate,
    run_benchmark,
    run_modes,
)
from cmpy.loadgen._progress import ProgressLine, format_rate

pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("mlperf_loadgen")

SCENARIOS = ["SingleStream", "MultiStream", "Server", "Offline"]
SHORT = 600  # ms: long enough for LoadGen's statistics, short enough for CI


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_performance_runs_are_valid(digits: Any, tmp_path: Path, scenario: str) -> None:
    # A lenient Server bound: the point is the harness, not this machine's jitter.
    settings = LoadgenSettings(
        scenario=scenario,
        min_duration_ms=SHORT,
        target_latency_ms=50.0 if scenario == "Server" else None,
    )
    record = run_benchmark(
        settings,
        OnnxRuntimeBackend(digits.model_path, threads=1),
        Dataset(digits.inputs, digits.labels, name="digits"),
        tmp_path,
        max_batchsize=32,
        quiet=True,
    )
    assert (record.scenario, record.mode) == (scenario, "performance")
    assert record.validity == "VALID", record.invalid_reasons
    assert record.headline is not None and record.headline > 0
    assert record.accuracy is None
    assert any("NOT an official MLPerf run" in note for note in record.notes)
    calibration = record.harness["calibration"]
    assert calibration["chosen"].keys() & {"target_qps", "target_latency_ms"}
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["validity"] == "VALID" and saved["harness"]["backend"] == "onnxruntime-cpu"
    assert saved["effective"]["min_duration_ms"] == SHORT
    for name in ("mlperf_log_detail.txt", "mlperf_log_summary.txt"):
        assert (tmp_path / name).is_file()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_accuracy_runs_score_the_held_out_split(digits: Any, tmp_path: Path, scenario: str) -> None:
    settings = LoadgenSettings(scenario=scenario, mode="accuracy")
    record = run_benchmark(
        settings,
        OnnxRuntimeBackend(digits.model_path, threads=1),
        Dataset(digits.inputs, digits.labels),
        tmp_path,
        quiet=True,
    )
    assert (record.scenario, record.mode, record.validity) == (scenario, "accuracy", None)
    report = record.accuracy
    assert report is not None
    assert report.count == report.dataset_size == len(digits.labels)  # every sample, once
    assert 0.9 <= report.top1 <= 1.0
    assert report.top1 == pytest.approx(digits.sklearn_accuracy, abs=0.01)
    assert report.dtype == "int64"  # the model's label output, as the SUT wrote it
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["accuracy"]["top1"] == report.top1
    assert saved["harness"]["output_dtype"] == "int64"


def test_scores_from_probabilities_too(digits: Any, tmp_path: Path) -> None:
    backend = OnnxRuntimeBackend(digits.model_path, output_name="probabilities")
    record = run_benchmark(
        LoadgenSettings(mode="accuracy"),
        backend,
        Dataset(digits.inputs, digits.labels),
        tmp_path,
        quiet=True,
    )
    assert record.accuracy is not None and record.accuracy.dtype == "float32"
    assert record.accuracy.top1 == pytest.approx(digits.sklearn_accuracy, abs=0.01)


def test_both_modes(digits: Any, tmp_path: Path) -> None:
    records = run_modes(
        LoadgenSettings(scenario="Offline", min_duration_ms=300),
        OnnxRuntimeBackend(digits.model_path),
        Dataset(digits.inputs, digits.labels),
        tmp_path,
        modes="both",
        quiet=True,
    )
    assert list(records) == [Mode.PERFORMANCE, Mode.ACCURACY]
    assert (tmp_path / "performance" / "results.json").is_file()
    assert (tmp_path / "accuracy" / "mlperf_log_accuracy.json").is_file()
    combined = json.loads((tmp_path / "results.json").read_text())
    assert combined["performance"]["validity"] == "VALID"
    assert combined["accuracy"]["accuracy"]["top1"] >= 0.9


def test_null_backend_measures_the_harness(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    record = run_benchmark(
        LoadgenSettings(scenario="Offline", min_duration_ms=300),
        NullBackend(),
        Dataset(np.zeros((1024, 1), np.float32)),
        tmp_path,
        max_batchsize=4096,
        quiet=True,
    )
    assert record.validity == "VALID"
    assert record.samples_per_second is not None and record.samples_per_second > 100_000
    assert record.harness["threads"] == 1  # NullBackend.max_threads


def test_explicit_figures_are_kept_and_reported(digits: Any, tmp_path: Path) -> None:
    settings = LoadgenSettings(scenario="Offline", min_duration_ms=300, target_qps=50_000.0)
    record = run_benchmark(
        settings,
        OnnxRuntimeBackend(digits.model_path),
        Dataset(digits.inputs),
        tmp_path,
        quiet=True,
    )
    assert record.harness["calibration"]["chosen"] == {}
    assert record.requested["offline_expected_qps"] == 50_000
    assert record.settings["target_qps"] == 50_000.0


def test_calibrate_alone(digits: Any) -> None:
    settings = LoadgenSettings(scenario="SingleStream", min_duration_ms=300)
    tuned, calibration = calibrate(
        settings, OnnxRuntimeBackend(digits.model_path), Dataset(digits.inputs), pilot_ms=100
    )
    assert tuned.target_latency_ms is not None and tuned.target_latency_ms > 0
    assert calibration.measured["pilot_ms_per_query"] > 0
    assert "expected latency" in calibration.notes[0]


def test_a_run_too_big_for_memory_says_what_it_planned(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    official = LoadgenSettings(scenario="Offline", official=True, target_qps=1e9)
    with pytest.raises(
        CmpyError, match=r"ran out of memory: this run plans 660,000,000,000 samples"
    ):
        run_benchmark(
            official,
            NullBackend(),
            Dataset(np.zeros((8, 1))),
            tmp_path,
            calibrate=False,
            quiet=True,
        )
    assert not (tmp_path / "results.json").exists()


def test_bad_harness_arguments(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    data = Dataset(np.zeros((4, 1)))
    with pytest.raises(UsageError, match="max_batchsize"):
        run_benchmark(LoadgenSettings(), NullBackend(), data, tmp_path, max_batchsize=0)
    with pytest.raises(UsageError, match="threads"):
        run_benchmark(LoadgenSettings(), NullBackend(), data, tmp_path, threads=0)
    with pytest.raises(UsageError, match="unknown LoadGen mode"):
        run_modes(LoadgenSettings(), NullBackend(), data, tmp_path, modes="fast")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_draws_on_a_terminal_only() -> None:
    terminal = _Terminal()
    counter = iter(range(0, 10**9, 1000))
    with ProgressLine(
        lambda: next(counter),
        label="Offline performance",
        min_duration_s=2.0,
        stream=terminal,
        interval_s=0.01,
    ) as line:
        assert line.active
        time.sleep(0.1)
    text = terminal.getvalue()
    assert "\rOffline performance: " in text and "samples/s" in text and "/2.0 s min" in text
    assert text.endswith("\r\x1b[K")  # the line is erased at the end
    pipe = io.StringIO()
    with ProgressLine(lambda: 0, label="x", min_duration_s=1.0, stream=pipe) as line:
        assert not line.active
    quiet = _Terminal()
    with ProgressLine(
        lambda: 0, label="x", min_duration_s=1.0, stream=quiet, enabled=False
    ) as line:
        assert not line.active
    assert pipe.getvalue() == quiet.getvalue() == ""
    assert format_rate(1_234_567) == "1.23 M" and format_rate(12.0) == "12.0"


def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, cmpy.loadgen as m; "
        "print(sorted({'numpy', 'onnxruntime', 'mlperf_loadgen'} & set(sys.modules)))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"
