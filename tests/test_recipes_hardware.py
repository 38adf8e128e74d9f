"""detect memory, detect storage, detect network and detect cpu's top clock, on recorded files."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from cmpy import run
from cmpy.recipes.hardware import (
    describe_block_device,
    human_bytes,
    memory_configuration,
    mount_type,
    parse_meminfo,
    parse_memory_device,
    storage_kind,
)
from cmpy.recipes.system import max_frequency_mhz


def memory_device(size: int, kind: int = 0x1A, speed: int = 3200, extended: int = 0) -> bytes:
    """An SMBIOS 3.x type 17 record: the formatted area (0x5C bytes) and its strings."""
    raw = bytearray(0x5C)
    raw[0], raw[1] = 17, 0x5C
    struct.pack_into("<H", raw, 0x0C, size)
    raw[0x12] = kind
    struct.pack_into("<H", raw, 0x15, speed)
    struct.pack_into("<I", raw, 0x1C, extended)
    return bytes(raw) + b"DIMM_A1\x00\x00"


def test_memory_device_records() -> None:
    assert parse_memory_device(memory_device(16384)) == {
        "size": 16 << 30,
        "type": "DDR4",
        "speed": 3200,
    }
    # sizes of 32 GiB and more are in the extended field, in MiB
    big = parse_memory_device(memory_device(0x7FFF, kind=0x22, speed=4800, extended=65536))
    assert big == {"size": 64 << 30, "type": "DDR5", "speed": 4800}
    assert parse_memory_device(memory_device(0x8000 | 512))["size"] == 512 << 10  # in KiB
    assert parse_memory_device(memory_device(0)) is None  # an empty slot
    assert parse_memory_device(memory_device(0xFFFF)) is None  # unknown
    assert parse_memory_device(b"\x04\x30" + bytes(0x30)) is None  # a processor record
    short = bytearray(memory_device(8192))[:0x15]
    short[1] = 0x15  # an SMBIOS 2.1 record: no speed
    assert parse_memory_device(bytes(short)) == {"size": 8 << 30, "type": "DDR4"}


def test_memory_configuration_counts_alike_modules() -> None:
    dimms = [{"size": 32 << 30, "type": "DDR5", "speed": 4800}] * 8
    assert memory_configuration(dimms) == "8x 32 GiB DDR5 4800 MT/s"
    mixed = [*dimms[:2], {"size": 16 << 30, "type": "DDR5", "speed": 4800}, {"size": 8 << 30}]
    assert (
        memory_configuration(mixed)
        == "2x 32 GiB DDR5 4800 MT/s + 1x 16 GiB DDR5 4800 MT/s + 1x 8 GiB"
    )
    assert human_bytes(25275990016) == "23.5 GiB" and human_bytes(274877906944) == "256 GiB"


def test_detect_memory_reads_meminfo_and_smbios(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683584 kB\nMemFree:        22880232 kB\n")
    assert parse_meminfo(meminfo.read_text()) == 24683584 * 1024
    dmi = tmp_path / "entries"
    for index, size in enumerate([16384, 16384, 0]):
        (dmi / f"17-{index}").mkdir(parents=True)
        (dmi / f"17-{index}" / "raw").write_bytes(memory_device(size))
    (dmi / "4-0").mkdir()  # a processor: not memory
    r = run("detect memory", meminfo=str(meminfo), dmi=str(dmi), quiet=True)
    assert r["CMPY_HOST_MEMORY_TOTAL_BYTES"] == str(24683584 * 1024)
    assert r["CMPY_HOST_MEMORY_INSTALLED_BYTES"] == str(32 << 30)
    assert r["CMPY_HOST_MEMORY_CONFIGURATION"] == "2x 16 GiB DDR4 3200 MT/s"
    # without SMBIOS access (not root, a container) only the total is said
    r = run("detect memory", meminfo=str(meminfo), dmi=str(tmp_path / "none"), quiet=True)
    assert "CMPY_HOST_MEMORY_CONFIGURATION" not in r.env


def _disk(sysfs: Path, name: str, dev: str, sectors: int, rotational: str, model: str = "") -> Path:
    disk = sysfs / "devices" / "pci0000:00" / name
    (disk / "queue").mkdir(parents=True)
    (disk / "size").write_text(f"{sectors}\n")
    (disk / "queue" / "rotational").write_text(rotational + "\n")
    if model:
        (disk / "device").mkdir()
        (disk / "device" / "model").write_text(model + "   \n")
    (sysfs / "dev" / "block").mkdir(parents=True, exist_ok=True)
    os.symlink(disk, sysfs / "dev" / "block" / dev)
    return disk


def test_the_disk_under_a_partition(tmp_path: Path) -> None:
    sysfs = tmp_path / "sys"
    disk = _disk(sysfs, "nvme0n1", "259:0", 3750748848, "0", model="SAMSUNG MZQL21T9HCJR")
    part = disk / "nvme0n1p2"
    part.mkdir()
    (part / "partition").write_text("2\n")
    (part / "size").write_text("100\n")
    os.symlink(part, sysfs / "dev" / "block" / "259:2")
    assert describe_block_device(sysfs, 259, 2) == {
        "CMPY_HOST_STORAGE_DEVICE": "nvme0n1",
        "CMPY_HOST_STORAGE_CAPACITY_BYTES": str(3750748848 * 512),
        "CMPY_HOST_STORAGE_TYPE": "NVMe SSD",
        "CMPY_HOST_STORAGE_MODEL": "SAMSUNG MZQL21T9HCJR",
    }
    # LVM: the mapper's slave is the disk
    hdd = _disk(sysfs, "sdb", "8:16", 1000, "1")
    mapper = sysfs / "devices" / "virtual" / "dm-0"
    (mapper / "slaves").mkdir(parents=True)
    os.symlink(hdd, mapper / "slaves" / "sdb")
    os.symlink(mapper, sysfs / "dev" / "block" / "253:0")
    assert describe_block_device(sysfs, 253, 0)["CMPY_HOST_STORAGE_TYPE"] == "HDD"
    assert describe_block_device(sysfs, 0, 44) == {}  # overlay, tmpfs: no block device
    assert storage_kind("sda", "0") == "SSD" and storage_kind("vda", "1").startswith("virtio")
    assert storage_kind("sdz", "") == ""


def test_mount_type() -> None:
    mounts = "overlay / overlay rw 0 0\n/dev/sda1 /data ext4 rw 0 0\n/dev/sdb1 /data/x\\040y xfs rw 0 0\n"
    assert mount_type(mounts, "/data/runs") == "ext4"
    assert mount_type(mounts, "/data/x y/z") == "xfs"
    assert mount_type(mounts, "/database") == "overlay"


def test_detect_storage_here(tmp_path: Path) -> None:
    r = run("detect storage", path=str(tmp_path / "not" / "made" / "yet"), quiet=True)
    assert r["CMPY_HOST_STORAGE_PATH"] == str(tmp_path)  # the nearest folder that exists
    assert int(r["CMPY_HOST_STORAGE_CAPACITY_BYTES"]) > 0


def test_detect_network_counts_cards(tmp_path: Path) -> None:
    net = tmp_path / "net"
    for name, device in (("eth0", True), ("ens5", True), ("lo", False), ("docker0", False)):
        (net / name).mkdir(parents=True)
        if device:
            (net / name / "device").mkdir()
    (net / "veth1").mkdir()
    (net / "veth1" / "device").mkdir()  # a veth pair's end is no card
    r = run("detect network", net=str(net), quiet=True)
    assert r["CMPY_HOST_NETWORK_CARD_COUNT"] == "2"
    assert r["CMPY_HOST_NETWORK_INTERFACES"] == "ens5 eth0"


def test_cpu_top_clock(tmp_path: Path) -> None:
    assert max_frequency_mhz(tmp_path, "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz") == 2500
    assert max_frequency_mhz(tmp_path, "AMD EPYC 7763 64-Core Processor") is None
    (tmp_path / "cpu0" / "cpufreq").mkdir(parents=True)
    (tmp_path / "cpu0" / "cpufreq" / "cpuinfo_max_freq").write_text("3500000\n")
    assert max_frequency_mhz(tmp_path, "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz") == 3500
    r = run("detect cpu", sysfs=str(tmp_path), quiet=True)
    assert r["CMPY_HOST_CPU_MAX_FREQUENCY_MHZ"] == "3500"
