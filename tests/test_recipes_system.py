"""The built-in host recipes: detect os and detect cpu, on this machine and on recorded files."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from cmpy import run
from cmpy.recipes.system import parse_cpuinfo, parse_os_release

OS_RELEASE = """\
PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
"""

CPUINFO = """\
processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7763 64-Core Processor
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu sse2 avx2

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7763 64-Core Processor
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu sse2 avx2

processor\t: 2
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7763 64-Core Processor
physical id\t: 1
core id\t\t: 0
flags\t\t: fpu sse2 avx2
"""


def test_detect_os_here() -> None:
    r = run("detect os", quiet=True)
    assert r["CMPY_HOST_OS_NAME"] == os.uname().sysname
    assert r["CMPY_HOST_OS_MACHINE"] == os.uname().machine
    assert r["CMPY_HOST_OS_BITS"] in ("32", "64")
    assert r.version
    assert all(k.startswith(("CMPY_HOST_OS_", "CMPY_HOST_PLATFORM_")) for k in r.env)


@pytest.mark.skipif(sys.platform != "linux", reason="os-release is Linux's")
def test_detect_os_reads_os_release(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text(OS_RELEASE)
    r = run("detect os", os_release=str(release), quiet=True)
    assert r["CMPY_HOST_OS_DISTRO"] == "ubuntu"
    assert r["CMPY_HOST_OS_DISTRO_NAME"] == "Ubuntu 22.04.4 LTS"
    assert r["CMPY_HOST_OS_VERSION"] == "22.04" and r.version == "22.04"
    assert r["CMPY_HOST_OS_PACKAGE_MANAGER"] == "apt-get"
    assert parse_os_release('ID="fedora"\n# comment\nVERSION_ID=40')["ID"] == "fedora"


def test_detect_cpu_here() -> None:
    r = run("detect cpu", quiet=True)
    assert r["CMPY_HOST_CPU_MODEL"]
    assert int(r["CMPY_HOST_CPU_LOGICAL_CORES"]) == os.cpu_count()
    assert 1 <= int(r["CMPY_HOST_CPU_PHYSICAL_CORES"]) <= int(r["CMPY_HOST_CPU_LOGICAL_CORES"])


def test_detect_cpu_parses_cpuinfo(tmp_path: Path) -> None:
    info = parse_cpuinfo(CPUINFO)
    assert info["model"] == "AMD EPYC 7763 64-Core Processor"
    assert info["vendor"] == "AuthenticAMD"
    assert info["sockets"] == 2 and info["physical_cores"] == 2 and info["logical_cores"] == 3
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO)
    sysfs = tmp_path / "sys"
    for index, (level, kind, size) in enumerate([(1, "Data", "32K"), (2, "Unified", "512K")]):
        folder = sysfs / "cpu0" / "cache" / f"index{index}"
        folder.mkdir(parents=True)
        (folder / "level").write_text(f"{level}\n")
        (folder / "type").write_text(f"{kind}\n")
        (folder / "size").write_text(f"{size}\n")
    r = run("detect cpu", cpuinfo=str(cpuinfo), sysfs=str(sysfs), quiet=True)
    assert r["CMPY_HOST_CPU_MODEL"] == "AMD EPYC 7763 64-Core Processor"
    assert r["CMPY_HOST_CPU_SOCKETS"] == "2"
    assert r["CMPY_HOST_CPU_FLAGS"] == "fpu sse2 avx2"
    assert r["CMPY_HOST_CPU_L1D_CACHE_SIZE"] == "32K" and r["CMPY_HOST_CPU_L2_CACHE_SIZE"] == "512K"


def test_detect_cpu_falls_back_to_lscpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    lscpu = bin_dir / "lscpu"
    lscpu.write_text(
        "#!/bin/sh\n"
        "echo 'Model name:            Fake CPU 9000'\n"
        "echo 'Vendor ID:             FakeVendor'\n"
        "echo 'Socket(s):             2'\n"
        "echo 'Core(s) per socket:    4'\n"
        "echo 'Flags:                 a b c'\n"
    )
    lscpu.chmod(lscpu.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    r = run("detect cpu", cpuinfo=str(tmp_path / "missing"), quiet=True)
    assert r["CMPY_HOST_CPU_MODEL"] == "Fake CPU 9000"
    assert r["CMPY_HOST_CPU_PHYSICAL_CORES"] == "8"
    assert r["CMPY_HOST_CPU_FLAGS"] == "a b c"
