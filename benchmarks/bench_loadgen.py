"""How fast is cmpy's LoadGen harness? Three measurements, one table.

    python benchmarks/bench_loadgen.py [--duration-ms 2000] [--server-duration-ms 2000]

(a) Offline, null backend: the harness against a minimal raw LoadGen fast
    SUT (chunks of 4096, empty responses) in the same process, alternating
    runs; the ratio of medians should be at least 0.90.
(b) Server, null backend: the highest target QPS that stays VALID (p99 within
    10 ms), found by doubling then bisecting with short runs.
(c) Offline, a digits classifier in ONNX: the harness (batched inference,
    chunked completion, worker threads) against the reference-harness
    pattern (``ConstructSUT``, one ``predict`` and one
    ``QuerySamplesComplete`` per sample), as a ratio.

Every run is a real LoadGen run; each side's expected QPS comes from its own
short pilot so that both runs are VALID and last the same minimum duration.
Needs: mlcommons-loadgen, numpy, onnxruntime, scikit-learn, skl2onnx.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mlperf_loadgen as lg
import numpy as np

from cmpy.loadgen import (
    Dataset,
    LoadgenSettings,
    NullBackend,
    OnnxRuntimeBackend,
    ResultRecord,
    parse_detail_log,
    run_benchmark,
)


def raw_run(
    make_sut: Callable[[], tuple[Any, Callable[[Any], None]]],
    settings: LoadgenSettings,
    samples: int,
) -> ResultRecord:
    """One LoadGen run of a hand-written SUT; ``make_sut`` returns (handle, destroy)."""
    sut, destroy = make_sut()
    qsl = lg.ConstructQSL(samples, samples, lambda s: None, lambda s: None)
    with tempfile.TemporaryDirectory() as logs:
        lg.StartTestWithLogSettings(
            sut, qsl, settings.to_test_settings(), settings.log_settings(logs)
        )
        record = parse_detail_log(logs)
    lg.DestroyQSL(qsl)
    destroy(sut)
    return record


def raw_fast_sut() -> tuple[Any, Callable[[Any], None]]:
    """The minimal fast SUT: every sample answered empty, in chunks of 4096."""
    response, complete = lg.QuerySampleResponse, lg.QuerySamplesComplete

    def issue(ids: list[int], indices: list[int]) -> None:
        for start in range(0, len(ids), 4096):
            complete([response(i, 0, 0) for i in ids[start : start + 4096]])

    return lg.ConstructFastSUT(issue, lambda: None), lg.DestroyFastSUT


def reference_sut(backend: OnnxRuntimeBackend) -> Callable[[], tuple[Any, Callable[[Any], None]]]:
    """The reference-harness pattern: per-sample objects, inference and completion."""

    def make() -> tuple[Any, Callable[[Any], None]]:
        def issue(query_samples: list[Any]) -> None:
            for sample in query_samples:
                out = np.ascontiguousarray(backend.predict(np.array([sample.index], np.int64)))
                lg.QuerySamplesComplete(
                    [lg.QuerySampleResponse(sample.id, out.ctypes.data, out.nbytes)]
                )

        return lg.ConstructSUT(issue, lambda: None), lg.DestroySUT

    return make


def pilot_rate(run: Callable[[LoadgenSettings], ResultRecord], guess: float) -> float:
    """Samples/s of a 500 ms Offline pilot, to size the measured run."""
    record = run(LoadgenSettings(scenario="Offline", min_duration_ms=500, target_qps=guess))
    return record.samples_per_second or guess


def bench_offline_null(duration_ms: int, repeats: int) -> dict[str, Any]:
    dataset = Dataset(np.zeros((1024, 1), np.float32), name="null-1024")

    def harness(settings: LoadgenSettings) -> ResultRecord:
        with tempfile.TemporaryDirectory() as out:
            return run_benchmark(
                settings,
                NullBackend(),
                dataset,
                out,
                max_batchsize=4096,
                calibrate=False,
                quiet=True,
            )

    def raw(settings: LoadgenSettings) -> ResultRecord:
        return raw_run(raw_fast_sut, settings, len(dataset))

    plans = {
        name: pilot_rate(run, 1.5e6) * 1.25 for name, run in (("raw", raw), ("harness", harness))
    }
    rates: dict[str, list[float]] = {"raw": [], "harness": []}
    valid: dict[str, list[str]] = {"raw": [], "harness": []}
    for _ in range(repeats):
        for name, run in (("raw", raw), ("harness", harness)):
            record = run(
                LoadgenSettings(
                    scenario="Offline", min_duration_ms=duration_ms, target_qps=plans[name]
                )
            )
            rates[name].append(record.samples_per_second or 0.0)
            valid[name].append(record.validity or "?")
    raw_median, harness_median = (statistics.median(rates[k]) for k in ("raw", "harness"))
    return {
        "raw_samples_per_s": raw_median,
        "harness_samples_per_s": harness_median,
        "ratio": harness_median / raw_median,
        "runs": rates,
        "validity": valid,
    }


def bench_server_null(duration_ms: int, steps: int) -> dict[str, Any]:
    dataset = Dataset(np.zeros((1024, 1), np.float32), name="null-1024")
    tried: list[tuple[float, str, float | None]] = []

    def valid_at(qps: float) -> bool:
        settings = LoadgenSettings(
            scenario="Server", min_duration_ms=duration_ms, target_qps=qps, target_latency_ms=10.0
        )
        with tempfile.TemporaryDirectory() as out:
            record = run_benchmark(
                settings,
                NullBackend(),
                dataset,
                out,
                max_batchsize=256,
                calibrate=False,
                quiet=True,
            )
        tried.append((qps, record.validity or "?", record.latency_ns.get("p99")))
        return record.validity == "VALID"

    low, high = 50_000.0, 100_000.0
    if not valid_at(low):
        return {"highest_valid_qps": None, "tried": tried}
    while valid_at(high):  # double until a rate fails
        low, high = high, high * 2
        if high > 5e6:
            break
    for _ in range(steps):
        middle = (low + high) / 2
        if valid_at(middle):
            low = middle
        else:
            high = middle
    return {"highest_valid_qps": low, "first_invalid_qps": high, "tried": tried}


def digits_model(home: Path) -> tuple[Path, Any, Any]:
    """The embedded default's model and held-out data, made by its recipes in ``home``."""
    os.environ["CMPY_HOME"] = str(home)
    import cmpy

    model = cmpy.run("get ml-model digits _onnx", quiet=True)
    data = cmpy.run("get preprocessed dataset digits _val", quiet=True)
    inputs = np.load(data["CMPY_DATASET_PREPROCESSED_DATA_PATH"])
    labels = np.load(data["CMPY_DATASET_PREPROCESSED_LABELS_PATH"])
    return Path(model["CMPY_ML_MODEL_FILE_WITH_PATH"]), inputs, labels


def bench_offline_digits(duration_ms: int, max_batchsize: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        model, inputs, labels = digits_model(Path(scratch))
        dataset = Dataset(inputs, labels, name="digits-test")
        with tempfile.TemporaryDirectory() as out:
            batched = run_benchmark(
                LoadgenSettings(scenario="Offline", min_duration_ms=duration_ms),
                OnnxRuntimeBackend(model, threads=1),
                dataset,
                out,
                max_batchsize=max_batchsize,
                quiet=True,
            )
        backend = OnnxRuntimeBackend(model, threads=1)
        backend.load(dataset)

        def reference(settings: LoadgenSettings) -> ResultRecord:
            return raw_run(reference_sut(backend), settings, len(dataset))

        plan = pilot_rate(reference, 20_000.0) * 1.25
        one_by_one = reference(
            LoadgenSettings(scenario="Offline", min_duration_ms=duration_ms, target_qps=plan)
        )
        backend.close()
    harness_rate = batched.samples_per_second or 0.0
    reference_rate = one_by_one.samples_per_second or 0.0
    return {
        "harness_samples_per_s": harness_rate,
        "harness_validity": batched.validity,
        "harness_threads": batched.harness["threads"],
        "max_batchsize": max_batchsize,
        "reference_samples_per_s": reference_rate,
        "reference_validity": one_by_one.validity,
        "ratio": harness_rate / reference_rate if reference_rate else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-ms", type=int, default=2000, help="Offline min duration")
    parser.add_argument("--server-duration-ms", type=int, default=2000, help="Server run length")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs in (a)")
    parser.add_argument("--bisect-steps", type=int, default=4, help="bisection steps in (b)")
    parser.add_argument("--batch", type=int, default=256, help="harness max_batchsize in (c)")
    parser.add_argument("--only", choices=["a", "b", "c"], action="append", help="run only these")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    chosen = set(args.only or ["a", "b", "c"])
    began = time.perf_counter()
    figures: dict[str, Any] = {}
    rows: list[tuple[str, str, str]] = []
    if "a" in chosen:
        a = figures["offline_null"] = bench_offline_null(args.duration_ms, args.repeats)
        rows += [
            (
                "(a) Offline null, raw fast SUT",
                f"{a['raw_samples_per_s']:,.0f} samples/s",
                "/".join(a["validity"]["raw"]),
            ),
            (
                "(a) Offline null, cmpy harness",
                f"{a['harness_samples_per_s']:,.0f} samples/s",
                "/".join(a["validity"]["harness"]),
            ),
            ("(a) harness / raw", f"{a['ratio']:.2f}", "target >= 0.90"),
        ]
    if "b" in chosen:
        b = figures["server_null"] = bench_server_null(args.server_duration_ms, args.bisect_steps)
        best = b["highest_valid_qps"]
        rows.append(
            (
                "(b) Server null, highest VALID QPS",
                f"{best:,.0f}" if best else "none",
                f"{len(b['tried'])} runs; target >= 175,000",
            )
        )
    if "c" in chosen:
        c = figures["offline_digits"] = bench_offline_digits(args.duration_ms, args.batch)
        rows += [
            (
                f"(c) Offline digits, harness (batch {c['max_batchsize']})",
                f"{c['harness_samples_per_s']:,.0f} samples/s",
                str(c["harness_validity"]),
            ),
            (
                "(c) Offline digits, one sample at a time",
                f"{c['reference_samples_per_s']:,.0f} samples/s",
                str(c["reference_validity"]),
            ),
            ("(c) batched / one at a time", f"{c['ratio']:.1f}x" if c["ratio"] else "n/a", ""),
        ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'figure':>22}  note")
    for name, figure, note in rows:
        print(f"{name:<{width}}  {figure:>22}  {note}")
    print(
        f"({time.perf_counter() - began:.0f} s; Python {sys.version.split()[0]}, "
        f"mlcommons-loadgen {loadgen_version()})"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def loadgen_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlcommons-loadgen")
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
