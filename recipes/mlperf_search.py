"""``app mlperf inference _find-performance``: search the load that a system sustains.

Short LoadGen runs (500 ms each unless ``--min_duration`` says) look for the
highest Server target QPS that stays VALID, doubling or halving to a bracket
and then bisecting it, and for an Offline expected QPS whose run lasts its
minimum duration. The report goes where the app's does, and a user.conf with
what was found goes into ``OUTPUT_DIR/find-performance/``, ready for a
longer run or for ``_submission``. It measures: nothing here is cached.

The app (``recipes/mlperf.py``) reads the inputs and builds the ``Bench``
these functions drive; this module imports nothing from it at run time.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmpy import Result, UsageError

if TYPE_CHECKING:
    from cmpy.loadgen import Backend, LoadgenSettings

    from .mlperf import Bench

# each probe's minimum duration unless --min_duration says, how many probes
# the Server search may run, and when a bracket is narrow enough
PROBE_MS = 500
MAX_PROBES = 10
BRACKET = 1.1
# the scenarios whose load is searched: SingleStream and MultiStream are measured
SEARCHED = ("Server", "Offline")


def find_performance(bench: Bench) -> Result:
    """Search the load with short runs; report it and write it as a user.conf."""
    asked = bench.ctx.env.get("CMPY_MLPERF_SCENARIO", "").strip()
    scenarios = bench.opts.scenarios if asked else SEARCHED
    wanted = [s for s in scenarios if s in SEARCHED]
    if not wanted:
        raise UsageError(
            "_find-performance searches the Server and Offline loads",
            hint="SingleStream and MultiStream are measured, not searched: "
            "--scenario=Server, Offline or all",
        )
    probe_ms = bench.opts.min_duration_ms or PROBE_MS
    out = bench.opts.output_dir / "find-performance"
    bench.say(bench.header(), f"searching with runs of {probe_ms} ms (short: not official)")
    found: dict[str, dict[str, Any]] = {}
    if "Server" in wanted:
        found["Server"] = search_server(bench, out / "Server", probe_ms)
    if "Offline" in wanted:
        found["Offline"] = search_offline(bench, out / "Offline", probe_ms)
    name = bench.model_name
    conf = [
        f"# cmpy app mlperf inference _find-performance: runs of {probe_ms} ms, not official",
        "# Server: the highest target QPS that stayed VALID; a long run may need less",
    ]
    env = {"CMPY_MLPERF_OUTPUT_DIR": str(bench.opts.output_dir), "CMPY_MLPERF_MODEL": name}
    server = found.get("Server", {}).get("highest_valid_qps")
    if server:
        conf.append(f"{name}.Server.target_qps = {server:.1f}")
        env["CMPY_MLPERF_SERVER_TARGET_QPS"] = f"{server:.1f}"
    offline = found.get("Offline", {})
    if offline.get("expected_qps"):
        conf.append(f"{name}.Offline.target_qps = {offline['expected_qps']:.1f}")
        env["CMPY_MLPERF_OFFLINE_TARGET_QPS"] = f"{offline['expected_qps']:.1f}"
        if offline.get("samples_per_second"):
            env["CMPY_MLPERF_OFFLINE_SAMPLES_PER_SECOND"] = f"{offline['samples_per_second']:.3f}"
    out.mkdir(parents=True, exist_ok=True)
    user_conf = out / "user.conf"
    user_conf.write_text("\n".join(conf) + "\n", encoding="utf-8")
    env["CMPY_MLPERF_USER_CONF"] = str(user_conf)
    bench.say(f"user.conf: {user_conf}")
    (out / "summary.txt").write_text("\n".join(bench.printed) + "\n", encoding="utf-8")
    return Result(env=env, state={"mlperf_find_performance": found})


def _close(backend: Backend) -> None:
    close = getattr(backend, "close", None)
    if callable(close):
        close()


def _start(bench: Bench, settings: LoadgenSettings) -> float:
    """The harness's calibrated starting load for ``settings`` (or the one asked for)."""
    from cmpy.loadgen import calibrate

    if bench.opts.target_qps is not None:
        return bench.opts.target_qps
    backend = bench.backend(settings.scenario.value)
    try:
        chosen, _ = calibrate(
            settings,
            backend,
            bench.dataset,
            max_batchsize=bench.opts.max_batchsize,
            threads=bench.opts.threads,
            **bench.stopping(),
        )
    finally:
        _close(backend)
    return float(chosen.target_qps or 1.0)


def search_server(bench: Bench, out: Path, probe_ms: int) -> dict[str, Any]:
    """The highest Server target QPS that stays VALID: double or halve to a bracket, then bisect."""
    base = bench.settings("Server", min_duration_ms=probe_ms, official=False, user_conf=None)
    probes: list[dict[str, Any]] = []

    def valid(qps: float) -> bool:
        record = bench.run(
            base.replace(target_qps=qps), out / f"probe-{len(probes) + 1:02d}", calibrate=False
        )
        p99 = record.latency_ns.get("p99")
        probes.append(
            {
                "target_qps": qps,
                "validity": record.validity,
                "p99_ms": None if p99 is None else p99 / 1e6,
                "completed_samples_per_second": record.samples_per_second,
                "reasons": list(record.invalid_reasons),
            }
        )
        latency = "" if p99 is None else f", p99 {p99 / 1e6:.3f} ms"
        bench.say(f"  Server probe {len(probes)}: {qps:,.0f} QPS -> {record.validity}{latency}")
        return record.valid is True

    low: float | None = None
    high: float | None = None
    qps = _start(bench, base)
    while len(probes) < bench.opts.probes:
        if valid(qps):
            low = qps
        else:
            high = qps
        if high is None:
            qps = qps * 2
        elif low is None:
            qps = qps / 2
        elif high / low > BRACKET:
            qps = math.sqrt(low * high)  # geometric: the bracket spans orders of magnitude
        else:
            break
    if low is None:
        bench.say(f"Server: no VALID target QPS down to {qps:,.0f}")
    else:
        above = f", {high:,.0f} was not" if high else " (the largest tried)"
        bench.say(f"Server: highest VALID target QPS {low:,.0f}{above}")
    return {"highest_valid_qps": low, "lowest_invalid_qps": high, "probes": probes}


def search_offline(bench: Bench, out: Path, probe_ms: int) -> dict[str, Any]:
    """An Offline expected QPS whose run lasts its minimum duration, checked by running it."""
    base = bench.settings("Offline", min_duration_ms=probe_ms, official=False, user_conf=None)
    expected = _start(bench, base)
    runs: list[dict[str, Any]] = []
    record = None
    for attempt in range(1, 4):
        record = bench.run(
            base.replace(target_qps=expected), out / f"run-{attempt}", calibrate=False
        )
        runs.append(
            {
                "expected_qps": expected,
                "validity": record.validity,
                "samples_per_second": record.samples_per_second,
            }
        )
        rate = record.samples_per_second
        if record.valid or record.min_duration_met is not False or not rate:
            break
        # it ran out of samples before the minimum duration: plan from what it achieved
        expected = rate * 1.5
    assert record is not None
    if not record.valid:
        bench.say(f"Offline: no VALID run ({'; '.join(record.invalid_reasons)})")
        return {"expected_qps": None, "samples_per_second": record.samples_per_second, "runs": runs}
    bench.say(
        f"Offline: expected QPS {expected:,.0f} "
        f"(a run at it: VALID, {record.samples_per_second or 0:,.0f} samples/s)"
    )
    return {"expected_qps": expected, "samples_per_second": record.samples_per_second, "runs": runs}
