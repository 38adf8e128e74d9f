"""Running commands for recipe bodies: no shell splicing, streamed, killable.

Each command runs in its own process group, so cancelling a recipe (another
one failed, or the user pressed Ctrl-C) kills everything it started. Output
(stdout and stderr together) goes to a log file and, unless quiet, to the
terminal's stderr, so that stdout stays clean for ``--json``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence

from ._errors import CmpyError, CommandFailed, ProgramNotFound
from ._record import Record
from ._redact import redact

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    import subprocess

__all__ = ["Completed", "ProcessSet", "run_command", "describe_command"]

_TAIL_LINES = 30
_KEEP_OUTPUT = 8 * 1024 * 1024
# output is logged a line at a time; a "line" this long is logged as it is
_LOG_LINE_MAX = 1 << 20


class Completed(Record):
    """A finished command: its exit status and output (stdout and stderr together)."""

    command: str
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class ProcessSet:
    """The processes a recipe has running, so that they can all be killed at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self.cancelled = False

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        from ._children import kill_group

        with self._lock:
            if self.cancelled:
                kill_group(proc)
            self._procs.add(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def kill_all(self) -> None:
        """Kill every running process group and refuse new commands."""
        with self._lock:
            self.cancelled = True
            procs = list(self._procs)
        from ._children import kill_group

        for proc in procs:
            kill_group(proc)


def describe_command(cmd: str | Sequence[str | os.PathLike[str]]) -> str:
    """How a command is shown to a user (a list is quoted as a shell would need)."""
    if isinstance(cmd, str):
        return cmd
    import shlex

    return shlex.join(os.fspath(c) for c in cmd)


def _argv(cmd: str | Sequence[str | os.PathLike[str]]) -> list[str]:
    if isinstance(cmd, str):
        import shutil

        shell = shutil.which("bash") or "/bin/sh"
        return [shell, "-c", cmd]
    argv = [os.fspath(c) for c in cmd]
    if not argv:
        raise CmpyError("an empty command was given to ctx.sh")
    return argv


def run_command(
    cmd: str | Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    log: Callable[[], str] | None = None,
    echo: Callable[[str], None] | None = None,
    check: bool = True,
    timeout: float | None = None,
    input: str | bytes | None = None,
    procs: ProcessSet | None = None,
) -> Completed:
    """Run a command (a list without a shell, a string under bash) and wait for it.

    Raises:
        CommandFailed: a non-zero exit status when ``check`` (with the output tail).
        CmpyError: the program does not exist, or the run was cancelled.
    """
    import subprocess

    # imported here: a run that starts no command never needs the watchdog
    from ._children import forget, kill_group, spawn

    # a password in a URL never reaches the terminal, the log or an error
    shown = redact(describe_command(cmd))
    argv = _argv(cmd)
    if procs is not None and procs.cancelled:
        raise CmpyError(f"not starting {shown!r}: the run is being cancelled")
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    log_file = None
    log_path = None
    if log is not None:
        log_path = log()
        log_file = open(log_path, "ab")  # noqa: SIM115 - closed in the finally below
        log_file.write(f"$ {shown}\n".encode())
        log_file.flush()
    try:
        try:
            proc = spawn(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                env=full_env,
                cwd=cwd,
            )
        except FileNotFoundError:
            raise ProgramNotFound(argv[0], shown) from None
        except PermissionError:
            raise ProgramNotFound(argv[0], shown, executable=True) from None
        if procs is not None:
            procs.add(proc)
        timer = None
        timed_out = threading.Event()
        if timeout is not None:

            def expire() -> None:
                timed_out.set()
                kill_group(proc)

            timer = threading.Timer(timeout, expire)
            timer.daemon = True
            timer.start()
        try:
            output = _pump(proc, input, log_file, echo)
            returncode = proc.wait()
            forget(proc)
        except BaseException:
            kill_group(proc)
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if procs is not None:
                procs.discard(proc)
    finally:
        if log_file is not None:
            log_file.close()
    if procs is not None and procs.cancelled:
        raise CmpyError(f"{shown!r} was stopped: the run was cancelled")
    if timed_out.is_set():
        note = f"(killed after {timeout:g} s)"
        if not check:
            return Completed(shown, returncode, output + ("\n" if output else "") + note)
        raise CommandFailed(shown, returncode, _tail(output) + "\n" + note, log_path)
    if check and returncode != 0:
        raise CommandFailed(shown, returncode, _tail(output), log_path)
    return Completed(shown, returncode, output)


def _pump(
    proc: subprocess.Popen[bytes],
    input: str | bytes | None,
    log_file: object,
    echo: Callable[[str], None] | None,
) -> str:
    if input is not None:
        assert proc.stdin is not None
        data = input.encode() if isinstance(input, str) else input

        def feed() -> None:
            assert proc.stdin is not None
            try:
                proc.stdin.write(data)
                proc.stdin.close()
            except OSError:
                pass

        threading.Thread(target=feed, daemon=True).start()
    import codecs

    assert proc.stdout is not None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    kept: list[str] = []
    size = 0
    pending = ""
    unlogged = b""
    fd = proc.stdout.fileno()
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        if log_file is not None:
            # whole lines, redacted (a URL cut in two would escape redaction)
            unlogged += chunk
            cut = unlogged.rfind(b"\n") + 1 if len(unlogged) < _LOG_LINE_MAX else len(unlogged)
            if cut:
                log_file.write(_redact_bytes(unlogged[:cut]))  # type: ignore[attr-defined]
                log_file.flush()  # type: ignore[attr-defined]
                unlogged = unlogged[cut:]
        text = decoder.decode(chunk)
        if size < _KEEP_OUTPUT:
            kept.append(text)
            size += len(text)
        if echo is not None:
            pending += text
            *lines, pending = pending.split("\n")
            for line in lines:
                echo(redact(line))
    if log_file is not None and unlogged:
        log_file.write(_redact_bytes(unlogged))  # type: ignore[attr-defined]
    text = decoder.decode(b"", final=True)
    kept.append(text)
    if echo is not None and (pending + text):
        echo(redact(pending + text))
    proc.stdout.close()
    return "".join(kept)


def _redact_bytes(data: bytes) -> bytes:
    if b"://" not in data:
        return data
    return redact(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")


def _tail(output: str) -> str:
    from collections import deque

    lines: deque[str] = deque(output.splitlines(), maxlen=_TAIL_LINES)
    return redact("\n".join(lines))


def stderr_echo(prefix: str) -> Callable[[str], None]:
    """An echo that writes each output line to stderr under a prefix."""
    lock = threading.Lock()

    def echo(line: str) -> None:
        with lock:
            sys.stderr.write(f"{prefix}{line.rstrip(chr(13))}\n")
            sys.stderr.flush()

    return echo
