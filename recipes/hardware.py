"""Host hardware beyond the CPU: ``detect memory``, ``detect storage``, ``detect network``.

What an MLPerf system description asks for and ``detect cpu`` does not say:
the memory's size and how it is populated, the disk holding a folder, and
the network cards. All three are detectors like ``detect os`` (not cached,
cheap), and they export only facts that stay put from one run to the next
(no free space, no link speed), each read from a file a test can replace:

- memory: ``/proc/meminfo`` (MemTotal) and, where readable (usually root
  only), the SMBIOS memory-device records the kernel exposes under
  ``/sys/firmware/dmi/entries/17-*/raw`` (no ``dmidecode`` needed);
- storage: the block device under a folder, from ``/sys/dev/block``
  (its size, whether it rotates, its model); a folder on no block device
  (overlay, tmpfs, NFS) gets the file system's size and type;
- network: the interfaces in ``/sys/class/net`` backed by a device (not
  ``lo``, bridges or veth pairs).

What a machine cannot tell is left out of the exports, never guessed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cmpy import Ctx, Result, script

# SMBIOS memory-device (type 17) "Memory Type" codes (DMTF DSP0134, 7.18.2)
_MEMORY_TYPES = {
    0x03: "DRAM",
    0x07: "RAM",
    0x0F: "SDRAM",
    0x12: "DDR",
    0x13: "DDR2",
    0x14: "DDR2 FB-DIMM",
    0x18: "DDR3",
    0x1A: "DDR4",
    0x1B: "LPDDR",
    0x1C: "LPDDR2",
    0x1D: "LPDDR3",
    0x1E: "LPDDR4",
    0x20: "HBM",
    0x21: "HBM2",
    0x22: "DDR5",
    0x23: "LPDDR5",
    0x24: "HBM3",
}
_MIB = 1 << 20
_GIB = 1 << 30


def human_bytes(size: int) -> str:
    """A size as people write it: ``24 GiB``, ``1.5 TiB``, ``512 MiB`` (binary units)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            text = f"{value:.1f}".removesuffix(".0")
            return f"{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def parse_meminfo(text: str) -> int | None:
    """MemTotal from ``/proc/meminfo`` text, in bytes (None when absent)."""
    found = re.search(r"^MemTotal:\s+(\d+)\s*kB", text, flags=re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def _word(raw: bytes, at: int, size: int) -> int | None:
    if len(raw) < at + size or raw[1] < at + size:
        return None
    return int.from_bytes(raw[at : at + size], "little")


def parse_memory_device(raw: bytes) -> dict[str, int | str] | None:
    """One SMBIOS memory-device record: its size in bytes, type and speed (MT/s).

    None for an empty slot, a record of another type, or one too short to say.
    """
    if len(raw) < 0x0E or raw[0] != 17:
        return None
    size = _word(raw, 0x0C, 2)
    if size in (None, 0, 0xFFFF):
        return None
    assert size is not None
    if size == 0x7FFF:
        extended = _word(raw, 0x1C, 4)
        if not extended:
            return None
        size_bytes = (extended & 0x7FFFFFFF) * _MIB
    elif size & 0x8000:
        size_bytes = (size & 0x7FFF) * 1024
    else:
        size_bytes = size * _MIB
    out: dict[str, int | str] = {"size": size_bytes}
    kind = _word(raw, 0x12, 1)
    if kind in _MEMORY_TYPES:
        out["type"] = _MEMORY_TYPES[kind]
    speed = _word(raw, 0x15, 2)
    if speed == 0xFFFF:
        speed = _word(raw, 0x54, 4)
    if speed:
        out["speed"] = speed
    return out


def read_dimms(dmi_dir: Path) -> list[dict[str, int | str]]:
    """The populated memory devices SMBIOS lists under ``dmi_dir`` (none if unreadable)."""
    found = []
    for entry in sorted(dmi_dir.glob("17-*"), key=lambda p: int(p.name.partition("-")[2] or 0)):
        try:
            raw = (entry / "raw").read_bytes()
        except OSError:
            continue
        device = parse_memory_device(raw)
        if device is not None:
            found.append(device)
    return found


def memory_configuration(dimms: list[dict[str, int | str]]) -> str:
    """``8x 32 GiB DDR5 4800 MT/s``: the populated devices, alike ones counted together."""
    groups: dict[tuple[int, str, int], int] = {}
    for dimm in dimms:
        key = (int(dimm["size"]), str(dimm.get("type", "")), int(dimm.get("speed", 0)))
        groups[key] = groups.get(key, 0) + 1
    parts = []
    for (size, kind, speed), count in sorted(groups.items(), reverse=True):
        words = [f"{count}x {human_bytes(size)}"]
        words += [kind] if kind else []
        words += [f"{speed} MT/s"] if speed else []
        parts.append(" ".join(words))
    return " + ".join(parts)


@script(
    tags="detect memory host-memory ram",
    alias="detect-memory",
    uid="5f0c2be4a1d93e71",
    inputs={
        "meminfo": ("CMPY_MEMINFO_FILE", "the meminfo file to read (default /proc/meminfo)"),
        "dmi": (
            "CMPY_DMI_ENTRIES_DIR",
            "the SMBIOS entries folder (default /sys/firmware/dmi/entries)",
        ),
    },
    env={"CMPY_MEMINFO_FILE": "/proc/meminfo", "CMPY_DMI_ENTRIES_DIR": "/sys/firmware/dmi/entries"},
    exports=["CMPY_HOST_MEMORY_*"],
    dry_run_safe=True,
)
def detect_memory(ctx: Ctx) -> dict[str, str]:
    """Detect the host's memory: its total and, where SMBIOS is readable, the modules."""
    total: int | None = None
    try:
        total = parse_meminfo(Path(ctx.env["CMPY_MEMINFO_FILE"]).read_text(encoding="utf-8"))
    except OSError:
        pass
    if total is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total = None
    env: dict[str, str] = {}
    if total:
        env["CMPY_HOST_MEMORY_TOTAL_BYTES"] = str(total)
    dimms = read_dimms(Path(ctx.env["CMPY_DMI_ENTRIES_DIR"]))
    if dimms:
        env["CMPY_HOST_MEMORY_INSTALLED_BYTES"] = str(sum(int(d["size"]) for d in dimms))
        env["CMPY_HOST_MEMORY_MODULES"] = str(len(dimms))
        env["CMPY_HOST_MEMORY_CONFIGURATION"] = memory_configuration(dimms)
    return env


def _existing(path: Path) -> Path:
    # the folder a tree is about to be written to may not exist yet: its disk is its parent's
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _disk_of(node: Path) -> Path:
    """The whole disk behind a sysfs block node: a partition's parent, a mapper's first slave."""
    for _ in range(8):  # device-mapper stacks (LVM on RAID on a disk) are shallow
        if (node / "partition").is_file():
            node = node.parent
            continue
        slaves = sorted((node / "slaves").glob("*")) if (node / "slaves").is_dir() else []
        if not slaves:
            return node
        node = slaves[0].resolve()
    return node


def storage_kind(name: str, rotational: str) -> str:
    """What a disk is, from its kernel name and whether it says it rotates."""
    for prefix, kind in (
        ("nvme", "NVMe SSD"),
        ("vd", "virtio disk (virtual machine)"),
        ("xvd", "Xen virtual disk"),
        ("mmcblk", "eMMC/SD"),
        ("zram", "compressed RAM disk"),
        ("loop", "loop device"),
    ):
        if name.startswith(prefix):
            return kind
    return {"0": "SSD", "1": "HDD"}.get(rotational, "")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def describe_block_device(sysfs: Path, major: int, minor: int) -> dict[str, str]:
    """The disk holding device ``major:minor`` per ``sysfs`` (empty when none is there)."""
    node = sysfs / "dev" / "block" / f"{major}:{minor}"
    if not node.exists():
        return {}
    disk = _disk_of(node.resolve())
    sectors = _read(disk / "size")
    out = {"CMPY_HOST_STORAGE_DEVICE": disk.name}
    if sectors.isdigit() and int(sectors):
        # sysfs counts 512-byte sectors whatever the disk's own sector size
        out["CMPY_HOST_STORAGE_CAPACITY_BYTES"] = str(int(sectors) * 512)
    kind = storage_kind(disk.name, _read(disk / "queue" / "rotational"))
    if kind:
        out["CMPY_HOST_STORAGE_TYPE"] = kind
    model = " ".join(_read(disk / "device" / "model").split())
    if model:
        out["CMPY_HOST_STORAGE_MODEL"] = model
    return out


def mount_type(mounts: str, path: str) -> str:
    """The file system type of the longest mount point holding ``path`` (``/proc/mounts`` text)."""
    best, kind = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


@script(
    tags="detect storage host-storage disk",
    alias="detect-storage",
    uid="b7d41e0c9a2f5836",
    inputs={
        "path": ("CMPY_STORAGE_PATH", "the folder whose disk to describe (default: here)"),
        "sysfs": ("CMPY_STORAGE_SYSFS_DIR", "the sysfs root (default /sys)"),
        "mounts": ("CMPY_MOUNTS_FILE", "the mount table (default /proc/mounts)"),
    },
    env={
        "CMPY_STORAGE_PATH": "",
        "CMPY_STORAGE_SYSFS_DIR": "/sys",
        "CMPY_MOUNTS_FILE": "/proc/mounts",
    },
    exports=["CMPY_HOST_STORAGE_*"],
    dry_run_safe=True,
)
def detect_storage(ctx: Ctx) -> Result:
    """Detect the disk holding a folder: its device, capacity, type (NVMe, SSD, HDD) and model."""
    import shutil

    path = _existing(Path(os.path.abspath(ctx.env.get("CMPY_STORAGE_PATH") or ".")))
    st = path.stat()
    env = {"CMPY_HOST_STORAGE_PATH": str(path)}
    env.update(
        describe_block_device(
            Path(ctx.env["CMPY_STORAGE_SYSFS_DIR"]), os.major(st.st_dev), os.minor(st.st_dev)
        )
    )
    kind = mount_type(_read(Path(ctx.env["CMPY_MOUNTS_FILE"])), str(path))
    if kind:
        env["CMPY_HOST_STORAGE_FILESYSTEM"] = kind
    if "CMPY_HOST_STORAGE_CAPACITY_BYTES" not in env:
        # no block device (overlay, tmpfs, NFS): the file system's size is what there is
        env["CMPY_HOST_STORAGE_CAPACITY_BYTES"] = str(shutil.disk_usage(path).total)
    return Result(env=env)


# interfaces with a device link that are not network cards
_NOT_CARDS = ("lo", "docker", "veth", "br-", "virbr", "ifb", "tun", "tap")


@script(
    tags="detect network host-network nic",
    alias="detect-network",
    uid="0e93c5d27b14a6f8",
    inputs={
        "net": ("CMPY_NET_SYSFS_DIR", "the network interfaces folder (default /sys/class/net)")
    },
    env={"CMPY_NET_SYSFS_DIR": "/sys/class/net"},
    exports=["CMPY_HOST_NETWORK_*"],
    dry_run_safe=True,
)
def detect_network(ctx: Ctx) -> dict[str, str]:
    """Detect the network cards: the interfaces backed by a device (not lo, bridges, veth)."""
    folder = Path(ctx.env["CMPY_NET_SYSFS_DIR"])
    names = sorted(
        p.name
        for p in (folder.iterdir() if folder.is_dir() else ())
        if (p / "device").exists() and not p.name.startswith(_NOT_CARDS)
    )
    return {
        "CMPY_HOST_NETWORK_CARD_COUNT": str(len(names)),
        "CMPY_HOST_NETWORK_INTERFACES": " ".join(names),
    }
