"""Downloads against a local HTTP server that misbehaves on request."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import pytest
from _httpserver import LocalHTTPServer, closed_port_url

from cmpy._download import DownloadResult, apply_url_overrides, download
from cmpy._errors import ChecksumMismatch, DownloadError, UsageError

DATA = bytes(range(256)) * 1024  # 256 KiB: several chunks
SHA = hashlib.sha256(DATA).hexdigest()
MD5 = hashlib.md5(DATA).hexdigest()


class _Fast(TypedDict):
    backoff: float
    timeout: float


FAST: _Fast = {"backoff": 0.01, "timeout": 5.0}  # quick retries, but no spurious time-outs


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy set in the environment must not catch requests to 127.0.0.1."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as s:
        yield s


def leftovers(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def test_downloads_and_verifies(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/files/model.onnx", DATA)
    dest = tmp_path / "sub" / "model.onnx"
    lines: list[str] = []
    got = download(
        server.url("/files/model.onnx"), dest, sha256=SHA, md5=MD5.upper(), log=lines.append
    )
    assert got == DownloadResult(
        path=dest,
        url=server.url("/files/model.onnx"),
        size=len(DATA),
        sha256=SHA,
        md5=MD5,
        resumed=False,
        attempts=1,
    )
    assert dest.read_bytes() == DATA
    assert leftovers(dest.parent) == ["model.onnx"]
    assert served.hits == 1
    assert "Range" not in served.requests[0]


def test_verified_file_is_reused_without_network(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/f", DATA)
    dest = tmp_path / "f"
    download(server.url("/f"), dest, sha256=SHA)
    again = download(server.url("/f"), dest, sha256=SHA)
    assert again.reused and again.attempts == 0 and again.sha256 == SHA
    assert served.hits == 1


def test_existing_file_that_does_not_match_is_replaced(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    server.serve("/f", DATA)
    dest = tmp_path / "f"
    dest.write_bytes(b"an older version")
    got = download(server.url("/f"), dest, sha256=SHA)
    assert not got.reused and dest.read_bytes() == DATA


def test_resumes_after_a_cut_connection(server: LocalHTTPServer, tmp_path: Path) -> None:
    half = len(DATA) // 2
    served = server.serve("/f", DATA, cut_after=half, cut_times=1)
    dest = tmp_path / "f"
    got = download(server.url("/f"), dest, sha256=SHA, **FAST)
    assert dest.read_bytes() == DATA
    assert got.resumed and got.attempts == 2
    assert served.requests[1]["Range"] == f"bytes={half}-"
    assert leftovers(tmp_path) == ["f"]


def test_resumes_a_part_left_by_an_earlier_run(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/f", DATA)
    dest = tmp_path / "f"
    (tmp_path / "f.part").write_bytes(DATA[:1000])
    got = download(server.url("/f"), dest, md5=MD5, **FAST)
    assert got.resumed and got.attempts == 1 and got.md5 == MD5
    assert served.requests[0]["Range"] == "bytes=1000-"
    assert dest.read_bytes() == DATA


def test_server_ignoring_range_restarts_from_zero(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/f", DATA, ignore_range=True)
    (tmp_path / "f.part").write_bytes(b"garbage that must not stay" * 10)
    got = download(server.url("/f"), tmp_path / "f", sha256=SHA, **FAST)
    assert not got.resumed and got.attempts == 1
    assert "Range" in served.requests[0]
    assert (tmp_path / "f").read_bytes() == DATA


def test_stale_part_with_a_checksum_is_redone_from_zero(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    served = server.serve("/f", DATA)
    (tmp_path / "f.part").write_bytes(b"X" * 5000)  # from another version of the file
    got = download(server.url("/f"), tmp_path / "f", sha256=SHA, **FAST)
    assert (tmp_path / "f").read_bytes() == DATA
    assert got.attempts == 2 and not got.resumed
    assert [r.get("Range") for r in served.requests] == ["bytes=5000-", None]


def test_complete_part_answered_416_is_finished(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/f", DATA)
    (tmp_path / "f.part").write_bytes(DATA)
    got = download(server.url("/f"), tmp_path / "f", sha256=SHA, **FAST)
    assert got.size == len(DATA) and served.hits == 1
    assert (tmp_path / "f").read_bytes() == DATA


def test_part_longer_than_the_file_is_dropped(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/f", DATA)
    (tmp_path / "f.part").write_bytes(DATA + b"extra")
    download(server.url("/f"), tmp_path / "f", sha256=SHA, **FAST)
    assert (tmp_path / "f").read_bytes() == DATA
    assert [r.get("Range") for r in served.requests] == [f"bytes={len(DATA) + 5}-", None]


def test_bad_checksum_deletes_the_file_and_shows_both_sums(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    server.serve("/f", DATA)
    wrong = "0" * 64
    with pytest.raises(ChecksumMismatch) as info:
        download(server.url("/f"), tmp_path / "f", sha256=wrong, **FAST)
    assert wrong in str(info.value) and SHA in str(info.value)
    assert info.value.expected == wrong and info.value.actual == SHA
    assert leftovers(tmp_path) == []


def test_404_is_not_retried(server: LocalHTTPServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        download(server.url("/missing"), tmp_path / "f", **FAST)
    assert "check the URL" in str(info.value)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("status", [401, 403, 410])
def test_client_errors_fail_at_once(server: LocalHTTPServer, tmp_path: Path, status: int) -> None:
    served = server.serve("/f", DATA, fail_status=status)
    with pytest.raises(DownloadError, match=f"HTTP {status}"):
        download(server.url("/f"), tmp_path / "f", **FAST)
    assert served.hits == 1


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_statuses_are_retried(
    server: LocalHTTPServer, tmp_path: Path, status: int
) -> None:
    served = server.serve("/f", DATA, fail_status=status, fail_times=2, retry_after="0")
    got = download(server.url("/f"), tmp_path / "f", sha256=SHA, **FAST)
    assert got.attempts == 3 and served.hits == 3
    assert (tmp_path / "f").read_bytes() == DATA


def test_persistent_5xx_gives_up_after_the_retries(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/f", DATA, fail_status=502)
    with pytest.raises(DownloadError, match="after 3 attempts: HTTP 502"):
        download(server.url("/f"), tmp_path / "f", retries=2, **FAST)
    assert served.hits == 3


def test_stalled_server_times_out(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/f", DATA, stall=10.0)
    with pytest.raises(DownloadError, match="timed out") as info:
        download(server.url("/f"), tmp_path / "f", timeout=0.3, retries=1, backoff=0.01)
    assert served.hits == 2
    assert "timeout=" in str(info.value)
    # each attempt got one byte before the stall; both are kept for a later resume
    assert served.requests[1]["Range"] == "bytes=1-"
    assert (tmp_path / "f.part").read_bytes() == DATA[:2]


def test_stall_once_then_resume(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/f", DATA, stall=10.0, stall_times=1)
    got = download(server.url("/f"), tmp_path / "f", sha256=SHA, timeout=0.5, backoff=0.01)
    assert got.resumed and got.attempts == 2
    assert served.requests[1]["Range"] == "bytes=1-"


def test_refused_connection_is_retried_then_reported(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"after 2 attempts.*[Rr]efused"):
        download(closed_port_url(), tmp_path / "f", retries=1, **FAST)


def test_mirror_serves_while_the_original_is_dead(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/mirror/model.onnx", DATA)
    original = closed_port_url("/releases/model.onnx")
    got = download(original, tmp_path / "m", sha256=SHA, mirrors=[server.url("/mirror/")], **FAST)
    assert got.url == server.url("/mirror/model.onnx")
    assert served.hits == 1 and (tmp_path / "m").read_bytes() == DATA


def test_original_is_tried_after_failing_mirrors(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/orig/f.bin", DATA)
    lines: list[str] = []
    got = download(
        server.url("/orig/f.bin"),
        tmp_path / "f",
        sha256=SHA,
        mirrors=[server.url("/nothing/here.bin"), server.url("/empty/")],
        log=lines.append,
        **FAST,
    )
    assert got.url == server.url("/orig/f.bin") and served.hits == 1
    assert sum("trying the next source" in line for line in lines) == 2


def test_every_source_failing_lists_them_all(server: LocalHTTPServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="all 2 sources failed") as info:
        download(server.url("/a/x"), tmp_path / "f", mirrors=[server.url("/b/")], **FAST)
    assert server.url("/a/x") in str(info.value) and server.url("/b/x") in str(info.value)


def test_file_url_and_plain_path(tmp_path: Path) -> None:
    source = tmp_path / "src dir" / "data.bin"
    source.parent.mkdir()
    source.write_bytes(DATA)
    got = download(source.as_uri(), tmp_path / "a", sha256=SHA)
    assert got.url == source.as_uri() and (tmp_path / "a").read_bytes() == DATA
    got = download(str(source), tmp_path / "b", md5=MD5)
    assert got.md5 == MD5 and (tmp_path / "b").read_bytes() == DATA
    with pytest.raises(DownloadError, match="no such file"):
        download((tmp_path / "nope").as_uri(), tmp_path / "c")


def test_local_folder_as_a_mirror(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "weights.bin").write_bytes(DATA)
    got = download(
        closed_port_url("/x/weights.bin"), tmp_path / "w", sha256=SHA, mirrors=[str(mirror)]
    )
    assert got.url == str(mirror / "weights.bin")


def test_dest_folder_gets_the_file_name(server: LocalHTTPServer, tmp_path: Path) -> None:
    server.serve("/d/archive%20v1.tar.gz", DATA)
    got = download(server.url("/d/archive%20v1.tar.gz"), tmp_path, sha256=SHA)
    assert got.path == tmp_path / "archive v1.tar.gz"


def test_cancel_keeps_the_part_and_a_later_call_resumes(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    served = server.serve("/f", DATA)
    polls = 0

    def cancelled() -> bool:
        nonlocal polls
        polls += 1
        return polls > 2  # after two chunks

    with pytest.raises(DownloadError, match="cancelled"):
        download(server.url("/f"), tmp_path / "f", sha256=SHA, cancelled=cancelled, **FAST)
    kept = (tmp_path / "f.part").stat().st_size
    assert 0 < kept < len(DATA)
    assert not (tmp_path / "f").exists() and served.hits == 1
    got = download(server.url("/f"), tmp_path / "f", sha256=SHA, **FAST)
    assert got.resumed and served.requests[1]["Range"] == f"bytes={kept}-"
    assert (tmp_path / "f").read_bytes() == DATA


def test_cancel_during_backoff(server: LocalHTTPServer, tmp_path: Path) -> None:
    server.serve("/f", DATA, fail_status=503)
    stop = threading.Event()
    timer = threading.Timer(0.1, stop.set)
    timer.start()
    try:
        with pytest.raises(DownloadError, match="cancelled"):
            download(server.url("/f"), tmp_path / "f", backoff=30.0, cancelled=stop.is_set)
    finally:
        timer.cancel()


def test_progress_only_when_asked(
    server: LocalHTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.serve("/f.bin", DATA)
    download(server.url("/f.bin"), tmp_path / "a", progress=True)
    err = capsys.readouterr().err
    assert "f.bin" in err and "100%" in err and "256.0 KiB" in err and "/s" in err
    download(server.url("/f.bin"), tmp_path / "b", progress=False)
    download(server.url("/f.bin"), tmp_path / "c")  # None: stderr is not a terminal here
    assert capsys.readouterr() == ("", "")


def test_same_dest_from_two_threads_is_fetched_once(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    served = server.serve("/f", DATA)
    results: list[DownloadResult] = []

    def fetch() -> None:
        results.append(download(server.url("/f"), tmp_path / "f", sha256=SHA, **FAST))

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert served.hits == 1
    assert sorted(r.reused for r in results) == [False, True]


def test_headers_are_sent(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/f", DATA)
    download(server.url("/f"), tmp_path / "f", headers={"Authorization": "Bearer t0ken"})
    assert served.requests[0]["Authorization"] == "Bearer t0ken"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sha256": "abc"}, "not a sha256"),
        ({"md5": "z" * 32}, "not a md5"),
        ({"timeout": 0}, "timeout"),
        ({"retries": -1}, "retries"),
    ],
)
def test_bad_arguments_are_usage_errors(
    tmp_path: Path, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        download("http://127.0.0.1:1/f", tmp_path / "f", **kwargs)  # type: ignore[arg-type]


def test_unsupported_scheme_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="'ftp' scheme"):
        download("ftp://example.org/f", tmp_path / "f")


def test_apply_url_overrides() -> None:
    url = "https://zenodo.org/record/123/files/resnet50_v1.onnx"
    env = {
        "CMPY_DOWNLOAD_URL_MAP": (
            "https://zenodo.org/=http://cache.lan/zenodo/;"
            " https://zenodo.org/record/123/=file:///data/z123/ ;"
            "https://elsewhere.org/=http://x/"
        ),
        "CMPY_DOWNLOAD_MIRROR": "/srv/mirror;http://mirror.lan/files/",
    }
    assert apply_url_overrides(url, env) == [
        "file:///data/z123/files/resnet50_v1.onnx",  # the longest prefix first
        "http://cache.lan/zenodo/record/123/files/resnet50_v1.onnx",
        "/srv/mirror/resnet50_v1.onnx",
        "http://mirror.lan/files/resnet50_v1.onnx",
        url,
    ]
    assert apply_url_overrides(url, {}) == [url]
    assert apply_url_overrides(url, {"CMPY_DOWNLOAD_MIRROR": "http://m/a/;http://m/a"}) == [
        "http://m/a/resnet50_v1.onnx",
        url,
    ]
    with pytest.raises(UsageError, match="CMPY_DOWNLOAD_URL_MAP"):
        apply_url_overrides(url, {"CMPY_DOWNLOAD_URL_MAP": "no-equals-sign"})


def test_overrides_feed_download_as_mirrors(server: LocalHTTPServer, tmp_path: Path) -> None:
    served = server.serve("/site/model.onnx", DATA)
    url = closed_port_url("/upstream/model.onnx")
    env = {"CMPY_DOWNLOAD_MIRROR": server.url("/site")}
    got = download(url, tmp_path / "m", sha256=SHA, mirrors=apply_url_overrides(url, env))
    assert got.url == server.url("/site/model.onnx") and served.hits == 1
