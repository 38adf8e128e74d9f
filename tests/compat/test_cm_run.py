"""CM and MLCFlow scripts run unmodified through cmpy.run, in both flavours.

The scripts are in ``_cmrepo.py``; each checks one of CM's rules through
what it exports.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from _cmrepo import make_repo

import cmpy
import cmpy.testing
from cmpy import CmpyError, VariationError

pytest.importorskip("yaml")


@pytest.fixture(params=["cm", "mlc"])
def repo(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    flavour: str = request.param
    root = make_repo(tmp_path, flavour)
    monkeypatch.setenv("CMPY_RECIPES_PATH", str(root))
    monkeypatch.chdir(tmp_path)
    return root, "CM_" if flavour == "cm" else "MLC_"


def test_inputs_defaults_and_new_env_keys(repo: tuple[Path, str]) -> None:
    _root, p = repo
    result = cmpy.run("t hello", quiet=True)
    # only what new_env_keys names comes back, the script's tmp files do not stay
    assert result.env == {f"{p}HELLO": "hi-world", f"{p}HELLO_NOT_EXPORTED": "x"}
    assert cmpy.run("t hello", name="Ada", quiet=True).env[f"{p}HELLO"] == "hi-Ada"
    assert not list(Path.cwd().glob("tmp-*"))


def test_variations_of_every_kind(repo: tuple[Path, str]) -> None:
    _root, p = repo
    plain = cmpy.run("t vars", quiet=True).env
    # defaults per group, and non-string values rendered as CM renders them
    assert plain[f"{p}V_PRECISION"] == "fp32" and plain[f"{p}V_FRAMEWORK"] == "onnx"
    assert plain[f"{p}V_FLAG"] == "True" and plain[f"{p}V_COUNT"] == "8" and plain[f"{p}V_RATIO"] == "0.5"
    assert plain[f"{p}V_SHELL_FLAG"] == "True"
    # default_variations of a chosen variation beat the group's default; combined keys apply
    int8 = cmpy.run("t vars _int8", quiet=True).env
    assert int8[f"{p}V_FRAMEWORK"] == "tf" and int8[f"{p}V_COMBINED"] == "int8-tf"
    # base pulls int8 in; an alias names another variation; a wildcard takes its value
    full = cmpy.run("t vars _full _tensorflow _batch_size.16", quiet=True).env
    assert full[f"{p}V_PRECISION"] == "int8" and full[f"{p}V_FULL"] == "yes"
    assert full[f"{p}V_FRAMEWORK"] == "tf" and full[f"{p}V_BATCH"] == "16"
    # <<<KEY>>> in a wildcard's env is filled from the env as resolved
    assert cmpy.run("t vars _path.x", quiet=True).env[f"{p}V_PATH"] == "fp32/x"
    with pytest.raises(VariationError, match="_nope"):
        cmpy.run("t vars _nope", quiet=True)
    with pytest.raises(CmpyError, match="precision"):
        cmpy.run("t vars _fp32 _int8", quiet=True)


def test_each_dep_condition(repo: tuple[Path, str]) -> None:
    _root, p = repo
    # mode 'no': the enable_if dep is off, the skip_if dep runs
    assert cmpy.run("t conds", quiet=True).env[f"{p}CONDS_SEEN"] == "skipped-unless-yes"
    # yes: the enable_if dep runs (a listed 'yes' matches any truthy value), the skip_if one not
    assert cmpy.run("t conds", mode="on", quiet=True).env[f"{p}CONDS_SEEN"] == "enabled"
    # any-of conditions, tags from env set by preprocess? no: deps run before preprocess
    special = cmpy.run("t conds", mode="special", quiet=True).env
    assert special[f"{p}CONDS_SEEN"] == "any-matched"
    assert f"{p}LEAF_VARIATION" not in special


def test_cms_order_and_sequential_env(repo: tuple[Path, str]) -> None:
    _root, p = repo
    env = cmpy.run("t order", quiet=True).env
    # deps -> preprocess -> prehook deps (which see what preprocess set) -> postprocess
    assert env[f"{p}STEPS"] == "pre:hi-world,post"
    assert env[f"{p}LEAF_SAW"] == "hi-world+pre"
    assert env[f"{p}LEAF_ORDER"] == "pre:hi-world"


def test_customize_finds_an_artifact_and_parses_its_version(
    repo: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _root, p = repo
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    tool = bin_dir / "faketool"
    tool.write_text("#!/bin/sh\necho 'faketool 4.2.1'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = cmpy.run("t custom", quiet=True)
    assert result.version == "4.2.1"
    assert result.env[f"{p}FAKETOOL_BIN_WITH_PATH"] == str(tool)
    assert result.env[f"{p}FAKETOOL_VERSION"] == "4.2.1"
    # the folder was on PATH already: no +PATH
    assert "+PATH" not in result.env
    with pytest.raises(CmpyError, match="t-custom"):
        cmpy.run("t custom", version_min="5.0", quiet=True)


def test_a_cached_script_runs_once_and_exports_plus_path(repo: tuple[Path, str], tmp_path: Path) -> None:
    _root, p = repo
    counter = tmp_path / "counter"
    first = cmpy.run("t cached", value="1", env={f"{p}CACHED_COUNTER": str(counter)}, quiet=True)
    again = cmpy.run("t cached", value="1", env={f"{p}CACHED_COUNTER": str(counter)}, quiet=True)
    assert not first.cached and again.cached
    assert counter.read_text().count("ran") == 1
    assert first.env[f"{p}CACHED_OUT"] == "1"
    # the script ran in its entry's folder, and +PATH names a folder there
    assert first.folder and first.env["+PATH"] == os.path.join(first.folder, "bin")
    other = cmpy.run("t cached", value="2", env={f"{p}CACHED_COUNTER": str(counter)}, quiet=True)
    assert not other.cached and counter.read_text().count("ran") == 2


def test_an_unrelated_env_key_leaves_the_cache_key_alone(repo: tuple[Path, str], tmp_path: Path) -> None:
    _root, p = repo
    base = {f"{p}CACHED_COUNTER": str(tmp_path / "c")}
    first = cmpy.run("t cached", value="1", env=base, quiet=True)
    unrelated = cmpy.run("t cached", value="1", env={**base, "UNRELATED_X": "1"}, quiet=True)
    relevant = cmpy.run("t cached", value="1", env={**base, f"{p}SOMETHING": "1"}, quiet=True)
    assert unrelated.key == first.key and unrelated.cached
    assert relevant.key != first.key


@pytest.mark.parametrize("hostile", ["$(touch PWNED)", "`touch PWNED`", "'; touch PWNED; '", '"; touch PWNED #'])
def test_a_hostile_value_arrives_literally(repo: tuple[Path, str], tmp_path: Path, hostile: str) -> None:
    _root, p = repo
    result = cmpy.run("t hostile", value=hostile, quiet=True)
    assert result.env[f"{p}HOSTILE_SAW"] == hostile
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()


def test_input_in_customize_is_an_error_naming_the_script(repo: tuple[Path, str]) -> None:
    with pytest.raises(CmpyError, match=r"t-asks.*asked for input") as raised:
        cmpy.run("t asks", quiet=True)
    assert "never prompts" in (raised.value.hint or "")


def test_failures_are_one_message_naming_the_script(repo: tuple[Path, str]) -> None:
    with pytest.raises(CmpyError, match=r"t-fail: its run script exited with status 3") as raised:
        cmpy.run("t fail", quiet=True)
    assert "something broke" in raised.value.message
    with pytest.raises(CmpyError, match="t-error: preprocess\\(\\) failed: please set --model_path"):
        cmpy.run("t error", quiet=True)


def test_a_cm_script_depends_on_a_python_recipe(repo: tuple[Path, str]) -> None:
    _root, p = repo
    assert cmpy.run("t uses-python", quiet=True).env[f"{p}SAW_OS"] in ("linux", "darwin", "windows")


def test_a_python_recipe_depends_on_a_cm_script(
    repo: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, p = repo
    recipes = tmp_path / "py"
    recipes.mkdir()
    (recipes / "mixed.py").write_text(
        "from cmpy import script, Dep\n"
        f"@script(tags='mixed chain', deps=[Dep('t leaf _a', name='leaf')], reads=['{p}*'])\n"
        "def mixed(ctx):\n"
        f"    return {{'SEEN': ctx.deps['leaf'].env['{p}LEAF_VARIATION']}}\n"
    )
    monkeypatch.setenv("CMPY_RECIPES_PATH", f"{root}{os.pathsep}{recipes}")
    assert cmpy.run("mixed chain", quiet=True).env["SEEN"] == "a"


def test_editing_any_file_of_a_script_makes_its_result_again(repo: tuple[Path, str], tmp_path: Path) -> None:
    """In place, within a second, in a subfolder: the cache key follows every file of the folder."""
    root, p = repo
    counter = tmp_path / "counter"
    args = {"value": "1", "env": {f"{p}CACHED_COUNTER": str(counter)}, "quiet": True}
    first = cmpy.run("t cached", **args)
    helper = root / "script" / "t-cached" / "lib" / "helper.txt"
    helper.parent.mkdir()
    helper.write_text("one\n")
    cmpy.testing.new_process()
    second = cmpy.run("t cached", **args)
    assert second.key != first.key and not second.cached
    before = os.stat(helper)
    with open(helper, "r+") as fh:  # same size, the folder's mtime untouched
        fh.write("two\n")
    os.utime(helper, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    cmpy.testing.new_process()
    third = cmpy.run("t cached", **args)
    assert third.key != second.key and not third.cached
    cmpy.testing.new_process()
    assert cmpy.run("t cached", **args).cached


@pytest.mark.parametrize("name", ["../../outside", "/bin/sh", ".."])
def test_a_script_name_never_leaves_the_script_folder(
    repo: tuple[Path, str], tmp_path: Path, name: str
) -> None:
    root, _p = repo
    outside = tmp_path / "outside.sh"
    outside.write_text(f"touch {tmp_path / 'ESCAPED'}\n")
    meta = next((root / "script" / "t-fail").glob("*.yaml"))
    meta.write_text(meta.read_text() + f"script_name: {name!r}\n")
    with pytest.raises(CmpyError, match="script_name") as raised:
        cmpy.run("t fail", quiet=True)
    assert "internal error" not in str(raised.value)
    assert not (tmp_path / "ESCAPED").exists()


def test_clean_files_never_remove_anything_outside_the_result_folder(
    repo: tuple[Path, str], tmp_path: Path
) -> None:
    root, p = repo
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    meta = next((root / "script" / "t-hello").glob("*.yaml"))
    meta.write_text(meta.read_text() + f"clean_files: [{str(victim)!r}, '../victim.txt', tmp-run.out]\n")
    assert cmpy.run("t hello", quiet=True).env[f"{p}HELLO"] == "hi-world"
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize("value", ["-leaf", "a b", "a,-leaf", "x\tleaf"])
def test_a_tag_taken_from_env_is_data_never_query_syntax(
    repo: tuple[Path, str], tmp_path: Path, value: str
) -> None:
    """update_tags_from_env(_with_prefix): an exclusion or a second word is refused, naming the key."""
    root, p = repo
    folder = root / "script" / "t-env-tags"
    folder.mkdir()
    meta = "_cm.yaml" if p == "CM_" else "meta.yaml"
    (folder / meta).write_text(
        f"alias: t-env-tags\nautomation_alias: script\ntags: [t, env-tags]\n"
        f"deps:\n  - tags: t,leaf\n    update_tags_from_env: [{p}EXTRA]\n"
        f"  - tags: t,leaf\n    update_tags_from_env_with_prefix:\n      _:\n        - {p}EXTRA\n"
    )
    with pytest.raises(CmpyError, match=f"{p}EXTRA=") as raised:
        cmpy.run("t env-tags", env={f"{p}EXTRA": value}, quiet=True)
    assert "cannot become a tag" in raised.value.message
    assert cmpy.run("t env-tags", quiet=True).recipe == "t-env-tags"


def test_a_changed_customize_py_is_imported_again_in_the_same_process(repo: tuple[Path, str]) -> None:
    root, _p = repo
    custom = root / "script" / "t-error" / "customize.py"
    with pytest.raises(CmpyError, match="please set --model_path"):
        cmpy.run("t error", quiet=True)
    custom.write_text("def preprocess(i):\n    return {'return': 1, 'error': 'now another error'}\n")
    stat = custom.stat()
    os.utime(custom, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.raises(CmpyError, match="now another error"):
        cmpy.run("t error", quiet=True)
