"""MLPerf submission trees that MLPerf's own checker takes, and running that checker.

The trees come from short, real LoadGen runs of the null backend over the
digits data set (and one of the digits model), built once for the module;
each is held file by file to the checker's rules (``_submission_rules``).
The checkers are stand-ins: small scripts in the checker's place and log
format, in a folder or a local bare git repository. No test needs the
network: PyYAML, which the real checker imports, is the installed one or a
stand-in distribution.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _submission_rules import SEEDS, check_tree

import cmpy.testing
from cmpy import CmpyError, Result, UsageError, run

pytest.importorskip("numpy")
pytest.importorskip("sklearn")
pytest.importorskip("mlperf_loadgen")

SHORT = 300  # ms
SYSTEM = "box1"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One short _null run of SingleStream and Offline with _submission, for the module."""
    home = tmp_path_factory.mktemp("home")
    out = tmp_path_factory.mktemp("out")
    with pytest.MonkeyPatch.context() as mp, cmpy.testing.isolated(home):
        mp.setenv("CMPY_BENCHMARK_LOCK", str(home / "benchmark.lock"))
        r = run(
            "app mlperf inference _null _submission",
            scenario="SingleStream,Offline",
            min_duration=SHORT,
            output_dir=str(out),
            system_name=SYSTEM,
            quiet=True,
        )
        yield {"result": r, "out": out, "home": home}


def generate(made: dict[str, Any], top: Path, **inputs: Any) -> Result:
    """The tree again from the module's runs, elsewhere (``generate mlperf-inference submission``)."""
    return run(
        "generate mlperf-inference submission",
        results_dir=str(made["out"]),
        submission_dir=str(top),
        system_name=SYSTEM,
        quiet=True,
        **inputs,
    )


def test_the_tree_passes_the_checkers_rules(made: dict[str, Any]) -> None:
    r = made["result"]
    round_name = r.state["mlperf_submission"]["round"]
    # this LoadGen logs its round's seeds: the round was chosen by its version
    assert round_name in SEEDS
    described = check_tree(
        made["out"] / "submission",
        division="open",
        submitter="cmpy",
        system=SYSTEM,
        benchmark="digits",
        scenarios=["SingleStream", "Offline"],
        round_name=round_name,
        output_dir=made["out"],
    )
    assert described["accelerators_per_node"] == "0"
    assert described["accelerator_model_name"] == "N/A"
    assert described["framework"] == "none (null backend)"
    assert described["host_storage_capacity"].endswith("B") and described["host_storage_type"]
    assert described["system_type"] == "datacenter,edge" or "edge" in described["system_type"]
    assert "cooling" in described["hw_notes"]  # what the machine could not tell is said
    root = made["out"] / "submission" / "open" / "cmpy"
    offline = root / "results" / SYSTEM / "digits" / "Offline"
    details = json.loads((offline / "measurements.json").read_text())
    assert details["starting_weights_filename"].startswith("N/A")  # the null backend has none
    readme = (offline / "README.md").read_text()
    assert "--scenario=Offline --mode=both --user_conf=user.conf" in readme
    assert "app mlperf inference _cpu _digits _null" in readme
    assert str(made["out"] / "Offline" / "accuracy" / "mlperf_log_accuracy.json") in readme
    for check in ("performance_sample_count", "dataset_size", "min_duration"):
        assert check in readme
    # src/: the command, the versions of what ran, the recipe modules
    here = root / "src" / "digits" / SYSTEM
    versions = json.loads((here / "versions.json").read_text())
    ran = {e["recipe"]: e for e in versions["recipes"]}
    assert {"app-mlperf-inference", "get-loadgen", "generate-mlperf-inference-submission"} <= set(
        ran
    )
    assert ran["get-loadgen"]["version"] == versions["packages"]["mlcommons-loadgen"]
    assert versions["cmpy"] == cmpy.__version__ and versions["command"].startswith("cmpy run")
    assert (here / "recipes" / "mlperf.py").is_file() and (here / "recipes" / "system.py").is_file()
    assert "recipes/mlperf.py" in versions["recipe_modules"]
    # no checker was asked for nor cached: one line says so, and how to check
    check = r.state["mlperf_submission"]["check"]
    assert check["verdict"] == "not-checked"
    [line] = check["summary"]
    assert line.startswith("not checked") and "--checker=" in line


def test_the_accuracy_log_is_cut_and_hashed_as_truncate_accuracy_log_does(
    tmp_path: Path,
) -> None:
    from cmpy.recipes.mlperf_layout import truncate_accuracy_log

    whole = b"[\n" + b"".join(b'{ "seq_id" : %d, "data" : "00" },\n' % i for i in range(2000))
    source, cut = tmp_path / "log.json", tmp_path / "cut.json"
    source.write_bytes(whole)
    assert truncate_accuracy_log(source, cut) == hashlib.sha256(whole).hexdigest()
    assert cut.read_bytes() == whole[:4096] + b"\n\n...\n\n" + whole[-4096:]
    source.write_bytes(whole[:5000])  # small enough: kept whole
    truncate_accuracy_log(source, cut)
    assert cut.read_bytes() == whole[:5000]


def test_an_older_rounds_layout(made: dict[str, Any], tmp_path: Path) -> None:
    r = generate(made, tmp_path, submission_round="5.1", checker="no")
    assert r["CMPY_MLPERF_SUBMISSION_ROUND"] == "v5.1"
    assert "as asked" in r.state["mlperf_submission"]["round_reason"]
    check_tree(
        tmp_path,
        division="open",
        submitter="cmpy",
        system=SYSTEM,
        benchmark="digits",
        scenarios=["SingleStream", "Offline"],
        round_name="v5.1",
        output_dir=made["out"],
        own_seeds=made["result"].state["mlperf_submission"]["round"] == "v5.1",
    )
    root = tmp_path / "open" / "cmpy"
    assert (root / "code").is_dir() and not (root / "src").exists()
    assert r["CMPY_MLPERF_CHECK_VERDICT"] == "not-checked"


def test_usage_errors(made: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a round cmpy can lay out") as info:
        generate(made, tmp_path, submission_round="v4.1")
    assert "v6.1" in str(info.value)
    with pytest.raises(UsageError, match="only go to the open division"):
        generate(made, tmp_path, division="closed")
    with pytest.raises(UsageError, match="cannot name a folder"):
        generate(made, tmp_path, submitter="../evil")
    with pytest.raises(UsageError, match="cannot name a folder"):
        generate(made, tmp_path, submitter="Tester Inc")
    with pytest.raises(UsageError, match="no MLPerf submission checker there"):
        generate(made, tmp_path, checker=str(tmp_path / "nowhere"))
    # a scenario without its accuracy run cannot make a tree the checker reads
    partial = tmp_path / "partial"
    shutil.copytree(made["out"] / "Offline" / "performance", partial / "Offline" / "performance")
    with pytest.raises(UsageError, match="no accuracy run"):
        run("generate mlperf-inference submission", results_dir=str(partial), quiet=True)


def test_system_meta_and_env_fill_what_the_machine_cannot_tell(
    made: dict[str, Any], tmp_path: Path
) -> None:
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"cooling": "air", "host_networking": "1x 10 GbE", "extra": 3}))
    r = generate(
        made,
        tmp_path / "tree",
        system_meta=str(meta),
        checker="no",
        env={
            "CMPY_SYSTEM_META_ACCELERATOR_ON_CHIP_MEMORIES": "none",
            "CMPY_SYSTEM_META_COOLING": "liquid",
        },
    )
    described = json.loads(Path(r["CMPY_MLPERF_SUBMISSION_SYSTEM_JSON"]).read_text())
    assert described["cooling"] == "liquid"  # --env beats the file
    assert described["host_networking"] == "1x 10 GbE" and described["extra"] == "3"
    assert described["accelerator_on-chip_memories"] == "none"
    assert (
        "cooling" not in described["hw_notes"] and "host_networking," not in described["hw_notes"]
    )
    for bad, match in (
        ("[1, 2]", "not an object"),
        ("{not json", "is not JSON"),
        ('{"cooling": ""}', "leaves empty what MLPerf's checker needs: cooling"),
        ('{"accelerators_per_node": "two"}', "is not a whole number"),
        ('{"status": "soon"}', "status 'soon'"),
        ('{"submitter": "someone-else"}', "the checker needs them to agree"),
        ('{"cooling": {"kind": "air"}}', "not text or a number"),
    ):
        meta.write_text(bad)
        with pytest.raises(UsageError, match=match):
            generate(made, tmp_path / "tree", system_meta=str(meta), checker="no")
    with pytest.raises(UsageError, match="No such file"):
        generate(made, tmp_path / "tree", system_meta=str(tmp_path / "none.json"), checker="no")


# -- MLPerf's checker, played by stand-ins ----------------------------------------------

CHECKER = '''\
"""A stand-in for MLPerf's submission checker: its arguments, its log format, its verdict."""
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_CHECKER_ARGS"], "w") as fh:
    json.dump({"args": args, "cwd": os.getcwd()}, fh)
stamp = "[2026-12-01 10:00:00,000 {file}:1 {level}] {text}"
for level, text in @LINES@:
    print(stamp.format(file="checks.py", level=level, text=text), file=sys.stderr)
print(stamp.format(file="main.py", level="INFO", text="Results=0, NoResults=1, Power Results=0"), file=sys.stderr)
print(stamp.format(file="main.py", level="@LEVEL@", text="SUMMARY: @SUMMARY@"), file=sys.stderr)
sys.exit(@CODE@)
'''


def fake_checker(root: Path, lines: list[tuple[str, str]], *, ok: bool) -> Path:
    """An inference checkout whose tools/submission/submission_checker/ is ``CHECKER``."""
    package = root / "tools" / "submission" / "submission_checker"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    text = CHECKER.replace("@LINES@", repr(lines)).replace("@CODE@", "0" if ok else "1")
    text = text.replace("@LEVEL@", "INFO" if ok else "ERROR")
    text = text.replace("@SUMMARY@", "submission looks OK" if ok else "submission has errors")
    (package / "main.py").write_text(text)
    return root


@pytest.fixture
def pyyaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyYAML as get generic-python-lib sees it: installed, or a stand-in distribution (no pip)."""
    try:
        importlib.metadata.distribution("pyyaml")
        return
    except importlib.metadata.PackageNotFoundError:
        pass
    info = tmp_path / "site" / "PyYAML-6.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


@pytest.fixture
def args_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "checker-args.json"
    monkeypatch.setenv("FAKE_CHECKER_ARGS", str(path))
    return path


@pytest.mark.usefixtures("pyyaml")
def test_a_checker_that_passes(made: dict[str, Any], tmp_path: Path, args_file: Path) -> None:
    checker = fake_checker(tmp_path / "inference", [], ok=True)
    # the tools/submission folder does as well as the checkout
    r = generate(made, tmp_path / "tree", checker=str(checker / "tools" / "submission"))
    assert r["CMPY_MLPERF_CHECK_VERDICT"] == "passed"
    called = json.loads(args_file.read_text())
    round_name = r["CMPY_MLPERF_SUBMISSION_ROUND"]
    assert called["args"][:3] == [
        f"--input={tmp_path / 'tree'}",
        f"--version={round_name}",
        "--submitter=cmpy",
    ]
    assert called["cwd"] == str(checker / "tools" / "submission")
    summary = r.state["mlperf_submission"]["check"]["summary"]
    assert summary == ["Results=0, NoResults=1, Power Results=0", "SUMMARY: submission looks OK"]


@pytest.mark.usefixtures("pyyaml", "args_file")
def test_submission_fails_on_the_checkers_errors(made: dict[str, Any], tmp_path: Path) -> None:
    checker = fake_checker(
        tmp_path / "inference",
        [
            ("ERROR", "/x/open/cmpy/results/box1 system json file not found"),
            ("WARNING", "Execution of check endpoints_model_check skipped for /x"),
            ("ERROR", "Some system checks Checks failed for: /x/open/cmpy/results/box1"),
            (
                "ERROR",
                "/x/Offline/performance/run_1 performance_sample_count, found 450, needs to be >= 1024",
            ),
        ],
        ok=False,
    )
    with pytest.raises(CmpyError, match="rejects") as info:
        run(
            "app mlperf inference _null _submission",
            scenario="Offline",
            min_duration=SHORT,
            output_dir=str(tmp_path / "out"),
            checker=str(checker),
            quiet=True,
        )
    text = str(info.value)
    assert "| /x/open/cmpy/results/box1 system json file not found" in text
    assert "Checks failed for" not in text and "endpoints_model_check" not in text
    assert "SUMMARY: submission has errors" in text
    assert "expected and not counted: performance_sample_count" in text
    assert "checker.log" in text  # where the whole output is


@pytest.mark.usefixtures("pyyaml", "args_file")
def test_failures_by_construction_are_reported_not_fatal(
    made: dict[str, Any], tmp_path: Path
) -> None:
    checker = fake_checker(
        tmp_path / "inference",
        [
            (
                "ERROR",
                "/x/run_1/mlperf_log_detail.txt performance_sample_count, found 450, needs to be >= 1024",
            ),
            (
                "ERROR",
                "/x/run_1/mlperf_log_detail.txt Test duration less than 600s in user config. expected=600000, found=300",
            ),
            (
                "ERROR",
                "/x/accuracy accurcy run does not cover all dataset, accuracy samples: 450, dataset size: 50000",
            ),
            ("ERROR", "NoResults /x/run_1/mlperf_log_detail.txt"),
        ],
        ok=False,
    )
    r = generate(made, tmp_path / "tree", checker=str(checker))
    assert r["CMPY_MLPERF_CHECK_VERDICT"] == "passed-but-expected"
    assert set(r["CMPY_MLPERF_CHECK_EXPECTED"].split(",")) == {
        "performance_sample_count",
        "min_duration",
        "dataset_size",
    }
    # the checker alone, told nothing is expected, fails on the same output
    with pytest.raises(CmpyError, match="performance_sample_count, found 450"):
        run(
            "run mlperf inference submission-checker",
            submission_dir=str(tmp_path / "tree"),
            checker=str(checker),
            quiet=True,
        )


@pytest.mark.usefixtures("pyyaml", "args_file")
def test_a_checker_that_crashes(made: dict[str, Any], tmp_path: Path) -> None:
    checker = tmp_path / "inference"
    package = checker / "tools" / "submission" / "submission_checker"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text("raise KeyError('host_processor_model_name')\n")
    with pytest.raises(CmpyError, match="KeyError: 'host_processor_model_name'"):
        generate(made, tmp_path / "tree", checker=str(checker))


# -- get mlperf inference src, from a local bare repository --------------------------------


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def inference_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A bare repository laid out like mlcommons/inference, with the stand-in checker."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    for key, value in {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
    }.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "gitconfig").write_text("")
    bare, work = tmp_path / "inference.git", tmp_path / "work"
    git("init", "-q", "--bare", "-b", "master", str(bare), cwd=tmp_path)
    git("init", "-q", "-b", "master", str(work), cwd=tmp_path)
    (work / "README.md").write_text("not the checker yet\n")
    git("add", "-A", cwd=work)
    git("commit", "-qm", "before the checker", cwd=work)
    before = git("rev-parse", "HEAD", cwd=work)
    fake_checker(work, [], ok=True)
    (work / "loadgen").mkdir()
    (work / "loadgen" / "VERSION.txt").write_text("6.0.17\n")
    git("add", "-A", cwd=work)
    git("commit", "-qm", "the checker", cwd=work)
    git("remote", "add", "origin", bare.as_uri(), cwd=work)
    git("push", "-q", "origin", "master", cwd=work)
    return {"url": bare.as_uri(), "head": git("rev-parse", "HEAD", cwd=work), "before": before}


def test_get_mlperf_inference_src(inference_repo: dict[str, str]) -> None:
    r = run("get mlperf inference src", url=inference_repo["url"], quiet=True)
    assert r["CMPY_MLPERF_INFERENCE_COMMIT"] == inference_repo["head"]  # its default branch
    tools = Path(r["CMPY_MLPERF_INFERENCE_SUBMISSION_TOOLS"])
    assert (tools / "submission_checker" / "main.py").is_file()
    assert tools == Path(r["CMPY_MLPERF_INFERENCE_SOURCE"]) / "tools" / "submission"
    assert r.version == "6.0.17"
    again = run("get mlperf inference src", url=inference_repo["url"], quiet=True)
    assert again.cached and again.env == r.env
    with pytest.raises(CmpyError, match="has no MLPerf submission checker"):
        run(
            "get mlperf inference src",
            url=inference_repo["url"],
            sha=inference_repo["before"],
            quiet=True,
        )
    with pytest.raises(UsageError, match="not a valid url"):
        run("get mlperf inference src", url="--upload-pack=touch /tmp/x", quiet=True)


def test_the_pin_is_for_mlcommons_inference() -> None:
    from cmpy.recipes import mlperf_checker

    assert mlperf_checker.INFERENCE_URL == "https://github.com/mlcommons/inference"
    assert len(mlperf_checker.INFERENCE_COMMIT) == 40
    described = cmpy.show("get-mlperf-inference-src")
    assert mlperf_checker.INFERENCE_COMMIT[:12] in described["inputs"]["sha"]["help"]


@pytest.mark.usefixtures("pyyaml")
def test_submission_checks_with_the_fetched_checker(
    made: dict[str, Any], tmp_path: Path, inference_repo: dict[str, str], args_file: Path
) -> None:
    url = {"CMPY_MLPERF_INFERENCE_SRC_URL": inference_repo["url"]}
    # not fetched yet: never the network unless asked
    r = generate(made, tmp_path / "tree", env=url)
    assert r["CMPY_MLPERF_CHECK_VERDICT"] == "not-checked" and not args_file.exists()
    r = generate(made, tmp_path / "tree", env=url, checker="fetch")
    assert r["CMPY_MLPERF_CHECK_VERDICT"] == "passed" and args_file.exists()
    args_file.unlink()
    # fetched once, it is used from the cache without asking
    r = generate(made, tmp_path / "tree", env=url)
    assert r["CMPY_MLPERF_CHECK_VERDICT"] == "passed" and args_file.exists()


# -- the round a LoadGen belongs to ----------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("5.0.8", None),
        ("5.0.9", "v5.0"),
        ("5.0.21", "v5.0"),
        ("5.0.22", "v5.1"),
        ("5.1.2", "v5.1"),
        ("6.0.4", "v5.1"),
        ("6.0.5", "v6.0"),
        ("6.0.15", "v6.0"),
        ("6.0.16", "v6.1"),
        ("6.0.17 @ d6147c7eb7", "v6.1"),
        ("6.1.0", None),
        ("7.0.0", None),
        ("unknown", None),
    ],
)
def test_loadgen_round(version: str, expected: str | None) -> None:
    from cmpy.recipes.mlperf_rules import loadgen_round

    found = loadgen_round(version)
    assert (found.name if found else None) == expected


def test_choose_round() -> None:
    from cmpy.recipes.mlperf_rules import choose_round

    v61, v60 = SEEDS["v6.1"], SEEDS["v6.0"]
    assert choose_round("", "6.0.17", {v61})[0].name == "v6.1"
    # a LoadGen newer than the table: the seeds its runs logged decide
    chosen, why = choose_round("", "6.1.3", {v60})
    assert chosen.name == "v6.0" and "seeds" in why
    with pytest.raises(UsageError, match="--submission_round="):
        choose_round("", "7.0.0", {(1, 2, 3)})
    chosen, why = choose_round("V6.0", "6.0.17", {v61})
    assert chosen.name == "v6.0" and "will reject them" in why


def test_read_output_sorts_the_checkers_log() -> None:
    from cmpy.recipes.mlperf_checker import read_output

    output = "\n".join(
        [
            "[2026-12-01 10:00:00,000 performance_check.py:1 ERROR] /p performance_sample_count, found 450, needs to be >= 1024",
            "[2026-12-01 10:00:00,000 base.py:58 ERROR] Some performance checks Checks failed for: /p",
            "ERROR:main:/q system json file not found",
            "INFO:main:Results=0, NoResults=1, Power Results=0",
            "[2026-12-01 10:00:00,000 main.py:1 INFO] Open Systems=0, Open Power Systems=0",
            "[2026-12-01 10:00:00,000 main.py:1 ERROR] SUMMARY: submission has errors",
            "a traceback line",
        ]
    )
    verdict = read_output(output, 1, ["performance_sample_count"])
    assert verdict.errors == ["/q system json file not found"]
    assert list(verdict.expected) == ["performance_sample_count"]
    assert verdict.summary == [
        "Results=0, NoResults=1, Power Results=0",
        "Open Systems=0, Open Power Systems=0",
        "SUMMARY: submission has errors",
    ]
    assert not verdict.passed
    assert read_output(
        output.replace("ERROR:main:/q", "INFO:main:/q"), 1, ["performance_sample_count"]
    ).passed


# -- --test_query_count, CM's name for --count -------------------------------------------------


def test_test_query_count_is_count(made: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMPY_HOME", str(made["home"]))  # the digits data set is there already
    by_count = run("app mlperf inference _null", mode="accuracy", count=100, quiet=True)
    by_alias = run("app mlperf inference _null", mode="accuracy", test_query_count=100, quiet=True)
    for r in (by_count, by_alias):
        assert r.state["mlperf"]["samples"] == 100
        assert r.state["mlperf"]["results"]["Offline"]["accuracy"]["accuracy"]["count"] == 100
    assert run(
        "app mlperf inference _null", mode="accuracy", count=100, test_query_count=100, quiet=True
    )
    with pytest.raises(UsageError, match="ask for different counts"):
        run("app mlperf inference _null", count=100, test_query_count=50, quiet=True)
    with pytest.raises(UsageError, match="--test_query_count='x' is not a positive whole number"):
        run("app mlperf inference _null", test_query_count="x", quiet=True)
    with pytest.raises(UsageError, match="has 450 samples"):
        run("app mlperf inference _null", test_query_count=1000, quiet=True)


def test_the_checker_runs_in_the_interpreter_given_pyyaml(
    made: dict[str, Any], tmp_path: Path, args_file: Path, pyyaml: None
) -> None:
    checker = fake_checker(tmp_path / "inference", [], ok=True)
    r = run(
        "run mlperf inference submission-checker",
        submission_dir=str(made["out"] / "submission"),
        checker=str(checker),
        quiet=True,
    )
    assert r["CMPY_MLPERF_CHECK_VERDICT"] == "passed"
    lib = r.find("get-generic-python-lib")
    assert lib is not None and lib["CMPY_PYTHON_PACKAGE_NAME"] == "pyyaml"


def test_cmpy_never_imports_yaml() -> None:
    """The checker needs PyYAML; cmpy and its recipe modules do not import it."""
    code = (
        "import sys, cmpy, cmpy.recipes.mlperf_checker, cmpy.recipes.mlperf_submission,"
        " cmpy.recipes.mlperf; print('yaml' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_system_fields_of_a_cuda_run() -> None:
    from cmpy.recipes.mlperf_system import describe_system, detected_fields

    env = {
        "CMPY_HOST_CPU_MODEL": "AMD EPYC 9654",
        "CMPY_HOST_CPU_SOCKETS": "2",
        "CMPY_HOST_CPU_PHYSICAL_CORES": "192",
        "CMPY_HOST_CPU_MAX_FREQUENCY_MHZ": "3700",
    }
    nvidia_smi = {
        "CMPY_GPU_NAME": "NVIDIA H200",
        "CMPY_GPU_COUNT": "8",
        "CMPY_GPU_MEMORY": "143771",
    }
    fields = describe_system(
        detected_fields(
            env,
            system_name="big",
            scenarios=["Server", "Offline"],
            framework="onnxruntime 1.20",
            software="Python 3.11",
            gpu=nvidia_smi,
            official=True,
        ),
        division="open",
        submitter="cmpy",
        meta={},
        overrides={},
    )
    assert (
        fields["accelerators_per_node"] == "8" and fields["accelerator_model_name"] == "NVIDIA H200"
    )
    assert fields["accelerator_memory_capacity"] == "140.4 GiB"
    assert fields["host_processor_core_count"] == "96"  # per processor, as MLPerf counts
    assert (
        fields["host_processor_frequency"] == "3700 MHz" and fields["system_type"] == "datacenter"
    )
    assert fields["sw_notes"] == ""  # an _official run has nothing to excuse
    # nvidia-smi missing: still the one GPU the run used, its name unknown
    fields = describe_system(
        detected_fields(
            env,
            system_name="big",
            scenarios=["SingleStream"],
            framework="f",
            software="s",
            gpu={},
            official=False,
        ),
        division="open",
        submitter="cmpy",
        meta={},
        overrides={},
    )
    assert fields["accelerators_per_node"] == "1" and fields["accelerator_model_name"] == "N/A"
    assert "accelerator_model_name" in fields["hw_notes"] and fields["system_type"] == "edge"
