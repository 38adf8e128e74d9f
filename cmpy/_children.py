"""Every process cmpy starts dies with it, however cmpy ends.

Each command runs in a process group of its own (its children with it), so
one ``killpg`` stops all of it. Three ways of ending are covered:

- a recipe is cancelled or a command times out: :func:`kill_group` sends
  SIGTERM, waits a grace period, then SIGKILL;
- cmpy gets SIGINT, SIGTERM or SIGHUP: the exception that unwinds the run
  kills each command on the way (``run_command``), and the command line
  ends with :func:`kill_all` for whatever is left;
- cmpy is killed outright (SIGKILL, a crash): nothing in it runs any more,
  so a small watchdog process does the work. It is started with the first
  command, in a session of its own, and reads from a pipe whose only writer
  is cmpy: the group of each command as it starts, and again when it ends.
  When the pipe closes (cmpy is gone, whatever the way) it kills the groups
  still running. On Linux this is what ``PR_SET_PDEATHSIG`` would do for one
  child, for the whole group and on every POSIX system; unlike the prctl,
  it does not tie a command's life to the thread that started it (commands
  start from worker threads that come and go).

A command that finished is forgotten: what it left running in the
background on purpose (a server) outlives it, as in a shell.
"""

from __future__ import annotations

import os
import sys
import threading

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    import subprocess
    from typing import Any

__all__ = ["forget", "kill_all", "kill_group", "spawn"]

_GRACE = 3.0
# marks the processes this cmpy started (in their env), for a watchdog whose cmpy was killed
_TOKEN = os.urandom(8).hex()

_WATCHDOG = r"""
import os, signal, sys, time
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
token = sys.argv[2].encode()
live, buf, bye = set(), b"", False
while True:
    try:
        chunk = os.read(0, 4096)
    except InterruptedError:
        continue
    except OSError:
        break
    if not chunk:
        break
    buf += chunk
    *lines, buf = buf.split(b"\n")
    for line in lines:
        if line[:1] == b"+":
            live.add(int(line[1:]))
        elif line[:1] == b"-":
            live.discard(int(line[1:]))
        elif line == b"bye":
            bye = True
if not bye and os.path.isdir("/proc"):
    # cmpy died without saying so (SIGKILL, a crash): also every process that carries
    # its token, such as a command it had started but not yet told us about
    mark = b"CMPY_WATCHDOG=" + token + b"\0"
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/" + name + "/environ", "rb") as fh:
                if mark in fh.read() + b"\0":
                    live.add(os.getpgid(int(name)))
        except OSError:
            continue
def alive(pgid):
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True
for pgid in list(live):
    try:
        os.killpg(pgid, signal.SIGTERM)
    except OSError:
        live.discard(pgid)
deadline = time.monotonic() + float(sys.argv[1])
while live and time.monotonic() < deadline:
    time.sleep(0.02)
    live = {p for p in live if alive(p)}
for pgid in live:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


class _Registry:
    """The process groups running now, and the watchdog that outlives cmpy to end them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: dict[int, subprocess.Popen[bytes]] = {}
        self.pipe: int | None = None
        self.pid = os.getpid()

    def _tell(self, line: str) -> None:
        # called with self.lock held
        if os.name == "nt":  # pragma: no cover - no process groups
            return
        if self.pid != os.getpid():  # a forked child must not share the parent's watchdog
            self.pipe = None
            self.live.clear()
            self.pid = os.getpid()
        if self.pipe is None:
            self.pipe = _start_watchdog()
        if self.pipe is None:
            return
        try:
            os.write(self.pipe, line.encode() + b"\n")
        except OSError:
            self.pipe = None  # the watchdog is gone; signals and kill_all still work

    def ready(self) -> None:
        """Make sure the watchdog runs (before a command is started)."""
        if self.pipe is None or self.pid != os.getpid():
            with self.lock:
                self._tell("")

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self.lock:
            self.live[proc.pid] = proc
            self._tell(f"+{proc.pid}")

    def remove(self, proc: subprocess.Popen[bytes]) -> None:
        with self.lock:
            if self.live.pop(proc.pid, None) is not None:
                self._tell(f"-{proc.pid}")

    def all(self) -> list[subprocess.Popen[bytes]]:
        with self.lock:
            return list(self.live.values())


_REGISTRY = _Registry()


def _start_watchdog() -> int | None:
    """Start the watchdog; returns the pipe's writing end (``None`` when it cannot start).

    ``posix_spawn``, not ``Popen``: the watchdog outlives every Popen object
    of cmpy's, and it is never waited for (it ends after cmpy does). At a
    normal exit cmpy says ``bye``, so that what finished commands left in the
    background on purpose lives on; without it (cmpy was killed) the
    watchdog also ends every process that carries this cmpy's token in its
    environment, which covers a command killed before it was registered.
    """
    import atexit

    read, write = os.pipe()
    try:
        os.posix_spawn(
            sys.executable,
            [sys.executable, "-I", "-S", "-c", _WATCHDOG, str(_GRACE), _TOKEN],
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, read, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ],
            # its own session: the terminal's Ctrl-C or hang-up must not end it first
            setsid=True,
        )
    except (OSError, AttributeError, NotImplementedError):
        os.close(write)
        return None
    finally:
        os.close(read)
    atexit.register(_bye, write)
    return write


def _bye(pipe: int) -> None:
    try:
        os.write(pipe, b"bye\n")
    except OSError:
        pass


def spawn(argv: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """Start a command in a process group of its own that dies with cmpy.

    Call :func:`forget` once it has ended (after ``wait``).

    Raises:
        OSError: as :class:`subprocess.Popen` does (a missing program, ...).
    """
    import subprocess

    _REGISTRY.ready()  # the watchdog runs before the first command can
    env = dict(os.environ if popen.get("env") is None else popen["env"])
    env["CMPY_WATCHDOG"] = _TOKEN
    popen["env"] = env
    proc = subprocess.Popen(argv, start_new_session=os.name != "nt", **popen)
    _REGISTRY.add(proc)
    return proc


def forget(proc: subprocess.Popen[bytes]) -> None:
    """A command that has ended: nothing to kill any more."""
    _REGISTRY.remove(proc)


def kill_group(proc: subprocess.Popen[bytes], *, grace: float = _GRACE) -> None:
    """Stop a command and everything in its group: SIGTERM, ``grace`` seconds, SIGKILL.

    ``grace=0`` sends SIGKILL at once.
    """
    import signal
    import subprocess

    try:
        if proc.poll() is None:
            if os.name == "nt":  # pragma: no cover - Windows
                proc.kill()
            elif grace > 0:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            else:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    except (ProcessLookupError, PermissionError):
        pass
    finally:
        forget(proc)


def kill_all(*, grace: float = 1.0) -> int:
    """Stop every command still running (the command line's last act); returns how many."""
    procs = _REGISTRY.all()
    if not procs:
        return 0
    import signal
    import time

    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + grace
    for proc in procs:
        kill_group(proc, grace=max(0.0, deadline - time.monotonic()))
    return len(procs)
