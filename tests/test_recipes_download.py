"""The built-in download file, extract file and download-and-extract recipes, fully offline."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _httpserver import LocalHTTPServer, closed_port_url

from cmpy import (
    ArchiveError,
    ChecksumMismatch,
    Ctx,
    Dep,
    DownloadError,
    Result,
    UsageError,
    run,
    script,
)

BLOB = bytes(range(256)) * 1024  # 256 KiB: several reads, so a cut lands mid-body
SHA256 = hashlib.sha256(BLOB).hexdigest()
MD5 = hashlib.md5(BLOB).hexdigest()


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as s:
        yield s


def _entry(result: Result) -> Result:
    found = result.find("download-file-entry")
    assert found is not None
    return found


def _entry_folders(home: Path) -> list[Path]:
    """Every cache entry folder under a cmpy home (committed or left behind)."""
    entries = home / "entries"
    if not entries.is_dir():
        return []
    return [p for d in entries.iterdir() for p in d.iterdir()]


# --------------------------------------------------------------------------
# download file


def test_download_with_sha256(server: LocalHTTPServer) -> None:
    served = server.serve("/files/model.bin", BLOB)
    url = server.url("/files/model.bin")
    r = run("download file", url=url, sha256=SHA256, quiet=True)
    path = Path(r["CMPY_DOWNLOAD_FILE_PATH"])
    assert path.is_absolute() and path.name == "model.bin"
    assert path.read_bytes() == BLOB
    assert path.parent == _entry(r).path
    assert r["CMPY_DOWNLOAD_URL_USED"] == url
    assert r["CMPY_DOWNLOAD_SHA256"] == SHA256
    assert r["CMPY_DOWNLOAD_SIZE"] == str(len(BLOB))

    again = run("download file", url=url, sha256=SHA256.upper(), quiet=True)
    assert _entry(again).cached and again["CMPY_DOWNLOAD_FILE_PATH"] == str(path)
    assert served.hits == 1


def test_download_with_md5_and_a_file_name(server: LocalHTTPServer) -> None:
    server.serve("/download", BLOB)
    r = run("download file", url=server.url("/download"), md5=MD5, filename="w.bin", quiet=True)
    assert Path(r["CMPY_DOWNLOAD_FILE_PATH"]).name == "w.bin"
    assert r["CMPY_DOWNLOAD_MD5"] == MD5 and r["CMPY_DOWNLOAD_SHA256"] == SHA256


def test_a_cut_connection_is_resumed_with_a_range(server: LocalHTTPServer) -> None:
    cut = 100_000
    served = server.serve("/big.bin", BLOB, cut_after=cut)
    r = run("download file", url=server.url("/big.bin"), sha256=SHA256, quiet=True)
    assert Path(r["CMPY_DOWNLOAD_FILE_PATH"]).read_bytes() == BLOB
    assert served.hits == 2
    assert "Range" not in served.requests[0]
    assert served.requests[1]["Range"] == f"bytes={cut}-"


def test_a_bad_checksum_deletes_the_file_and_leaves_no_entry(
    server: LocalHTTPServer, cmpy_home: Path
) -> None:
    server.serve("/f.bin", BLOB)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ChecksumMismatch) as info:
        run("download file", url=server.url("/f.bin"), sha256=wrong, quiet=True)
    text = str(info.value)
    assert wrong in text and SHA256 in text
    assert info.value.chain[-1] == "download-file-entry"
    assert _entry_folders(cmpy_home) == []
    assert not [p for p in cmpy_home.rglob("*") if p.name.startswith("f.bin")]


def test_a_missing_file_is_a_clear_error(server: LocalHTTPServer, cmpy_home: Path) -> None:
    with pytest.raises(DownloadError) as info:
        run("download file", url=server.url("/nothing.bin"), sha256=SHA256, quiet=True)
    assert "404" in str(info.value) and "/nothing.bin" in str(info.value)
    assert _entry_folders(cmpy_home) == []


def test_a_stalled_server_times_out(server: LocalHTTPServer, cmpy_home: Path) -> None:
    served = server.serve("/slow.bin", BLOB, stall=20)
    started = time.monotonic()
    with pytest.raises(DownloadError) as info:
        run(
            "download file",
            url=server.url("/slow.bin"),
            sha256=SHA256,
            timeout=0.3,
            retries=1,
            quiet=True,
        )
    assert "timed out" in str(info.value)
    assert served.hits == 2
    assert time.monotonic() - started < 10
    assert _entry_folders(cmpy_home) == []


def test_the_checksum_is_the_key_not_the_url(
    server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a checksum, a new URL or a new mirror reuses the file: no request is made."""
    first = server.serve("/a/model.bin", BLOB)
    other = server.serve("/b/copy-of-model.bin", BLOB)
    mirror = server.serve("/mirror/model.bin", BLOB)
    r1 = run("download file", url=server.url("/a/model.bin"), sha256=SHA256, quiet=True)
    r2 = run("download file", url=server.url("/b/copy-of-model.bin"), sha256=SHA256, quiet=True)
    assert _entry(r2).cached
    assert r2["CMPY_DOWNLOAD_FILE_PATH"] == r1["CMPY_DOWNLOAD_FILE_PATH"]
    monkeypatch.setenv("CMPY_DOWNLOAD_MIRROR", server.url("/mirror/"))
    r3 = run("download file", url=closed_port_url("/gone/model.bin"), sha256=SHA256, quiet=True)
    assert _entry(r3).cached
    assert (first.hits, other.hits, mirror.hits) == (1, 0, 0)


def test_without_a_checksum_the_url_is_the_key(server: LocalHTTPServer) -> None:
    first = server.serve("/a/data.txt", b"one")
    other = server.serve("/b/data.txt", b"two")
    r1 = run("download file", url=server.url("/a/data.txt"), quiet=True)
    assert Path(r1["CMPY_DOWNLOAD_FILE_PATH"]).read_bytes() == b"one"
    assert _entry(run("download file", url=server.url("/a/data.txt"), quiet=True)).cached
    r2 = run("download file", url=server.url("/b/data.txt"), quiet=True)
    assert not _entry(r2).cached
    assert Path(r2["CMPY_DOWNLOAD_FILE_PATH"]).read_bytes() == b"two"
    assert (first.hits, other.hits) == (1, 1)


def test_a_mirror_serves_when_the_original_is_dead(
    server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = server.serve("/mirror/model.bin", BLOB)
    monkeypatch.setenv("CMPY_DOWNLOAD_MIRROR", server.url("/mirror/"))
    r = run("download file", url=closed_port_url("/orig/model.bin"), sha256=SHA256, quiet=True)
    assert Path(r["CMPY_DOWNLOAD_FILE_PATH"]).read_bytes() == BLOB
    assert r["CMPY_DOWNLOAD_URL_USED"] == server.url("/mirror/model.bin")
    assert mirror.hits == 1


def test_a_url_map_rewrites_the_url(
    server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = server.serve("/cache/zenodo/1/model.bin", BLOB)
    dead = closed_port_url("/record/1/model.bin")
    prefix = dead.rsplit("/record/", 1)[0] + "/record/"
    monkeypatch.setenv("CMPY_DOWNLOAD_URL_MAP", f"{prefix}={server.url('/cache/zenodo/')}")
    r = run("download file", url=dead, sha256=SHA256, quiet=True)
    assert r["CMPY_DOWNLOAD_URL_USED"] == server.url("/cache/zenodo/1/model.bin")
    assert copy.hits == 1


def test_mirror_settings_key_nothing(server: LocalHTTPServer) -> None:
    """A mirror named in the run's env changes no key: cached recipes above stay valid."""
    served = server.serve("/model.bin", BLOB)
    url = server.url("/model.bin")
    plain = run("download file", url=url, sha256=SHA256, quiet=True)
    mirrored = run(
        "download file",
        url=url,
        sha256=SHA256,
        env={"CMPY_DOWNLOAD_MIRROR": "http://127.0.0.1:9/mirror/"},
        quiet=True,
    )
    assert mirrored.key == plain.key and _entry(mirrored).cached
    assert served.hits == 1


def test_two_urls_for_one_file_at_once_download_it_once(server: LocalHTTPServer) -> None:
    """Two deps that want one checksum from two URLs, run side by side: one download."""
    first = server.serve("/a/model.bin", BLOB, stall=0.3, stall_times=1)
    other = server.serve("/b/model.bin", BLOB)

    @script(
        tags="two downloads",
        deps=[
            Dep(
                "download file",
                name="a",
                inputs={"url": server.url("/a/model.bin"), "sha256": SHA256},
            ),
            Dep(
                "download file",
                name="b",
                inputs={"url": server.url("/b/model.bin"), "sha256": SHA256},
            ),
        ],
    )
    def two_downloads(ctx: Ctx) -> dict[str, str]:
        a, b = ctx.deps["a"], ctx.deps["b"]
        return {"A": a["CMPY_DOWNLOAD_FILE_PATH"], "B": b["CMPY_DOWNLOAD_FILE_PATH"]}

    r = run("two downloads", jobs=2, quiet=True)
    assert r["A"] == r["B"] and Path(r["A"]).read_bytes() == BLOB
    assert first.hits + other.hits == 1


def test_a_file_url(tmp_path: Path) -> None:
    source = tmp_path / "local data.bin"
    source.write_bytes(BLOB)
    r = run("download file", url=source.as_uri(), sha256=SHA256, quiet=True)
    path = Path(r["CMPY_DOWNLOAD_FILE_PATH"])
    assert path.read_bytes() == BLOB and path.name == "local data.bin"
    assert path != source


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        ({}, "needs a URL"),
        ({"url": "http://127.0.0.1:9/f", "sha256": "abc"}, "not a sha256"),
        ({"url": "http://127.0.0.1:9/f", "filename": "../f"}, "plain file name"),
        ({"url": "http://127.0.0.1:9/", "sha256": SHA256}, "names no file"),
        ({"url": "http://127.0.0.1:9/f", "timeout": "nan"}, "not a number of seconds"),
        ({"url": "http://127.0.0.1:9/f", "retries": "-1"}, "not a count"),
    ],
)
def test_bad_inputs_are_usage_errors(inputs: dict[str, Any], words: str, cmpy_home: Path) -> None:
    with pytest.raises(UsageError, match=words):
        run("download file", quiet=True, **inputs)
    assert _entry_folders(cmpy_home) == []


def test_the_query_download_file_is_not_ambiguous() -> None:
    from cmpy import find

    assert [r["alias"] for r in find("download file")] == ["download-file"]
    assert [r["alias"] for r in find("extract file")] == ["extract-file"]
    assert [r["alias"] for r in find("download extract")] == ["download-and-extract"]


# --------------------------------------------------------------------------
# extract file


def _members() -> dict[str, bytes]:
    return {"pkg/a.txt": b"alpha", "pkg/sub/b.txt": b"beta"}


def _make_archive(path: Path, fmt: str, members: dict[str, bytes] | None = None) -> Path:
    members = _members() if members is None else members
    if fmt == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        return path
    mode = {"tar.gz": "w:gz", "tar.bz2": "w:bz2", "tar.xz": "w:xz"}[fmt]
    with tarfile.open(path, mode) as tf:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.bz2", "tar.xz", "zip"])
def test_extract_each_format(fmt: str, tmp_path: Path) -> None:
    archive = _make_archive(tmp_path / f"pkg.{fmt}", fmt)
    r = run("extract file", input=str(archive), quiet=True)
    out = Path(r["CMPY_EXTRACT_EXTRACTED_PATH"])
    assert out.parent == r.path and out.name == "extracted"
    assert (out / "pkg" / "a.txt").read_bytes() == b"alpha"
    assert (out / "pkg" / "sub" / "b.txt").read_bytes() == b"beta"
    assert r["CMPY_EXTRACT_INPUT"] == str(archive)


def test_extract_strips_components_into_a_named_folder(tmp_path: Path) -> None:
    archive = _make_archive(tmp_path / "pkg.tar.gz", "tar.gz")
    r = run("extract file", input=str(archive), strip_components=1, to="src", quiet=True)
    out = Path(r["CMPY_EXTRACT_EXTRACTED_PATH"])
    assert out.name == "src"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.txt")) == [
        "a.txt",
        "sub/b.txt",
    ]


def test_extract_is_cached_until_the_archive_changes(tmp_path: Path) -> None:
    archive = _make_archive(tmp_path / "pkg.tar.gz", "tar.gz")
    first = run("extract file", input=str(archive), quiet=True)
    assert run("extract file", input=str(archive), quiet=True).cached
    _make_archive(archive, "tar.gz", {"pkg/a.txt": b"changed!"})
    later = time.time() + 5  # a rewrite within the same clock tick must still look changed
    os.utime(archive, (later, later))
    again = run("extract file", input=str(archive), quiet=True)
    assert not again.cached
    out = Path(again["CMPY_EXTRACT_EXTRACTED_PATH"])
    assert (out / "pkg" / "a.txt").read_bytes() == b"changed!"
    assert not (out / "pkg" / "sub").exists()
    assert first.key == again.key


def _hostile_tar(path: Path, kind: str) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        ok = tarfile.TarInfo("fine.txt")
        ok.size = 2
        tf.addfile(ok, io.BytesIO(b"ok"))
        if kind == "symlink":
            link = tarfile.TarInfo("escape")
            link.type = tarfile.SYMTYPE
            link.linkname = "../../../evil-dir"
            tf.addfile(link)
            through = tarfile.TarInfo("escape/evil.txt")
            through.size = 4
            tf.addfile(through, io.BytesIO(b"evil"))
        else:
            name = {"traversal": "../../../evil.txt", "absolute": str(path.parent / "evil.txt")}
            bad = tarfile.TarInfo(name[kind])
            bad.size = 4
            tf.addfile(bad, io.BytesIO(b"evil"))
    return path


@pytest.mark.parametrize("kind", ["traversal", "absolute", "symlink", "zip-traversal"])
def test_hostile_archives_are_refused(kind: str, tmp_path: Path, cmpy_home: Path) -> None:
    if kind == "zip-traversal":
        archive = _make_archive(
            tmp_path / "evil.zip", "zip", {"fine.txt": b"ok", "../../../evil.txt": b"evil"}
        )
    else:
        archive = _hostile_tar(tmp_path / "evil.tar.gz", kind)
    before = set(tmp_path.rglob("*")) | set(cmpy_home.parent.rglob("*"))
    with pytest.raises(ArchiveError, match=r"unsafe|refused"):
        run("extract file", input=str(archive), quiet=True)
    after = set(tmp_path.rglob("*")) | set(cmpy_home.parent.rglob("*"))
    assert not [p for p in after - before if "evil" in p.name]
    assert _entry_folders(cmpy_home) == []


def test_a_corrupt_archive_leaves_nothing(tmp_path: Path, cmpy_home: Path) -> None:
    good = _make_archive(tmp_path / "good.tar.gz", "tar.gz").read_bytes()
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(good[: len(good) // 2])
    with pytest.raises(ArchiveError) as info:
        run("extract file", input=str(broken), quiet=True)
    assert "broken.tar.gz" in str(info.value)
    assert _entry_folders(cmpy_home) == []


def test_extract_wants_an_absolute_existing_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="relative path"):
        run("extract file", input="pkg.tar.gz", quiet=True)
    with pytest.raises(UsageError, match="does not exist"):
        run("extract file", input=str(tmp_path / "none.tar.gz"), quiet=True)
    archive = _make_archive(tmp_path / "pkg.zip", "zip")
    with pytest.raises(UsageError, match="plain file name"):
        run("extract file", input=str(archive), to="../out", quiet=True)


# --------------------------------------------------------------------------
# download-and-extract


def test_download_and_extract_end_to_end(server: LocalHTTPServer, tmp_path: Path) -> None:
    blob = _make_archive(tmp_path / "pkg.tar.xz", "tar.xz").read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    served = server.serve("/dist/pkg.tar.xz", blob)
    url = server.url("/dist/pkg.tar.xz")
    r = run("download-and-extract", url=url, sha256=digest, strip_components=1, quiet=True)
    out = Path(r["CMPY_DAE_EXTRACTED_PATH"])
    assert (out / "a.txt").read_bytes() == b"alpha"
    assert Path(r["CMPY_DAE_FILE_PATH"]).read_bytes() == blob

    # the same archive from elsewhere: neither downloaded nor extracted again
    elsewhere = server.serve("/other/pkg.tar.xz", blob)
    again = run(
        "download-and-extract",
        url=server.url("/other/pkg.tar.xz"),
        sha256=digest,
        strip_components=1,
        quiet=True,
    )
    extracted = again.find("extract-file")
    assert extracted is not None and extracted.cached
    assert _entry(again).cached
    assert again["CMPY_DAE_EXTRACTED_PATH"] == str(out)
    assert (served.hits, elsewhere.hits) == (1, 0)


def test_download_and_extract_of_a_bad_archive_fails_cleanly(
    server: LocalHTTPServer, cmpy_home: Path
) -> None:
    blob = b"this is not an archive at all" * 40
    server.serve("/bad.tar.gz", blob)
    with pytest.raises(ArchiveError) as info:
        run(
            "download-and-extract",
            url=server.url("/bad.tar.gz"),
            sha256=hashlib.sha256(blob).hexdigest(),
            quiet=True,
        )
    assert info.value.chain[0] == "download-and-extract"
    # the verified download stays cached; no extraction entry is left
    assert len(_entry_folders(cmpy_home)) == 1


# --------------------------------------------------------------------------
# hardening: credentials, permissions, limits, resume, odd names


SECRET = "s3cr3t-pa55"


def _with_password(url: str) -> str:
    return url.replace("http://", f"http://alice:{SECRET}@", 1)


def test_a_password_in_the_url_is_not_exported_logged_or_shown(
    server: LocalHTTPServer, cmpy_home: Path
) -> None:
    served = server.serve("/f.bin", BLOB, cut_after=1000)  # a retry, so a log line
    r = run("download file", url=_with_password(server.url("/f.bin")), sha256=SHA256, quiet=True)
    assert served.requests[0]["Authorization"].startswith("Basic ")
    assert r["CMPY_DOWNLOAD_URL_USED"] == _with_password(server.url("/f.bin")).replace(
        SECRET, "***"
    )
    folder = _entry(r).path
    assert folder is not None
    log = (folder / "cmpy-run.log").read_text()
    assert "alice:***@" in log and SECRET not in log
    with pytest.raises(DownloadError) as info:
        run("download file", url=_with_password(server.url("/gone.bin")), quiet=True)
    assert SECRET not in str(info.value) and "alice:***@" in str(info.value)
    with pytest.raises(UsageError) as usage:
        run("download file", url=_with_password(server.url("/dir/")), quiet=True)
    assert SECRET not in str(usage.value)


@pytest.mark.parametrize("mode", [0o640, 0o600])
def test_a_local_copy_is_no_more_readable_than_its_source(tmp_path: Path, mode: int) -> None:
    source = tmp_path / "shadow"
    source.write_bytes(b"root:$6$secret")
    source.chmod(mode)
    r = run("download file", url=str(source), quiet=True)
    assert os.stat(r["CMPY_DOWNLOAD_FILE_PATH"]).st_mode & 0o777 == mode


def test_a_device_is_refused_at_once(cmpy_home: Path) -> None:
    started = time.monotonic()
    with pytest.raises(DownloadError, match="/dev/zero is a character device, not a regular file"):
        run("download file", url="/dev/zero", quiet=True)
    assert time.monotonic() - started < 5
    assert _entry_folders(cmpy_home) == []


def test_an_endless_body_stops_at_the_size_input(server: LocalHTTPServer, cmpy_home: Path) -> None:
    server.serve("/f.bin", BLOB, endless=True)
    with pytest.raises(DownloadError, match=r"more than the 262144 bytes expected \(size=262144\)"):
        run(
            "download file",
            url=server.url("/f.bin"),
            sha256=SHA256,
            size=str(len(BLOB)),
            retries=0,
            quiet=True,
        )
    assert _entry_folders(cmpy_home) == []
    assert os.listdir(cmpy_home / "partial-downloads") == []


def test_the_size_input_is_checked_against_a_cached_file(server: LocalHTTPServer) -> None:
    server.serve("/f.bin", BLOB)
    url = server.url("/f.bin")
    r = run("download file", url=url, sha256=SHA256, size=len(BLOB), quiet=True)
    assert r["CMPY_DOWNLOAD_SIZE"] == str(len(BLOB))
    assert _entry(run("download file", url=url, sha256=SHA256, size="256KiB", quiet=True)).cached
    with pytest.raises(UsageError, match="size=1000 was asked for"):
        run("download file", url=url, sha256=SHA256, size=1000, quiet=True)
    with pytest.raises(UsageError, match="is not a size"):
        run("download file", url=url, sha256=SHA256, size="lots", quiet=True)


def test_a_trickling_server_times_out_and_total_timeout_bounds_it(
    server: LocalHTTPServer, cmpy_home: Path
) -> None:
    server.serve("/slow.bin", BLOB, trickle=0.1)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="timed out"):
        run("download file", url=server.url("/slow.bin"), timeout=0.5, retries=0, quiet=True)
    with pytest.raises(DownloadError, match=r"total_timeout=0\.5"):
        run("download file", url=server.url("/slow.bin"), total_timeout=0.5, quiet=True)
    assert time.monotonic() - started < 6
    assert _entry_folders(cmpy_home) == []


def test_a_cut_download_is_resumed_by_the_next_run(
    server: LocalHTTPServer, cmpy_home: Path
) -> None:
    cut = 100_000
    served = server.serve("/big.bin", BLOB, cut_after=cut)
    url = server.url("/big.bin")
    with pytest.raises(DownloadError) as info:
        run("download file", url=url, sha256=SHA256, retries=0, quiet=True)
    part = cmpy_home / "partial-downloads" / f"sha256-{SHA256}.part"
    assert part.stat().st_size == cut
    assert f"{part} ({cut} bytes) is kept" in str(info.value)
    assert _entry_folders(cmpy_home) == []  # the failed entry's folder is gone, the part is not
    r = run("download file", url=url, sha256=SHA256, quiet=True)
    assert Path(r["CMPY_DOWNLOAD_FILE_PATH"]).read_bytes() == BLOB
    assert served.requests[1]["Range"] == f"bytes={cut}-"
    assert served.sent == len(BLOB)  # not one byte twice
    assert os.listdir(part.parent) == []


@pytest.mark.parametrize("tail", ["%2e%2e", "%2E", ".."])
def test_a_url_naming_dot_or_dotdot_needs_a_filename(
    server: LocalHTTPServer, cmpy_home: Path, tail: str
) -> None:
    server.serve(f"/files/{tail}", BLOB)
    url = server.url(f"/files/{tail}")
    with pytest.raises(UsageError, match="filename=") as info:
        run("download file", url=url, sha256=SHA256, quiet=True)
    assert url in str(info.value)
    assert _entry_folders(cmpy_home) == []
    r = run("download file", url=url, sha256=SHA256, filename="data.bin", quiet=True)
    assert Path(r["CMPY_DOWNLOAD_FILE_PATH"]).name == "data.bin"


def test_ctx_download_refuses_a_filename_with_folders(server: LocalHTTPServer) -> None:
    server.serve("/f.bin", BLOB)

    @script(tags="fetch sneaky")
    def fetch_sneaky(ctx: Ctx) -> dict[str, str]:
        return {"F": str(ctx.download_sync(server.url("/f.bin"), filename="../escape.bin").path)}

    with pytest.raises(UsageError, match="not a plain file name"):
        run("fetch sneaky", quiet=True)


def test_extract_file_refuses_an_empty_archive_unless_allowed(
    tmp_path: Path, cmpy_home: Path
) -> None:
    archive = _make_archive(tmp_path / "empty.tar.gz", "tar.gz", {})
    with pytest.raises(ArchiveError, match="holds no member") as info:
        run("extract file", input=str(archive), quiet=True)
    assert "allow_empty" in str(info.value)
    assert _entry_folders(cmpy_home) == []
    r = run("extract file", input=str(archive), allow_empty=True, quiet=True)
    assert os.listdir(r["CMPY_EXTRACT_EXTRACTED_PATH"]) == []
    # the empty result was allowed once; it is not handed to a run that did not allow it
    with pytest.raises(ArchiveError, match="holds no member"):
        run("extract file", input=str(archive), quiet=True)


def test_extract_file_of_a_gz_starting_with_zeros_is_its_content(tmp_path: Path) -> None:
    import gzip

    payload = bytes(1024) + b"tail"
    archive = tmp_path / "image.raw.gz"
    archive.write_bytes(gzip.compress(payload))
    r = run("extract file", input=str(archive), quiet=True)
    assert (Path(r["CMPY_EXTRACT_EXTRACTED_PATH"]) / "image.raw").read_bytes() == payload


def test_extract_file_limits_are_inputs_named_in_the_message(
    tmp_path: Path, cmpy_home: Path
) -> None:
    archive = _make_archive(tmp_path / "bomb.tar.gz", "tar.gz", {"zeros": bytes(4 << 20)})
    with pytest.raises(ArchiveError, match="max_ratio=200") as info:
        run("extract file", input=str(archive), ratio_min_size="1MiB", quiet=True)
    assert "raise max_ratio=" in str(info.value)
    with pytest.raises(ArchiveError, match=r"max_total_size=1048576"):
        run("extract file", input=str(archive), max_total_size="1M", quiet=True)
    with pytest.raises(ArchiveError, match=r"max_members=0"):
        run("extract file", input=str(archive), max_members="0", quiet=True)
    assert _entry_folders(cmpy_home) == []
    with pytest.raises(UsageError, match="is not a size"):
        run("extract file", input=str(archive), max_total_size="lots", quiet=True)
    r = run("extract file", input=str(archive), ratio_min_size="1MiB", max_ratio="none", quiet=True)
    assert (Path(r["CMPY_EXTRACT_EXTRACTED_PATH"]) / "zeros").stat().st_size == 4 << 20


def test_download_and_extract_passes_the_limits_on(
    server: LocalHTTPServer, tmp_path: Path, cmpy_home: Path
) -> None:
    blob = _make_archive(tmp_path / "bomb.tar.gz", "tar.gz", {"zeros": bytes(4 << 20)}).read_bytes()
    server.serve("/bomb.tar.gz", blob)
    with pytest.raises(ArchiveError, match="max_ratio"):
        run(
            "download-and-extract",
            url=server.url("/bomb.tar.gz"),
            sha256=hashlib.sha256(blob).hexdigest(),
            ratio_min_size="1MiB",
            quiet=True,
        )
    assert len(_entry_folders(cmpy_home)) == 1  # the verified download only
