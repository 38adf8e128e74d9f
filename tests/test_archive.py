"""Extraction of archives the tests build themselves: good ones, hostile ones, broken ones."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from cmpy._archive import KNOWN_FORMATS, archive_format, extract, list_members
from cmpy._errors import ArchiveError, UsageError

# one member of a test archive: (name, kind, payload); payload is the content
# of a file or the target of a link
Member = tuple[str, str, bytes | str]

GOOD: list[Member] = [
    ("pkg-1.0/", "dir", b""),
    ("pkg-1.0/README", "file", b"read me\n"),
    ("pkg-1.0/bin/", "dir", b""),
    ("pkg-1.0/bin/tool", "exe", b"#!/bin/sh\necho tool\n"),
    ("pkg-1.0/lib/libx.so.1", "file", b"\x7fELF..."),
    ("pkg-1.0/lib/libx.so", "symlink", "libx.so.1"),
    ("pkg-1.0/docs/readme-again", "hardlink", "pkg-1.0/README"),
]


def make_tar(path: Path, members: Sequence[Member], compression: str = "") -> Path:
    mode = "w:" + compression if compression else "w"
    with tarfile.open(path, mode) as tf:  # type: ignore[call-overload]
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            data = None
            if kind in ("file", "exe"):
                assert isinstance(payload, bytes)
                info.size = len(payload)
                info.mode = 0o755 if kind == "exe" else 0o644
                data = io.BytesIO(payload)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = str(payload)
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = str(payload)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            elif kind == "chardev":
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = 1, 3
            else:
                raise AssertionError(kind)
            tf.addfile(info, data)
    return path


def make_zip(path: Path, members: Sequence[Member]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, kind, payload in members:
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # unix, so the mode bits below count
            if kind == "dir":
                info.external_attr = (stat.S_IFDIR | 0o755) << 16
                zf.writestr(info, b"")
            elif kind in ("file", "exe"):
                info.external_attr = (stat.S_IFREG | (0o755 if kind == "exe" else 0o644)) << 16
                zf.writestr(info, payload)
            elif kind == "symlink":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, str(payload))
            elif kind == "fifo":
                info.external_attr = (stat.S_IFIFO | 0o644) << 16
                zf.writestr(info, b"")
            else:
                raise AssertionError(kind)
    return path


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder holding only the archive and the target, inside a sandbox folder."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def assert_nothing_left(work: Path, archive: Path) -> None:
    """No target, no temporary folder, nothing written beside or above them."""
    assert sorted(os.listdir(work)) == [archive.name]
    assert sorted(os.listdir(work.parent)) == ["work"]


def check_good_tree(out: Path) -> None:
    root = out / "pkg-1.0"
    assert (root / "README").read_bytes() == b"read me\n"
    tool = root / "bin" / "tool"
    assert tool.read_bytes().startswith(b"#!/bin/sh")
    assert os.stat(tool).st_mode & 0o100, "the executable bit was lost"
    assert os.readlink(root / "lib" / "libx.so") == "libx.so.1"
    assert (root / "lib" / "libx.so").read_bytes() == b"\x7fELF..."


# --------------------------------------------------------------------------
# good archives


@pytest.mark.parametrize("compression", ["", "gz", "bz2", "xz"])
def test_extracts_tar_in_every_compression(work: Path, compression: str) -> None:
    archive = make_tar(work / "a.tar", GOOD, compression)
    lines: list[str] = []
    out = extract(archive, work / "out", log=lines.append)
    assert out == work / "out"
    check_good_tree(out)
    assert (out / "pkg-1.0" / "docs" / "readme-again").read_bytes() == b"read me\n"
    assert sorted(os.listdir(work)) == ["a.tar", "out"], "a temporary folder was left"
    assert lines and "a.tar" in lines[0]


def test_extracts_zip_with_modes_and_symlinks(work: Path) -> None:
    archive = make_zip(work / "a.zip", [m for m in GOOD if m[1] != "hardlink"])
    out = extract(archive, work / "out")
    check_good_tree(out)
    assert not os.stat(out / "pkg-1.0" / "README").st_mode & 0o111


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (lambda p: make_tar(p, GOOD), "tar"),
        (lambda p: make_tar(p, GOOD, "gz"), "tar.gz"),
        (lambda p: make_tar(p, GOOD, "bz2"), "tar.bz2"),
        (lambda p: make_tar(p, GOOD, "xz"), "tar.xz"),
        (lambda p: make_zip(p, GOOD[:2]), "zip"),
    ],
)
def test_format_is_told_by_content_not_name(
    work: Path, builder: Callable[[Path], Path], expected: str
) -> None:
    archive = builder(work / "misleading.name.zip.txt")
    assert archive_format(archive) == expected
    out = extract(archive, work / "out")
    assert (out / "pkg-1.0" / "README").read_bytes() == b"read me\n"


def test_strip_components_tar_and_zip(work: Path) -> None:
    tar = make_tar(work / "a.tar.gz", GOOD, "gz")
    out = extract(tar, work / "t", strip_components=1)
    assert sorted(os.listdir(out)) == ["README", "bin", "docs", "lib"]
    assert (out / "docs" / "readme-again").read_bytes() == b"read me\n"
    assert os.readlink(out / "lib" / "libx.so") == "libx.so.1"
    zipped = make_zip(work / "a.zip", [m for m in GOOD if m[1] != "hardlink"])
    out = extract(zipped, work / "z", strip_components=2)
    assert sorted(os.listdir(out)) == ["libx.so", "libx.so.1", "tool"]


def test_strip_components_that_cuts_a_hard_link_target_is_refused(work: Path) -> None:
    archive = make_tar(work / "a.tar", [("f", "file", b"x"), ("d/h", "hardlink", "f")])
    with pytest.raises(ArchiveError, match="strip_components"):
        extract(archive, work / "out", strip_components=1)
    assert_nothing_left(work, archive)


def test_single_compressed_files_are_decompressed(work: Path) -> None:
    payload = b"0123456789" * 1000
    (work / "data.csv.gz").write_bytes(gzip.compress(payload))
    (work / "data.bin.bz2").write_bytes(bz2.compress(payload))
    (work / "weights.xz").write_bytes(lzma.compress(payload))
    assert archive_format(work / "data.csv.gz") == "gz"
    assert (extract(work / "data.csv.gz", work / "g") / "data.csv").read_bytes() == payload
    assert (extract(work / "data.bin.bz2", work / "b") / "data.bin").read_bytes() == payload
    assert (extract(work / "weights.xz", work / "x") / "weights").read_bytes() == payload
    assert list_members(work / "weights.xz") == ["weights"]


def test_list_members(work: Path) -> None:
    names = [m[0].rstrip("/") for m in GOOD]
    assert list_members(make_tar(work / "a.tgz", GOOD, "gz")) == names
    zipped = make_zip(work / "a.zip", GOOD[:2])
    assert list_members(zipped) == ["pkg-1.0/", "pkg-1.0/README"]


def test_existing_empty_target_is_replaced_non_empty_refused(work: Path) -> None:
    archive = make_tar(work / "a.tar", GOOD)
    (work / "empty").mkdir()
    check_good_tree(extract(archive, work / "empty"))
    (work / "full").mkdir()
    (work / "full" / "keep").write_text("mine")
    with pytest.raises(UsageError, match="not an empty folder"):
        extract(archive, work / "full")
    assert os.listdir(work / "full") == ["keep"]


def test_negative_strip_components_is_a_usage_error(work: Path) -> None:
    with pytest.raises(UsageError):
        extract(make_tar(work / "a.tar", GOOD), work / "out", strip_components=-1)


def test_a_symlink_inside_may_be_used_as_a_folder(work: Path) -> None:
    archive = make_tar(
        work / "a.tar",
        [
            ("real/", "dir", b""),
            ("alias", "symlink", "real"),
            ("alias/f", "file", b"hi"),
        ],
    )
    out = extract(archive, work / "out")
    assert (out / "real" / "f").read_bytes() == b"hi"


# --------------------------------------------------------------------------
# hostile archives: each refused whole, nothing written anywhere

HOSTILE_TAR: dict[str, list[Member]] = {
    "dotdot": [("ok", "file", b"fine"), ("../evil", "file", b"pwned")],
    "dotdot-deep": [("a/b/../../../evil", "file", b"pwned")],
    "symlink-out-then-write-through": [
        ("ln", "symlink", ".."),
        ("ln/evil", "file", b"pwned"),
    ],
    "symlink-absolute": [("ln", "symlink", "/etc")],
    "symlink-chain-out": [
        ("a/", "dir", b""),
        ("a/up", "symlink", ".."),
        ("a/up2", "symlink", "up/.."),
    ],
    # fine when made, escapes once a later member turns x into a link
    "symlink-made-to-escape-later": [("L", "symlink", "x/.."), ("x", "symlink", ".")],
    "symlink-loop": [
        ("a", "symlink", "b"),
        ("b", "symlink", "a"),
        ("a/f", "file", b""),
    ],
    "hardlink-outside": [("h", "hardlink", "../outside.txt")],
    "hardlink-absolute": [("h", "hardlink", "/etc/passwd")],
    "hardlink-unknown": [("h", "hardlink", "not-in-archive")],
    "fifo": [("ok", "file", b"fine"), ("pipe", "fifo", b"")],
    "chardev": [("null", "chardev", b"")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TAR))
@pytest.mark.parametrize("compression", ["", "gz"])
def test_hostile_tar_is_refused_whole(work: Path, case: str, compression: str) -> None:
    (work.parent / "outside.txt").write_text("keep me")
    archive = make_tar(work / "bad.tar", HOSTILE_TAR[case], compression)
    with pytest.raises(ArchiveError, match="refused"):
        extract(archive, work / "out")
    assert sorted(os.listdir(work)) == ["bad.tar"]
    assert sorted(os.listdir(work.parent)) == ["outside.txt", "work"]
    assert (work.parent / "outside.txt").read_text() == "keep me"


class _BlindTree:
    """A model of the tree that accepts everything, to test the data filter alone."""

    def __getattr__(self, name: str) -> Callable[..., tuple[str, ...]]:
        return lambda *args, **kwargs: ()


@pytest.mark.parametrize(
    "members",
    [
        [("ok", "file", b"fine"), ("../evil", "file", b"pwned")],
        [("ok", "file", b"fine"), ("ln", "symlink", ".."), ("ln/evil", "file", b"x")],
    ],
    ids=["dotdot", "symlink-out"],
)
def test_data_filter_refusal_alone_refuses_the_whole_archive(
    work: Path, monkeypatch: pytest.MonkeyPatch, members: list[Member]
) -> None:
    """A member the model missed is still stopped by the data filter, archive and all.

    PITFALLS: with errorlevel 0 a filtered member is extracted anyway
    (CVE-2025-4435); a refusal must abort the whole extraction.
    """
    import cmpy._archive_tar as tar_module

    monkeypatch.setattr(tar_module, "_Tree", _BlindTree)
    monkeypatch.setattr(tar_module, "_check_member_name", lambda name: None)
    archive = make_tar(work / "bad.tar", members)
    with pytest.raises(ArchiveError, match="data filter"):
        extract(archive, work / "out")
    assert_nothing_left(work, archive)


def test_tar_absolute_member_is_refused(work: Path) -> None:
    victim = work.parent / "absolute-evil"
    archive = make_tar(work / "bad.tar", [("ok", "file", b"fine"), (str(victim), "file", b"x")])
    with pytest.raises(ArchiveError, match="absolute"):
        extract(archive, work / "out")
    assert not victim.exists()
    assert_nothing_left(work, archive)


HOSTILE_ZIP: dict[str, list[Member]] = {
    "dotdot": [("ok", "file", b"fine"), ("../evil", "file", b"pwned")],
    "absolute": [("/tmp/cmpy-zip-evil", "file", b"pwned")],
    "backslash-dotdot": [("..\\evil", "file", b"pwned")],
    "symlink-out": [("ln", "symlink", "../../outside")],
    "symlink-absolute": [("ln", "symlink", "/etc/passwd")],
    "symlink-then-write-through": [("ln", "symlink", ".."), ("ln/evil", "file", b"x")],
    "fifo": [("pipe", "fifo", b"")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_ZIP))
def test_hostile_zip_is_refused_whole(work: Path, case: str) -> None:
    archive = make_zip(work / "bad.zip", HOSTILE_ZIP[case])
    with pytest.raises(ArchiveError, match="unsafe member"):
        extract(archive, work / "out")
    assert_nothing_left(work, archive)
    assert not Path("/tmp/cmpy-zip-evil").exists()


# --------------------------------------------------------------------------
# broken archives


@pytest.mark.parametrize("compression", ["", "gz", "bz2", "xz"])
def test_truncated_tar_is_refused(work: Path, compression: str) -> None:
    big = [("big.bin", "file", os.urandom(64 * 1024)), ("after", "file", b"x")]
    whole = make_tar(work / "whole", big, compression).read_bytes()
    (work / "whole").unlink()
    archive = work / "cut.tar"
    archive.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        extract(archive, work / "out")
    assert_nothing_left(work, archive)


def test_plain_tar_cut_on_a_block_boundary_is_refused(work: Path) -> None:
    whole = make_tar(work / "whole", [("a", "file", b"1" * 512), ("b", "file", b"2")])
    data = whole.read_bytes()
    whole.unlink()
    archive = work / "cut.tar"
    archive.write_bytes(data[:1024])  # header and data of "a", then nothing
    with pytest.raises(ArchiveError, match="end-of-archive"):
        extract(archive, work / "out")
    assert_nothing_left(work, archive)


def test_zip_with_a_bad_crc_is_refused(work: Path) -> None:
    archive = work / "bad.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.txt", b"A" * 1000)
        zf.writestr("b.txt", b"hello world " * 10)
    data = bytearray(archive.read_bytes())
    data[data.index(b"hello world")] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="corrupt"):
        extract(archive, work / "out")
    assert_nothing_left(work, archive)


def test_corrupt_gzip_stream_is_refused(work: Path) -> None:
    data = bytearray(make_tar(work / "a.tgz", GOOD, "gz").read_bytes())
    for i in range(20, len(data) - 20, 7):
        data[i] ^= 0x5A
    (work / "a.tgz").write_bytes(bytes(data))
    with pytest.raises(ArchiveError):
        extract(work / "a.tgz", work / "out")
    assert_nothing_left(work, work / "a.tgz")


def test_unknown_format_names_the_known_ones(work: Path) -> None:
    (work / "notes.tar.gz").write_text("just some text, not an archive\n" * 40)
    with pytest.raises(ArchiveError) as info:
        extract(work / "notes.tar.gz", work / "out")
    assert all(fmt in str(info.value) for fmt in KNOWN_FORMATS)
    assert archive_format(work / "notes.tar.gz") is None
    assert_nothing_left(work, work / "notes.tar.gz")


def test_unsupported_but_recognised_format_says_what_it_is(work: Path) -> None:
    (work / "a.tar.zst").write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 600)
    with pytest.raises(ArchiveError, match="zstd"):
        extract(work / "a.tar.zst", work / "out")


def test_missing_archive_is_an_archive_error(work: Path) -> None:
    with pytest.raises(ArchiveError, match="cannot read"):
        extract(work / "nope.tar", work / "out")
    assert os.listdir(work) == []


def test_target_gets_the_usual_folder_mode(work: Path) -> None:
    old = os.umask(0o022)
    try:
        out = extract(make_tar(work / "a.tar", GOOD), work / "out")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o755


def test_strip_components_counts_a_leading_dot_like_gnu_tar(work: Path) -> None:
    members: list[Member] = [("./", "dir", b""), ("./pkg/", "dir", b""), ("./pkg/f", "file", b"hi")]
    out = extract(make_tar(work / "a.tgz", members, "gz"), work / "out", strip_components=1)
    assert (out / "pkg" / "f").read_bytes() == b"hi"
