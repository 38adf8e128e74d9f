"""The machine-wide benchmark lock: one measurement at a time, whoever runs it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmpy import CmpyError, Interrupted
from cmpy.loadgen import (
    BenchmarkBusy,
    BenchmarkLock,
    Dataset,
    Interruptible,
    LoadgenSettings,
    NullBackend,
    benchmark_lock_path,
    run_benchmark,
)

np = pytest.importorskip("numpy")
pytest.importorskip("fcntl")


def test_the_default_lock_is_the_machines_not_the_homes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CMPY_BENCHMARK_LOCK")
    monkeypatch.setenv("TMPDIR", "/nonexistent/per-user")
    assert benchmark_lock_path() == "/tmp/cmpy-benchmark.lock"
    monkeypatch.setenv("CMPY_BENCHMARK_LOCK", "~/x.lock")
    assert benchmark_lock_path() == os.path.expanduser("~/x.lock")


def test_a_second_holder_waits_or_is_refused(benchmark_lock: Path) -> None:
    first = BenchmarkLock("the first run")
    first.acquire()
    assert first.held
    # made for every user of the machine, whatever the umask
    assert stat.S_IMODE(benchmark_lock.stat().st_mode) == 0o666
    second = BenchmarkLock("the second run")
    with pytest.raises(BenchmarkBusy) as busy:
        second.acquire(wait=False)
    assert busy.value.path == str(benchmark_lock)
    assert busy.value.holder == f"pid {os.getpid()} (the first run)"
    assert str(busy.value).startswith(
        f"not starting the second run: another benchmark is running "
        f"(the benchmark lock {benchmark_lock} is held by pid {os.getpid()} (the first run))"
    )
    assert "--no_wait" in str(busy.value)
    said: list[str] = []
    threading.Timer(0.3, first.release).start()
    began = time.monotonic()
    second.acquire(notify=said.append)
    assert 0.25 < time.monotonic() - began < 5
    assert said == [
        f"waiting for the benchmark lock held by pid {os.getpid()} (the first run), so as not "
        f"to measure beside it (lock file {benchmark_lock}) ..."
    ]
    second.release()
    assert not second.held
    second.release()  # twice is harmless


def test_a_stop_while_waiting_gives_up_the_wait() -> None:
    with BenchmarkLock("the first run"):
        began = time.monotonic()
        with (
            Interruptible(lambda: time.monotonic() - began > 0.2) as stop,
            pytest.raises(Interrupted, match="waiting for the benchmark lock to start x"),
        ):
            BenchmarkLock("x").acquire(stop=stop, notify=lambda _: None)


def test_an_unusable_lock_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(
        CmpyError, match=r"(?s)cannot open the benchmark lock .*CMPY_BENCHMARK_LOCK"
    ):
        BenchmarkLock("x", path=str(tmp_path / "missing" / "x.lock")).acquire()


@pytest.fixture
def holder(benchmark_lock: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the benchmark lock until its stdin closes."""
    code = textwrap.dedent(
        """
        import sys
        from cmpy.loadgen import BenchmarkLock
        lock = BenchmarkLock("another MLPerf run")
        lock.acquire()
        print("held", flush=True)
        sys.stdin.read()
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    ) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        yield proc
        proc.kill()


def _short(mode: str = "performance") -> LoadgenSettings:
    return LoadgenSettings(scenario="Offline", mode=mode, min_duration_ms=200, target_qps=5000.0)


def test_a_performance_run_waits_for_another_process_and_says_so(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    data = Dataset(np.zeros((64, 1), np.float32))
    with pytest.raises(BenchmarkBusy, match=f"held by pid {holder.pid} \\(another MLPerf run\\)"):
        run_benchmark(_short(), NullBackend(), data, tmp_path / "busy", wait=False, quiet=True)
    assert not (tmp_path / "busy" / "results.json").exists()
    # an accuracy run measures nothing: it neither waits nor is refused
    record = run_benchmark(
        _short("accuracy"), NullBackend(), data, tmp_path / "acc", wait=False, quiet=True
    )
    assert record.mode == "accuracy"
    said: list[str] = []
    threading.Timer(0.5, holder.kill).start()  # the OS drops a dead holder's lock
    record = run_benchmark(
        _short(), NullBackend(), data, tmp_path / "perf", quiet=True, notify=said.append
    )
    assert record.mode == "performance" and (tmp_path / "perf" / "results.json").is_file()
    assert len(said) == 1 and said[0].startswith(
        f"waiting for the benchmark lock held by pid {holder.pid} (another MLPerf run)"
    )
