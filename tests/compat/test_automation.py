"""The ``automation`` object of CM's customize.py hooks, through a fake Host.

The fake host runs a "run.sh" the way get-cmake's does (the candidate found,
asked for ``--version``, its output in tmp-ver.out) and a ``detect_version``
hook that reads it with ``parse_version``, so version constraints are tested
with fake executables on a temporary PATH that print a known version.
"""

from __future__ import annotations

import builtins
import logging
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _fakebin import fake_exe, only_path, printing

from cmpy.compat._automation import Automation, Host

Hook = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class FakeHost:
    """A Host whose run.sh asks the candidate in ``env[path_key]`` for ``--version``."""

    script_path: str = "/repo/script/get-fake"
    meta: dict[str, Any] = field(default_factory=lambda: {"alias": "get-fake"})
    flavour: str = "cm"
    prefix: str = "CM_"
    repo_path: str = "/repo"
    path_key: str = "CM_FAKE_BIN_WITH_PATH"
    hooks: dict[str, Hook] = field(default_factory=dict)
    runs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    automation: Automation | None = None

    def run_native(self, script_name: str, env: dict[str, str], *, cwd: str | None = None) -> dict[str, Any]:
        self.runs.append((script_name, dict(env)))
        exe = env.get(self.path_key)
        if exe:
            with open("tmp-ver.out", "wb") as out:
                done = subprocess.run([exe, "--version"], stdout=out, stderr=subprocess.STDOUT, check=False)
            if done.returncode:
                return {"return": 2, "error": f"run.sh failed with {done.returncode}"}
        env["CM_FAKE_RUN_WROTE"] = "yes"  # what a run.sh hands back through tmp-run-env.out
        return {"return": 0}

    def call_customize(self, hook: str, env: dict[str, str], state: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((hook, dict(env)))
        function = self.hooks.get(hook)
        if function is None:
            return {"return": 0}
        return function({"env": env, "state": state, "automation": self.automation, "meta": self.meta})

    def access(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        return {"return": 0, "list": []}

    def update_deps(self, updates: dict[str, Any]) -> None:
        self.updates.append(updates)

    def say(self, text: str) -> None:
        self.said.append(text)


def parse_fake_version(i: dict[str, Any]) -> dict[str, Any]:
    """get-cmake's detect_version, for the fake tool."""
    r: dict[str, Any] = i["automation"].parse_version(
        {"match_text": r"fake version\s*(\S+)", "group_number": 1, "env_key": "CM_FAKE_VERSION", "which_env": i["env"]}
    )
    if r["return"] > 0:
        return r
    return {"return": 0, "version": r["version"]}


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHost:
    monkeypatch.chdir(tmp_path)
    h = FakeHost(hooks={"detect_version": parse_fake_version})
    h.automation = Automation(h)
    return h


def auto(host: FakeHost) -> Automation:
    assert host.automation is not None
    return host.automation


def find(host: FakeHost, env: dict[str, Any], **extra: Any) -> dict[str, Any]:
    i = {
        "file_name": "fake",
        "env": env,
        "os_info": {"platform": "linux", "env_separator": os.pathsep},
        "default_path_env_key": "PATH",
        "detect_version": True,
        "env_path_key": host.path_key,
        "run_script_input": {"path": host.script_path, "script_name": "run", "state": {}},
        "recursion_spaces": "  ",
        **extra,
    }
    return auto(host).find_artifact(i)


def tool(folder: Path, version: str, name: str = "fake") -> Path:
    return fake_exe(folder, name, printing(f"fake version {version}"))


def test_the_protocol_is_met_by_the_fake() -> None:
    host: Host = FakeHost()
    assert host.prefix == "CM_"


def test_finds_a_tool_on_path_without_adding_path(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = tool(tmp_path / "bin", "3.1.0")
    only_path(monkeypatch, [tmp_path / "bin"])
    env: dict[str, Any] = {}
    r = find(host, env)
    assert r["return"] == 0, r
    assert r["found_file_path"] == str(exe)
    assert r["found_path"] == str(tmp_path / "bin")
    assert r["found_file_name"] == "fake"
    assert env[host.path_key] == str(exe)
    assert "+PATH" not in env  # the folder is on PATH already
    # run.sh ran with the candidate in a copy of env: the caller's env did not get its output
    assert host.runs == [("run", {host.path_key: str(exe)})]
    assert "CM_FAKE_RUN_WROTE" not in env
    assert "CM_FAKE_VERSION" not in env


def test_a_folder_not_on_path_is_added_with_its_extra_paths(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = tool(tmp_path / "opt" / "bin", "2.0")
    (tmp_path / "opt" / "lib").mkdir()
    only_path(monkeypatch, [tmp_path / "elsewhere"])
    env: dict[str, Any] = {"CM_TMP_PATH": str(tmp_path / "opt" / "bin"), "+PATH": ["/already"]}
    r = find(host, env, extra_paths={"lib": "+LD_LIBRARY_PATH", "include": "+C_INCLUDE_PATH"})
    assert r["return"] == 0, r
    assert env["+PATH"] == [str(exe.parent), "/already"]
    assert env["+LD_LIBRARY_PATH"] == [str(tmp_path / "opt" / "lib")]
    assert "+C_INCLUDE_PATH" not in env  # no include folder there


def test_a_forced_path_that_is_missing_is_an_error(host: FakeHost, tmp_path: Path) -> None:
    r = find(host, {"CM_TMP_PATH": str(tmp_path / "nowhere")})
    assert r["return"] == 1
    assert "doesn't exist" in r["error"]


@pytest.mark.parametrize(
    ("constraints", "expected"),
    [
        ({"version_min": "3.0"}, "new"),
        ({"version_max": "2.99"}, "old"),
        ({"version": "1.2"}, "old"),  # only the parts given count: 1.2.0 is 1.2
        ({"version_min": "1.0", "version_max": "4"}, "old"),  # the first that fits, in PATH order
    ],
)
def test_version_constraints_pick_the_candidate(
    host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, constraints: dict[str, str], expected: str
) -> None:
    old = tool(tmp_path / "old", "1.2.0")
    new = tool(tmp_path / "new", "3.11.4")
    only_path(monkeypatch, [tmp_path / "old", tmp_path / "new"])
    env: dict[str, Any] = {}
    r = find(host, env, **constraints)
    assert r["return"] == 0, r
    assert env[host.path_key] == str({"old": old, "new": new}[expected])
    assert len(host.runs) == 2  # each candidate asked once


def test_constraints_come_from_env_with_the_prefix(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool(tmp_path / "old", "1.2.0")
    new = tool(tmp_path / "new", "3.11.4")
    only_path(monkeypatch, [tmp_path / "old", tmp_path / "new"])
    env: dict[str, Any] = {"CM_VERSION_MIN": "3.10"}
    assert find(host, env)["return"] == 0
    assert env[host.path_key] == str(new)


def test_mlc_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    host = FakeHost(prefix="MLC_", flavour="mlc", path_key="MLC_FAKE_BIN_WITH_PATH")
    host.hooks["detect_version"] = parse_fake_version
    host.automation = Automation(host)
    tool(tmp_path / "old", "1.2.0")
    new = tool(tmp_path / "new", "3.11.4")
    only_path(monkeypatch, [tmp_path / "old", tmp_path / "new"])
    env: dict[str, Any] = {"MLC_VERSION_MIN": "3", "CM_VERSION_MIN": "99"}
    r = find(host, env)
    assert r["return"] == 0, r
    assert env[host.path_key] == str(new)


def test_nothing_fits_is_16_and_leaves_env_alone(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool(tmp_path / "bin", "1.2.0")
    only_path(monkeypatch, [tmp_path / "bin"])
    env: dict[str, Any] = {"CM_VERSION_MIN": "2.0"}
    r = find(host, env)
    assert r["return"] == 16
    assert "1.2.0" in r["error"] and ">= 2.0" in r["error"]
    assert env == {"CM_VERSION_MIN": "2.0"}


def test_not_there_at_all_is_16(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    only_path(monkeypatch, [tmp_path / "empty"])
    r = find(host, {})
    assert r == {"return": 16, "error": "fake not found"}
    assert host.runs == []


def test_the_same_file_twice_is_one_candidate(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = tool(tmp_path / "real", "1.0")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "fake").symlink_to(exe)
    only_path(monkeypatch, [tmp_path / "real", tmp_path / "linked", tmp_path / "real"])
    assert find(host, {})["return"] == 0
    assert len(host.runs) == 1


def test_versioned_names_are_candidates_and_folders_are_not(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool(tmp_path / "bin", "1.0", name="fake-9")
    tool(tmp_path / "bin", "2.0", name="fake10")
    tool(tmp_path / "bin", "3.0", name="fakeish")  # not a versioned form
    (tmp_path / "bin" / "fake.1").mkdir()
    only_path(monkeypatch, [tmp_path / "bin"])
    assert find(host, {}, version_min="2")["return"] == 0
    tried = [os.path.basename(env[host.path_key]) for _, env in host.runs]
    assert tried == ["fake-9", "fake10"]


def test_a_failing_candidate_is_skipped(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_exe(tmp_path / "broken", "fake", "exit 3")
    good = tool(tmp_path / "good", "1.0")
    only_path(monkeypatch, [tmp_path / "broken", tmp_path / "good"])
    env: dict[str, Any] = {}
    assert find(host, env)["return"] == 0
    assert env[host.path_key] == str(good)


def test_without_detect_version_nothing_runs(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool(tmp_path / "bin", "1.0")
    only_path(monkeypatch, [tmp_path / "bin"])
    assert find(host, {}, detect_version=False, version_min="99")["return"] == 0
    assert host.runs == [] and host.calls == []


def test_a_hook_skips_candidates(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool(tmp_path / "a", "1.0")
    b = tool(tmp_path / "b", "1.0")
    only_path(monkeypatch, [tmp_path / "a", tmp_path / "b"])
    env: dict[str, Any] = {}

    def skip_a(i: dict[str, Any]) -> dict[str, Any]:
        return {"return": 0, "skip": "/a/" in i["file"]}

    assert find(host, env, hook=skip_a)["return"] == 0
    assert env[host.path_key] == str(b)


def test_several_fitting_never_prompt(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_input(*_args: object) -> str:
        raise AssertionError("input() was called")

    monkeypatch.setattr(builtins, "input", no_input)
    first = tool(tmp_path / "a", "1.0")
    tool(tmp_path / "b", "1.0")
    only_path(monkeypatch, [tmp_path / "a", tmp_path / "b"])
    env: dict[str, Any] = {}
    assert find(host, env)["return"] == 0
    assert env[host.path_key] == str(first)


def test_hostile_names_and_versions_do_nothing(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tool named -rf and a version of $(touch ...) are text: found, compared, stored."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("x")
    pwned = tmp_path / "pwned"
    exe = fake_exe(tmp_path / "bin", "-rf", printing(f"fake version $(touch {pwned})"))
    tool(tmp_path / "bin", "1.0", name="[a-z]*")  # a glob pattern as a name is literal too
    only_path(monkeypatch, [tmp_path / "bin"])
    monkeypatch.chdir(victim)
    env: dict[str, Any] = {}
    r = find(host, env, file_name="-rf", version_min="1.0")
    assert r["return"] == 16  # "$(touch" is no version >= 1.0
    r = find(host, env, file_name="-rf")
    assert r["return"] == 0
    assert env[host.path_key] == str(exe)
    assert not pwned.exists()
    assert (victim / "keep").read_text() == "x"
    assert find(host, {}, file_name="[a-z]*", detect_version=False)["found_file_name"] == "[a-z]*"


def test_a_failing_detect_version_is_the_answer(host: FakeHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As in CM: a candidate whose detect_version fails stops the search with its error."""
    fake_exe(tmp_path / "bin", "fake", printing("no number here"))
    only_path(monkeypatch, [tmp_path / "bin"])
    r = find(host, {})
    assert r["return"] == 1
    assert "version was not detected" in r["error"] and "no number here" in r["error"]


# -- parse_version -------------------------------------------------------------------------


def test_parse_version_sets_the_key_and_the_detected_version(host: FakeHost, tmp_path: Path) -> None:
    (tmp_path / "tmp-ver.out").write_text("cmake version 3.28.1\n\nCMake suite\n")
    env: dict[str, Any] = {}
    r = auto(host).parse_version(
        {"match_text": r"cmake version\s*([\d.]+)", "group_number": 1, "env_key": "CM_CMAKE_VERSION", "which_env": env}
    )
    assert r["return"] == 0
    assert r["version"] == "3.28.1"
    assert r["string"].startswith("cmake version")
    assert env == {"CM_CMAKE_VERSION": "3.28.1", "CM_DETECTED_VERSION": "3.28.1"}


def test_parse_version_mlc_prefix_and_extra_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    automation = Automation(FakeHost(prefix="MLC_", flavour="mlc"))
    (tmp_path / "v.txt").write_text("tool 1.2 build 7\n")
    env: dict[str, Any] = {}
    r = automation.parse_version(
        {
            "file_name": "v.txt",
            "match_text": r"tool ([\d.]+) build (\d+)",
            "group_number": 1,
            "group_number_extra": 2,
            "env_key": "MLC_TOOL_VERSION",
            "which_env": env,
        }
    )
    assert r["version"] == "1.2-7"
    assert env == {"MLC_TOOL_VERSION": "1.2-7", "MLC_DETECTED_VERSION": "1.2-7"}


def test_parse_version_failures(host: FakeHost, tmp_path: Path) -> None:
    i = {"match_text": r"v(\d+)", "group_number": 1, "env_key": "K", "which_env": {}}
    assert auto(host).parse_version(i)["return"] == 16  # no tmp-ver.out
    (tmp_path / "tmp-ver.out").write_text("nothing\n")
    r = auto(host).parse_version(i)
    assert r["return"] == 1 and r["error"] == "version was not detected (nothing)"
    (tmp_path / "tmp-ver.out").write_text("v12\n")
    r = auto(host).parse_version({**i, "group_number": 2})
    assert r["return"] == 1 and "group number" in r["error"]
    assert auto(host).parse_version({"match_text": "x"})["return"] == 1
    assert i["which_env"] == {}


# -- running, deps, actions, logging ----------------------------------------------------------


def test_run_native_script_forwards_and_hands_back_env(host: FakeHost) -> None:
    env: dict[str, Any] = {"CM_X": "1"}
    r = auto(host).run_native_script({"run_script_input": {}, "env": env, "script_name": "install"})
    assert r["return"] == 0
    assert host.runs == [("install", {"CM_X": "1"})]
    assert env["CM_FAKE_RUN_WROTE"] == "yes"  # the env given takes what the script wrote
    assert r["env_tmp"] == env and r["env_tmp"] is not env
    assert host.calls == []
    auto(host).run_native_script({"env": env, "script_name": "install", "detect_version": True})
    assert [hook for hook, _ in host.calls] == ["detect_version"]
    assert auto(host).run_native_script({"env": env})["return"] == 1


def test_a_hostile_script_name_is_only_handed_to_the_host(host: FakeHost) -> None:
    r = auto(host).run_native_script({"env": {}, "script_name": "-rf; touch pwned"})
    assert r["return"] == 0
    assert host.runs[0][0] == "-rf; touch pwned"
    assert not os.path.exists("pwned")


def test_detect_version_using_script(host: FakeHost, tmp_path: Path) -> None:
    exe = tool(tmp_path / "bin", "2.5.0")
    env: dict[str, Any] = {host.path_key: str(exe)}
    i = {"env": env, "run_script_input": {"script_name": "run"}, "recursion_spaces": ""}
    assert auto(host).detect_version_using_script(i) == {"return": 0, "detected_version": "2.5.0"}
    assert env["CM_FAKE_VERSION"] == "2.5.0"  # the env given is the one changed
    env["CM_VERSION_MAX"] = "2.4"
    assert auto(host).detect_version_using_script(i)["return"] == 16


def test_update_deps_is_forwarded(host: FakeHost) -> None:
    updates = {"get-git-repo": {"tags": "_repo.https://x"}}
    assert auto(host).update_deps({"deps": [], "update_deps": updates}) == {"return": 0}
    assert host.updates == [updates]
    assert auto(host).update_deps({"deps": []})["return"] == 1


def test_action_object_forwards_script_actions(host: FakeHost) -> None:
    a = auto(host)
    assert a.cmind is a.action_object
    request = {"action": "run", "automation": "script", "tags": "detect,os", "quiet": True}
    assert a.cmind.access(request) == {"return": 0, "list": []}
    assert host.requests == [request]
    assert a.action_object.repos_path == "/"
    assert a.cmind.access("run script")["return"] == 1


def test_action_object_serves_utils_actions(host: FakeHost, tmp_path: Path) -> None:
    r = auto(host).cmind.access({"action": "system", "automation": "utils,dc2743f8450541e3", "cmd": "echo hi; echo err >&2", "path": str(tmp_path)})
    assert (r["return"], r["ret"], r["stdout"], r["stderr"], r["std"]) == (0, 0, "hi", "err", "hi\nerr")
    r = auto(host).cmind.access({"action": "compare_versions", "automation": "utils", "version1": "1.10", "version2": "1.9"})
    assert r == {"return": 0, "comparison": 1}
    assert host.requests == []


def test_logger_goes_to_say(host: FakeHost) -> None:
    log = auto(host).logger
    assert isinstance(log, logging.Logger)
    assert log.name == "cmpy.compat.get-fake"
    assert auto(host).action_object.logger is log
    log.info("found %s", "it")
    log.warning("careful")
    log.debug("hidden")
    assert host.said == ["found it", "WARNING: careful"]
    assert log not in logging.Logger.manager.loggerDict.values()  # no global logger per run


def test_get_default_path_list(host: FakeHost, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LD_LIBRARY_PATH", f"/a{os.pathsep}{os.pathsep}/b")
    i = {"default_path_env_key": "LD_LIBRARY_PATH", "os_info": {"env_separator": os.pathsep}}
    assert auto(host).get_default_path_list(i) == ["/a", "/b"]
    assert auto(host).get_default_path_list({"os_info": {}}) == []
    host.environ = {"LD_LIBRARY_PATH": "/from-host"}  # type: ignore[attr-defined]
    assert auto(host).get_default_path_list(i) == ["/from-host"]


def test_find_file_deep_and_back(host: FakeHost, tmp_path: Path) -> None:
    (tmp_path / "a" / "x" / "bin").mkdir(parents=True)
    (tmp_path / "a" / "x" / "bin" / "cl.exe").write_text("")
    (tmp_path / "a" / "y").mkdir()
    (tmp_path / "a" / "y" / "cl.exe").write_text("")
    (tmp_path / "a" / "y" / "loop").symlink_to(tmp_path / "a")  # a cycle is walked once
    r = auto(host).find_file_deep({"paths": [str(tmp_path / "a")], "file_name": "cl.exe"})
    assert sorted(r["found_paths"]) == [str(tmp_path / "a" / "x" / "bin"), str(tmp_path / "a" / "y")]
    r = auto(host).find_file_deep({"paths": [str(tmp_path / "a")], "file_name": "cl.exe", "restrict_paths": ["bin"]})
    assert r["found_paths"] == [str(tmp_path / "a" / "x" / "bin")]
    (tmp_path / "a" / "marker").write_text("")
    r = auto(host).find_file_back({"path": str(tmp_path / "a" / "x" / "bin"), "file_name": "marker"})
    assert r == {"return": 0, "found_path": str(tmp_path / "a")}
    r = auto(host).find_file_back({"path": str(tmp_path / "a"), "file_name": "no-such-marker"})
    assert r == {"return": 0, "found_path": ""}


def test_clean_some_tmp_files_and_available_variations(host: FakeHost, tmp_path: Path) -> None:
    (tmp_path / "tmp-state.json").write_text("{}")
    (tmp_path / "other").write_text("")
    assert auto(host).clean_some_tmp_files({"env": {"CM_TMP_CURRENT_SCRIPT_WORK_PATH": str(tmp_path)}})["return"] == 0
    assert not (tmp_path / "tmp-state.json").exists() and (tmp_path / "other").exists()
    r = auto(host)._available_variations({"meta": {"alias": "get-lib", "variations": {"numpy": {}, "onnx": {}}}})
    assert r["return"] == 1 and r["error"].endswith("Available: _numpy _onnx")
