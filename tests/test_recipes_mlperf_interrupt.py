"""Ctrl-C, SIGTERM and concurrent runs of the real ``cmpy run "app mlperf inference"``.

Each test starts the command line in a process of its own, with its own
CMPY_HOME (warmed once for the module, so that the app is the only recipe
left to run and its body runs in the main thread) and its own benchmark
lock, waits until LoadGen writes its detail log, and then signals it: the
command must end within 2 s (plus a margin for a busy machine) with 128 +
the signal's number, one line saying what was interrupted, no abort or core
dump, and no partial logs or results left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")
pytest.importorskip("mlperf_loadgen")

ROOT = Path(__file__).resolve().parents[1]
PROMPT_S = 2.0  # what a stop may take
WALL_S = 5.0  # ... measured from outside, with the interpreter's exit and a busy CI
LOADGEN_LOGS = ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json")


@dataclass
class Command:
    """A ``python -m cmpy`` process and what it printed so far."""

    proc: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for stream, lines in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            threading.Thread(target=_pump, args=(stream, lines), daemon=True).start()

    def wait_for(self, what: str, ready: Callable[[], bool], *, timeout: float = 90.0) -> None:
        """Until ``ready()`` (``what`` names it for the failure message)."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                pytest.fail(f"ended before {what}: {self.err[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout} s: {self.err[-2000:]}")
            time.sleep(0.01)

    def wait_for_loadgen(self, out: Path) -> None:
        """Until LoadGen writes its detail log somewhere under ``out``."""
        self.wait_for("LoadGen's detail log", lambda: any(out.rglob("mlperf_log_detail.txt")))

    def stop(self, number: int = signal.SIGINT) -> float:
        """Send ``number``; the seconds until the process ended."""
        sent = time.monotonic()
        self.proc.send_signal(number)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail("still running 30 s after the signal")
        took = time.monotonic() - sent
        time.sleep(0.1)  # the pumps read the last lines
        return took

    @property
    def err(self) -> str:
        return "".join(self.stderr)


def _pump(stream: object, lines: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.append(line)


@pytest.fixture
def cmpy(tmp_path: Path) -> Iterator[Callable[..., Command]]:
    """Start ``python -m cmpy ARGS`` with the test's CMPY_HOME and benchmark lock."""
    started: list[Command] = []

    def start(*args: str, home: Path) -> Command:
        env = dict(
            os.environ,
            CMPY_HOME=str(home),
            CMPY_BENCHMARK_LOCK=str(tmp_path / "benchmark.lock"),
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "cmpy", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        command = Command(proc)
        started.append(command)
        return command

    yield start
    for command in started:
        if command.proc.poll() is None:
            command.proc.kill()
        command.proc.wait()
        for stream in (command.proc.stdout, command.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def warm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CMPY_HOME where the digits data set and model are cached already."""
    home = tmp_path_factory.mktemp("interrupt-home")
    env = dict(
        os.environ,
        CMPY_HOME=str(home),
        CMPY_BENCHMARK_LOCK=str(home / "benchmark.lock"),
    )
    for query in ("app mlperf inference", "app mlperf inference _null"):
        subprocess.run(
            [sys.executable, "-m", "cmpy", "run", query, "--min_duration=50", "--quiet"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    return home


def _assert_stopped(command: Command, took: float, status: int, out: Path, *what: str) -> None:
    err = command.err
    assert command.proc.returncode == status, err[-3000:]
    assert took < WALL_S, f"took {took:.2f} s to end"
    assert "terminate called" not in err and "Fatal Python error" not in err, err[-3000:]
    said = [line for line in command.stderr if line.startswith("cmpy: interrupted")]
    assert len(said) == 1, err[-3000:]
    for part in what:
        assert part in said[0], said[0]
    left = [p.name for p in out.rglob("*") if p.name in (*LOADGEN_LOGS, "results.json")]
    assert left == [], f"a stopped run left {left}"


@pytest.mark.parametrize(
    ("query", "args", "running"),
    [
        pytest.param(
            "app mlperf inference _null",
            ["--scenario=Offline"],
            "the Offline performance run (its partial logs were removed)",
            id="null-Offline",
        ),
        pytest.param(
            "app mlperf inference _official",
            # a load given: the pilot of a 600 s run (3 s) is not what is tested here
            ["--scenario=SingleStream", "--target_latency=1"],
            "the SingleStream performance run (its partial logs were removed)",
            id="digits-SingleStream-official",
        ),
        pytest.param(
            "app mlperf inference _null _official",
            ["--scenario=Server", "--target_qps=1000"],
            "the Server performance run (its partial logs were removed)",
            id="null-Server-official",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "app mlperf inference",
            # every sample once, at 100 a second: 4.5 s
            ["--scenario=Server", "--mode=accuracy", "--target_qps=100"],
            "the Server accuracy run",
            id="digits-Server-accuracy",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "app mlperf inference _null _find-performance",
            ["--scenario=Server", "--min_duration=5000"],
            "the Server performance run",
            id="null-find-performance",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_ctrl_c_during_the_benchmark(
    cmpy: Callable[..., Command],
    warm_home: Path,
    tmp_path: Path,
    query: str,
    args: list[str],
    running: str,
) -> None:
    out = tmp_path / "out"
    command = cmpy("run", query, *args, f"--output_dir={out}", home=warm_home)
    command.wait_for_loadgen(out)
    time.sleep(0.3)
    took = command.stop(signal.SIGINT)
    _assert_stopped(
        command, took, 130, out, "interrupted by Ctrl-C while running app-mlperf-inference", running
    )


@pytest.mark.slow
def test_sigterm_during_the_benchmark(
    cmpy: Callable[..., Command], warm_home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    command = cmpy(
        "run",
        "app mlperf inference _null _official",
        "--scenario=SingleStream",
        "--target_latency=1",
        f"--output_dir={out}",
        home=warm_home,
    )
    command.wait_for_loadgen(out)
    took = command.stop(signal.SIGTERM)
    _assert_stopped(command, took, 143, out, "interrupted by SIGTERM while running", "SingleStream")


@pytest.mark.slow
def test_ctrl_c_in_the_first_run_where_the_body_runs_in_a_worker_thread(
    cmpy: Callable[..., Command], tmp_path: Path
) -> None:
    """A fresh home: the data set is built too, so the app's body runs in a worker
    thread and Ctrl-C reaches the executor, which sets ctx.cancelled and gives the
    body a few seconds to stop; the line says what the body stopped."""
    out = tmp_path / "out"
    command = cmpy(
        "run",
        "app mlperf inference _null _official",
        "--scenario=Server",
        "--target_qps=1000",
        f"--output_dir={out}",
        home=tmp_path / "fresh-home",
    )
    command.wait_for_loadgen(out)
    time.sleep(0.3)
    took = command.stop(signal.SIGINT)
    _assert_stopped(
        command,
        took,
        130,
        out,
        "interrupted by Ctrl-C while running app-mlperf-inference",
        "the Server performance run (its partial logs were removed)",
    )


def test_no_wait_refuses_while_another_benchmark_runs(
    cmpy: Callable[..., Command], warm_home: Path, tmp_path: Path
) -> None:
    holder = cmpy(
        "run",
        "app mlperf inference _null _official",
        "--scenario=Server",
        "--target_qps=1000",
        f"--output_dir={tmp_path / 'first'}",
        home=warm_home,
    )
    holder.wait_for_loadgen(tmp_path / "first")
    second = cmpy(
        "run",
        "app mlperf inference _null",
        "--no-wait",
        f"--output_dir={tmp_path / 'second'}",
        home=warm_home,
    )
    second.proc.wait(timeout=60)
    time.sleep(0.1)
    assert second.proc.returncode == 1, second.err
    lock = tmp_path / "benchmark.lock"
    assert (
        f"not starting an MLPerf Offline performance run: another benchmark is running "
        f"(the benchmark lock {lock} is held by pid {holder.proc.pid} "
        f"(an MLPerf Server performance run))"
    ) in second.err
    assert "try: run again once it has finished, or without --no_wait" in second.err
    assert not list((tmp_path / "second").rglob("results.json"))
    holder.stop()


@pytest.mark.slow
def test_a_second_benchmark_waits_for_the_first_and_says_so(
    cmpy: Callable[..., Command], warm_home: Path, tmp_path: Path
) -> None:
    first = cmpy(
        "run",
        "app mlperf inference _null",
        "--min_duration=1500",
        f"--output_dir={tmp_path / 'first'}",
        home=warm_home,
    )
    first.wait_for_loadgen(tmp_path / "first")
    second = cmpy(
        "run",
        "app mlperf inference _null",
        "--min_duration=100",
        f"--output_dir={tmp_path / 'second'}",
        home=warm_home,
    )
    # the second measures only once the first has finished
    second_logs = tmp_path / "second"
    while first.proc.poll() is None:
        assert not any(second_logs.rglob("mlperf_log_detail.txt")), "measured side by side"
        time.sleep(0.01)
    assert first.proc.returncode == 0, first.err
    assert second.proc.wait(timeout=60) == 0, second.err
    time.sleep(0.1)
    waited = [line for line in second.stderr if "waiting for the benchmark lock" in line]
    assert len(waited) == 1, second.err
    assert f"held by pid {first.proc.pid} (an MLPerf Offline performance run)" in waited[0]
