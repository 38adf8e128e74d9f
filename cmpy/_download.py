"""Downloads that resume, retry, verify, and never leave half a file under the final name.

A file is fetched into a partial file and renamed to its destination only
once its size and checksum are verified. A partial file left by a cut
connection or a killed run is continued with an HTTP ``Range`` request.
Transient failures (connection refused or reset, time-outs, short bodies,
HTTP 5xx, 408, 429) are retried with exponential backoff, each retry resuming
from what was received.

Where the partial file lives
----------------------------
By default it is ``DEST.part``, beside the destination. With ``partial_dir``
(what ``ctx.download`` and the ``download file`` recipe use: the folder
``partial-downloads`` of the cmpy home) it is kept in that shared folder
instead, named after the expected checksum (``sha256-<hex>.part``; without a
checksum, after a hash of the URL it is fetched from), so that it outlives a
failed run whose folder is deleted and the next run resumes it. A lock file
beside it (``flock``) makes two processes that download the same file take
turns; the partial file is removed once the file is complete or when its
checksum is wrong.

Limits
------
A download never grows past the size it is known to have: ``size=`` when the
caller knows it, else the server's ``Content-Length``; more bytes than that is
an error, not a longer file. ``timeout`` is for inactivity (no byte, or less
than 1 KiB, for that many seconds: a server that trickles a byte now and then
is stalled too); ``total_timeout`` bounds the whole call (all attempts and
sources), and has no default (a large file over a slow link can take hours).
A local source must be a regular file (not a device, a fifo or a folder); its
copy keeps the source's permission bits (it is never readable by more people
than the source).

Credentials
-----------
``https://user:password@host/f`` is fetched with HTTP basic authentication
and shown as ``https://user:***@host/f`` in every error, log line, progress
line and result. ``Authorization``, ``Cookie`` and ``Proxy-Authorization``
headers are not sent on after a redirect to another origin (scheme, host and
port), as ``requests`` does; a redirect to anything but http(s) is refused.

Site mirrors
------------
A site without internet access (or with a faster local copy) points cmpy at
its own copies with two environment variables, read by
:func:`apply_url_overrides`:

``CMPY_DOWNLOAD_MIRROR``
    One or more base URLs or local folders, separated by ``;``. The file name
    of the original URL is appended to each: with
    ``CMPY_DOWNLOAD_MIRROR=/data/mirror``, ``https://host/a/resnet50.onnx``
    is first looked for as ``/data/mirror/resnet50.onnx``.
``CMPY_DOWNLOAD_URL_MAP``
    ``orig_prefix=new_prefix`` pairs separated by ``;``. A URL that starts
    with ``orig_prefix`` is first tried with that prefix replaced, e.g.
    ``https://zenodo.org/record/=http://cache.lan/zenodo/``. The longest
    matching prefix is tried first.

The rewritten URLs come first, then the mirrors, then the original URL, so a
recipe writes ``download(url, dest, mirrors=apply_url_overrides(url, os.environ))``.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from ._errors import ChecksumMismatch, DownloadError, UsageError
from ._record import Record
from ._redact import redact

if TYPE_CHECKING:
    from email.message import Message
    from http.client import HTTPMessage
    from urllib.request import OpenerDirector

__all__ = [
    "MIRROR_ENV",
    "URL_MAP_ENV",
    "DownloadResult",
    "apply_url_overrides",
    "download",
]

MIRROR_ENV = "CMPY_DOWNLOAD_MIRROR"
URL_MAP_ENV = "CMPY_DOWNLOAD_URL_MAP"

_CHUNK = 1 << 16
_CANCELLED = "cancelled"
_OUT_OF_TIME = "not finished within total_timeout"
_MAX_BACKOFF = 30.0
_MAX_RETRY_AFTER = 60.0
# a transfer that moves less than this in `timeout` seconds is stalled
_MIN_PROGRESS = 1024
_HEX = {"sha256": 64, "md5": 32}
_SCHEMES = ("http", "https", "file")
_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# sent only to the origin they were meant for (what requests drops on a redirect)
_SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# errors of the local disk, not of the connection: retrying cannot help
_DISK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EFBIG", "EISDIR")
    if hasattr(errno, name)
)
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)", re.IGNORECASE)
_NAME_HINT = (
    "give the file's name: filename=... (download file, ctx.download), "
    "or a file path as dest (cmpy.tools.download)"
)

Log = Callable[[str], None]


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class DownloadResult(Record):
    """What :func:`download` produced.

    ``url`` is the source that served the file (a mirror or the original),
    with any password shown as ``***``; ``resumed`` says whether a partial
    file was continued, ``attempts`` counts requests made (0 when ``reused``:
    an existing ``dest`` matched the checksum and the network was not used).
    """

    path: Path
    url: str
    size: int
    sha256: str
    md5: str | None
    resumed: bool
    attempts: int
    reused: bool = False


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    mirrors: Sequence[str] = (),
    timeout: float = 30.0,
    total_timeout: float | None = None,
    retries: int = 4,
    backoff: float = 0.5,
    progress: bool | None = None,
    log: Log | None = None,
    cancelled: Callable[[], bool] | None = None,
    headers: Mapping[str, str] | None = None,
    partial_dir: str | os.PathLike[str] | None = None,
) -> DownloadResult:
    """Download ``url`` to ``dest``, resuming, retrying and verifying it.

    :param url: an ``http(s)://`` or ``file://`` URL, or a local path (which
        must be a regular file). ``https://user:password@host/...`` is sent
        with basic authentication and shown with the password as ``***``.
    :param dest: the file to create (its folder is created); an existing
        folder means a file named after the URL inside it. When a checksum is
        given and an existing ``dest`` matches it, nothing is downloaded.
    :param sha256: the expected SHA-256, in hex.
    :param md5: the expected MD5, in hex.
    :param size: the expected size in bytes. The download stops there: a
        server that sends more, or announces another size, fails it. Without
        it the server's ``Content-Length`` is the limit, when it sends one.
    :param mirrors: sources tried in order before ``url``: a full URL, or a
        base (ending in ``/``, or an existing local folder) to which the file
        name of ``url`` is appended. See :func:`apply_url_overrides`.
    :param timeout: seconds of inactivity allowed: to connect, or without
        progress (no byte, or less than 1 KiB, in that many seconds, so a
        server that trickles bytes to keep the connection open is stalled
        too). A stall counts as a transient failure and is retried.
    :param total_timeout: seconds for the whole call (every attempt, source
        and backoff); ``None`` (the default): no limit, since a large file over
        a slow link may take hours. Checked between reads, so it may be passed
        by up to ``timeout``. It is not retried; the partial file is kept.
    :param retries: retries per source after transient failures.
    :param backoff: the first delay between retries, doubled each time
        (capped at 30 s; a server's ``Retry-After`` is honoured up to 60 s).
    :param progress: show a progress line on stderr; ``None``: only when
        stderr is a terminal.
    :param log: called with a line for each notable event (retries, resumes).
    :param cancelled: polled between chunks; when it returns True the
        download stops and the partial file is kept for a later resume.
    :param headers: extra HTTP request headers (e.g. an authorisation token);
        ``Authorization``, ``Cookie`` and ``Proxy-Authorization`` are dropped
        when a redirect leads to another origin.
    :param partial_dir: keep the partial file in this folder (created, mode
        0700), named after the expected checksum (or a hash of the source URL
        without one), instead of ``DEST.part``: a later call with another
        ``dest`` resumes it, and a lock file beside it makes concurrent
        downloads of the same file take turns.
    :raises DownloadError: every source failed (HTTP 4xx, too many transient
        failures, a time-out, a missing or non-regular local file, more bytes
        than expected) or it was cancelled.
    :raises ChecksumMismatch: the file was fetched but its checksum differs
        (the file is deleted).
    :raises UsageError: a malformed checksum, an unsupported URL scheme, a URL
        whose file name is ``.`` or ``..`` (give ``dest`` as a file path), or
        a negative ``timeout``/``total_timeout``/``retries``/``backoff``/``size``.
    """
    expected = _expected_sums(sha256, md5)
    _check_numbers(url, timeout, total_timeout, retries, backoff, size)
    sources = _sources(url, mirrors)
    target = _dest_path(Path(dest), url)
    say = _redacting(log or _quiet)
    job = _Job(
        target=target,
        part=target.with_name(target.name + ".part"),
        partial_dir=None if partial_dir is None else Path(partial_dir),
        expected=expected,
        size=size,
        algorithms=("sha256", "md5") if md5 is not None else ("sha256",),
        timeout=timeout,
        total_timeout=total_timeout,
        deadline=None if total_timeout is None else time.monotonic() + total_timeout,
        retries=retries,
        backoff=backoff,
        show_progress=_stderr_is_tty() if progress is None else progress,
        say=say,
        cancelled=cancelled or _never,
        headers=dict(headers or {}),
    )
    # two threads of one process fetching the same file would share one .part
    with _lock_for(target):
        reused = _reuse_existing(job, url)
        if reused is not None:
            return reused
        target.parent.mkdir(parents=True, exist_ok=True)
        failures: list[DownloadError] = []
        for i, source in enumerate(sources):
            if i and not expected and job.partial_dir is None:
                # without a checksum, bytes from another source cannot be trusted to fit
                job.part.unlink(missing_ok=True)
            try:
                got = _fetch(job, source)
            except DownloadError as e:
                if e.problem == _CANCELLED or e.problem.startswith(_OUT_OF_TIME):
                    raise
                failures.append(e)
                if i + 1 < len(sources):
                    say(f"{source}: {e.problem}; trying the next source")
                continue
            if job.partial_dir is not None and not expected:
                # what other sources left is now of no use
                for other in sources:
                    if other != source:
                        _discard_partial(_partial_path(job, other))
            return got
    if len(failures) == 1:
        raise failures[0]
    lines = "\n".join(f"    {f.url}: {f.problem}" for f in failures)
    raise DownloadError(
        redact(url),
        f"all {len(failures)} sources failed:\n{lines}",
        hint=f"check the URLs, or point {MIRROR_ENV} at a folder holding the file",
    ) from failures[-1]


def apply_url_overrides(url: str, env: Mapping[str, str]) -> list[str]:
    """The sources to try for ``url`` under a site's mirror settings, best first.

    Reads ``CMPY_DOWNLOAD_URL_MAP`` (``orig_prefix=new_prefix;...``, longest
    matching prefix first) and ``CMPY_DOWNLOAD_MIRROR`` (base URLs or folders
    separated by ``;``, to which the file name of ``url`` is appended); see the
    module documentation. The original ``url`` is always last, and each source
    appears once, so the list can be passed as ``mirrors=`` to :func:`download`.

    :param url: the URL a recipe would download.
    :param env: the environment to read (usually ``os.environ``).
    :raises UsageError: when ``CMPY_DOWNLOAD_URL_MAP`` is malformed.
    """
    found: list[str] = []
    pairs: list[tuple[str, str]] = []
    for item in env.get(URL_MAP_ENV, "").split(";"):
        if not item.strip():
            continue
        orig, sep, new = item.partition("=")
        if not sep or not orig.strip():
            raise UsageError(
                f"{URL_MAP_ENV} has a malformed entry {redact(item)!r}",
                hint=f"write {URL_MAP_ENV}='https://orig.host/path/=https://mirror/path/;...'",
            )
        pairs.append((orig.strip(), new.strip()))
    pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
    found += [new + url[len(orig) :] for orig, new in pairs if url.startswith(orig)]
    name = _file_name(url)
    if _usable_name(name):
        for base in env.get(MIRROR_ENV, "").split(";"):
            if base.strip():
                found.append(_join_base(base.strip(), name))
    found.append(url)
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------
# one download job


class _Job(Record, frozen=False):
    target: Path
    part: Path  # the partial file of the source being fetched
    partial_dir: Path | None
    expected: dict[str, str]
    size: int | None
    algorithms: tuple[str, ...]
    timeout: float
    total_timeout: float | None
    deadline: float | None
    retries: int
    backoff: float
    show_progress: bool
    say: Log
    cancelled: Callable[[], bool]
    headers: dict[str, str]
    # whether a partial file of the source being fetched is kept for a resume
    # (not for a local copy, which is always made whole)
    resumable: bool = True


class _Got(Record, frozen=False):
    size: int
    hashes: dict[str, _Hasher]
    resumed: bool
    attempts: int


class _Transient(Exception):
    """A failure worth retrying; what was received so far is kept."""

    def __init__(
        self, problem: str, *, retry_after: float | None = None, timed_out: bool = False
    ) -> None:
        super().__init__(problem)
        self.retry_after = retry_after
        self.timed_out = timed_out


def _fetch(job: _Job, source: str) -> DownloadResult:
    """Fetch one source to its partial file, verify it and move it into place."""
    local = _local_path(source)
    job.resumable = local is None
    if job.partial_dir is not None:
        job.part = _partial_path(job, source)
    with _hold_partial(job, source):
        attempts = 0
        for round_ in (1, 2):
            got = _fetch_http(job, source) if local is None else _copy_local(job, source, local)
            attempts += got.attempts
            sums = {name: h.hexdigest() for name, h in got.hashes.items()}
            bad = next((n for n, want in job.expected.items() if sums[n] != want), None)
            if bad is None:
                break
            job.part.unlink(missing_ok=True)
            if got.resumed and round_ == 1:
                # the partial file may be left from another version of the file
                job.say(f"{source}: {bad} mismatch after resuming; downloading again from zero")
                continue
            raise ChecksumMismatch(redact(source), bad, job.expected[bad], sums[bad])
        if job.size is not None and got.size != job.size:
            job.part.unlink(missing_ok=True)
            raise _error(source, f"got {got.size} bytes, but size={job.size} was expected")
        _move_into_place(job, source)
    return DownloadResult(
        path=job.target,
        url=redact(source),
        size=got.size,
        sha256=sums["sha256"],
        md5=sums.get("md5"),
        resumed=got.resumed,
        attempts=attempts,
    )


def _reuse_existing(job: _Job, url: str) -> DownloadResult | None:
    if not job.expected or not job.target.is_file():
        return None
    hashes = _new_hashes(job.algorithms)
    size = _hash_file(job.target, hashes)
    sums = {name: h.hexdigest() for name, h in hashes.items()}
    if any(sums[name] != want for name, want in job.expected.items()) or (
        job.size is not None and size != job.size
    ):
        job.say(f"{job.target} exists but does not match the checksum; downloading again")
        return None
    job.say(f"{job.target} already present and verified")
    return DownloadResult(
        path=job.target,
        url=redact(url),
        size=size,
        sha256=sums["sha256"],
        md5=sums.get("md5"),
        resumed=False,
        attempts=0,
        reused=True,
    )


def _move_into_place(job: _Job, source: str) -> None:
    """Rename the verified partial file to the target (copying across file systems)."""
    try:
        os.replace(job.part, job.target)
        return
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise _error(
                source, f"cannot move the file to {job.target}: {e.strerror or e}"
            ) from None
    import shutil

    # the partial folder is on another file system: copy beside the target, then rename
    tmp = job.target.with_name(f".{job.target.name}.{os.urandom(4).hex()}.tmp")
    try:
        shutil.copyfile(job.part, tmp)
        shutil.copymode(job.part, tmp)
        os.replace(tmp, job.target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _error(source, f"cannot write {job.target}: {e.strerror or e}") from None
    job.part.unlink(missing_ok=True)


# --------------------------------------------------------------------------
# the shared partial files


def _partial_path(job: _Job, source: str) -> Path:
    """The partial file in ``partial_dir``: named after the checksum, else the source's hash."""
    assert job.partial_dir is not None
    if "sha256" in job.expected:
        key = "sha256-" + job.expected["sha256"]
    elif "md5" in job.expected:
        key = "md5-" + job.expected["md5"]
    else:
        import hashlib

        # without a checksum, only bytes from this very URL can be continued
        key = "url-" + hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return job.partial_dir / f"{key}.part"


def _lock_path(part: Path) -> Path:
    return part.with_name(part.name.removesuffix(".part") + ".lock")


@contextmanager
def _hold_partial(job: _Job, source: str) -> Iterator[None]:
    """Hold the lock beside a shared partial file while it is written (no-op for DEST.part)."""
    if job.partial_dir is None:
        yield
        return
    try:
        job.partial_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise _error(
            source,
            f"cannot create the folder for partial downloads {job.partial_dir}: {e.strerror or e}",
        ) from None
    lock = _lock_path(job.part)
    waited = False
    while True:
        fd = _try_lock(lock)
        if fd is not None:
            break
        if not waited:
            job.say(f"waiting for another download of the same file (it holds {lock})")
            waited = True
        if job.cancelled():
            raise _cancelled(job, source)
        if job.deadline is not None and time.monotonic() > job.deadline:
            raise _out_of_time(job, source)
        time.sleep(0.05)
    try:
        yield
    finally:
        # unlinked while held: a waiter that opened it sees it is gone and retries
        try:
            os.unlink(lock)
        except OSError:
            pass
        os.close(fd)


def _try_lock(lock: Path) -> int | None:
    """An fd holding an exclusive flock on ``lock`` (the file at that path now), or None."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the thread lock is all there is
        return os.open(os.devnull, os.O_RDONLY)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    try:
        same = os.path.samestat(os.fstat(fd), os.stat(lock))
    except FileNotFoundError:
        same = False
    if not same:
        # the holder before us removed it on its way out: lock the new one
        os.close(fd)
        return _try_lock(lock)
    return fd


def _discard_partial(part: Path) -> None:
    """Remove a shared partial file nobody is writing now (what another source left)."""
    if not part.exists():
        return
    lock = _lock_path(part)
    fd = _try_lock(lock)
    if fd is None:
        return
    try:
        part.unlink(missing_ok=True)
        os.unlink(lock)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------
# local sources


def _copy_local(job: _Job, source: str, path: Path) -> _Got:
    import stat

    hashes = _new_hashes(job.algorithms)
    try:
        # O_NONBLOCK: opening a fifo must not wait for a writer; fstat then refuses it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise _error(
            source, f"no such file: {path}", hint="check the path, or that the mirror holds it"
        ) from None
    except OSError as e:
        raise _error(source, f"cannot read {path}: {e.strerror or e}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _error(
            source,
            f"{path} is {_file_kind(info.st_mode)}, not a regular file",
            hint="give the path of a file; devices, fifos and folders are not downloaded",
        )
    with open(fd, "rb") as src:
        if job.size is not None and info.st_size != job.size:
            raise _error(
                source, f"{path} has {info.st_size} bytes, but size={job.size} was expected"
            )
        # never readable by more people than the source (the umask applies too);
        # the owner, who made the copy, can always read and replace it
        mode = (stat.S_IMODE(info.st_mode) & 0o777) | 0o600
        try:
            job.part.unlink(missing_ok=True)
            out_fd = os.open(
                job.part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode
            )
            with open(out_fd, "wb") as out:
                bar = _Progress(job, source, info.st_size, 0)
                limit = info.st_size
                received = _pump(job, source, src.read, out, hashes, bar, 0, limit, "grew")
        except OSError as e:
            job.part.unlink(missing_ok=True)
            raise _error(source, f"cannot copy {path}: {e.strerror or e}") from None
        except BaseException:
            job.part.unlink(missing_ok=True)
            raise
    if received != info.st_size:
        job.part.unlink(missing_ok=True)
        raise _error(
            source, f"{path} changed while it was copied ({received} of {info.st_size} bytes)"
        )
    return _Got(received, hashes, resumed=False, attempts=1)


def _file_kind(mode: int) -> str:
    import stat

    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a fifo"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((text for test, text in kinds if test(mode)), "not a plain file")


def _local_path(source: str) -> Path | None:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            return Path(f"//{parts.netloc}{unquote(parts.path)}")  # a UNC share
        from urllib.request import url2pathname

        return Path(url2pathname(parts.path))
    if scheme in ("http", "https"):
        return None
    return Path(source)


# --------------------------------------------------------------------------
# HTTP


def _fetch_http(job: _Job, source: str) -> _Got:
    """Fetch over HTTP with retries; each retry resumes from the partial file."""
    # built per call: ProxyHandler reads the *_proxy variables when it is made
    opener = _build_opener()
    attempts = 0
    while True:
        attempts += 1
        try:
            got = _http_attempt(job, source, opener)
        except _Transient as e:
            if job.deadline is not None and time.monotonic() >= job.deadline:
                raise _out_of_time(job, source) from None
            if attempts > job.retries:
                what = "timed out" if e.timed_out else "failed"
                hint = "raise timeout= or retries=, or use a mirror"
                raise _error(
                    source,
                    f"{what} after {attempts} attempt{'s' if attempts > 1 else ''}: {e}",
                    hint=hint + _kept(job),
                ) from None
            delay = min(_MAX_BACKOFF, job.backoff * 2 ** (attempts - 1))
            if e.retry_after is not None:
                delay = max(delay, min(e.retry_after, _MAX_RETRY_AFTER))
            job.say(f"{source}: {e}; retry {attempts}/{job.retries} in {delay:.2g} s")
            _sleep(job, source, delay)
            continue
        got.attempts = attempts
        return got


def _http_attempt(job: _Job, source: str, opener: OpenerDirector) -> _Got:
    import http.client
    import urllib.error
    import urllib.request

    offset = job.part.stat().st_size if job.part.is_file() else 0
    if job.size is not None and offset > job.size:
        job.part.unlink()  # longer than the whole file: not a part of it
        offset = 0
    address, auth = _split_userinfo(source)
    request_headers = {"User-Agent": "cmpy", "Accept-Encoding": "identity", **job.headers}
    if auth is not None and not any(k.lower() == "authorization" for k in job.headers):
        request_headers["Authorization"] = auth
    if offset:
        request_headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(address, headers=request_headers)
    try:
        response = opener.open(request, timeout=_socket_timeout(job))
    except urllib.error.HTTPError as e:
        with e:
            if e.code == 416 and offset:
                return _after_unsatisfiable_range(job, source, offset, e.headers)
            raise _http_status_error(source, e.code, e.reason, e.headers) from None
    except urllib.error.URLError as e:
        raise _connection_error(job, source, e.reason) from None
    except (TimeoutError, http.client.HTTPException, OSError, ValueError) as e:
        raise _connection_error(job, source, e) from None

    with response:
        status = response.status
        hashes = _new_hashes(job.algorithms)
        resumed = False
        announced: int | None = None
        if offset and status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match is None or int(match[1]) != offset:
                # an answer for another range than asked: start over cleanly
                job.part.unlink(missing_ok=True)
                raise _Transient(f"the server answered with another range than bytes={offset}-")
            resumed = True
            if match[3] != "*":
                announced = int(match[3])
        elif 200 <= status < 300:
            if offset:
                job.say(f"{source}: the server ignores Range requests; starting from zero")
            offset = 0
        else:
            raise _error(source, f"unexpected HTTP status {status} {response.reason}")
        length = response.headers.get("Content-Length", "").strip()
        if announced is None and length.isascii() and length.isdigit():
            announced = offset + int(length)
        if job.size is not None and announced is not None and announced != job.size:
            raise _error(
                source,
                f"the server's file has {announced} bytes, but size={job.size} was expected",
                hint="check the URL and size=",
            )
        limit = job.size if job.size is not None else announced
        if resumed:
            _hash_file(job.part, hashes)
            job.say(f"{source}: resuming at byte {offset}")
        bar = _Progress(job, source, limit, offset)
        try:
            with open(job.part, "ab" if resumed else "wb") as out:
                # read1 hands over what has arrived, so bytes received just
                # before a stall or a cut are kept for the resume
                received = _pump(
                    job, source, response.read1, out, hashes, bar, offset, limit, "network"
                )
        except (TimeoutError, http.client.HTTPException, OSError) as e:
            if isinstance(e, OSError) and e.errno in _DISK_ERRNOS:
                raise _error(source, f"cannot write {job.part}: {e.strerror}") from e
            raise _connection_error(job, source, e) from None
    if limit is not None and received < limit:
        raise _Transient(f"the connection closed after {received} of {limit} bytes")
    return _Got(received, hashes, resumed, attempts=1)


def _socket_timeout(job: _Job) -> float:
    if job.deadline is None:
        return job.timeout
    return max(0.01, min(job.timeout, job.deadline - time.monotonic()))


def _build_opener() -> OpenerDirector:
    import urllib.request

    return urllib.request.build_opener(_redirect_handler())


def _redirect_handler() -> Any:
    """urllib's redirect handler, made to keep credentials at home."""
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    class SafeRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(
            self,
            req: urllib.request.Request,
            fp: IO[bytes],
            code: int,
            msg: str,
            headers: HTTPMessage,
            newurl: str,
        ) -> urllib.request.Request | None:
            scheme = urlsplit(newurl).scheme.lower()
            if scheme not in ("http", "https"):
                raise urllib.error.HTTPError(
                    req.full_url, code, f"a redirect to a {scheme}: URL, refused", headers, fp
                )
            # credentials in a Location header are not used (nor shown)
            address, _ = _split_userinfo(newurl)
            new = super().redirect_request(req, fp, code, msg, headers, address)
            if new is None:
                return None
            if _origin(req.full_url) != _origin(new.full_url):
                for name in [k for k in new.headers if k.lower() in _SENSITIVE_HEADERS]:
                    del new.headers[name]
            # urllib reads the redirect's body to its end before following it:
            # an endless one would never end
            fp.close()
            return new

    return SafeRedirects()


def _origin(url: str) -> tuple[str, str, int | None]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _split_userinfo(url: str) -> tuple[str, str | None]:
    """The URL without ``user:password@``, and the basic-auth header it stood for."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    import base64

    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    return urlunsplit(parts._replace(netloc=hostport)), f"Basic {token}"


def _after_unsatisfiable_range(
    job: _Job, source: str, offset: int, headers: Message | None
) -> _Got:
    """Answer a 416: the partial file is either complete already, or useless."""
    match = _UNSATISFIED_RANGE.match(headers.get("Content-Range", "") if headers else "")
    if match is not None and int(match[1]) == offset:
        hashes = _new_hashes(job.algorithms)
        _hash_file(job.part, hashes)
        return _Got(offset, hashes, resumed=True, attempts=1)
    job.part.unlink(missing_ok=True)
    raise _Transient(f"the partial file ({offset} bytes) does not fit the file on the server")


def _http_status_error(
    source: str, code: int, reason: str, headers: Message | None
) -> _Transient | DownloadError:
    problem = f"HTTP {code} {reason}".rstrip()
    if code in _TRANSIENT_STATUS or 500 <= code < 600:
        return _Transient(problem, retry_after=_retry_after(headers))
    if code in (404, 410):
        hint = f"check the URL; if the file moved, give a mirror (mirrors= or {MIRROR_ENV})"
    elif code in (401, 403):
        hint = (
            "the server refused access: the file may need credentials (headers=) "
            "or be reachable only from elsewhere; try a mirror"
        )
    elif 300 <= code < 400:
        hint = "the server redirects where cmpy does not follow; download from the final URL"
    else:
        hint = "the server rejected the request; check the URL"
    return _error(source, problem, hint=hint)


def _connection_error(job: _Job, source: str, reason: object) -> _Transient | DownloadError:
    import http.client
    import socket
    import ssl

    if isinstance(reason, TimeoutError):
        return _Transient(f"no data for {job.timeout:g} s (timed out)", timed_out=True)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return _error(
            source,
            f"the TLS certificate was not accepted: {reason.verify_message}",
            hint="point SSL_CERT_FILE at your site's CA bundle, or use a mirror",
        )
    if isinstance(reason, socket.gaierror):
        # retrying a name that does not resolve only delays the mirror or the error
        return _error(
            source,
            f"cannot resolve the host name ({reason.strerror})",
            hint=f"no network here? point {MIRROR_ENV} at a folder holding the file",
        )
    if isinstance(reason, http.client.InvalidURL | ValueError):
        return _error(source, f"the URL is malformed: {reason}", hint="check the URL")
    if isinstance(reason, OSError | http.client.HTTPException):
        text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
        return _Transient(f"{type(reason).__name__}: {text}".rstrip(": "))
    return _error(source, str(reason))


def _retry_after(headers: Message | None) -> float | None:
    value = headers.get("Retry-After") if headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the exponential backoff will do


# --------------------------------------------------------------------------
# shared pieces


def _pump(
    job: _Job,
    source: str,
    read: Callable[[int], bytes],
    out: IO[bytes],
    hashes: dict[str, _Hasher],
    bar: _Progress,
    received: int,
    limit: int | None,
    kind: str,
) -> int:
    """Copy chunks to ``out``, hashing as they pass; return the bytes now in the file.

    ``limit`` is the size the file is known to have: a byte past it stops
    the copy. ``kind`` is ``"network"`` (a stall is a transient failure) or
    ``"grew"`` (a local file, which must not change while it is copied).
    """
    window_start = time.monotonic()
    window_bytes = 0
    try:
        while True:
            if job.cancelled():
                out.flush()  # so that the hint tells what is kept
                raise _cancelled(job, source)
            now = time.monotonic()
            if job.deadline is not None and now > job.deadline:
                out.flush()
                raise _out_of_time(job, source)
            want = _CHUNK if limit is None else max(1, min(_CHUNK, limit - received + 1))
            chunk = read(want)
            if not chunk:
                return received
            if limit is not None and received + len(chunk) > limit:
                job.part.unlink(missing_ok=True)
                raise _too_long(job, source, limit, kind)
            out.write(chunk)
            for h in hashes.values():
                h.update(chunk)
            received += len(chunk)
            bar.update(received)
            if kind == "network":
                window_bytes += len(chunk)
                now = time.monotonic()
                if now - window_start >= job.timeout:
                    if window_bytes < _MIN_PROGRESS:
                        raise _Transient(
                            f"only {window_bytes} bytes in {now - window_start:.1f} s "
                            f"(less than 1 KiB per timeout={job.timeout:g} s: the server trickles)",
                            timed_out=True,
                        )
                    window_start, window_bytes = now, 0
    finally:
        bar.close()


def _too_long(job: _Job, source: str, limit: int, kind: str) -> DownloadError:
    if kind == "grew":
        return _error(source, f"the file grew past its {limit} bytes while it was copied")
    said = f"size={job.size}" if job.size is not None else "its Content-Length"
    return _error(
        source,
        f"the server sent more than the {limit} bytes expected ({said}); nothing was kept",
        hint="check the URL and size=; a server that sends more than it announced is broken",
    )


def _sleep(job: _Job, source: str, delay: float) -> None:
    """Wait before a retry, still answering ``cancelled`` and the deadline."""
    deadline = time.monotonic() + delay
    while True:
        if job.cancelled():
            raise _cancelled(job, source)
        now = time.monotonic()
        if job.deadline is not None and now >= job.deadline:
            raise _out_of_time(job, source)
        left = deadline - now
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


def _kept(job: _Job) -> str:
    """The end of a hint that says truthfully what became of the partial file."""
    if not job.resumable:
        return ""
    try:
        kept = job.part.stat().st_size
    except OSError:
        return ""
    if not kept:
        return ""
    if job.partial_dir is None:
        return f"; the partial file {job.part} ({kept} bytes) is kept, and a new call resumes it"
    return (
        f"; the partial file {job.part} ({kept} bytes) is kept, and the next download "
        "of this file resumes it"
    )


def _cancelled(job: _Job, source: str) -> DownloadError:
    kept = _kept(job)
    return _error(source, _CANCELLED, hint=kept[2:] if kept else None)


def _out_of_time(job: _Job, source: str) -> DownloadError:
    return _error(
        source,
        f"{_OUT_OF_TIME}={job.total_timeout:g} s",
        hint="raise total_timeout=, or use a faster mirror" + _kept(job),
    )


def _error(source: str, problem: str, *, hint: str | None = None) -> DownloadError:
    """A DownloadError that shows no password, wherever the URL appears in it."""
    return DownloadError(redact(source), redact(problem), hint=redact(hint) if hint else None)


def _redacting(log: Log) -> Log:
    return lambda line: log(redact(line))


def _new_hashes(algorithms: Sequence[str]) -> dict[str, _Hasher]:
    # imported here: loading OpenSSL's hashes costs ~3 ms of start-up
    import hashlib

    # md5 is a checksum here, not a security measure
    return {name: hashlib.new(name, usedforsecurity=False) for name in algorithms}


def _hash_file(path: Path, hashes: dict[str, _Hasher]) -> int:
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            for h in hashes.values():
                h.update(chunk)
            size += len(chunk)
    return size


def _expected_sums(sha256: str | None, md5: str | None) -> dict[str, str]:
    expected: dict[str, str] = {}
    for name, value in (("sha256", sha256), ("md5", md5)):
        if value is None:
            continue
        text = value.strip().lower()
        if len(text) != _HEX[name] or any(c not in "0123456789abcdef" for c in text):
            raise UsageError(
                f"{name}={value!r} is not a {name} checksum",
                hint=f"give the {_HEX[name]} hex digits, as `{name}sum FILE` prints them",
            )
        expected[name] = text
    return expected


def _check_numbers(
    url: str,
    timeout: float,
    total_timeout: float | None,
    retries: int,
    backoff: float,
    size: int | None,
) -> None:
    # written so that nan, which compares false to everything, is refused too
    good = (
        0 < timeout < float("inf")
        and (total_timeout is None or 0 < total_timeout < float("inf"))
        and retries >= 0
        and 0 <= backoff < float("inf")
        and (size is None or (isinstance(size, int) and not isinstance(size, bool) and size >= 0))
    )
    if not good:
        raise UsageError(
            f"download of {redact(url)}: timeout and total_timeout must be > 0, retries, "
            f"backoff and size >= 0 (got timeout={timeout}, total_timeout={total_timeout}, "
            f"retries={retries}, backoff={backoff}, size={size})",
        )


def _sources(url: str, mirrors: Sequence[str]) -> list[str]:
    _check_scheme(url)
    name = _file_name(url)
    sources: list[str] = []
    for mirror in mirrors:
        if _is_base(mirror):
            if not _usable_name(name):
                continue  # a base needs a file name to append, and this URL has none
            sources.append(_join_base(mirror, name))
        else:
            sources.append(mirror)
    sources.append(url)
    for source in sources:
        _check_scheme(source)
    return list(dict.fromkeys(sources))


def _check_scheme(source: str) -> None:
    from urllib.parse import urlsplit

    try:
        scheme = urlsplit(source).scheme.lower()
    except ValueError as e:
        raise UsageError(
            f"cannot download {redact(source)!r}: it is not a valid URL ({e})",
            hint="check the URL",
        ) from None
    if scheme in _SCHEMES or not scheme or (len(scheme) == 1 and os.name == "nt"):
        return
    raise UsageError(
        f"cannot download {redact(source)!r}: the {scheme!r} scheme is not supported",
        hint="use an http://, https:// or file:// URL, or a local path",
    )


def _is_base(mirror: str) -> bool:
    if mirror.endswith(("/", os.sep)):
        return True
    return "://" not in mirror and os.path.isdir(mirror)


def _join_base(base: str, name: str) -> str:
    if "://" in base:
        from urllib.parse import quote

        return base.rstrip("/") + "/" + quote(name)
    return os.path.join(base, name)


def _file_name(url: str) -> str:
    """The last path component of a URL or path ("" when it ends with a slash)."""
    if "://" not in url:
        return os.path.basename(url)
    from urllib.parse import unquote, urlsplit

    return os.path.basename(unquote(urlsplit(url).path))


def _usable_name(name: str) -> bool:
    """Whether a URL's file name can name a file in a folder (``..`` or ``%2e`` cannot)."""
    return name not in ("", ".", "..") and "\0" not in name


def _dest_path(dest: Path, url: str) -> Path:
    if not dest.is_dir():
        if dest.name in ("", ".", ".."):
            raise UsageError(
                f"cannot download {redact(url)} to {dest}: it names no file",
                hint="give dest as a file path",
            )
        return dest
    name = _file_name(url)
    if not name:
        raise UsageError(
            f"cannot download {redact(url)} into the folder {dest}: the URL names no file",
            hint=_NAME_HINT,
        )
    if not _usable_name(name):
        raise UsageError(
            f"cannot download {redact(url)} into the folder {dest}: the URL's file name "
            f"{name!r} is not a usable file name",
            hint=_NAME_HINT,
        )
    return dest / name


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    key = os.path.abspath(path)
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _stderr_is_tty() -> bool:
    # sys.stderr is None under pythonw and in some embedded interpreters
    return sys.stderr is not None and sys.stderr.isatty()


def _quiet(_line: str) -> None:
    pass


def _never() -> bool:
    return False


class _Progress:
    """A one-line progress display on stderr: bytes, percent when known, rate."""

    def __init__(self, job: _Job, source: str, total: int | None, start: int) -> None:
        self.enabled = job.show_progress
        self.name = redact(_file_name(source) or source)
        self.total = total
        self.start = start
        self.began = time.monotonic()
        self.shown_at = 0.0
        self.width = 0
        self.received = start

    def update(self, received: int) -> None:
        self.received = received
        now = time.monotonic()
        # ten updates a second are readable and cost nothing
        if self.enabled and now - self.shown_at >= 0.1:
            self.shown_at = now
            self._show(now)

    def close(self) -> None:
        if self.enabled:
            self._show(time.monotonic())
            sys.stderr.write("\n")
            sys.stderr.flush()

    def _show(self, now: float) -> None:
        elapsed = max(now - self.began, 1e-6)
        rate = (self.received - self.start) / elapsed
        text = f"{self.name}: {_human(self.received)}"
        if self.total:
            text += f" / {_human(self.total)} ({100 * self.received / self.total:3.0f}%)"
        text += f"  {_human(rate)}/s"
        pad = max(0, self.width - len(text))
        self.width = len(text)
        sys.stderr.write("\r" + text + " " * pad)
        sys.stderr.flush()


def _human(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"
