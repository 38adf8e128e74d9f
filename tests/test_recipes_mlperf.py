"""get loadgen, app mlperf inference (every scenario and mode, search, submission), for real.

Every run is a real LoadGen run of a few hundred milliseconds. The digits
benchmarks share one CMPY_HOME (``digits_home``), so that the model is
trained once for the module rather than once per test; tests that look at
what is cached keep their own.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _httpserver import LocalHTTPServer

from cmpy import CmpyError, Result, ToolNotFound, UsageError, run

pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")
pytest.importorskip("mlperf_loadgen")

SHORT = 300  # ms: long enough for LoadGen's statistics on this model, short for a test
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def benchmark_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A benchmark lock of the test's own: a real benchmark on the machine must not stall it."""
    path = tmp_path / "benchmark.lock"
    monkeypatch.setenv("CMPY_BENCHMARK_LOCK", str(path))
    return path


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("digits-home")


@pytest.fixture
def digits_home(shared_home: Path, cmpy_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One CMPY_HOME for the module's digits runs (after the per-test one is set)."""
    monkeypatch.setenv("CMPY_HOME", str(shared_home))
    return shared_home


def mlperf(query: str = "app mlperf inference", **inputs: object) -> Result:
    inputs.setdefault("min_duration", SHORT)
    return run(query, quiet=True, **inputs)


def test_get_loadgen_exports_its_version() -> None:
    r = run("get loadgen", quiet=True)
    assert r["CMPY_MLPERF_LOADGEN_VERSION"] == importlib.metadata.version("mlcommons-loadgen")
    assert r.version == r["CMPY_MLPERF_LOADGEN_VERSION"]
    assert Path(r["CMPY_MLPERF_LOADGEN_MODULE"]).exists()


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream", "Server", "Offline"])
def test_every_scenario_in_both_modes(digits_home: Path, scenario: str) -> None:
    r = mlperf(scenario=scenario, mode="both")
    assert r["CMPY_MLPERF_RESULT_VALIDITY"] == "VALID", r.get("CMPY_MLPERF_INVALID_REASON")
    assert 0.95 <= float(r["CMPY_MLPERF_ACCURACY"]) <= 0.995
    assert float(r["CMPY_MLPERF_HEADLINE"]) > 0
    assert float(r["CMPY_MLPERF_LATENCY_P99_MS"]) >= float(r["CMPY_MLPERF_LATENCY_P50_MS"])
    out = Path(r["CMPY_MLPERF_OUTPUT_DIR"])
    for mode in ("performance", "accuracy"):
        assert (out / scenario / mode / "mlperf_log_detail.txt").is_file()
        assert (out / scenario / mode / "results.json").is_file()
    record = r.state["mlperf"]["results"][scenario]
    assert record["performance"]["validity"] == "VALID"
    assert record["accuracy"]["accuracy"]["count"] == 450
    assert "NOT an official MLPerf run" in " ".join(record["performance"]["notes"])
    assert "summary" not in r.env and (out / "summary.txt").is_file()


@pytest.mark.slow
def test_null_backend_all_scenarios_both_modes(digits_home: Path) -> None:
    r = mlperf("app mlperf inference _null", scenario="all", mode="both")
    assert r["CMPY_MLPERF_SCENARIOS"] == "SingleStream,MultiStream,Server,Offline"
    assert r["CMPY_MLPERF_BACKEND"] == "null"
    for scenario in ("SINGLESTREAM", "MULTISTREAM", "SERVER", "OFFLINE"):
        assert r[f"CMPY_MLPERF_{scenario}_RESULT_VALIDITY"] == "VALID"
        # the null backend answers class 0: right for the tenth of the samples that are zeros
        assert float(r[f"CMPY_MLPERF_{scenario}_ACCURACY"]) == pytest.approx(0.1, abs=0.01)
    assert "CMPY_MLPERF_ACCURACY" not in r.env  # several scenarios: only per scenario
    document = json.loads(Path(r["CMPY_MLPERF_RESULTS_JSON"]).read_text())
    assert {m for by in document["results"].values() for m in by} == {"performance", "accuracy"}
    assert document["results"]["Offline"]["performance"]["harness"]["backend"] == "null"
    # the null backend needs no model, so none was made
    assert r.find("get-ml-model-digits") is None


def test_the_report_on_stdout(digits_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = run("app mlperf inference", scenario="Offline", mode="both", min_duration=SHORT)
    out = capsys.readouterr().out
    assert "MLPerf inference: model digits, backend onnxruntime on cpu, 450 samples" in out
    assert "Offline performance: VALID" in out and "samples/s:" in out and "latency: p50" in out
    assert "Offline accuracy: top-1 accuracy 9" in out
    assert "note: NOT an official MLPerf run" in out
    # what Offline's latency means, once, right after the figures it explains
    lines = out.splitlines()
    latency = next(i for i, line in enumerate(lines) if line.startswith("  latency: p50"))
    assert lines[latency + 1] == (
        "  note: Offline latency is the time from the one query's issue to each sample's "
        "completion: it grows with the run and is not a per-sample latency"
    )
    assert out.count("Offline latency is") == 1
    assert f"results: {r['CMPY_MLPERF_RESULTS_JSON']}" in out


def test_cli_json_prints_one_document(digits_home: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cmpy", "run", "app mlperf inference", "--scenario=Offline",
         f"--min_duration={SHORT}", "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "CMPY_HOME": str(digits_home)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["recipe"] == "app-mlperf-inference"
    assert document["env"]["CMPY_MLPERF_RESULT_VALIDITY"] == "VALID"
    assert float(document["env"]["CMPY_MLPERF_SAMPLES_PER_SECOND"]) > 0
    assert document["state"]["mlperf"]["results"]["Offline"]["performance"]["valid"] is True
    # the report went to stderr, and no progress line: stderr is not a terminal
    assert "Offline performance: VALID" in done.stderr and "\r" not in done.stderr


def on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """What ``args`` writes to stdout and stderr when both are a terminal."""
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    child = subprocess.Popen(args, stdout=follower, stderr=follower, cwd=ROOT, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert child.wait(timeout=120) == 0
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_a_progress_line_on_a_terminal_but_not_under_json(digits_home: Path) -> None:
    command = [sys.executable, "-m", "cmpy", "run", "app mlperf inference", "--min_duration=600"]
    env = {**os.environ, "CMPY_HOME": str(digits_home)}
    # the line is redrawn in place (carriage return, erase to the end of the line)
    assert "\x1b[K" in on_a_terminal(command, env)
    assert "\x1b[K" not in on_a_terminal([*command, "--json"], env)


def test_a_user_conf_sets_the_load(digits_home: Path, tmp_path: Path) -> None:
    conf = tmp_path / "user.conf"
    conf.write_text("digits.Offline.target_qps = 20000\n*.Offline.min_duration = 250\n")
    out = tmp_path / "out"
    r = run(
        "app mlperf inference",
        user_conf=str(conf),
        output_dir=str(out),
        min_duration="",
        quiet=True,
    )
    settings = r.state["mlperf"]["results"]["Offline"]["performance"]["settings"]
    assert (settings["target_qps"], settings["min_duration_ms"]) == (20000.0, 250)
    assert settings["user_conf"] == str(conf)
    assert r["CMPY_MLPERF_OUTPUT_DIR"] == str(out) and (out / "Offline" / "performance").is_dir()


@pytest.mark.slow
def test_find_performance_with_the_null_backend(digits_home: Path) -> None:
    from cmpy.loadgen import read_user_conf

    r = mlperf("app mlperf inference _null _find-performance", probes=5)
    server = float(r["CMPY_MLPERF_SERVER_TARGET_QPS"])
    offline = float(r["CMPY_MLPERF_OFFLINE_TARGET_QPS"])
    assert server > 0 and offline > 0
    found = r.state["mlperf_find_performance"]
    probes = found["Server"]["probes"]
    assert 1 <= len(probes) <= 5
    assert max(p["target_qps"] for p in probes if p["validity"] == "VALID") == pytest.approx(
        server, rel=1e-3
    )
    assert found["Offline"]["runs"][-1]["validity"] == "VALID"
    conf = read_user_conf(r["CMPY_MLPERF_USER_CONF"])
    assert float(conf.lookup("digits", "Server")["target_qps"]) == pytest.approx(server, rel=1e-3)
    assert float(conf.lookup("digits", "Offline")["target_qps"]) == pytest.approx(offline, rel=1e-3)


def test_find_performance_searches_only_server_and_offline(digits_home: Path) -> None:
    with pytest.raises(UsageError, match="Server and Offline"):
        mlperf("app mlperf inference _null _find-performance", scenario="SingleStream")
    with pytest.raises(UsageError, match="_find-performance first"):
        mlperf("app mlperf inference _find-performance _submission")


def test_submission_tree(digits_home: Path, tmp_path: Path) -> None:
    from _submission_rules import check_tree

    from cmpy.loadgen import read_user_conf

    where = tmp_path / "submission"
    r = mlperf(
        "app mlperf inference _submission",
        scenario="Offline",
        submission_dir=str(where),
        submitter="Tester_Inc",
        system_name="box1",
        output_dir=str(tmp_path / "out"),
    )
    assert r["CMPY_MLPERF_SUBMISSION_DIR"] == str(where)
    made = r.state["mlperf_submission"]
    system = check_tree(
        where,
        division="open",
        submitter="Tester_Inc",
        system="box1",
        benchmark="digits",
        scenarios=["Offline"],
        round_name=made["round"],
        output_dir=tmp_path / "out",
    )
    assert system["system_name"] == "box1" and system["division"] == "open"
    assert system["framework"].startswith("onnxruntime ")
    assert int(system["host_processor_core_count"]) >= 1 and system["accelerators_per_node"] == "0"
    assert "not a valid MLPerf result" in system["sw_notes"]

    results = where / "open" / "Tester_Inc" / "results" / "box1" / "digits" / "Offline"
    accuracy = (results / "accuracy" / "accuracy.txt").read_text()
    assert accuracy.startswith("accuracy=9") and "total=450" in accuracy
    readme = (results / "README.md").read_text()
    assert 'cmpy run "app mlperf inference' in readme and "--scenario=Offline" in readme
    conf = read_user_conf(results / "user.conf").lookup("digits", "Offline")
    assert float(conf["target_qps"]) > 0 and conf["min_duration"] == str(SHORT)
    details = json.loads((results / "measurements.json").read_text())
    assert details["starting_weights_filename"] == "digits.onnx"
    assert made["expected_failures"].keys() == {
        "performance_sample_count",
        "dataset_size",
        "min_duration",
    }
    # the submitter is a folder name the checker compares with the systems JSON
    with pytest.raises(UsageError, match="cannot name a folder") as info:
        mlperf("app mlperf inference _null _submission", mode="both", submitter="Tester Inc")
    assert "generate mlperf-inference submission" in str(info.value)  # the runs are kept


def test_usage_errors_before_anything_runs(digits_home: Path) -> None:
    with pytest.raises(UsageError, match="unknown LoadGen scenario") as info:
        mlperf(scenario="Ofline")
    assert "Offline" in str(info.value)
    with pytest.raises(UsageError, match="unknown LoadGen mode"):
        mlperf(mode="fast")
    with pytest.raises(UsageError, match="not a positive number"):
        mlperf(target_qps="-5")
    with pytest.raises(UsageError, match="has 450 samples"):
        mlperf(count=1000)
    with pytest.raises(UsageError, match="no such file"):
        mlperf(user_conf="/nonexistent/user.conf")
    with pytest.raises(UsageError, match="neither yes nor no"):
        mlperf(no_wait="maybe")


def test_no_wait_refuses_while_the_benchmark_lock_is_held(
    digits_home: Path, benchmark_lock: Path
) -> None:
    from cmpy.loadgen import BenchmarkLock

    with BenchmarkLock("a test holding the lock"):
        with pytest.raises(CmpyError, match="another benchmark is running") as info:
            mlperf("app mlperf inference _null", no_wait=True)
        assert f"{benchmark_lock} is held by pid {os.getpid()} (a test holding the lock)" in str(
            info.value
        )
        # an accuracy run measures nothing: it does not need the lock
        r = mlperf("app mlperf inference _null", no_wait=True, mode="accuracy")
        assert r["CMPY_MLPERF_MODES"] == "accuracy"
    assert mlperf("app mlperf inference _null", no_wait=True)["CMPY_MLPERF_RESULT_VALIDITY"]


def test_a_missing_cuda_provider_is_a_clear_error(digits_home: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has onnxruntime's CUDA provider")
    with pytest.raises(ToolNotFound, match="CUDAExecutionProvider") as info:
        mlperf("app mlperf inference _cuda")
    assert "CPUExecutionProvider" in str(info.value)


@pytest.fixture
def resnet50_mirror() -> Iterator[dict[str, dict[str, object]]]:
    """adr pointing the ResNet50 chain at stand-ins on a local server."""
    from test_recipes_ml import Mirror, md5

    with LocalHTTPServer() as server:
        mirror = Mirror(server)
        yield {
            "model": {"inputs": mirror.model_inputs},
            "imagenet": {
                "inputs": {"url": mirror.imagenet_inputs["url"], "md5": md5(mirror.images)}
            },
            "imagenet-aux": {
                "inputs": {"url": server.url("/caffe_ilsvrc12.tar.gz"), "md5": md5(mirror.labels)}
            },
        }


@pytest.mark.slow
def test_resnet50_chain_with_stand_ins(resnet50_mirror: dict[str, dict[str, object]]) -> None:
    r = run(
        "app mlperf inference _resnet50",
        scenario="Offline",
        mode="both",
        min_duration=SHORT,
        adr=resnet50_mirror,
        quiet=True,
    )
    assert r["CMPY_MLPERF_MODEL"] == "resnet50" and r["CMPY_MLPERF_RESULT_VALIDITY"] == "VALID"
    document = r.state["mlperf"]
    assert document["samples"] == 3 and document["dataset"] == "imagenet"
    accuracy = document["results"]["Offline"]["accuracy"]
    # the ArgMax:0 output (one int64 per sample) is scored, its class 0 being "background"
    assert accuracy["harness"]["output_dtype"] == "int64"
    assert accuracy["accuracy"]["count"] == 3
    settings = document["results"]["Offline"]["performance"]["settings"]
    assert settings["model"] == "resnet50" and settings["performance_sample_count"] == 3


@pytest.mark.slow
def test_resnet50_submission_tree(
    resnet50_mirror: dict[str, dict[str, object]], tmp_path: Path
) -> None:
    """The ResNet50 tree (stand-in files, 3 images): resnet's layout, no model mapping."""
    from _submission_rules import check_tree

    r = run(
        "app mlperf inference _resnet50 _submission",
        scenario="Offline",
        min_duration=SHORT,
        adr=resnet50_mirror,
        output_dir=str(tmp_path / "out"),
        submission_dir=str(tmp_path / "tree"),
        system_name="box1",
        quiet=True,
    )
    made = r.state["mlperf_submission"]
    assert made["benchmark"] == "resnet"
    check_tree(
        tmp_path / "tree",
        division="open",
        submitter="cmpy",
        system="box1",
        benchmark="resnet",
        scenarios=["Offline"],
        round_name=made["round"],
        output_dir=tmp_path / "out",
    )
    root = tmp_path / "tree" / "open" / "cmpy"
    assert not (root / "model_mapping.json").exists()
    details = json.loads(
        (root / "results" / "box1" / "resnet" / "Offline" / "measurements.json").read_text()
    )
    assert details["starting_weights_filename"].endswith(".onnx")
    # 3 images and short runs: what a full ImageNet _official run would not fail
    assert made["expected_failures"].keys() == {
        "performance_sample_count",
        "dataset_size",
        "min_duration",
    }
