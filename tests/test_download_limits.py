"""Downloads against a hostile or broken server: credentials, sizes, stalls, shared partials.

Each test is a regression test for the hardening issue: a password that must
not show, a header that must not travel, a body that must not grow without
end, a partial file that must outlive its run.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from _httpserver import LocalHTTPServer, closed_port_url

from cmpy._download import download
from cmpy._errors import ChecksumMismatch, DownloadError, UsageError

DATA = bytes(range(256)) * 1024  # 256 KiB
SHA = hashlib.sha256(DATA).hexdigest()
SECRET = "s3cr3t-pa55"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as s:
        yield s


@pytest.fixture
def other() -> Iterator[LocalHTTPServer]:
    """A second server: another port of 127.0.0.1 is another origin."""
    with LocalHTTPServer() as s:
        yield s


def with_password(url: str) -> str:
    return url.replace("http://", f"http://alice:{SECRET}@", 1)


# --------------------------------------------------------------------------
# 3. credentials


def test_credentials_are_not_sent_to_another_origin_after_a_redirect(
    server: LocalHTTPServer, other: LocalHTTPServer, tmp_path: Path
) -> None:
    first = server.serve("/f", b"", redirect=other.url("/f"))
    second = other.serve("/f", DATA)
    secret_headers = {
        "Authorization": "Bearer t0ken",
        "Cookie": "session=abc",
        "Proxy-Authorization": "Basic eA==",
    }
    got = download(
        server.url("/f"), tmp_path / "f", sha256=SHA, headers={**secret_headers, "X-Kept": "1"}
    )
    assert got.size == len(DATA)
    assert first.requests[0]["Authorization"] == "Bearer t0ken"
    assert first.requests[0]["Cookie"] == "session=abc"
    sent_on = {name.lower() for name in second.requests[0]}
    assert not sent_on & {"authorization", "cookie", "proxy-authorization"}
    assert second.requests[0]["X-Kept"] == "1"


def test_credentials_follow_a_redirect_within_the_origin(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    server.serve("/old", b"", redirect=server.url("/new"))
    new = server.serve("/new", DATA)
    download(server.url("/old"), tmp_path / "f", headers={"Authorization": "Bearer t0ken"})
    assert new.requests[0]["Authorization"] == "Bearer t0ken"


def test_a_password_in_the_url_is_sent_as_basic_auth_and_never_shown(
    server: LocalHTTPServer,
    other: LocalHTTPServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    served = server.serve("/f.bin", DATA)
    lines: list[str] = []
    got = download(
        with_password(server.url("/f.bin")), tmp_path / "a", log=lines.append, progress=True
    )
    expected = base64.b64encode(f"alice:{SECRET}".encode()).decode()
    assert served.requests[0]["Authorization"] == f"Basic {expected}"
    assert got.url == server.url("/f.bin").replace("http://", "http://alice:***@")
    # and it stays home when the server sends the client elsewhere
    server.serve("/moved.bin", b"", redirect=other.url("/f.bin"))
    elsewhere = other.serve("/f.bin", DATA)
    download(with_password(server.url("/moved.bin")), tmp_path / "b", log=lines.append)
    assert "Authorization" not in elsewhere.requests[0]
    assert SECRET not in capsys.readouterr().err
    assert not [line for line in lines if SECRET in line]


@pytest.mark.parametrize("case", ["404", "refused", "mirrors", "checksum", "cut"])
def test_a_password_never_appears_in_an_error_or_a_log_line(
    server: LocalHTTPServer, tmp_path: Path, case: str
) -> None:
    lines: list[str] = []
    kwargs: dict[str, object] = {"retries": 1, "backoff": 0.01, "log": lines.append}
    url = with_password(server.url("/missing.bin"))
    if case == "refused":
        url = with_password(closed_port_url("/f.bin"))
    elif case == "mirrors":
        kwargs["mirrors"] = [with_password(server.url("/mirror/"))]
    elif case == "checksum":
        server.serve("/f.bin", DATA)
        url = with_password(server.url("/f.bin"))
        kwargs["sha256"] = "0" * 64
    elif case == "cut":
        server.serve("/f.bin", DATA, cut_after=1000, cut_times=5)
        url = with_password(server.url("/f.bin"))
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "f", **kwargs)  # type: ignore[arg-type]
    assert SECRET not in str(info.value) and SECRET not in info.value.url
    assert "alice:***@" in str(info.value)
    assert not [line for line in lines if SECRET in line]
    if case == "checksum":
        assert isinstance(info.value, ChecksumMismatch)


def test_a_redirect_to_another_scheme_is_refused(server: LocalHTTPServer, tmp_path: Path) -> None:
    server.serve("/f", b"", redirect="ftp://127.0.0.1:1/f")
    with pytest.raises(DownloadError, match="ftp: URL, refused"):
        download(server.url("/f"), tmp_path / "f")


def test_an_endless_redirect_body_is_not_read(server: LocalHTTPServer, tmp_path: Path) -> None:
    target = server.serve("/target", DATA)

    done = threading.Event()

    def endless_redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", target_url)
        handler.end_headers()
        # a body without a length that never ends: a byte now and then, for 10 s
        while not done.wait(0.2):
            handler.wfile.write(b"x")
            handler.wfile.flush()

    target_url = server.url("/target")
    server.route("/redirect", endless_redirect)
    started = time.monotonic()
    try:
        got = download(server.url("/redirect"), tmp_path / "f", sha256=SHA, timeout=10)
    finally:
        done.set()
    assert got.size == len(DATA) and target.hits == 1
    assert time.monotonic() - started < 3


# --------------------------------------------------------------------------
# 4. permissions of local copies


@pytest.mark.parametrize("mode", [0o640, 0o600, 0o755])
def test_a_local_copy_keeps_the_source_mode(tmp_path: Path, mode: int) -> None:
    source = tmp_path / "secret"
    source.write_bytes(b"root:x:0:0")
    source.chmod(mode)
    old = os.umask(0o022)
    try:
        got = download(str(source), tmp_path / "copy")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(got.path).st_mode) == mode


def test_a_local_copy_still_honours_the_umask(tmp_path: Path) -> None:
    source = tmp_path / "public"
    source.write_bytes(b"x")
    source.chmod(0o644)
    old = os.umask(0o077)
    try:
        got = download(source.as_uri(), tmp_path / "copy")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(got.path).st_mode) == 0o600


# --------------------------------------------------------------------------
# 10. sizes and time


def test_an_endless_body_stops_at_the_expected_size(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    served = server.serve("/f", DATA, endless=True)
    with pytest.raises(DownloadError, match=r"more than the 262144 bytes expected \(size=262144\)"):
        download(server.url("/f"), tmp_path / "f", sha256=SHA, size=len(DATA), retries=0)
    assert os.listdir(tmp_path) == []
    assert served.hits == 1


def test_a_content_length_lie_does_not_make_a_longer_file(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    server.serve("/f", DATA, endless=True, length=1000)
    got = download(server.url("/f"), tmp_path / "f")
    assert got.size == 1000 and (tmp_path / "f").read_bytes() == DATA[:1000]
    with pytest.raises(ChecksumMismatch):
        download(server.url("/f"), tmp_path / "g", sha256=SHA)
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_a_size_the_server_contradicts_fails_at_once(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    served = server.serve("/f", DATA)
    with pytest.raises(DownloadError, match=r"262144 bytes, but size=1000 was expected"):
        download(server.url("/f"), tmp_path / "f", size=1000, retries=3)
    assert served.hits == 1  # not retried: another file is not a transient failure
    assert os.listdir(tmp_path) == []


def test_a_body_shorter_than_the_size_is_resumed(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/f", DATA, length=None, cut_after=1000)
    got = download(server.url("/f"), tmp_path / "f", size=len(DATA), backoff=0.01)
    assert got.resumed and (tmp_path / "f").read_bytes() == DATA
    assert served.requests[1]["Range"] == "bytes=1000-"


@pytest.mark.parametrize("kind", ["device", "fifo", "folder"])
def test_a_local_source_must_be_a_regular_file(tmp_path: Path, kind: str) -> None:
    if kind == "device":
        source = "/dev/zero"
    elif kind == "fifo":
        os.mkfifo(tmp_path / "pipe")
        source = str(tmp_path / "pipe")
    else:
        (tmp_path / "dir").mkdir()
        source = (tmp_path / "dir").as_uri()
    words = {"device": "character device", "fifo": "a fifo", "folder": "a folder"}[kind]
    started = time.monotonic()
    with pytest.raises(DownloadError, match=f"{words}, not a regular file"):
        download(source, tmp_path / "out")
    assert time.monotonic() - started < 2
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.part").exists()


def test_a_trickling_server_times_out(server: LocalHTTPServer, tmp_path: Path) -> None:
    """One byte every 0.1 s keeps the socket busy, but it is no progress: timeout catches it."""
    server.serve("/f", DATA, trickle=0.1)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="timed out") as info:
        download(server.url("/f"), tmp_path / "f", timeout=0.5, retries=0)
    assert time.monotonic() - started < 3
    assert "less than 1 KiB" in str(info.value)


def test_total_timeout_bounds_a_trickle_the_inactivity_timeout_allows(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    server.serve("/f", DATA, trickle=0.05)
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"not finished within total_timeout=0.5 s") as info:
        download(server.url("/f"), tmp_path / "f", timeout=30, total_timeout=0.5)
    assert time.monotonic() - started < 3
    assert "is kept" in str(info.value)  # what arrived is kept for a resume


def test_total_timeout_bounds_a_stall_and_the_retries(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    server.serve("/stall", DATA, stall=20)
    failing = server.serve("/fail", DATA, fail_status=503)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="total_timeout"):
        download(server.url("/stall"), tmp_path / "a", timeout=30, total_timeout=0.5)
    with pytest.raises(DownloadError, match="total_timeout"):
        download(server.url("/fail"), tmp_path / "b", retries=1000, backoff=0.05, total_timeout=0.5)
    assert time.monotonic() - started < 4
    assert 1 < failing.hits < 100


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": -1},
        {"total_timeout": 0},
        {"total_timeout": float("nan")},
        {"timeout": float("nan")},
    ],
)
def test_bad_sizes_and_timeouts_are_usage_errors(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        download("http://127.0.0.1:1/f", tmp_path / "f", **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# 11. partial files in a shared folder


def test_a_shared_partial_outlives_its_destination_and_is_resumed(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    served = server.serve("/f", DATA, cut_after=100_000)
    area = tmp_path / "partials"
    with pytest.raises(DownloadError) as info:
        download(server.url("/f"), tmp_path / "one" / "f", sha256=SHA, retries=0, partial_dir=area)
    part = area / f"sha256-{SHA}.part"
    assert part.stat().st_size == 100_000
    assert f"the partial file {part} (100000 bytes) is kept" in str(info.value)
    assert stat.S_IMODE(area.stat().st_mode) == 0o700
    # another destination (as a new cache entry would be) continues it
    got = download(server.url("/f"), tmp_path / "two" / "f", sha256=SHA, partial_dir=area)
    assert got.resumed and served.requests[1]["Range"] == "bytes=100000-"
    assert served.sent == len(DATA)
    assert os.listdir(area) == []  # the partial and its lock file are gone


def test_a_shared_partial_that_fails_its_checksum_is_removed(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    server.serve("/f", DATA)
    area = tmp_path / "partials"
    with pytest.raises(ChecksumMismatch):
        download(server.url("/f"), tmp_path / "f", sha256="0" * 64, partial_dir=area)
    assert os.listdir(area) == []


def test_without_a_checksum_the_partial_is_named_after_the_url(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    server.serve("/a", DATA, cut_after=5000)
    area = tmp_path / "partials"
    with pytest.raises(DownloadError):
        download(server.url("/a"), tmp_path / "f", retries=0, partial_dir=area)
    key = hashlib.sha256(server.url("/a").encode()).hexdigest()[:40]
    assert os.listdir(area) == [f"url-{key}.part"]
    got = download(server.url("/a"), tmp_path / "f", partial_dir=area)
    assert got.resumed and (tmp_path / "f").read_bytes() == DATA
    assert os.listdir(area) == []


def test_two_downloads_of_one_file_take_turns_on_the_shared_partial(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    server.serve("/f", DATA, stall=0.3, stall_times=1)
    area = tmp_path / "partials"
    lines: list[str] = []
    errors: list[BaseException] = []

    def fetch(dest: str) -> None:
        try:
            download(
                server.url("/f"), tmp_path / dest, sha256=SHA, partial_dir=area, log=lines.append
            )
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=fetch, args=(name,)) for name in ("a", "b")]
    threads[0].start()
    time.sleep(0.1)
    threads[1].start()
    for t in threads:
        t.join()
    assert errors == []
    assert (tmp_path / "a").read_bytes() == DATA == (tmp_path / "b").read_bytes()
    assert any("waiting for another download of the same file" in line for line in lines)
    assert os.listdir(area) == []


# --------------------------------------------------------------------------
# 12. file names that are no file names


@pytest.mark.parametrize("tail", ["%2e%2e", "%2e", "..", "sub/%2E%2E"])
def test_a_url_naming_dot_or_dotdot_is_refused(
    server: LocalHTTPServer, tmp_path: Path, tail: str
) -> None:
    server.serve(f"/files/{tail}", DATA)
    dest = tmp_path / "entry"
    dest.mkdir()
    url = server.url(f"/files/{tail}")
    with pytest.raises(UsageError, match="filename=") as info:
        download(url, dest)
    assert url in str(info.value)
    assert os.listdir(dest) == [] and sorted(os.listdir(tmp_path)) == ["entry"]
