"""Loading CM and MLCFlow repositories: what joins the registry, what is said, what is never imported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _cmrepo import make_repo, write_json_meta

import cmpy
import cmpy.cache
from cmpy import AmbiguousQuery, CmpyError
from cmpy._cli import main

pytest.importorskip("yaml")


def test_repo_add_accepts_either_flavour_and_one_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cm_root = make_repo(tmp_path, "cm", ["t-hello"])
    mlc_root = make_repo(tmp_path, "mlc", ["t-leaf"])
    single = tmp_path / "lone" / "t-json"
    write_json_meta(
        single,
        {"alias": "t-json", "uid": "dddddddddddddddd", "automation_alias": "script", "tags": ["t", "json"]},
    )
    for path in (cm_root, mlc_root, single):
        assert main(["repo", "add", str(path)]) == 0
    found = {f["alias"] for f in cmpy.find("t")}
    assert {"t-hello", "t-leaf", "t-json"} <= found
    shown = cmpy.show("t hello")
    assert shown["uid"] == "1111111111111111" and shown["inputs"]["name"]["env"] == "CM_NAME_IN"
    assert "CM script of cm-repo" in shown["doc"]
    # the MLC repository's own meta.yaml is not a script
    assert not any(f["alias"] == "mlc-repo" for f in cmpy.find(""))


def test_no_python_file_of_a_cm_repository_is_imported(tmp_path: Path) -> None:
    root = make_repo(tmp_path, "mlc", ["t-hello"])
    marker = tmp_path / "imported"
    for where in (root / "setup.py", root / "automation" / "module.py", root / "script" / "t-hello" / "customize.py"):
        where.parent.mkdir(exist_ok=True)
        where.write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    assert main(["repo", "add", str(root)]) == 0
    assert [f["alias"] for f in cmpy.find("t hello")] == ["t-hello"]
    cmpy.show("t hello")
    assert not marker.exists()


def test_symlinked_category_folders_list_no_script_twice(tmp_path: Path) -> None:
    root = make_repo(tmp_path, "cm", ["t-hello", "t-leaf"])
    category = root / "script" / "by-category" / "Tests"
    category.mkdir(parents=True)
    os.symlink(root / "script" / "t-hello", category / "t-hello")
    os.symlink(root / "script" / "t-leaf", root / "script" / "t-leaf-again")
    assert main(["repo", "add", str(root)]) == 0
    assert sorted(f["alias"] for f in cmpy.find("t")) == ["t-hello", "t-leaf"]


def test_unknown_keys_are_warned_once_per_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(tmp_path, "cm", ["t-leaf"])
    meta = root / "script" / "t-leaf" / "_cm.yaml"
    meta.write_text(
        meta.read_text()
        + "deps:\n  - tags: t,hello\n    force-cache: true\n\xa0 force_cache: true\nvariations:\n"
        "  a:\n    default-variations: {x: y}\n"
    )
    assert main(["repo", "add", str(root)]) == 0
    capsys.readouterr()
    cmpy.testing.new_process()
    assert main(["find", "t leaf"]) == 0
    err = capsys.readouterr().err
    assert "t-leaf/_cm.yaml: keys the engine does not read" in err
    for key in ("deps[0].force-cache", "'\\xa0 force_cache'"):
        assert key in err
    cmpy.testing.new_process()
    assert main(["find", "t leaf"]) == 0
    assert "keys the engine does not read" not in capsys.readouterr().err  # said once, not on every command


def test_a_meta_that_does_not_parse_is_skipped_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo(tmp_path, "cm", ["t-hello", "t-leaf"])
    (root / "script" / "t-leaf" / "_cm.yaml").write_text("alias: [unclosed\n")
    assert main(["repo", "add", str(root)]) == 0
    assert main(["find", "t"]) == 0
    captured = capsys.readouterr()
    assert "t-hello" in captured.out
    assert "is not valid YAML" in captured.err and "t-leaf" in captured.err
    assert "internal error" not in captured.err


def test_a_users_repository_overrides_the_built_in_and_either_can_be_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo(tmp_path, "cm", ["t-hello"])
    folder = root / "script" / "detect-os"
    folder.mkdir()
    (folder / "_cm.yaml").write_text(
        "alias: detect-os\nuid: 863735b7db8c44fc\nautomation_alias: script\ntags: [detect-os, detect, os, info]\n"
        "new_env_keys: [CM_HOST_OS_*]\n"
    )
    (folder / "run.sh").write_text("echo CM_HOST_OS_TYPE=from-the-repo > tmp-run-env.out\n")
    assert main(["repo", "add", str(root)]) == 0
    capsys.readouterr()
    cmpy.testing.new_process()
    assert cmpy.run("863735b7db8c44fc", quiet=True).env == {"CM_HOST_OS_TYPE": "from-the-repo"}
    notice = capsys.readouterr().err
    assert "overrides detect-os" in notice and "name the other as cmpy:detect-os" in notice
    built_in = cmpy.run("cmpy:detect-os", quiet=True)
    assert "CMPY_HOST_OS_TYPE" in built_in.env
    assert cmpy.run("cm-repo:detect-os", quiet=True).env["CM_HOST_OS_TYPE"] == "from-the-repo"
    # a built-in's own dep on detect os stays the built-in
    assert "CMPY_HOST_OS_TYPE" in cmpy.run("get generic-sys-util _name.bash", quiet=True).deps[0].env
    with pytest.raises(CmpyError, match="nope:detect-os"):
        cmpy.run("nope:detect-os", quiet=True)


def test_an_ambiguity_names_each_side_by_repository(tmp_path: Path) -> None:
    first = make_repo(tmp_path / "a", "cm", ["t-hello"])
    second = make_repo(tmp_path / "b", "mlc", ["t-hello"])
    meta = second / "script" / "t-hello" / "meta.yaml"
    meta.write_text(meta.read_text().replace("1111111111111111", "1111111111111112"))
    assert main(["repo", "add", str(first)]) == 0
    assert main(["repo", "add", str(second)]) == 0
    with pytest.raises(AmbiguousQuery) as raised:
        cmpy.run("t-hello", quiet=True)
    assert "cm-repo:t-hello" in str(raised.value) and "mlc-repo:t-hello" in str(raised.value)
    assert cmpy.run("mlc-repo:t-hello", quiet=True).env == {"MLC_HELLO": "hi-world", "MLC_HELLO_NOT_EXPORTED": "x"}


def test_dry_run_and_cache_ls_treat_scripts_like_recipes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo(tmp_path, "cm", ["t-cached", "t-hello", "t-order", "t-leaf"])
    assert main(["repo", "add", str(root)]) == 0
    assert main(["run", "t order", "--dry-run"]) == 0
    tree = capsys.readouterr().out
    assert "t-order" in tree and "t-hello" in tree and "t-leaf" in tree
    cmpy.run("t cached", value="1", env={"CM_CACHED_COUNTER": str(tmp_path / "c")}, quiet=True)
    assert [e.recipe for e in cmpy.cache.ls("t cached")] == ["t-cached"]


def _script(root: Path, name: str, meta: str, run_sh: str = "") -> None:
    folder = root / "script" / name
    folder.mkdir()
    (folder / "_cm.yaml").write_text(meta)
    if run_sh:
        (folder / "run.sh").write_text(run_sh)


def test_several_matches_are_broken_cms_way(tmp_path: Path) -> None:
    root = make_repo(tmp_path, "cm", ["t-leaf"])
    for name, sort in (("tool-b", 500), ("tool-a", 1000), ("tool-c", 500)):
        _script(
            root,
            name,
            f"alias: {name}\nautomation_alias: script\ntags: [get, tool]\nsort: {sort}\ncache: true\n"
            "new_env_keys: [CM_TOOL]\n",
            f"echo CM_TOOL={name} > tmp-run-env.out\n",
        )
    _script(
        root,
        "use-tool",
        "alias: use-tool\nautomation_alias: script\ntags: [use, tool]\nnew_env_keys: [CM_TOOL]\n"
        "deps:\n  - tags: get,tool\n",
    )
    assert main(["repo", "add", str(root)]) == 0
    # the lowest sort wins; of two with the lowest, the first by path
    assert cmpy.run("use tool", quiet=True).env["CM_TOOL"] == "tool-b"
    # unless the other has a cache entry already (and nothing asks)
    cmpy.cache.rm("tool-b", all=False)
    cmpy.run("tool-c", quiet=True)
    cmpy.testing.new_process()
    assert cmpy.run("use tool", quiet=True).env["CM_TOOL"] == "tool-c"


def test_access_runs_finds_and_loads_cm_scripts(tmp_path: Path) -> None:
    root = make_repo(tmp_path, "cm", ["t-hello", "t-cached"])
    assert main(["repo", "add", str(root)]) == 0
    ran = cmpy.access({"action": "run", "automation": "script", "tags": "t,hello", "name": "Ada", "quiet": True})
    assert ran["return"] == 0 and ran["new_env"]["CM_HELLO"] == "hi-Ada"
    found = cmpy.access({"action": "find", "automation": "script", "tags": "t,hello"})
    assert [a.meta["uid"] for a in found["list"]] == ["1111111111111111"]
    loaded = cmpy.access({"action": "load", "automation": "script", "artifact": "t-hello"})
    assert loaded["return"] == 0 and loaded["meta"]["alias"] == "t-hello"
    missing = cmpy.access({"action": "run", "automation": "script", "tags": "no,such,thing", "quiet": True})
    assert missing["return"] == 16 and ("no,such,thing" in missing["error"] or "no such thing" in missing["error"])
    as_text = cmpy.access(f"run script --tags=t,cached --value=1 --env.CM_CACHED_COUNTER={tmp_path / 'n'} -s")
    assert as_text["return"] == 0, as_text
    cache = cmpy.access({"action": "find", "automation": "cache", "tags": "t,cached"})
    assert cache["return"] == 0 and len(cache["list"]) == 1


def test_cms_command_spellings_run_cm_scripts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    root = make_repo(tmp_path, "mlc", ["t-hello"])
    assert main(["repo", "add", str(root)]) == 0
    capsys.readouterr()
    assert main(["run", "script", "--tags=t,hello", "--name=Bo", "-j", "-s"]) == 0
    assert json.loads(capsys.readouterr().out)["env"]["MLC_HELLO"] == "hi-Bo"
    assert main(["find", "script", "--tags=t,hello"]) == 0
    assert "t-hello" in capsys.readouterr().out


def test_a_query_that_spells_an_alias_names_it_among_longer_ones(tmp_path: Path) -> None:
    root = make_repo(tmp_path, "cm", ["t-leaf"])
    for name in ("say-hello", "say-hello-java", "say-hello-py"):
        _script(root, name, f"alias: {name}\nautomation_alias: script\ntags: [say, hello, hello-world]\n")
    assert main(["repo", "add", str(root)]) == 0
    # as CM picks print-hello-world for "print,hello-world": the one the words spell
    assert cmpy.run("say hello", quiet=True).recipe == "say-hello"
    with pytest.raises(AmbiguousQuery):
        cmpy.run("say hello-world", quiet=True)
