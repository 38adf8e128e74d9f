"""Conformance over the real corpora: CM's cm4mlops and MLCFlow's mlperf-automations, unmodified.

The snapshots are found at ``../shared/cm-corpus`` (beside the checkout) or
``$CMPY_CM_CORPUS``; without them these tests skip, saying so. Every meta
must load, every script must plan under ``--dry-run`` or fail for a reason
of the corpus's own (listed below), and the scripts that can run offline on
any Linux machine run, their exports checked against what their own meta
says they export.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

import cmpy
from cmpy import CmpyError
from cmpy._cli import main

yaml = pytest.importorskip("yaml")

HERE = Path(__file__).resolve().parent
CANDIDATES = [os.environ.get("CMPY_CM_CORPUS", ""), str(HERE.parent.parent.parent / "shared" / "cm-corpus")]
CORPUS = next((Path(c) for c in CANDIDATES if c and (Path(c) / "cm4mlops.tgz").is_file()), None)
pytestmark = pytest.mark.skipif(
    CORPUS is None,
    reason="the CM corpus is not here: set CMPY_CM_CORPUS to the folder of cm4mlops.tgz "
    "and mlperf-automations.tgz",
)

FLAVOURS = {"cm": ("cm4mlops", "CM_", "_cm.yaml"), "mlc": ("mlperf-automations", "MLC_", "meta.yaml")}
# scripts whose dry run fails because of the corpus itself, with the reason
CORPUS_FAULTS = {
    "app-mlperf-inference-intel": "a dep asks for a variation its target lacks",
    "app-mlperf-inference-nvidia": "a dep asks for a variation its target lacks",
    "app-mlperf-inference-qualcomm": "a dep asks for a variation its target lacks",
    "app-nwchem": "a dep asks for two variations of one group",
    "get-ml-model-bert-base-squad": "a dep names a script no repository has",
    "get-zendnn": "a dep names a script no repository has",
    "reproduce-ieee-acm-micro2023-paper-28": "a dep's tags hold a URL without its '_' (no such tag)",
}
TYPOS = ("force-cache", "default-variations", "updats_tags_from_env_with_prefix", "'\\xa0 force_cache'")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    assert CORPUS is not None
    out = {}
    for flavour, (name, _p, _m) in FLAVOURS.items():
        target = tmp_path_factory.mktemp(f"corpus-{flavour}")
        with tarfile.open(CORPUS / f"{name}.tgz") as tar:
            tar.extractall(target, filter="data")
        out[flavour] = next(p for p in target.rglob("script") if p.is_dir()).parent
    return out


@pytest.fixture(params=sorted(FLAVOURS))
def corpus(request: pytest.FixtureRequest, corpora: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    flavour: str = request.param
    root = corpora[flavour]
    monkeypatch.setenv("CMPY_RECIPES_PATH", str(root))
    return flavour, root


def _registry() -> Any:
    from cmpy._api import runtime

    return runtime().registry


def test_every_meta_loads_and_the_typos_are_named(corpus: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    flavour, root = corpus
    _name, _p, meta_file = FLAVOURS[flavour]
    folders = sorted(p.parent.name for p in (root / "script").glob(f"*/{meta_file}"))
    registry = _registry()
    assert {p: why for p, why in registry.broken.items() if p.startswith(str(root))} == {}
    table = registry._table
    loaded = [table[k].load() for k in [*table, *table.shadowed()]]
    scripts = sorted(Path(r.file).parent.name for r in loaded if r.module.startswith("cm:"))
    assert scripts == folders and len(scripts) == {"cm": 295, "mlc": 370}[flavour]
    warned = capsys.readouterr().err
    lines = [line for line in warned.splitlines() if "keys the engine does not read" in line]
    print(f"{flavour}: {len(lines)} metas with keys the engine does not read")  # the count, for the record
    # the typos of the corpus's README; MLCFlow fixed two of them
    expected = TYPOS if flavour == "cm" else ("force-cache", "default-variations")
    for typo in expected:
        if not any(typo in line for line in lines):
            pytest.fail(f"{typo} is not named among the warnings:\n" + "\n".join(lines))


def test_every_script_plans_or_fails_for_a_reason_of_its_own(corpus: tuple[str, Path]) -> None:
    flavour, root = corpus
    origin = root.name
    failures = {}
    scripts = [r for r in _registry().all() if r.module.startswith("cm:")]
    for recipe in scripts:
        try:
            cmpy.run(f"{origin}:{recipe.uid}", dry_run=True, quiet=True)
        except CmpyError as exc:  # anything else is an engine bug and fails the test
            failures[recipe.alias] = exc.message
    unexplained = {a: m for a, m in failures.items() if a not in CORPUS_FAULTS}
    assert unexplained == {}
    print(f"{flavour}: {len(scripts) - len(failures)} of {len(scripts)} plan; {json.dumps(failures, indent=1)}")


def _exports_allowed(meta: dict[str, Any], env: dict[str, str]) -> list[str]:
    patterns = [str(k) for k in meta.get("new_env_keys") or []]
    for variation in (meta.get("variations") or {}).values():
        if isinstance(variation, dict):
            patterns += [str(k) for k in variation.get("new_env_keys") or []]
    return [k for k in env if not any(fnmatch.fnmatchcase(k, p) or "<<<" in p for p in patterns)]


OFFLINE = [
    ("detect-os", "", {"HOST_OS_TYPE": "linux"}),
    ("detect-cpu", "", {"HOST_CPU_ARCHITECTURE": None}),
    ("get-python3", "", {"PYTHON_BIN_WITH_PATH": None}),
    ("get-generic-python-lib", "_package.pip", {"PYTHONLIB_PIP_CACHE_TAGS": None}),
    ("get-generic-sys-util", "_detect _wget", {"WGET_VERSION": None}),
    ("detect-sudo", "", {"SUDO_USER": None}),
    ("get-cache-dir", "", {"CACHE_DIR": None}),
    ("get-gcc", "", {"C_COMPILER_BIN": "gcc"}),
    ("get-cmake", "", {"CMAKE_BIN_WITH_PATH": None}),
    ("get-compiler-flags", "", {}),
    ("print-hello-world", "", {"ENV_TEST1": None}),
    ("print-python-version", "", {}),
    ("dump-pip-freeze", "", {}),
    ("fail", "", {}),
]


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(("alias", "variations", "expected"), OFFLINE, ids=[o[0] for o in OFFLINE])
def test_the_offline_scripts_run_unmodified(
    corpus: tuple[str, Path],
    alias: str,
    variations: str,
    expected: dict[str, str | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flavour, root = corpus
    # this interpreter's folder and the system's: the scripts probe every python on PATH
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]))
    _name, p, meta_file = FLAVOURS[flavour]
    folder = root / "script" / alias
    if not folder.is_dir():
        pytest.skip(f"{root.name} has no {alias}")
    if alias == "get-gcc" and shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    kwargs: dict[str, Any] = {"quiet": True}
    if alias == "get-compiler-flags":  # choose the compiler as a CM user would: gcc is here
        kwargs["adr"] = {"compiler": {"tags": "gcc"}}
    query = f"{root.name}:{alias} {variations}".strip()
    if alias == "get-cmake" and shutil.which("cmake") is None:
        with pytest.raises(CmpyError, match="cmake"):
            cmpy.run(query, **kwargs)
        return
    result = cmpy.run(query, **kwargs)
    meta = yaml.safe_load((folder / meta_file).read_text())
    assert _exports_allowed(meta, result.env) == []
    for key, value in expected.items():
        assert p + key in result.env, sorted(result.env)
        if value is not None:
            assert os.path.basename(result.env[p + key]) == value
    if alias == "get-python3":
        assert result.version and result.version.count(".") == 2
    if alias == "get-generic-python-lib":
        import pip

        assert result.version == pip.__version__


def test_a_scripts_error_is_one_message_naming_it(corpus: tuple[str, Path]) -> None:
    _flavour, root = corpus
    with pytest.raises(CmpyError) as raised:
        cmpy.run(f"{root.name}:get-generic-sys-util", quiet=True)
    message = raised.value.message
    assert "CM script get-generic-sys-util" in message and "sys util name" in message
    assert "Traceback" not in message


def test_the_cm_detect_os_overrides_the_built_in_by_uid(
    corpora: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["repo", "add", str(corpora["cm"])]) == 0
    capsys.readouterr()
    assert main(["run", "863735b7db8c44fc", "--json", "-q"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["env"]["CM_HOST_OS_TYPE"] == "linux"
    assert not any(k.startswith("CMPY_HOST_OS") for k in document["env"])
    assert main(["run", "cmpy:detect-os", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["env"]["CMPY_HOST_OS_TYPE"] == "linux"
