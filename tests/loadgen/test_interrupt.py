"""Stopping a LoadGen run: Ctrl-C, SIGTERM or ``cancelled()`` end even a 10-minute run at once.

Each run here is planned for ten minutes (a backend that sleeps in every
call keeps even Offline busy) and stopped once LoadGen has started, which
is when it writes its detail log.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cmpy import CmpyError, Interrupted
from cmpy.loadgen import (
    BackendError,
    Dataset,
    Interruptible,
    LoadgenSettings,
    NullBackend,
    calibrate,
    run_benchmark,
)

np = pytest.importorskip("numpy")
pytest.importorskip("mlperf_loadgen")

SCENARIOS = ["SingleStream", "MultiStream", "Server", "Offline"]
TEN_MINUTES = 600_000
# what a stop may take, and what a busy CI machine is allowed on top
PROMPT_S = 2.0
MARGIN_S = 1.5


class _Slow(NullBackend):
    """Sleeps 2 ms per call: an Offline query of 660 k samples lasts minutes."""

    name = "slow"

    def predict(self, indices: Any) -> Any:
        time.sleep(0.002)
        return super().predict(indices)


def _long(scenario: str, mode: str = "performance") -> LoadgenSettings:
    return LoadgenSettings(
        scenario=scenario,
        mode=mode,
        min_duration_ms=TEN_MINUTES,
        target_qps=1000.0 if scenario != "Server" else 200.0,
        target_latency_ms=2.0,
    )


def _data() -> Dataset:
    return Dataset(np.zeros((256, 1), np.float32))


class _OnceRunning:
    """``cancelled`` that turns True 0.2 s after LoadGen started writing into ``out``."""

    def __init__(self, out: Path, *, after_s: float = 0.2, give_up_s: float = 30.0) -> None:
        self._log = out / "mlperf_log_detail.txt"
        self._after_s = after_s
        self._give_up = time.monotonic() + give_up_s
        self._seen: float | None = None
        self.asked: float | None = None

    def running(self) -> bool:
        return self._seen is not None

    def __call__(self) -> bool:
        now = time.monotonic()
        if self._seen is None and self._log.exists():
            self._seen = now
        due = (self._seen is not None and now - self._seen >= self._after_s) or now > self._give_up
        if due and self.asked is None:
            self.asked = now
        return due


def _assert_no_result(out: Path) -> None:
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert left == [], f"partial logs left behind: {left}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_cancelled_ends_a_ten_minute_run_at_once(tmp_path: Path, scenario: str) -> None:
    out = tmp_path / "run"
    cancelled = _OnceRunning(out)
    with pytest.raises(Interrupted) as caught:
        run_benchmark(
            _long(scenario),
            _Slow(),
            _data(),
            out,
            max_batchsize=8,
            calibrate=False,
            quiet=True,
            cancelled=cancelled,
        )
    took = time.monotonic() - (cancelled.asked or 0.0)
    assert cancelled.running(), "LoadGen never started"
    assert took < PROMPT_S + MARGIN_S, f"took {took:.2f} s to stop"
    assert caught.value.what == f"the {scenario} performance run"
    assert caught.value.note == "its partial logs were removed"
    assert not out.exists()  # the folder it made, now empty, went too


def test_cancelled_from_a_worker_thread_ends_an_accuracy_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "mine.txt").write_text("not LoadGen's")
    (out / "results.json").write_text("{}")  # an earlier run's: about to be stale
    cancelled = _OnceRunning(out)
    raised: list[BaseException] = []

    def work() -> None:
        try:
            run_benchmark(
                _long("Server", "accuracy"),
                _Slow(),
                Dataset(np.zeros((100_000, 1), np.float32)),  # accuracy runs every sample
                out,
                max_batchsize=8,
                calibrate=False,
                quiet=True,
                cancelled=cancelled,
            )
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(60)
    assert cancelled.running() and cancelled.asked is not None
    assert [type(e) for e in raised] == [Interrupted]
    assert "the Server accuracy run" in str(raised[0])
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


@pytest.fixture
def fallback_handlers() -> Iterator[list[int]]:
    """Handlers of the test's own for SIGINT/SIGTERM, so that a signal never ends pytest."""
    called: list[int] = []

    def record(number: int, frame: object) -> None:
        called.append(number)

    previous = {s: signal.signal(s, record) for s in (signal.SIGINT, signal.SIGTERM)}
    yield called
    for number, handler in previous.items():
        signal.signal(number, handler)


def _signal_once_running(out: Path, number: int, *, after_s: float = 0.2) -> Callable[[], float]:
    """Send ``number`` to this process once LoadGen writes into ``out``; returns when it did."""
    sent: list[float] = []

    def send() -> None:
        deadline = time.monotonic() + 30
        while not (out / "mlperf_log_detail.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(after_s)
        sent.append(time.monotonic())
        os.kill(os.getpid(), number)

    threading.Thread(target=send, daemon=True).start()
    return lambda: sent[0]


@pytest.mark.parametrize(
    ("name", "status", "in_process"),
    [("SIGINT", 130, False), ("SIGTERM", 143, False), ("SIGINT", 130, True)],
)
def test_a_signal_in_the_main_thread_ends_the_run(
    tmp_path: Path, fallback_handlers: list[int], name: str, status: int, in_process: bool
) -> None:
    """In the main thread a signal only records itself while LoadGen runs (no exception
    may cross its C++ frames); the run then stops and the previous handlers come back.
    In this process (no child to kill), Offline ends at once too."""
    number = getattr(signal, name)
    before = signal.getsignal(number)
    out = tmp_path / "run"
    sent_at = _signal_once_running(out, number)
    with pytest.raises(Interrupted) as caught:
        run_benchmark(
            _long("Offline"),
            _Slow(),
            _data(),
            out,
            max_batchsize=8,
            calibrate=False,
            quiet=True,
            in_process=in_process,
        )
    took = time.monotonic() - sent_at()
    assert took < PROMPT_S + MARGIN_S, f"took {took:.2f} s to stop"
    assert (caught.value.signal_name, caught.value.exit_status) == (name, status)
    assert str(caught.value) == (
        f"interrupted by {'Ctrl-C' if name == 'SIGINT' else name} while running "
        "the Offline performance run (its partial logs were removed)"
    )
    assert fallback_handlers == []  # the harness's handler took it, not the previous one
    assert signal.getsignal(number) is before
    _assert_no_result(out)


def test_a_stop_while_calibrating_says_so_and_leaves_no_pilot_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    began = time.monotonic()
    with pytest.raises(Interrupted, match="the Offline performance run, calibrating"):
        run_benchmark(
            _long("Offline").replace(target_qps=None),
            _Slow(),
            _data(),
            tmp_path / "run",
            max_batchsize=8,
            quiet=True,
            cancelled=lambda: time.monotonic() - began > 0.3,
        )
    assert list(scratch.iterdir()) == []
    with pytest.raises(Interrupted, match="calibrating"):
        calibrate(
            _long("SingleStream").replace(target_latency_ms=None),
            _Slow(),
            _data(),
            cancelled=lambda: time.monotonic() - began > 0.6,
        )
    assert list(scratch.iterdir()) == []


def test_cancelled_before_the_start_runs_nothing(tmp_path: Path) -> None:
    class _Untouchable(NullBackend):
        def load(self, dataset: Dataset) -> None:
            raise AssertionError("loaded")

    with pytest.raises(Interrupted, match=r"the Offline performance run \(nothing was run\)"):
        run_benchmark(_long("Offline"), _Untouchable(), _data(), tmp_path, cancelled=lambda: True)


class _Crashing(NullBackend):
    name = "crashing"

    def predict(self, indices: Any) -> Any:
        os.kill(os.getpid(), signal.SIGKILL)  # in the child: what a segfault looks like
        return super().predict(indices)


class _BadLoad(NullBackend):
    name = "bad-load"

    def load(self, dataset: Dataset) -> None:
        raise ValueError("not a model")


def test_what_the_child_raises_or_how_it_died_reaches_the_caller(tmp_path: Path) -> None:
    short = LoadgenSettings(scenario="Offline", min_duration_ms=200, target_qps=1000.0)
    with pytest.raises(
        CmpyError,
        match=r"the Offline performance run crashed while running: "
        r"its process was killed by SIGKILL",
    ):
        run_benchmark(short, _Crashing(), _data(), tmp_path / "a", calibrate=False, quiet=True)
    with pytest.raises(ValueError, match="not a model") as caught:
        run_benchmark(short, _BadLoad(), _data(), tmp_path / "b", calibrate=False, quiet=True)
    assert any("raised in the LoadGen process" in note for note in caught.value.__notes__)

    class _Failing(NullBackend):
        name = "failing"

        def predict(self, indices: Any) -> Any:
            raise RuntimeError("device lost")

    with pytest.raises(BackendError) as failed:
        run_benchmark(short, _Failing(), _data(), tmp_path / "c", calibrate=False, quiet=True)
    # rebuilt without its __init__: every attribute is there
    assert failed.value.backend == "failing" and "device lost" in failed.value.problem
    assert failed.value.hint and "answered empty" in failed.value.hint


def test_interruptible_restores_handlers_and_polls_cancelled(
    fallback_handlers: list[int],
) -> None:
    flag = [False]
    with Interruptible(lambda: flag[0]) as stop:
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        assert not stop.requested and not stop.wait(0.01)
        flag[0] = True
        assert stop.requested and stop.wait(5)
        with pytest.raises(Interrupted, match=r"^interrupted by Ctrl-C while running x"):
            stop.check("x")
    with Interruptible() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5) and stop.signal_name == "SIGTERM"
    assert fallback_handlers == []
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ignored on purpose stays ignored
    with Interruptible():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
