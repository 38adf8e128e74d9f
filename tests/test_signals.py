"""Every child dies with cmpy, and a lock is never shared with an orphan.

SIGTERM and SIGHUP end a run as Ctrl-C does (the commands are killed on
the way out, exit status 128 + the signal); SIGKILL leaves cmpy no chance,
so its watchdog kills the commands still running. A second run waiting on
the same lock then starts only once the first one's command is dead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import cmpy.cache
from cmpy import Interrupted, _api, run

RECIPES = '''
from cmpy import Ctx, Dep, script

COMMAND = 'echo $$ >> "$PIDS"; echo "start $N" >> "$LOG"; sleep 4; echo "end $N" >> "$LOG"'
# a surviving first holder would write "end A" before the second's "end B": 2 s shows it
HOLD = COMMAND.replace("sleep 4", "sleep 2")


@script(
    tags="hold lock",
    alias="hold-lock",
    inputs={"name": ("HOLD_NAME", ""), "log": ("HOLD_LOG", ""), "pids": ("HOLD_PIDS", "")},
)
def hold(ctx: Ctx) -> None:
    env = {"N": ctx.env["HOLD_NAME"], "LOG": ctx.env["HOLD_LOG"], "PIDS": ctx.env["HOLD_PIDS"]}
    with ctx.lock_sync("the shared resource"):
        ctx.sh_sync(["sh", "-c", HOLD], env=env, quiet=True)


@script(tags="sleeper one", alias="sleeper-one", reads=["HOLD_*"])
def one(ctx: Ctx) -> None:
    env = {"N": "one", "LOG": ctx.env["HOLD_LOG"], "PIDS": ctx.env["HOLD_PIDS"]}
    ctx.sh_sync(["sh", "-c", COMMAND], env=env, quiet=True)


@script(tags="sleeper two", alias="sleeper-two", reads=["HOLD_*"])
def two(ctx: Ctx) -> None:
    env = {"N": "two", "LOG": ctx.env["HOLD_LOG"], "PIDS": ctx.env["HOLD_PIDS"]}
    ctx.sh_sync(["sh", "-c", COMMAND], env=env, quiet=True)


@script(
    tags="both sleepers",
    deps=[Dep("sleeper one"), Dep("sleeper two")],
    inputs={"log": ("HOLD_LOG", ""), "pids": ("HOLD_PIDS", "")},
)
def both(ctx: Ctx) -> None:
    pass


@script(tags="escaping daemon", alias="escaping-daemon", inputs={"pids": ("HOLD_PIDS", "")})
def escaping(ctx: Ctx) -> None:
    # a process in a session of its own: no process group reaches it, only the token
    ctx.sh_sync(["sh", "-c", 'setsid sleep 60 & echo $! >> "$PIDS"; sleep 30'],
                env={"PIDS": ctx.env["HOLD_PIDS"]}, quiet=True)


@script(tags="leaves daemon", alias="leaves-daemon", inputs={"pids": ("HOLD_PIDS", "")})
def leaves(ctx: Ctx) -> None:
    ctx.sh_sync(["sh", "-c", 'setsid sleep 60 > /dev/null 2>&1 & echo $! >> "$PIDS"'],
                env={"PIDS": ctx.env["HOLD_PIDS"]}, quiet=True)


@script(tags="interrupted body", alias="interrupted-body", cache=True)
def interrupted_body(ctx: Ctx) -> None:
    (ctx.path / "half-written").write_text("x")
    raise KeyboardInterrupt
'''


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "holders.py").write_text(textwrap.dedent(RECIPES))
    return {
        **os.environ,
        "CMPY_HOME": str(tmp_path / "home"),
        "CMPY_RECIPES_PATH": str(folder),
        "PYTHONUNBUFFERED": "1",
    }


def _start(env: dict[str, str], query: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cmpy", "run", query, *args, "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never appeared in {path}")


def _gone(pgid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "status"),
    [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGKILL, -9), (signal.SIGINT, 130)],
)
def test_a_signalled_run_takes_its_command_along(
    setup: dict[str, str], tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    log, pids = tmp_path / "log", tmp_path / "pids"
    common = [f"--log={log}", f"--pids={pids}"]
    first = _start(setup, "hold lock", "--name=A", *common)
    _wait_for(log, "start A")
    (pgid,) = map(int, pids.read_text().split())
    first.send_signal(sig)
    second = _start(setup, "hold lock", "--name=B", *common)
    _, err = first.communicate(timeout=30)
    assert first.returncode == status, err
    assert _gone(pgid), "the first run's command outlived it"
    _, second_err = second.communicate(timeout=60)
    assert second.returncode == 0, second_err
    # the second run held the lock alone: the first one's command never went on
    assert log.read_text().split("\n")[:-1] == ["start A", "start B", "end B"]
    if sig != signal.SIGKILL:
        lines = [line for line in err.splitlines() if line.startswith("cmpy:")]
        by = "Ctrl-C" if sig == signal.SIGINT else sig.name
        assert lines == [f"cmpy: interrupted by {by} while running hold-lock"], err
        assert "Traceback" not in err


@pytest.mark.slow
def test_a_signal_stops_concurrent_commands_and_names_them(
    setup: dict[str, str], tmp_path: Path
) -> None:
    log, pids = tmp_path / "log", tmp_path / "pids"
    proc = _start(setup, "both sleepers", f"--log={log}", f"--pids={pids}", "--jobs=2")
    _wait_for(log, "start one")
    _wait_for(log, "start two")
    groups = [int(p) for p in pids.read_text().split()]
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert time.monotonic() - started < 3.5
    assert all(_gone(pgid) for pgid in groups)
    (line,) = [line for line in err.splitlines() if line.startswith("cmpy:")]
    assert line.startswith("cmpy: interrupted by SIGTERM while running sleeper-")
    assert "end" not in log.read_text()


def test_an_interrupted_body_leaves_no_entry(
    setup: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMPY_RECIPES_PATH", setup["CMPY_RECIPES_PATH"])
    with pytest.raises(Interrupted) as caught:
        run("interrupted body", quiet=True)
    assert caught.value.recipe == "interrupted-body"
    assert str(caught.value) == "interrupted by Ctrl-C while running interrupted-body"
    assert caught.value.exit_status == 130
    assert cmpy.cache.ls("interrupted body") == []
    cache = _api.runtime().cache
    assert not any(Path(cache.entries_dir).rglob("half-written"))


def _pid_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="the token sweep reads /proc")
def test_a_killed_cmpy_takes_even_what_left_its_process_group(
    setup: dict[str, str], tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    proc = _start(setup, "escaping daemon", f"--pids={pids}")
    _wait_for(pids, "\n")
    (daemon,) = map(int, pids.read_text().split())
    proc.kill()
    proc.communicate(timeout=30)
    assert _pid_gone(daemon), "a process that left the group outlived a SIGKILLed cmpy"


def test_a_daemon_a_finished_command_left_behind_outlives_a_normal_exit(
    setup: dict[str, str], tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    proc = _start(setup, "leaves daemon", f"--pids={pids}")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    (daemon,) = map(int, pids.read_text().split())
    try:
        time.sleep(0.5)  # the watchdog has seen the end of the pipe by now
        os.kill(daemon, 0)  # still there: a server started on purpose lives on
    finally:
        os.kill(daemon, signal.SIGKILL)
