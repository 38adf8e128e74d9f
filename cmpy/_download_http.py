"""HTTP(S) sources: attempts with retries and resumes, errors sorted, redirects kept safe.

Each attempt continues the partial file with a ``Range`` request and checks
the answer (206 for that range, 200 from zero, 416 when it is already
whole). Connection errors, time-outs and HTTP 5xx, 408, 425 and 429 are
retried with exponential backoff, honouring ``Retry-After``; HTTP 4xx, a
name that does not resolve and a refused TLS certificate are not. A
password in the URL becomes a basic-auth header; ``Authorization``,
``Cookie`` and ``Proxy-Authorization`` are dropped on a redirect to another
origin, and a redirect to anything but http(s) is refused.
"""

from __future__ import annotations

import errno
import re
import time
from typing import IO, TYPE_CHECKING, Any

from ._download_job import (
    _error,
    _Got,
    _hash_file,
    _Job,
    _kept,
    _new_hashes,
    _out_of_time,
    _Transient,
)
from ._download_pump import _Progress, _pump, _sleep
from ._download_sources import MIRROR_ENV
from ._errors import DownloadError

if TYPE_CHECKING:
    from email.message import Message
    from http.client import HTTPMessage
    from urllib.request import OpenerDirector

__all__ = ["_fetch_http"]

_MAX_BACKOFF = 30.0
_MAX_RETRY_AFTER = 60.0
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
