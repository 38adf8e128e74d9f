"""What a body can do through its Ctx: download and extract into its own folder."""

from __future__ import annotations

import hashlib
import io
import itertools
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from _httpserver import LocalHTTPServer

from cmpy import ArchiveError, ChecksumMismatch, Ctx, run, script


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as s:
        yield s


def _tarball() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"weights"
        info = tarfile.TarInfo("model/weights.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_download_and_extract_in_a_cached_recipe(server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = _tarball()
    served = server.serve("/files/model.tar.gz", blob)
    digest = hashlib.sha256(blob).hexdigest()

    @script(tags="fetch model", cache=True, inputs={"url": "MODEL_URL", "sha256": "MODEL_SHA256"})
    async def fetch(ctx: Ctx) -> dict[str, str]:
        got = await ctx.download(ctx.env["MODEL_URL"], sha256=ctx.env["MODEL_SHA256"])
        where = await ctx.extract(got.path)
        return {"MODEL_DIR": str(where / "model"), "ARCHIVE": str(got.path)}

    url = server.url("/files/model.tar.gz")
    r = run("fetch model", url=url, sha256=digest, quiet=True)
    assert (Path(r["MODEL_DIR"]) / "weights.bin").read_bytes() == b"weights"
    assert Path(r["ARCHIVE"]).parent == r.path
    assert run("fetch model", url=url, sha256=digest, quiet=True).cached
    assert served.hits == 1

    # a site mirror, given through env, is tried first: the original URL is dead here
    mirror = server.serve("/mirror/model.tar.gz", blob)
    monkeypatch.setenv("CMPY_DOWNLOAD_MIRROR", server.url("/mirror/"))
    r2 = run("fetch model", url="http://127.0.0.1:9/gone/model.tar.gz", sha256=digest, quiet=True)
    assert (Path(r2["MODEL_DIR"]) / "weights.bin").exists()
    assert mirror.hits == 1


def test_bad_checksum_fails_cleanly(server: LocalHTTPServer, cmpy_home: Path) -> None:
    server.serve("/f.bin", b"not what you expect")

    @script(tags="fetch bad", cache=True)
    def fetch_bad(ctx: Ctx) -> dict[str, str]:
        got = ctx.download_sync(server.url("/f.bin"), sha256="0" * 64)
        return {"F": str(got.path)}

    with pytest.raises(ChecksumMismatch) as info:
        run("fetch bad", quiet=True)
    assert "0" * 64 in str(info.value)
    assert info.value.chain == ("fetch-bad",)
    entries = cmpy_home / "entries"
    assert not entries.exists() or not any(p for d in entries.iterdir() for p in d.iterdir())


def test_corrupt_archive_fails_cleanly(tmp_path: Path) -> None:
    bad = tmp_path / "broken.tar.gz"
    bad.write_bytes(_tarball()[:40])

    @script(tags="unpack broken")
    def unpack(ctx: Ctx) -> dict[str, str]:
        return {"D": str(ctx.extract_sync(bad))}

    with pytest.raises(ArchiveError) as info:
        run("unpack broken", quiet=True)
    assert "broken.tar.gz" in str(info.value)
    assert info.value.chain == ("unpack",)


def test_named_locks_serialise_bodies() -> None:
    import time

    import anyio

    spans: list[tuple[float, float]] = []

    for i in range(3):

        @script(tags=f"locker l{i}", alias=f"locker-l{i}")
        def locker(ctx: Ctx) -> dict[str, str]:
            with ctx.lock_sync("the one printer"):
                start = time.monotonic()
                time.sleep(0.1)
                spans.append((start, time.monotonic()))
            return {}

    @script(tags="async locker")
    async def async_locker(ctx: Ctx) -> dict[str, str]:
        async with ctx.lock("the one printer"):
            start = time.monotonic()
            await anyio.sleep(0.1)
            spans.append((start, time.monotonic()))
        return {}

    from cmpy import Dep

    @script(tags="all lockers", deps=[Dep(f"locker l{i}") for i in range(3)] + [Dep("async locker")])
    def all_lockers(ctx: Ctx) -> dict[str, str]:
        return {}

    run("all lockers", jobs=4, quiet=True)
    spans.sort()
    assert len(spans) == 4
    assert all(b[0] >= a[1] for a, b in itertools.pairwise(spans))


def test_ctx_extract_takes_the_limits(tmp_path: Path, cmpy_home: Path) -> None:
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass

    @script(tags="unpack empty", inputs={"allow": "ALLOW"})
    async def unpack_empty(ctx: Ctx) -> dict[str, str]:
        where = await ctx.extract(empty, allow_empty=ctx.env.get("ALLOW") == "yes", max_members=5)
        return {"D": str(where)}

    with pytest.raises(ArchiveError, match="holds no member"):
        run("unpack empty", quiet=True)
    assert list(Path(run("unpack empty", allow=True, quiet=True)["D"]).iterdir()) == []


def test_ctx_download_keeps_a_cut_file_for_the_next_run(
    server: LocalHTTPServer, cmpy_home: Path
) -> None:
    from cmpy import DownloadError

    blob = bytes(range(256)) * 512
    digest = hashlib.sha256(blob).hexdigest()
    served = server.serve("/w.bin", blob, cut_after=50_000)

    @script(tags="fetch weights", cache=True)
    async def fetch_weights(ctx: Ctx) -> dict[str, str]:
        got = await ctx.download(server.url("/w.bin"), sha256=digest, size=len(blob), retries=0)
        return {"W": str(got.path)}

    with pytest.raises(DownloadError, match="partial-downloads"):
        run("fetch weights", quiet=True)
    assert (cmpy_home / "partial-downloads" / f"sha256-{digest}.part").stat().st_size == 50_000
    r = run("fetch weights", quiet=True)
    assert Path(r["W"]).read_bytes() == blob
    assert served.requests[1]["Range"] == "bytes=50000-"
