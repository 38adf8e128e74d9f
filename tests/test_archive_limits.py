"""Archives that would fill the disk, hide in zeros, or nest too deep: refused, nothing left.

Regression tests for the hardening issue: an empty result is an error unless
asked for, a stream of zeros is not an empty tar, decompression bombs stop at
the limits (each named in the message), and deep member names are refused
with the limit said.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from cmpy._archive import MAX_MEMBER_DEPTH, archive_format, extract
from cmpy._errors import ArchiveError, UsageError

MiB = 1 << 20
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def assert_nothing_left(work: Path, *archives: Path) -> None:
    assert sorted(os.listdir(work)) == sorted(a.name for a in archives)


def tar_bytes(members: dict[str, bytes], compression: str = "") -> bytes:
    buf = io.BytesIO()
    # the fastest settings: the tests are about reading, not about compressing well
    fast = {"gz": {"compresslevel": 1}, "bz2": {"compresslevel": 1}, "xz": {"preset": 0}}
    options = fast.get(compression, {})
    with tarfile.open(fileobj=buf, mode="w:" + compression, **options) as tf:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# --------------------------------------------------------------------------
# 9. empty archives and zeros


@pytest.mark.parametrize("compression", ["gz", "bz2", "xz"])
def test_leading_zeros_in_a_compressed_file_are_not_an_empty_tar(
    work: Path, compression: str
) -> None:
    payload = bytes(4096) + b"the real content"
    archive = work / f"disk.img.{compression}"
    archive.write_bytes(COMPRESS[compression](payload))
    assert archive_format(archive) == compression
    out = extract(archive, work / "out")
    assert (out / "disk.img").read_bytes() == payload


def test_zeros_are_an_empty_tar_only_when_nothing_else_follows(work: Path) -> None:
    (work / "empty.tar").write_bytes(bytes(10240))
    (work / "zeros-then-data").write_bytes(bytes(10240) + b"x")
    (work / "one-block").write_bytes(bytes(512))
    assert archive_format(work / "empty.tar") == "tar"
    assert archive_format(work / "zeros-then-data") is None
    assert archive_format(work / "one-block") is None
    (work / "e.tar.gz").write_bytes(gzip.compress(bytes(10240)))
    (work / "z.gz").write_bytes(gzip.compress(bytes(10240) + b"x"))
    assert archive_format(work / "e.tar.gz") == "tar.gz"
    assert archive_format(work / "z.gz") == "gz"


@pytest.mark.parametrize("fmt", ["tar", "tar.gz", "tar.bz2", "tar.xz", "zip"])
def test_an_empty_archive_is_an_error_unless_allowed(work: Path, fmt: str) -> None:
    archive = work / f"empty.{fmt}"
    archive.write_bytes(zip_bytes({}) if fmt == "zip" else tar_bytes({}, fmt[4:]))
    with pytest.raises(ArchiveError, match="holds no member") as info:
        extract(archive, work / "out")
    assert "allow_empty" in str(info.value)
    assert_nothing_left(work, archive)
    out = extract(archive, work / "out", allow_empty=True)
    assert os.listdir(out) == []


def test_strip_components_that_leaves_nothing_is_an_error(work: Path) -> None:
    archive = work / "a.tar"
    archive.write_bytes(tar_bytes({"top/file": b"x"}))
    with pytest.raises(ArchiveError, match="strip_components=2 leaves none of its 1 members"):
        extract(archive, work / "out", strip_components=2)
    assert_nothing_left(work, archive)


# --------------------------------------------------------------------------
# 10. limits


def test_a_zip_bomb_is_refused_by_its_declared_ratio(work: Path) -> None:
    archive = work / "bomb.zip"
    archive.write_bytes(zip_bytes({"zeros": bytes(4 * MiB)}))
    with pytest.raises(ArchiveError, match=r"member 'zeros'.*max_ratio=200") as info:
        extract(archive, work / "out", ratio_min_size=MiB)
    assert "ratio_min_size" in str(info.value) and "raise max_ratio=" in str(info.value)
    assert_nothing_left(work, archive)


def test_zip_size_and_member_limits(work: Path) -> None:
    archive = work / "many.zip"
    archive.write_bytes(zip_bytes({f"f{i}": os.urandom(100_000) for i in range(20)}))
    with pytest.raises(ArchiveError, match=r"max_total_size=1048576"):
        extract(archive, work / "out", max_total_size=MiB)
    with pytest.raises(ArchiveError, match=r"more than 10 members \(max_members=10\)"):
        extract(archive, work / "out", max_members=10)
    assert_nothing_left(work, archive)
    assert len(os.listdir(extract(archive, work / "out", max_members=20))) == 20


@pytest.mark.parametrize("compression", ["gz", "bz2", "xz"])
def test_a_tar_bomb_is_refused_before_it_is_written(work: Path, compression: str) -> None:
    archive = work / f"bomb.tar.{compression}"
    archive.write_bytes(tar_bytes({"zeros": bytes(8 * MiB)}, compression))
    with pytest.raises(ArchiveError, match="max_ratio=200"):
        extract(archive, work / "out", ratio_min_size=MiB)
    with pytest.raises(ArchiveError, match="max_total_size=1048576"):
        extract(archive, work / "out", max_total_size=MiB)
    assert_nothing_left(work, archive)
    out = extract(archive, work / "out", ratio_min_size=MiB, max_ratio=None)
    assert (out / "zeros").stat().st_size == 8 * MiB


@pytest.mark.parametrize("compression", ["gz", "bz2", "xz"])
def test_one_bomb_member_among_honest_ones_is_refused(work: Path, compression: str) -> None:
    """The archive as a whole expands by 9x; its member of zeros by far more."""
    archive = work / f"mixed.tar.{compression}"
    members = {"noise": os.urandom(MiB), "zeros": bytes(8 * MiB), "after": b"x"}
    archive.write_bytes(tar_bytes(members, compression))
    with pytest.raises(ArchiveError, match=r"member 'zeros' expands to 8.0 MiB"):
        extract(archive, work / "out", ratio_min_size=MiB)
    assert_nothing_left(work, archive)


@pytest.mark.parametrize("compression", ["gz", "bz2", "xz"])
def test_a_single_compressed_file_is_held_to_the_limits_while_written(
    work: Path, compression: str
) -> None:
    """gzip's trailer size is not trusted (nor read): the bytes are counted as they come."""
    archive = work / f"zeros.bin.{compression}"
    archive.write_bytes(COMPRESS[compression](bytes(6 * MiB)))
    with pytest.raises(ArchiveError, match="it expands to more than 200 times"):
        extract(archive, work / "out", ratio_min_size=MiB)
    with pytest.raises(ArchiveError, match=r"more than 2.0 MiB in all \(max_total_size="):
        extract(archive, work / "out", max_total_size=2 * MiB)
    assert_nothing_left(work, archive)


def test_tar_member_and_size_limits(work: Path) -> None:
    archive = work / "many.tar"
    archive.write_bytes(tar_bytes({f"f{i}": b"x" * 1000 for i in range(30)}))
    with pytest.raises(ArchiveError, match=r"more than 10 members \(max_members=10\)"):
        extract(archive, work / "out", max_members=10)
    with pytest.raises(ArchiveError, match=r"max_total_size=10000"):
        extract(archive, work / "out", max_total_size=10_000)
    assert_nothing_left(work, archive)


def test_a_huge_extended_header_is_not_read_into_memory(work: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        pax = tarfile.TarInfo("pax")
        pax.type = tarfile.XHDTYPE
        pax.size = 64 * MiB
        tf.addfile(pax, io.BytesIO(bytes(64 * MiB)))
    archive = work / "pax.tar.gz"
    archive.write_bytes(buf.getvalue())
    with pytest.raises(ArchiveError, match="extended data"):
        extract(archive, work / "out")
    assert_nothing_left(work, archive)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_total_size": -1},
        {"max_ratio": float("nan")},
        {"max_members": 1.5},
        {"ratio_min_size": None},
    ],
)
def test_bad_limits_are_usage_errors(work: Path, kwargs: dict[str, object]) -> None:
    archive = work / "a.tar"
    archive.write_bytes(tar_bytes({"f": b"x"}))
    with pytest.raises(UsageError, match="is not a limit"):
        extract(archive, work / "out", **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# 12. deep members


@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_a_member_too_deep_is_refused_with_the_limit_named(work: Path, fmt: str) -> None:
    name = "a/" * 2000 + "f"
    archive = work / f"deep.{fmt}"
    archive.write_bytes(zip_bytes({name: b"x"}) if fmt == "zip" else tar_bytes({name: b"x"}))
    with pytest.raises(
        ArchiveError, match=f"2001 path components deep.*at most {MAX_MEMBER_DEPTH}"
    ):
        extract(archive, work / "out")
    assert_nothing_left(work, archive)
    ok = work / f"ok.{fmt}"
    name = "a/" * (MAX_MEMBER_DEPTH - 1) + "f"
    ok.write_bytes(zip_bytes({name: b"x"}) if fmt == "zip" else tar_bytes({name: b"x"}))
    assert (extract(ok, work / "fine") / name).read_bytes() == b"x"
