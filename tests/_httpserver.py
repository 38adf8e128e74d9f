"""A local HTTP server on 127.0.0.1 for tests, serving files that misbehave on request.

Usage, as a pytest fixture in any test module::

    from _httpserver import LocalHTTPServer

    @pytest.fixture
    def server() -> Iterator[LocalHTTPServer]:
        with LocalHTTPServer() as s:
            yield s

    def test_it(server: LocalHTTPServer) -> None:
        served = server.serve("/model.onnx", b"...", cut_after=100)
        url = server.url("/model.onnx")
        ...
        assert served.requests[1]["Range"] == "bytes=100-"

Each served path counts and records its requests (their headers), so a test
can assert that a retry asked for a range, or that a cached file was not
fetched again. A route can also be any function that handles the request.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

__all__ = ["Handler", "LocalHTTPServer", "Served", "closed_port_url"]

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Served:
    """A file served at a path, and how the server misbehaves while serving it.

    :ivar data: the file's bytes.
    :ivar fail_status: answer this HTTP status (e.g. 503 or 404) instead ...
    :ivar fail_times: ... to this many requests, then serve normally
        (a large number means always).
    :ivar retry_after: a ``Retry-After`` header sent with ``fail_status``.
    :ivar cut_after: send only this many body bytes, then close the connection ...
    :ivar cut_times: ... on this many requests, then serve normally.
    :ivar stall: after the headers and the first bytes, wait this many seconds ...
    :ivar stall_times: ... on this many requests.
    :ivar ignore_range: answer every request with the whole file (status 200).
    :ivar trickle: send the body one byte at a time, this many seconds apart.
    :ivar endless: after the file, keep sending zero bytes until the client goes
        away (and send no ``Content-Length``, unless ``length`` gives one).
    :ivar length: the ``Content-Length`` to announce instead of the true one
        (a lie); ``None`` sends none; -1 (the default): the true one.
    :ivar redirect: answer ``302 Found`` with this ``Location`` instead.
    :ivar requests: the headers of each request received, in order.
    :ivar sent: how many body bytes were sent (handed to the socket), over all requests.
    """

    data: bytes
    fail_status: int | None = None
    fail_times: int = 1 << 30
    retry_after: str | None = None
    cut_after: int | None = None
    cut_times: int = 1
    stall: float = 0.0
    stall_times: int = 1 << 30
    ignore_range: bool = False
    trickle: float = 0.0
    endless: bool = False
    length: int | None = -1
    redirect: str | None = None
    requests: list[dict[str, str]] = field(default_factory=list)
    sent: int = 0

    @property
    def hits(self) -> int:
        """How many requests reached this path."""
        return len(self.requests)


class LocalHTTPServer:
    """A threading HTTP/1.0 server on a free port of 127.0.0.1, in a daemon thread."""

    def __init__(self) -> None:
        self._routes: dict[str, Served | Handler] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RequestHandler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="test-http-server",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/") -> str:
        """The full URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, data: bytes, **behaviour: object) -> Served:
        """Serve ``data`` at ``path``; ``behaviour`` sets the fields of :class:`Served`."""
        served = Served(data, **behaviour)  # type: ignore[arg-type]
        with self._lock:
            self._routes[path] = served
        return served

    def route(self, path: str, handler: Handler) -> None:
        """Answer requests for ``path`` with ``handler(request_handler)``."""
        with self._lock:
            self._routes[path] = handler

    def close(self) -> None:
        """Stop serving; stalled handlers wake up and finish."""
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalHTTPServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # called from the handler threads

    def _lookup(self, path: str) -> Served | Handler | None:
        with self._lock:
            return self._routes.get(path)

    def _take(self, served: Served, counter: str) -> bool:
        """Use up one of a served file's misbehaviours; say whether one was left."""
        with self._lock:
            left = getattr(served, counter)
            if left <= 0:
                return False
            setattr(served, counter, left - 1)
            return True


def closed_port_url(path: str = "/file") -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "cmpy-test"

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        owner: LocalHTTPServer = self.server.owner  # type: ignore[attr-defined]
        route = owner._lookup(urlsplit(self.path).path)
        try:
            if route is None:
                self.send_error(404)
            elif isinstance(route, Served):
                with owner._lock:
                    route.requests.append(dict(self.headers.items()))
                self._serve(owner, route)
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away, as some tests make it do

    def _serve(self, owner: LocalHTTPServer, served: Served) -> None:
        data = served.data
        if served.redirect is not None:
            self.send_response(302)
            self.send_header("Location", served.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if served.fail_status is not None and owner._take(served, "fail_times"):
            self.send_response(served.fail_status)
            if served.retry_after is not None:
                self.send_header("Retry-After", served.retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start, status = 0, 200
        asked = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if asked and not served.ignore_range:
            start, status = int(asked[1]), 206
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        body = data[start:]
        self.send_response(status)
        length = served.length
        if length == -1:
            length = None if served.endless else len(body)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if served.cut_after is not None and owner._take(served, "cut_times"):
            self._send(owner, served, body[: served.cut_after])
            self.close_connection = True
            return
        if served.stall and owner._take(served, "stall_times"):
            self._send(owner, served, body[:1])
            owner._closing.wait(served.stall)
            body = body[1:]
        if served.trickle:
            for i in range(len(body)):
                if owner._closing.is_set():
                    return
                self._send(owner, served, body[i : i + 1])
                owner._closing.wait(served.trickle)
        else:
            self._send(owner, served, body)
        zeros = bytes(1 << 16)
        while served.endless and not owner._closing.is_set():
            if served.trickle:
                self._send(owner, served, b"\0")
                owner._closing.wait(served.trickle)
            else:
                self._send(owner, served, zeros)

    def _send(self, owner: LocalHTTPServer, served: Served, chunk: bytes) -> None:
        # counted first: a client may have read it all before write() returns here
        with owner._lock:
            served.sent += len(chunk)
        self.wfile.write(chunk)
        self.wfile.flush()
