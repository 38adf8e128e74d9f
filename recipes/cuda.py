"""NVIDIA: ``get cuda`` (the CUDA toolkit, nvcc) and ``get nvidia-smi`` (the driver and GPUs).

Both are detectors (not cached): what they find depends on PATH, CUDA_HOME
and the hardware, none of which is part of a cache key, and finding it takes
one or two short commands. On a machine without CUDA they fail at once with
a ``ToolNotFound``: they search only a few fixed folders and never install
anything. A recipe that can do without CUDA asks for it with
``Dep("get cuda", optional=True)`` and goes on when it is missing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cmpy import CommandFailed, Completed, Ctx, Result, ToolNotFound, UsageError, script

# "Cuda compilation tools, release 12.4, V12.4.131": the V number is the full version
NVCC_VERSION = re.compile(r"release \d+(?:\.\d+)*, V(?P<version>\d+(?:\.\d+)+)")
# folders that hold CUDA toolkits when neither PATH nor CUDA_HOME says where
DEFAULT_SEARCH = ("/usr/local/cuda", "/usr/local/cuda-*", "/opt/cuda")
_HEADERS = ("cuda_runtime.h", "cuda.h")
_PROBE_TIMEOUT = 20.0

_HINT = (
    "install the CUDA toolkit, or set CUDA_HOME to the folder that holds it "
    "(or pass --search_dirs=DIR); a recipe that can do without CUDA asks for it "
    'with Dep("get cuda", optional=True)'
)


def _setting(ctx: Ctx, key: str) -> str:
    # the run's env first, then the process's: a user sets CUDA_HOME in the shell
    return ctx.env.get(key) or os.environ.get(key, "")


def search_roots(ctx: Ctx) -> list[Path]:
    """The toolkit folders to look in after PATH: CMPY_CUDA_SEARCH_DIRS, else the defaults."""
    import glob

    from cmpy.tools import natural_key

    given = ctx.env.get("CMPY_CUDA_SEARCH_DIRS", "")
    patterns = given.split(os.pathsep) if given else list(DEFAULT_SEARCH)
    roots: list[Path] = []
    for pattern in filter(None, patterns):
        # newest first: /usr/local/cuda-12.10 before /usr/local/cuda-12.9
        matches = sorted(glob.glob(pattern), key=natural_key, reverse=True)
        roots += [Path(m) for m in matches if os.path.isdir(m)]
    return list(dict.fromkeys(roots))


def toolkit_root(ctx: Ctx, nvcc: Path) -> Path:
    """The toolkit folder an nvcc belongs to: ``bin/..``, or what nvcc says when it is a wrapper."""
    root = nvcc.resolve().parent.parent
    if find_include(root) is not None:
        return root
    # a wrapper script (/usr/local/bin/nvcc running /opt/cuda-13/bin/nvcc) lives
    # outside the toolkit: nvcc's dry run prints the folder it really runs from
    try:
        done = ctx.sh_sync(
            [str(nvcc), "--dryrun", "-c", "cmpy-probe.cu"],
            check=False,
            quiet=True,
            timeout=_PROBE_TIMEOUT,
        )
    except CommandFailed:  # it hung: keep bin/..
        return root
    match = re.search(r"^#\$ TOP=(.+)$", done.output, re.MULTILINE)
    if match:
        top = Path(match.group(1).strip().strip('"')).resolve()
        if top.is_dir():
            return top
    return root


def find_include(root: Path) -> Path | None:
    """The folder of the CUDA runtime headers under a toolkit folder, if any."""
    machine = os.uname().machine if hasattr(os, "uname") else ""
    for folder in (root / "include", root / "targets" / f"{machine}-linux" / "include"):
        if any((folder / h).is_file() for h in _HEADERS):
            return folder
    return None


def find_lib(root: Path) -> Path | None:
    """The folder of the CUDA runtime libraries under a toolkit folder, if any."""
    machine = os.uname().machine if hasattr(os, "uname") else ""
    for folder in (
        root / "lib64",
        root / "lib",
        root / "targets" / f"{machine}-linux" / "lib",
        root / "lib" / "x64",  # Windows
    ):
        if folder.is_dir():
            return folder
    return None


@script(
    tags="get cuda cuda-toolkit nvcc",
    alias="get-cuda",
    uid="e08756ba4ee9197a",
    inputs={
        "search_dirs": (
            "CMPY_CUDA_SEARCH_DIRS",
            "toolkit folders (globs, separated by the path separator) searched after PATH "
            f"(default: {os.pathsep.join(DEFAULT_SEARCH)})",
        ),
    },
    env={"CMPY_CUDA_SEARCH_DIRS": ""},
    reads=["CUDA_HOME", "CUDA_PATH"],
    exports=[
        "CMPY_NVCC_BIN_WITH_PATH",
        "CMPY_CUDA_VERSION",
        "CMPY_CUDA_INSTALLED_PATH",
        "CMPY_CUDA_PATH_INCLUDE",
        "CMPY_CUDA_PATH_LIB",
    ],
)
def get_cuda(ctx: Ctx) -> Result:
    """Find the CUDA toolkit: nvcc, its version, the include and library folders.

    CUDA_HOME (or CUDA_PATH), when set, is the one place looked at; otherwise
    nvcc on PATH and in the search folders, the newest that fits the version asked for.
    """
    from cmpy.tools import Candidate, choose, detect_version, find_executables

    home = _setting(ctx, "CUDA_HOME") or _setting(ctx, "CUDA_PATH")
    if home:
        # the user said where: a newer toolkit elsewhere must not override that
        folders = [os.path.join(home, "bin")]
        exes = find_executables(["nvcc"], path=folders[0], patterns=False)
        searched = [f"CUDA_HOME={home}"]
    else:
        from cmpy.tools import search_dirs

        folders = [str(root / "bin") for root in search_roots(ctx)]
        exes = find_executables(["nvcc"], extra_dirs=folders, patterns=False)
        searched = [*search_dirs(), *folders]
    candidates = [
        Candidate(exe, detect_version(exe, regex=NVCC_VERSION, timeout=_PROBE_TIMEOUT))
        for exe in exes
    ]
    readable = [c for c in candidates if c.version is not None]
    if not readable:
        broken = [f"{c.path} (no version)" for c in candidates]
        raise ToolNotFound(
            "CUDA toolkit" + (": found only " + ", ".join(broken) if broken else ""),
            searched=searched,
            hint=_HINT,
        )
    chosen = choose(readable, ctx.version_spec, what="CUDA toolkit (nvcc)", searched=searched)
    version = str(chosen.version)
    root = toolkit_root(ctx, chosen.path)
    env = {
        "CMPY_NVCC_BIN_WITH_PATH": str(chosen.path),
        "CMPY_CUDA_VERSION": version,
        "CMPY_CUDA_INSTALLED_PATH": str(root),
    }
    include = find_include(root)
    if include is not None:
        env["CMPY_CUDA_PATH_INCLUDE"] = str(include)
    else:
        ctx.log(f"no CUDA headers ({' or '.join(_HEADERS)}) under {root}")
    lib = find_lib(root)
    if lib is not None:
        env["CMPY_CUDA_PATH_LIB"] = str(lib)
    else:
        ctx.log(f"no CUDA library folder under {root}")
    return Result(env=env, version=version)


def parse_gpus(text: str) -> list[dict[str, str]]:
    """Rows of ``nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader``.

    ``"NVIDIA H200, 560.35.03, 143771 MiB"`` gives
    ``{"name": "NVIDIA H200", "driver": "560.35.03", "memory_mib": "143771"}``.
    """
    gpus = []
    for line in text.splitlines():
        # the name may hold commas; the last two fields never do
        parts = line.rsplit(",", 2)
        if len(parts) != 3:
            continue
        name, driver, memory = (p.strip() for p in parts)
        if not re.fullmatch(r"\d+(?:\.\d+)*", driver):
            continue  # a warning or error line, not a row
        number = re.match(r"\d+", memory)
        gpus.append(
            {"name": name, "driver": driver, "memory_mib": number.group() if number else ""}
        )
    return gpus


@script(
    tags="get nvidia-smi nvidia-driver cuda-driver gpu",
    alias="get-nvidia-smi",
    uid="53d351e4ad755f48",
    inputs={
        "timeout": (
            "CMPY_NVIDIA_SMI_TIMEOUT",
            "seconds nvidia-smi may take (without persistence mode it wakes every GPU)",
        )
    },
    env={"CMPY_NVIDIA_SMI_TIMEOUT": "60"},
    exports=["CMPY_CUDA_DRIVER_VERSION", "CMPY_GPU_*", "CMPY_NVIDIA_SMI_BIN_WITH_PATH"],
)
def get_nvidia_smi(ctx: Ctx) -> Result:
    """Ask nvidia-smi for the driver version and the GPUs: name, count, memory (MiB)."""
    from cmpy.tools import find_executables, search_dirs

    found = find_executables(["nvidia-smi"], patterns=False)
    if not found:
        raise ToolNotFound(
            "nvidia-smi (the NVIDIA driver's tool)",
            searched=search_dirs(),
            hint="install the NVIDIA driver, or add the folder that holds nvidia-smi to PATH",
        )
    smi = found[0]
    text = ctx.env.get("CMPY_NVIDIA_SMI_TIMEOUT", "60")
    try:
        timeout = float(text)
    except ValueError:
        raise UsageError(f"get nvidia-smi: timeout={text!r} is not a number of seconds") from None
    query = [str(smi), "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
    try:
        done = ctx.sh_sync(query, check=False, quiet=True, timeout=timeout)
    except CommandFailed as exc:
        # a driver in a bad state can make nvidia-smi hang: that is no usable GPU
        done = Completed(exc.command, exc.returncode, exc.output_tail)
    gpus = parse_gpus(done.output) if done.ok else []
    if not gpus:
        said = done.output.strip().splitlines()
        raise ToolNotFound(
            "NVIDIA GPU",
            searched=[str(smi)],
            hint=f"nvidia-smi said: {said[0] if said else f'nothing (exit code {done.returncode})'}"
            "; check that the driver is loaded and a GPU is visible",
        )
    first = gpus[0]
    env = {
        "CMPY_NVIDIA_SMI_BIN_WITH_PATH": str(smi),
        "CMPY_CUDA_DRIVER_VERSION": first["driver"],
        "CMPY_GPU_NAME": first["name"],
        "CMPY_GPU_COUNT": str(len(gpus)),
        "CMPY_GPU_MEMORY": first["memory_mib"],
    }
    return Result(env=env, state={"gpus": gpus}, version=first["driver"])
