"""``get cuda`` and ``get nvidia-smi`` with fake toolkits and a fake nvidia-smi."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _fakebin import fake_exe, only_path, printing

from cmpy import Ctx, Dep, ToolNotFound, VersionConflict, run, script
from cmpy.recipes.cuda import parse_gpus


def nvcc_output(version: str) -> str:
    major_minor = ".".join(version.split(".")[:2])
    return (
        "nvcc: NVIDIA (R) Cuda compiler driver\n"
        "Copyright (c) 2005-2024 NVIDIA Corporation\n"
        "Built on Thu_Mar_28_02:18:24_PDT_2024\n"
        f"Cuda compilation tools, release {major_minor}, V{version}\n"
        f"Build cuda_{major_minor}.r{major_minor}/compiler.34097967_0"
    )


def toolkit(root: Path, version: str) -> Path:
    """A fake CUDA toolkit folder: bin/nvcc, include/cuda_runtime.h, lib64/."""
    fake_exe(root / "bin", "nvcc", printing(nvcc_output(version)))
    (root / "include").mkdir(parents=True)
    (root / "include" / "cuda_runtime.h").write_text("/* fake */\n")
    (root / "lib64").mkdir()
    return root


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with nothing: PATH is one empty folder, no CUDA_HOME in the process env."""
    folder = tmp_path / "bin"
    only_path(monkeypatch, [folder])
    monkeypatch.delenv("CUDA_HOME", raising=False)
    monkeypatch.delenv("CUDA_PATH", raising=False)
    return folder


def test_newest_toolkit_in_the_search_folders(bare: Path, tmp_path: Path) -> None:
    toolkit(tmp_path / "cuda-11.8", "11.8.89")
    new = toolkit(tmp_path / "cuda-12.4", "12.4.131")
    search = str(tmp_path / "cuda-*")
    r = run("get cuda", search_dirs=search, quiet=True)
    assert r.version == "12.4.131" and r["CMPY_CUDA_VERSION"] == "12.4.131"
    assert r["CMPY_NVCC_BIN_WITH_PATH"] == str(new / "bin" / "nvcc")
    assert r["CMPY_CUDA_INSTALLED_PATH"] == str(new.resolve())
    assert r["CMPY_CUDA_PATH_INCLUDE"] == str(new.resolve() / "include")
    assert r["CMPY_CUDA_PATH_LIB"] == str(new.resolve() / "lib64")
    assert set(r.env) == {
        "CMPY_CUDA_VERSION",
        "CMPY_NVCC_BIN_WITH_PATH",
        "CMPY_CUDA_INSTALLED_PATH",
        "CMPY_CUDA_PATH_INCLUDE",
        "CMPY_CUDA_PATH_LIB",
    }
    old = run("get cuda", search_dirs=search, version_max="12", quiet=True)
    assert old.version == "11.8.89"
    with pytest.raises(VersionConflict, match=r"12\.4\.131.*11\.8\.89"):
        run("get cuda", search_dirs=search, version_min="13", quiet=True)


def test_nvcc_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bare: Path) -> None:
    root = toolkit(tmp_path / "opt" / "cuda", "12.1.105")
    only_path(monkeypatch, [root / "bin"])
    r = run("get cuda", search_dirs=str(tmp_path / "nothing"), quiet=True)
    assert r["CMPY_NVCC_BIN_WITH_PATH"] == str(root / "bin" / "nvcc")
    assert r["CMPY_CUDA_INSTALLED_PATH"] == str(root.resolve())


def test_cuda_home_is_the_one_place_looked_at(
    bare: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = toolkit(tmp_path / "cuda-11.8", "11.8.89")
    toolkit(tmp_path / "cuda-12.4", "12.4.131")
    search = str(tmp_path / "cuda-*")
    r = run("get cuda", search_dirs=search, env={"CUDA_HOME": str(old)}, quiet=True)
    assert r.version == "11.8.89"
    monkeypatch.setenv("CUDA_PATH", str(old))  # the process env counts too
    assert run("get cuda", search_dirs=search, quiet=True).version == "11.8.89"
    monkeypatch.setenv("CUDA_PATH", str(tmp_path / "nowhere"))
    with pytest.raises(ToolNotFound, match="CUDA_HOME="):
        run("get cuda", search_dirs=search, quiet=True)


def test_a_wrapper_nvcc_reports_where_its_toolkit_is(bare: Path, tmp_path: Path) -> None:
    root = toolkit(tmp_path / "cuda-13.0", "13.0.88")
    # /usr/local/bin/nvcc on some images: a script outside the toolkit
    fake_exe(
        bare,
        "nvcc",
        f'if [ "$1" = --dryrun ]; then echo "#$ _HERE_={root}/bin"; echo "#$ TOP={root}/bin/.."; exit 0; fi\n'
        + printing(nvcc_output("13.0.88")),
    )
    r = run("get cuda", search_dirs=str(tmp_path / "nothing"), quiet=True)
    assert r["CMPY_NVCC_BIN_WITH_PATH"] == str(bare / "nvcc")
    assert r["CMPY_CUDA_INSTALLED_PATH"] == str(root.resolve())
    assert r["CMPY_CUDA_PATH_INCLUDE"] == str(root.resolve() / "include")


def test_missing_toolkit_fails_fast_and_clearly(bare: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ToolNotFound) as caught:
        run("get cuda", search_dirs=str(empty), quiet=True)
    text = str(caught.value)
    assert text.startswith("CUDA toolkit not found (searched: " + str(bare))
    assert "CUDA_HOME" in text and 'Dep("get cuda", optional=True)' in text


def test_an_nvcc_without_a_version_is_not_a_toolkit(bare: Path) -> None:
    fake_exe(bare, "nvcc", printing("Segmentation fault", status=139))
    with pytest.raises(ToolNotFound, match=r"found only .*nvcc \(no version\)"):
        run("get cuda", search_dirs=str(bare / "nothing"), quiet=True)


def test_optional_cuda_lets_a_parent_go_on(bare: Path, tmp_path: Path) -> None:
    @script(tags="maybe gpu", deps=[Dep("get cuda", optional=True)])
    def maybe_gpu(ctx: Ctx) -> dict[str, str]:
        version = ctx.env.get("CMPY_CUDA_VERSION")
        return {"BACKEND": f"cuda {version}" if version else "cpu"}

    search = str(tmp_path / "cuda-*")
    assert run("maybe gpu", env={"CMPY_CUDA_SEARCH_DIRS": search}, quiet=True)["BACKEND"] == "cpu"
    toolkit(tmp_path / "cuda-12.4", "12.4.131")
    r = run("maybe gpu", env={"CMPY_CUDA_SEARCH_DIRS": search}, quiet=True)
    assert r["BACKEND"] == "cuda 12.4.131"


SMI = """\
NVIDIA H200, 560.35.03, 143771 MiB
NVIDIA H200, 560.35.03, 143771 MiB"""


def test_nvidia_smi_reports_driver_and_gpus(bare: Path) -> None:
    smi = fake_exe(
        bare,
        "nvidia-smi",
        'case "$*" in *--query-gpu=name,driver_version,memory.total*--format=csv,noheader*) ;;'
        " *) exit 2 ;; esac\n" + printing(SMI),
    )
    r = run("get nvidia-smi", quiet=True)
    assert r.version == "560.35.03"
    assert r["CMPY_CUDA_DRIVER_VERSION"] == "560.35.03"
    assert r["CMPY_GPU_NAME"] == "NVIDIA H200"
    assert r["CMPY_GPU_COUNT"] == "2"
    assert r["CMPY_GPU_MEMORY"] == "143771"
    assert r["CMPY_NVIDIA_SMI_BIN_WITH_PATH"] == str(smi)
    assert len(r.state["gpus"]) == 2
    assert sorted(r.env) == [
        "CMPY_CUDA_DRIVER_VERSION",
        "CMPY_GPU_COUNT",
        "CMPY_GPU_MEMORY",
        "CMPY_GPU_NAME",
        "CMPY_NVIDIA_SMI_BIN_WITH_PATH",
    ]


def test_nvidia_smi_without_a_driver_or_missing(bare: Path) -> None:
    with pytest.raises(ToolNotFound, match=r"nvidia-smi .* not found"):
        run("get nvidia-smi", quiet=True)
    message = (
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
        "Make sure that the latest NVIDIA driver is installed and running."
    )
    fake_exe(bare, "nvidia-smi", printing(message, status=9))
    with pytest.raises(ToolNotFound, match="NVIDIA GPU not found") as caught:
        run("get nvidia-smi", quiet=True)
    assert "couldn't communicate with the NVIDIA driver" in str(caught.value)


def test_a_hung_nvidia_smi_is_no_gpu(bare: Path) -> None:
    fake_exe(bare, "nvidia-smi", f"exec {shutil.which('sleep') or '/bin/sleep'} 30")
    with pytest.raises(ToolNotFound, match="NVIDIA GPU not found") as caught:
        run("get nvidia-smi", timeout="0.3", quiet=True)
    assert "killed after 0.3 s" in str(caught.value)


def test_parse_gpus() -> None:
    text = (
        "Tesla V100-SXM2-16GB, 535.104.05, 16384 MiB\nA, B, C, 1.2, 80 MiB\nNo devices were found\n"
    )
    assert parse_gpus(text) == [
        {"name": "Tesla V100-SXM2-16GB", "driver": "535.104.05", "memory_mib": "16384"},
        {"name": "A, B, C", "driver": "1.2", "memory_mib": "80"},
    ]
