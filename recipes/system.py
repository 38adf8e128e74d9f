"""Recipes that describe the host: ``detect os`` and ``detect cpu``.

Both are detectors: not cached, cheap, and they export only facts that do
not change from one run to the next (the CPU's top clock, never the current
one; no load), so that a cached recipe depending on them stays valid until
the machine really changes. ``recipes/hardware.py`` describes memory,
storage and network cards the same way.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from cmpy import Ctx, Result, script

_PACKAGE_MANAGERS = (
    ("debian", "apt-get"),
    ("ubuntu", "apt-get"),
    ("fedora", "dnf"),
    ("rhel", "dnf"),
    ("centos", "yum"),
    ("amzn", "yum"),
    ("suse", "zypper"),
    ("opensuse", "zypper"),
    ("arch", "pacman"),
    ("alpine", "apk"),
)


def parse_os_release(text: str) -> dict[str, str]:
    """The KEY=value pairs of an os-release file (quotes removed)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key.strip()] = value.replace('\\"', '"')
    return out


def _package_manager(distro: str, like: str) -> str:
    for word in [distro, *like.split()]:
        for name, manager in _PACKAGE_MANAGERS:
            if word == name:
                return manager
    return ""


@script(
    tags="detect os host-os",
    alias="detect-os",
    uid="863735b7db8c44fc",
    inputs={
        "os_release": (
            "CMPY_OS_RELEASE_FILE",
            "the os-release file to read (default /etc/os-release)",
        )
    },
    env={"CMPY_OS_RELEASE_FILE": "/etc/os-release"},
    exports=["CMPY_HOST_OS_*", "CMPY_HOST_PLATFORM_*"],
    dry_run_safe=True,
)
def detect_os(ctx: Ctx) -> Result:
    """Detect the operating system: name, version, distro, kernel, architecture."""
    uname = os.uname() if hasattr(os, "uname") else None
    system = uname.sysname if uname else ("Windows" if sys.platform == "win32" else sys.platform)
    machine = uname.machine if uname else os.environ.get("PROCESSOR_ARCHITECTURE", "")
    kernel = uname.release if uname else ""
    env = {
        "CMPY_HOST_OS_TYPE": {"Linux": "linux", "Darwin": "darwin", "Windows": "windows"}.get(
            system, system.lower()
        ),
        "CMPY_HOST_OS_NAME": system,
        "CMPY_HOST_OS_KERNEL": kernel,
        "CMPY_HOST_OS_MACHINE": machine,
        "CMPY_HOST_OS_BITS": "64" if sys.maxsize > 2**32 else "32",
        "CMPY_HOST_PLATFORM_FLAVOR": machine,
    }
    version = kernel
    if system == "Linux":
        release_file = Path(ctx.env.get("CMPY_OS_RELEASE_FILE") or "/etc/os-release")
        try:
            info = parse_os_release(release_file.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            info = {}
        distro = info.get("ID", "linux")
        version = info.get("VERSION_ID", kernel)
        env.update(
            CMPY_HOST_OS_DISTRO=distro,
            CMPY_HOST_OS_DISTRO_LIKE=info.get("ID_LIKE", ""),
            CMPY_HOST_OS_DISTRO_NAME=info.get("PRETTY_NAME", info.get("NAME", distro)),
            CMPY_HOST_OS_DISTRO_VERSION=version,
            CMPY_HOST_OS_DISTRO_CODENAME=info.get("VERSION_CODENAME", ""),
            CMPY_HOST_OS_PACKAGE_MANAGER=_package_manager(distro, info.get("ID_LIKE", "")),
        )
    elif system == "Darwin":
        import platform

        version = platform.mac_ver()[0] or kernel
        env.update(
            CMPY_HOST_OS_DISTRO="macos",
            CMPY_HOST_OS_DISTRO_NAME=f"macOS {version}",
            CMPY_HOST_OS_DISTRO_VERSION=version,
            CMPY_HOST_OS_PACKAGE_MANAGER="brew",
        )
    elif system == "Windows":
        import platform

        version = platform.version()
        env.update(CMPY_HOST_OS_DISTRO="windows", CMPY_HOST_OS_DISTRO_VERSION=version)
    env["CMPY_HOST_OS_VERSION"] = version
    return Result(env=env, version=version)


def parse_cpuinfo(text: str) -> dict[str, str | int | list[str]]:
    """Model, vendor, flags, sockets and physical cores from ``/proc/cpuinfo`` text."""
    model = vendor = ""
    flags: list[str] = []
    cores: set[tuple[str, str]] = set()
    sockets: set[str] = set()
    processors = 0
    block: dict[str, str] = {}

    def close(block: dict[str, str]) -> None:
        nonlocal processors
        if not block:
            return
        processors += 1
        socket = block.get("physical id", "0")
        sockets.add(socket)
        cores.add((socket, block.get("core id", str(processors))))

    for line in text.splitlines() + [""]:
        if not line.strip():
            close(block)
            block = {}
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        block[key] = value
        if key in ("model name", "Model", "cpu model") and not model:
            model = value
        elif key in ("vendor_id", "CPU implementer") and not vendor:
            vendor = value
        elif key in ("flags", "Features") and not flags:
            flags = value.split()
    return {
        "model": model,
        "vendor": vendor,
        "flags": flags,
        "sockets": max(len(sockets), 1),
        "physical_cores": len(cores),
        "logical_cores": processors,
    }


def read_caches(cpu_dir: Path) -> dict[str, str]:
    """Cache sizes of cpu0 from sysfs: ``{"L1D": "48K", "L2": "2048K", ...}``."""
    out: dict[str, str] = {}
    for index in sorted(cpu_dir.glob("cpu0/cache/index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        suffix = {"Data": "D", "Instruction": "I"}.get(kind, "")
        out[f"L{level}{suffix}"] = size
    return out


_LSCPU = {
    "Model name": "model",
    "Vendor ID": "vendor",
    "Socket(s)": "sockets",
    "Flags": "flags",
}


def _from_lscpu(ctx: Ctx) -> dict[str, str | int | list[str]]:
    info: dict[str, str | int | list[str]] = {}
    done = ctx.sh_sync(["lscpu"], check=False, quiet=True)
    if not done.ok:
        return info
    per_socket = 0
    for line in done.output.splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if key.strip() in _LSCPU:
            name = _LSCPU[key.strip()]
            info[name] = value.split() if name == "flags" else value
        elif key.strip() == "Core(s) per socket" and value.isdigit():
            per_socket = int(value)
    if per_socket and str(info.get("sockets", "")).isdigit():
        info["physical_cores"] = per_socket * int(str(info["sockets"]))
    return info


def _from_sysctl(ctx: Ctx) -> dict[str, str | int | list[str]]:
    info: dict[str, str | int | list[str]] = {}
    keys = {
        "machdep.cpu.brand_string": "model",
        "machdep.cpu.vendor": "vendor",
        "hw.physicalcpu": "physical_cores",
        "hw.packages": "sockets",
    }
    for key, name in keys.items():
        done = ctx.sh_sync(["sysctl", "-n", key], check=False, quiet=True)
        if done.ok and done.output.strip():
            info[name] = done.output.strip()
    return info


@script(
    tags="detect cpu host-cpu",
    alias="detect-cpu",
    uid="586c8a43320142f7",
    inputs={
        "cpuinfo": ("CMPY_CPUINFO_FILE", "the cpuinfo file to read (default /proc/cpuinfo)"),
        "sysfs": ("CMPY_CPU_SYSFS_DIR", "the sysfs cpu folder (default /sys/devices/system/cpu)"),
    },
    env={
        "CMPY_CPUINFO_FILE": "/proc/cpuinfo",
        "CMPY_CPU_SYSFS_DIR": "/sys/devices/system/cpu",
    },
    exports=["CMPY_HOST_CPU_*"],
    dry_run_safe=True,
)
def detect_cpu(ctx: Ctx) -> dict[str, str]:
    """Detect the CPU: model, vendor, sockets, cores, flags, caches, top clock where known."""
    info: dict[str, str | int | list[str]] = {}
    cpuinfo = Path(ctx.env.get("CMPY_CPUINFO_FILE") or "/proc/cpuinfo")
    try:
        info = parse_cpuinfo(cpuinfo.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        pass
    if not info.get("model") or not info.get("physical_cores"):
        import shutil

        if shutil.which("lscpu"):
            info = {**_from_lscpu(ctx), **{k: v for k, v in info.items() if v}}
        elif shutil.which("sysctl"):
            info = {**_from_sysctl(ctx), **{k: v for k, v in info.items() if v}}
    if not info.get("model"):
        import platform

        info["model"] = platform.processor() or platform.machine()
    # a count is an int from cpuinfo and text from lscpu or sysctl
    logical = os.cpu_count() or int(str(info.get("logical_cores") or 1))
    physical = int(str(info.get("physical_cores") or logical))
    sockets = int(str(info.get("sockets") or 1))
    flags = info.get("flags") or []
    model = re.sub(r"\s+", " ", str(info["model"])).strip()
    env = {
        "CMPY_HOST_CPU_MODEL": model,
        "CMPY_HOST_CPU_VENDOR": str(info.get("vendor", "")),
        "CMPY_HOST_CPU_SOCKETS": str(sockets),
        "CMPY_HOST_CPU_PHYSICAL_CORES": str(physical),
        "CMPY_HOST_CPU_LOGICAL_CORES": str(logical),
        "CMPY_HOST_CPU_THREADS_PER_CORE": str(max(logical // max(physical, 1), 1)),
        "CMPY_HOST_CPU_FLAGS": " ".join(flags if isinstance(flags, list) else str(flags).split()),
        "CMPY_HOST_CPU_ARCH": os.uname().machine if hasattr(os, "uname") else "",
    }
    sysfs = Path(ctx.env.get("CMPY_CPU_SYSFS_DIR") or "/sys/devices/system/cpu")
    for level, size in read_caches(sysfs).items():
        env[f"CMPY_HOST_CPU_{level}_CACHE_SIZE"] = size
    mhz = max_frequency_mhz(sysfs, model)
    if mhz:
        env["CMPY_HOST_CPU_MAX_FREQUENCY_MHZ"] = str(mhz)
    return env


def max_frequency_mhz(cpu_dir: Path, model: str) -> int | None:
    """The CPU's highest clock in MHz: cpufreq's ``cpuinfo_max_freq``, else the model's "@ 2.90GHz".

    Both are facts of the part, unlike the current clock, which changes by the second.
    """
    try:
        khz = (cpu_dir / "cpu0" / "cpufreq" / "cpuinfo_max_freq").read_text().strip()
    except OSError:
        khz = ""
    if khz.isdigit() and int(khz):
        return round(int(khz) / 1000)
    found = re.search(r"@\s*(\d+(?:\.\d+)?)\s*([GM])Hz", model, flags=re.IGNORECASE)
    if found:
        value = float(found.group(1))
        return round(value * 1000) if found.group(2).upper() == "G" else round(value)
    return None
