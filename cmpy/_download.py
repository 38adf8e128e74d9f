"""Downloads that resume, retry, verify, and never leave half a file under the final name.

A file is fetched into ``DEST.part`` and renamed to ``DEST`` only once its
checksum is verified. A ``.part`` left by a cut connection or a killed run is
continued with an HTTP ``Range`` request. Transient failures (connection
refused or reset, timeouts, short bodies, HTTP 5xx, 408, 429) are retried with
exponential backoff, each retry resuming from what was received.

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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from ._errors import ChecksumMismatch, DownloadError, UsageError
from ._record import Record

if TYPE_CHECKING:
    from email.message import Message
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
_MAX_BACKOFF = 30.0
_MAX_RETRY_AFTER = 60.0
_HEX = {"sha256": 64, "md5": 32}
_SCHEMES = ("http", "https", "file")
_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# errors of the local disk, not of the connection: retrying cannot help
_DISK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EFBIG", "EISDIR")
    if hasattr(errno, name)
)
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)", re.IGNORECASE)

Log = Callable[[str], None]


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class DownloadResult(Record):
    """What :func:`download` produced.

    ``url`` is the source that served the file (a mirror or the original),
    ``resumed`` says whether a partial file was continued, ``attempts``
    counts requests made (0 when ``reused``: an existing ``dest`` matched the
    checksum and the network was not used).
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
    mirrors: Sequence[str] = (),
    timeout: float = 30.0,
    retries: int = 4,
    backoff: float = 0.5,
    progress: bool | None = None,
    log: Log | None = None,
    cancelled: Callable[[], bool] | None = None,
    headers: Mapping[str, str] | None = None,
) -> DownloadResult:
    """Download ``url`` to ``dest``, resuming, retrying and verifying it.

    :param url: an ``http(s)://`` or ``file://`` URL, or a local path.
    :param dest: the file to create (its folder is created); an existing
        folder means a file named after the URL inside it. When a checksum is
        given and an existing ``dest`` matches it, nothing is downloaded.
    :param sha256: the expected SHA-256, in hex.
    :param md5: the expected MD5, in hex.
    :param mirrors: sources tried in order before ``url``: a full URL, or a
        base (ending in ``/``, or an existing local folder) to which the file
        name of ``url`` is appended. See :func:`apply_url_overrides`.
    :param timeout: seconds to wait for a connection or for the next bytes;
        a server that stalls longer counts as a transient failure.
    :param retries: retries per source after transient failures.
    :param backoff: the first delay between retries, doubled each time
        (capped at 30 s; a server's ``Retry-After`` is honoured up to 60 s).
    :param progress: show a progress line on stderr; ``None``: only when
        stderr is a terminal.
    :param log: called with a line for each notable event (retries, resumes).
    :param cancelled: polled between chunks; when it returns True the
        download stops and the ``.part`` file is kept for a later resume.
    :param headers: extra HTTP request headers (e.g. an authorisation token).
    :raises DownloadError: every source failed (HTTP 4xx, too many transient
        failures, a time-out, a missing local file) or it was cancelled.
    :raises ChecksumMismatch: the file was fetched but its checksum differs
        (the file is deleted).
    :raises UsageError: a malformed checksum, an unsupported URL scheme, or
        a negative ``timeout``/``retries``/``backoff``.
    """
    expected = _expected_sums(sha256, md5)
    if timeout <= 0 or retries < 0 or backoff < 0:
        raise UsageError(
            f"download of {url}: timeout must be > 0, retries and backoff >= 0 "
            f"(got timeout={timeout}, retries={retries}, backoff={backoff})",
        )
    sources = _sources(url, mirrors)
    target = _dest_path(Path(dest), url)
    say: Log = log or _quiet
    job = _Job(
        target=target,
        part=target.with_name(target.name + ".part"),
        expected=expected,
        algorithms=("sha256", "md5") if md5 is not None else ("sha256",),
        timeout=timeout,
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
            if i and not expected:
                # without a checksum, bytes from another source cannot be trusted to fit
                job.part.unlink(missing_ok=True)
            try:
                return _fetch(job, source)
            except DownloadError as e:
                if e.problem == _CANCELLED:
                    raise
                failures.append(e)
                if i + 1 < len(sources):
                    say(f"{source}: {e.problem}; trying the next source")
    if len(failures) == 1:
        raise failures[0]
    lines = "\n".join(f"    {f.url}: {f.problem}" for f in failures)
    raise DownloadError(
        url,
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
                f"{URL_MAP_ENV} has a malformed entry {item!r}",
                hint=f"write {URL_MAP_ENV}='https://orig.host/path/=https://mirror/path/;...'",
            )
        pairs.append((orig.strip(), new.strip()))
    pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
    found += [new + url[len(orig) :] for orig, new in pairs if url.startswith(orig)]
    name = _file_name(url)
    if name:
        for base in env.get(MIRROR_ENV, "").split(";"):
            if base.strip():
                found.append(_join_base(base.strip(), name))
    found.append(url)
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------
# one download job


class _Job(Record):
    target: Path
    part: Path
    expected: dict[str, str]
    algorithms: tuple[str, ...]
    timeout: float
    retries: int
    backoff: float
    show_progress: bool
    say: Log
    cancelled: Callable[[], bool]
    headers: dict[str, str]


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
    """Fetch one source to the .part, verify it and move it into place."""
    local = _local_path(source)
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
            # the .part may be left from another version of the file
            job.say(f"{source}: {bad} mismatch after resuming; downloading again from zero")
            continue
        raise ChecksumMismatch(source, bad, job.expected[bad], sums[bad])
    os.replace(job.part, job.target)
    return DownloadResult(
        path=job.target,
        url=source,
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
    if any(sums[name] != want for name, want in job.expected.items()):
        job.say(f"{job.target} exists but does not match the checksum; downloading again")
        return None
    job.say(f"{job.target} already present and verified")
    return DownloadResult(
        path=job.target,
        url=url,
        size=size,
        sha256=sums["sha256"],
        md5=sums.get("md5"),
        resumed=False,
        attempts=0,
        reused=True,
    )


# --------------------------------------------------------------------------
# local sources


def _copy_local(job: _Job, source: str, path: Path) -> _Got:
    hashes = _new_hashes(job.algorithms)
    try:
        total = path.stat().st_size
        with open(path, "rb") as src, open(job.part, "wb") as out:
            bar = _Progress(job, source, total, 0)
            received = _pump(job, source, src.read, out, hashes, bar, 0)
    except FileNotFoundError:
        raise DownloadError(
            source, f"no such file: {path}", hint="check the path, or that the mirror holds it"
        ) from None
    except OSError as e:
        raise DownloadError(source, f"cannot copy {path}: {e.strerror or e}") from e
    return _Got(received, hashes, resumed=False, attempts=1)


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
    """Fetch over HTTP with retries; each retry resumes from the .part."""
    import urllib.request

    # built per call: ProxyHandler reads the *_proxy variables when it is made
    opener = urllib.request.build_opener()
    attempts = 0
    while True:
        attempts += 1
        try:
            got = _http_attempt(job, source, opener)
        except _Transient as e:
            if attempts > job.retries:
                what = "timed out" if e.timed_out else "failed"
                hint = "raise timeout= or retries=, or use a mirror"
                if job.part.is_file() and job.part.stat().st_size:
                    hint += f"; the partial file {job.part} is kept and the next try resumes it"
                raise DownloadError(
                    source,
                    f"{what} after {attempts} attempt{'s' if attempts > 1 else ''}: {e}",
                    hint=hint,
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
    request_headers = {"User-Agent": "cmpy", "Accept-Encoding": "identity", **job.headers}
    if offset:
        request_headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(source, headers=request_headers)
    try:
        response = opener.open(request, timeout=job.timeout)
    except urllib.error.HTTPError as e:
        with e:
            if e.code == 416 and offset:
                return _after_unsatisfiable_range(job, source, offset, e.headers)
            raise _http_status_error(source, e.code, e.reason, e.headers) from None
    except urllib.error.URLError as e:
        raise _connection_error(job, source, e.reason) from None
    except (TimeoutError, http.client.HTTPException, OSError) as e:
        raise _connection_error(job, source, e) from None

    with response:
        status = response.status
        hashes = _new_hashes(job.algorithms)
        resumed = False
        if offset and status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match is None or int(match[1]) != offset:
                # an answer for another range than asked: start over cleanly
                job.part.unlink(missing_ok=True)
                raise _Transient(f"the server answered with another range than bytes={offset}-")
            resumed = True
            _hash_file(job.part, hashes)
            job.say(f"{source}: resuming at byte {offset}")
        elif 200 <= status < 300:
            if offset:
                job.say(f"{source}: the server ignores Range requests; starting from zero")
            offset = 0
        else:
            raise DownloadError(source, f"unexpected HTTP status {status} {response.reason}")
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        bar = _Progress(job, source, total, offset)
        try:
            with open(job.part, "ab" if resumed else "wb") as out:
                # read1 hands over what has arrived, so bytes received just
                # before a stall or a cut are kept for the resume
                received = _pump(job, source, response.read1, out, hashes, bar, offset)
        except (TimeoutError, http.client.HTTPException, OSError) as e:
            if isinstance(e, OSError) and e.errno in _DISK_ERRNOS:
                raise DownloadError(source, f"cannot write {job.part}: {e.strerror}") from e
            raise _connection_error(job, source, e) from None
    if total is not None and received < total:
        raise _Transient(f"the connection closed after {received} of {total} bytes")
    return _Got(received, hashes, resumed, attempts=1)


def _after_unsatisfiable_range(
    job: _Job, source: str, offset: int, headers: Message | None
) -> _Got:
    """Answer a 416: the .part is either complete already, or useless."""
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
    else:
        hint = "the server rejected the request; check the URL"
    return DownloadError(source, problem, hint=hint)


def _connection_error(job: _Job, source: str, reason: object) -> _Transient | DownloadError:
    import http.client
    import socket
    import ssl

    if isinstance(reason, TimeoutError):
        return _Transient(f"no data for {job.timeout:g} s (timed out)", timed_out=True)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return DownloadError(
            source,
            f"the TLS certificate was not accepted: {reason.verify_message}",
            hint="point SSL_CERT_FILE at your site's CA bundle, or use a mirror",
        )
    if isinstance(reason, socket.gaierror):
        # retrying a name that does not resolve only delays the mirror or the error
        return DownloadError(
            source,
            f"cannot resolve the host name ({reason.strerror})",
            hint=f"no network here? point {MIRROR_ENV} at a folder holding the file",
        )
    if isinstance(reason, OSError | http.client.HTTPException):
        text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
        return _Transient(f"{type(reason).__name__}: {text}".rstrip(": "))
    return DownloadError(source, str(reason))


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
) -> int:
    """Copy chunks to ``out``, hashing as they pass; return the bytes now in the file."""
    try:
        while True:
            if job.cancelled():
                raise _cancelled(job, source)
            chunk = read(_CHUNK)
            if not chunk:
                return received
            out.write(chunk)
            for h in hashes.values():
                h.update(chunk)
            received += len(chunk)
            bar.update(received)
    finally:
        bar.close()


def _sleep(job: _Job, source: str, delay: float) -> None:
    """Wait before a retry, still answering ``cancelled``."""
    deadline = time.monotonic() + delay
    while True:
        if job.cancelled():
            raise _cancelled(job, source)
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


def _cancelled(job: _Job, source: str) -> DownloadError:
    kept = job.part.is_file() and job.part.stat().st_size > 0
    return DownloadError(
        source,
        _CANCELLED,
        hint=f"the partial file {job.part} is kept; the next download resumes it" if kept else None,
    )


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


def _sources(url: str, mirrors: Sequence[str]) -> list[str]:
    name = _file_name(url)
    sources: list[str] = []
    for mirror in mirrors:
        if _is_base(mirror):
            if not name:
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

    scheme = urlsplit(source).scheme.lower()
    if scheme in _SCHEMES or not scheme or (len(scheme) == 1 and os.name == "nt"):
        return
    raise UsageError(
        f"cannot download {source!r}: the {scheme!r} scheme is not supported",
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


def _dest_path(dest: Path, url: str) -> Path:
    if not dest.is_dir():
        return dest
    name = _file_name(url)
    if not name:
        raise UsageError(
            f"cannot download {url} into the folder {dest}: the URL names no file",
            hint="give dest as a file path",
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
        self.name = _file_name(source) or source
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
