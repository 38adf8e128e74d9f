"""cmind.utils / mlc.utils / MLC's utils as cmpy serves them, and the shims that import them."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import re
import sys
import tarfile
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _httpserver import LocalHTTPServer
from hypothesis import given
from hypothesis import strategies as st

from cmpy.compat import _utils as utils
from cmpy.compat._utils import shim_imports, shim_path

# -- load_txt and the other files ---------------------------------------------------------------


def test_load_txt_variants(tmp_path: Path) -> None:
    f = tmp_path / "tmp-run.out"
    f.write_text("Python 3.11.4\nsecond line\n")
    assert utils.load_txt(f) == {"return": 0, "string": "Python 3.11.4\nsecond line\n"}
    r = utils.load_txt(file_name=str(f), check_if_exists=True, split=True)
    assert r["list"] == ["Python 3.11.4", "second line"]
    r = utils.load_txt(str(f), match_text=r"Python\s*([\d.]+)")
    assert isinstance(r["match"], re.Match) and r["match"].group(1) == "3.11.4"
    r = utils.load_txt(str(f), match_text=r"Perl (\d+)")
    assert r["return"] == 0 and r["match"] is None
    r = utils.load_txt(str(f), match_text=r"Perl (\d+)", fail_if_no_match="no perl")
    assert r == {"return": 1, "error": "no perl", "string": "Python 3.11.4\nsecond line\n"}
    assert utils.load_txt(str(f), match_text="(")["return"] == 1  # a broken regex is an answer, not a crash
    assert f.exists()
    assert utils.load_txt(str(f), remove_after_read=True)["return"] == 0
    assert not f.exists()


@pytest.mark.parametrize("check", [True, False])
def test_load_txt_of_a_missing_file_is_16(tmp_path: Path, check: bool) -> None:
    r = utils.load_txt(str(tmp_path / "nope"), check_if_exists=check)
    assert r["return"] == 16 and "nope" in r["error"]


def test_load_txt_replaces_bad_bytes(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"v\xff1\n")
    assert utils.load_txt(str(tmp_path / "f"))["string"] == "v\ufffd1\n"


def test_json_text_and_yaml_round_trips(tmp_path: Path) -> None:
    assert utils.save_txt(str(tmp_path / "t.txt"), "a\nb") == {"return": 0}
    assert utils.load_txt(str(tmp_path / "t.txt"))["string"] == "a\nb"
    meta = {"b": [1, 2], "a": {"x": "y"}}
    assert utils.save_json(str(tmp_path / "m.json"), meta=meta)["return"] == 0
    assert (tmp_path / "m.json").read_text() == json.dumps(meta, indent=2, sort_keys=True) + "\n"
    assert utils.load_json(str(tmp_path / "m.json"), check_if_exists=True) == {"return": 0, "meta": meta}
    assert utils.save_yaml(str(tmp_path / "m.yaml"), meta)["return"] == 0
    assert utils.load_yaml(str(tmp_path / "m.yaml"))["meta"] == meta
    assert utils.load_json_or_yaml(str(tmp_path / "m.yaml"))["meta"] == meta
    assert utils.load_json(str(tmp_path / "missing.json"))["return"] == 16
    (tmp_path / "bad.json").write_text("{")
    assert utils.load_json(str(tmp_path / "bad.json"))["return"] == 4
    (tmp_path / "bad.yaml").write_text("a: [")
    assert utils.load_yaml(str(tmp_path / "bad.yaml"))["return"] == 4
    assert utils.save_json(str(tmp_path / "x.json"), {"f": object()})["return"] == 1


def test_load_yaml_refuses_python_tags(tmp_path: Path) -> None:
    (tmp_path / "evil.yaml").write_text("!!python/object/apply:os.system ['touch pwned']\n")
    assert utils.load_yaml(str(tmp_path / "evil.yaml"))["return"] == 4
    assert not (tmp_path / "pwned").exists()


def test_load_yaml_and_json_merges_the_two(tmp_path: Path) -> None:
    (tmp_path / "cfg.yaml").write_text("a: 1\nb: 2\n")
    (tmp_path / "cfg.json").write_text('{"b": 3, "c": 4}')
    assert utils.load_yaml_and_json(str(tmp_path / "cfg")) == {"return": 0, "meta": {"a": 1, "b": 3, "c": 4}}
    (tmp_path / "cfg.yaml").unlink()
    assert utils.load_yaml_and_json(str(tmp_path / "cfg"))["meta"] == {"b": 3, "c": 4}
    assert utils.load_yaml_and_json(str(tmp_path / "none"))["return"] == 16


def test_without_pyyaml_the_error_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "m.yaml").write_text("a: 1\n")
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    r = utils.load_yaml(str(tmp_path / "m.yaml"))
    assert r["return"] == 1 and "PyYAML is not installed" in r["error"] and "pip install" in r["error"]
    assert utils.load_yaml_and_json(str(tmp_path / "m"))["return"] == 1


# -- values --------------------------------------------------------------------------------------


def test_gen_uid_and_date_time() -> None:
    uid = utils.gen_uid()["uid"]
    assert re.fullmatch(r"[0-9a-f]{16}", uid) and uid != utils.gen_uid()["uid"]
    r = utils.get_current_date_time({})
    assert set(r["array"]) == {"date_year", "date_month", "date_day", "time_hour", "time_minute", "time_second"}
    assert r["array"]["date_year"] >= 2024 and "T" in r["iso_datetime"]
    assert utils.get_current_date_time({"timezone": "UTC"})["iso_datetime"].endswith("+00:00")
    assert utils.get_current_date_time({"timezone": "Not/AZone"})["return"] == 1


def test_merge_dicts_examples() -> None:
    a: dict[str, Any] = {"x": {"y": 1, "l": [1]}, "l": [1, 2], "s": "old", "keep": 0}
    b = {"x": {"z": 2, "l": [3]}, "l": [2, 3], "s": "new", "ign": 1}
    r = utils.merge_dicts({"dict1": a, "dict2": b, "ignore_keys": ["ign"]})
    assert r["dict1"] is a and r["merged"] is a
    assert a == {"x": {"y": 1, "z": 2, "l": [3]}, "l": [2, 3], "s": "new", "keep": 0}
    a = {"l": [1, 2]}
    utils.merge_dicts({"dict1": a, "dict2": {"l": [2, 3]}, "append_lists": True})
    assert a == {"l": [1, 2, 2, 3]}
    a = {"l": [1, 2], "d": {"m": ["a"]}}
    utils.merge_dicts({"dict1": a, "dict2": {"l": [2, 3], "d": {"m": ["a", "b"]}}, "append_lists": True, "append_unique": True})
    assert a == {"l": [1, 2, 3], "d": {"m": ["a", "b"]}}
    a = {"k": 1}
    r = utils.merge_dicts({"dict1": a, "dict2": {"k": 2}}, in_place=False)
    assert a == {"k": 1} and r["merged"] == {"k": 2}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)
json_dicts = st.dictionaries(st.text(max_size=3), json_values, max_size=4)


def recursive_update(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The reference: dicts merged into dicts, every other value of b replacing a's."""
    out = dict(a)
    for key, value in b.items():
        old = out.get(key)
        both_dicts = isinstance(value, dict) and isinstance(old, dict)
        out[key] = recursive_update(old, value) if both_dicts else value  # type: ignore[arg-type]
    return out


@given(json_dicts, json_dicts)
def test_merge_without_appending_is_a_recursive_update(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Without append_lists, merging b into a is the recursive update of a by b."""
    expected = recursive_update(json.loads(json.dumps(a)), b)
    merged = utils.merge_dicts({"dict1": json.loads(json.dumps(a)), "dict2": b})["dict1"]
    assert merged == expected


@given(json_dicts, json_dicts)
def test_merging_unique_twice_is_merging_once(a: dict[str, Any], b: dict[str, Any]) -> None:
    """With append_unique, merging the same dict again changes nothing."""
    once = utils.merge_dicts({"dict1": json.loads(json.dumps(a)), "dict2": b, "append_lists": True, "append_unique": True})["dict1"]
    snapshot = json.loads(json.dumps(once))
    twice = utils.merge_dicts({"dict1": once, "dict2": b, "append_lists": True, "append_unique": True})["dict1"]
    assert twice == snapshot


def test_convert_env_to_dict() -> None:
    text = "CM_A=1\n\n  CM_B = x=y  \nCM_EMPTY=\nNOEQ\n"
    assert utils.convert_env_to_dict(text) == {"return": 0, "dict": {"CM_A": "1", "CM_B": "x=y", "CM_EMPTY": "", "NOEQ": ""}}


@pytest.mark.parametrize("value", ["1", "true", "True", "ON", "yes", 1, True])
def test_is_true(value: object) -> None:
    assert utils.is_true(value) and not utils.is_false(value)


@pytest.mark.parametrize("value", ["0", "false", "Off", "NO", 0, False])
def test_is_false(value: object) -> None:
    assert utils.is_false(value) and not utils.is_true(value)


@given(st.one_of(st.text(max_size=6), st.integers(), st.booleans(), st.none()))
def test_true_and_false_never_both(value: object) -> None:
    """No value is both true and false, and case never matters."""
    assert not (utils.is_true(value) and utils.is_false(value))
    assert utils.is_true(value) == utils.is_true(str(value).upper()) == utils.is_true(str(value).lower())
    assert utils.is_false(value) == utils.is_false(str(value).swapcase())


def test_check_if_true_yes_on() -> None:
    env = {"A": "Yes", "B": "1", "C": "off", "D": None}
    assert utils.check_if_true_yes_on(env, "A")
    assert not utils.check_if_true_yes_on(env, "B")  # as in cmind: 1 is not among them
    assert not utils.check_if_true_yes_on(env, "missing")
    assert utils.check_if_none_false_no_off(env, "C") and utils.check_if_none_false_no_off(env, "D")


@pytest.mark.parametrize(
    ("v1", "v2", "expected"),
    [("3.10.2", "3.9", 1), ("3.9", "3.9.0", 0), ("1.2.3-ubuntu", "1.2.4", -1), ("12.1.0", "12.1", 0), ("rc1", "0", 0)],
)
def test_compare_versions(v1: str, v2: str, expected: int) -> None:
    assert utils.compare_versions(v1, v2) == expected
    assert utils.compare_versions({"version1": v1, "version2": v2}) == {"return": 0, "comparison": expected}


def test_compare_versions_minor_skip() -> None:
    i = {"version1": "9.1", "version2": "9", "version_minor_skip_okay": True}
    assert utils.compare_versions(i)["comparison"] == 0
    assert utils.compare_versions({**i, "version1": "9", "version2": "9.1"})["comparison"] == -1


# -- commands -------------------------------------------------------------------------------------


def test_run_system_cmd(tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("")
    r = utils.run_system_cmd({"path": str(tmp_path), "cmd": "ls; echo warn >&2"})
    assert r == {"return": 0, "output": "marker", "error_output": "warn"}
    r = utils.run_system_cmd({"cmd": "echo bad >&2; exit 3"})
    assert r["return"] == 1 and "error code 3" in r["error"] and r["error_output"] == "bad"
    assert utils.run_system_cmd({"cmd": ""})["return"] == 1
    assert utils.run_system_cmd({"cmd": "true", "path": str(tmp_path / "nope")})["return"] == 1


def test_commands_never_read_the_terminal(tmp_path: Path) -> None:
    r = utils.run_system_cmd({"cmd": "read answer; echo got:$answer:$?", "path": str(tmp_path)})
    assert r == {"return": 0, "output": "got::1", "error_output": ""}  # read saw end of file (1)


def test_system_keeps_output_files(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    r = utils.system({"cmd": "echo hi; exit 4", "stdout": str(out)})
    assert (r["return"], r["ret"], r["stdout"]) == (0, 4, "hi")
    assert out.read_text() == "hi\n"


# -- download_file and unzip_file -------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as s:
        yield s


def test_download_file_from_a_local_server(server: LocalHTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    server.serve("/files/model%20v1.bin", b"x" * 1000)
    r = utils.download_file({"url": server.url("/files/model%20v1.bin"), "verify": False})
    assert r == {"return": 0, "filename": "model v1.bin", "path": str(tmp_path / "model v1.bin"), "size": 1000}
    assert (tmp_path / "model v1.bin").read_bytes() == b"x" * 1000
    r = utils.download_file({"url": server.url("/files/model%20v1.bin"), "path": str(tmp_path / "sub"), "filename": "-rf"})
    assert r["return"] == 0 and (tmp_path / "sub" / "-rf").stat().st_size == 1000
    assert sorted(os.listdir(tmp_path / "sub")) == ["-rf"]


def test_download_file_failures(server: LocalHTTPServer, tmp_path: Path) -> None:
    server.serve("/gone", b"", fail_status=404)
    r = utils.download_file({"url": server.url("/gone"), "path": str(tmp_path)})
    assert r["return"] == 1 and "404" in r["error"]
    assert os.listdir(tmp_path) == []
    assert utils.download_file({})["return"] == 1
    assert utils.download_file({"url": server.url("/"), "path": str(tmp_path)})["return"] == 1  # no file name


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_unzip_file_merges_into_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = make_zip(tmp_path / "a.zip", {"pkg-1.0/bin/tool": b"new", "pkg-1.0/README": b"r"})
    target = tmp_path / "target"
    (target / "bin").mkdir(parents=True)
    (target / "bin" / "tool").write_text("old")
    (target / "mine").write_text("kept")
    r = utils.unzip_file({"filename": str(archive), "path": str(target), "strip_folders": 1})
    assert r == {"return": 0}
    assert (target / "bin" / "tool").read_bytes() == b"new"
    assert (target / "README").read_bytes() == b"r" and (target / "mine").read_text() == "kept"
    assert sorted(os.listdir(target)) == ["README", "bin", "mine"]  # no staging folder left
    monkeypatch.chdir(target)
    assert utils.unzip_file({"filename": str(archive)})["return"] == 0  # into the current folder
    assert (target / "pkg-1.0" / "README").exists()


@pytest.mark.parametrize("member", ["../escaped", "/abs/escaped", "a/../../escaped"])
def test_unzip_file_refuses_an_escaping_member(tmp_path: Path, member: str) -> None:
    archive = make_zip(tmp_path / "evil.zip", {"ok.txt": b"fine", member: b"bad"})
    target = tmp_path / "deep" / "target"
    target.mkdir(parents=True)
    r = utils.unzip_file({"filename": str(archive), "path": str(target)})
    assert r["return"] == 1 and "unsafe" in r["error"]
    assert os.listdir(target) == []  # refused whole: not even ok.txt
    assert not list(tmp_path.rglob("escaped"))


def test_unzip_file_never_writes_through_a_link_already_there(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    (target / "lib").symlink_to(outside)
    (target / "file").symlink_to(outside / "victim")
    archive = make_zip(tmp_path / "a.zip", {"file": b"data", "lib/x.so": b"bad"})
    r = utils.unzip_file({"filename": str(archive), "path": str(target)})
    assert r["return"] == 1 and "link" in r["error"]
    assert os.listdir(outside) == []
    assert (target / "file").is_symlink()  # a conflict anywhere: nothing was moved
    archive = make_zip(tmp_path / "b.zip", {"file": b"data"})
    assert utils.unzip_file({"filename": str(archive), "path": str(target)})["return"] == 0
    assert not (target / "file").is_symlink() and os.listdir(outside) == []


def test_unzip_file_reads_tars_and_reports_missing(tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "a.tar.gz", "w:gz") as tf:
        info = tarfile.TarInfo("t.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
    assert utils.unzip_file({"filename": str(tmp_path / "a.tar.gz"), "path": str(tmp_path / "out")})["return"] == 0
    assert (tmp_path / "out" / "t.txt").read_bytes() == b"hi"
    assert utils.unzip_file({"filename": str(tmp_path / "missing.zip")})["return"] == 16


# -- the shims --------------------------------------------------------------------------------------

CUSTOMIZE = """
from cmind import utils
from mlc import utils as mlc_utils
from utils import is_true
from utils import *
from utils import is_false, logger
import cmind.utils
import mlc


def preprocess(i):
    logger.info("checking %s", "it")
    return {
        "cm": utils.load_txt,
        "mlc": mlc_utils.merge_dicts,
        "is_true": is_true("yes"),
        "star": download_file,
        "dotted": cmind.utils.gen_uid,
        "access": mlc.access({"action": "run", "automation": "script", "tags": "detect,os"}),
    }
"""


def import_customize(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("customize_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_customize_imports_the_shims(tmp_path: Path) -> None:
    (tmp_path / "customize.py").write_text(CUSTOMIZE)
    requests: list[Any] = []

    def access(request: Any) -> dict[str, Any]:
        requests.append(request)
        return {"return": 0}

    records: list[str] = []
    script_logger = logging.Logger("script")
    script_logger.addHandler(_Collect(records))
    before = list(sys.path)
    with shim_imports(access=access, logger=script_logger) as folder:
        assert folder == shim_path() and sys.path[0] == folder
        got = import_customize(tmp_path / "customize.py").preprocess({})
    assert got["cm"] is utils.load_txt and got["mlc"] is utils.merge_dicts and got["dotted"] is utils.gen_uid
    assert got["is_true"] is True and got["star"] is utils.download_file
    assert got["access"] == {"return": 0} and requests == [{"action": "run", "automation": "script", "tags": "detect,os"}]
    assert records == ["checking it"]
    assert sys.path == before
    assert not {"utils", "cmind", "cmind.utils", "mlc", "mlc.utils"} & set(sys.modules)


def test_the_shims_put_back_a_utils_imported_before() -> None:
    theirs = types.ModuleType("utils")
    sys.modules["utils"] = theirs
    try:
        with shim_imports():
            import utils as inside  # type: ignore[import-not-found]

            assert inside is not theirs and inside.is_true("on")
            with shim_imports():  # blocks nest
                import utils as nested  # type: ignore[import-not-found]

                assert nested.is_false("off")
            assert sys.modules["utils"] is inside
        assert sys.modules["utils"] is theirs
    finally:
        del sys.modules["utils"]


def test_the_shim_folder_is_off_sys_path_otherwise() -> None:
    assert shim_path() not in sys.path
    assert os.path.isfile(os.path.join(shim_path(), "utils.py"))
    with pytest.raises(ImportError):
        import cmind  # type: ignore[import-not-found]  # noqa: F401


def test_a_nested_block_keeps_the_enclosing_access() -> None:
    def access(request: Any) -> dict[str, Any]:
        return {"return": 0, "seen": request}

    with shim_imports(access=access):
        with shim_imports():  # the runner calling detect_version inside find_artifact
            import mlc  # type: ignore[import-not-found]

            assert mlc.access("x") == {"return": 0, "seen": "x"}
        assert utils.module_access("y") == {"return": 0, "seen": "y"}
    assert utils.module_access("z")["return"] == 1


def test_access_outside_a_run_is_an_error() -> None:
    with shim_imports():
        import cmind

        r = cmind.access({"action": "run"})
    assert r["return"] == 1 and "only while" in r["error"]


def test_utils_logger_without_a_script_logger_goes_to_cmpy_compat(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="cmpy.compat"):
        utils.logger.info("plain")
        utils.logger.debug("quiet")
    assert [r.getMessage() for r in caplog.records] == ["plain"]


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__()
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())
