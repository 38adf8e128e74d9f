"""MLPerf inference recipes: ``get loadgen`` and ``app mlperf inference``.

``app mlperf inference`` drives a model with MLPerf LoadGen through
:mod:`cmpy.loadgen` in any of the four scenarios and prints what LoadGen
judged. With nothing named it benchmarks the embedded default: a classifier
trained on scikit-learn's digits, run by onnxruntime on the CPU, which needs
no download. It is not cached: a benchmark is a measurement, and running it
again measures again; the models and data sets it uses are cached.

Each run leaves LoadGen's logs and a ``results.json`` in
``OUTPUT_DIR/<Scenario>/<mode>/``, and ``OUTPUT_DIR/results.json`` holding
them all. ``_find-performance`` searches the load instead (the highest Server
target QPS that stays VALID, an Offline expected QPS) and writes a user.conf
with what it found (see ``recipes/mlperf_search.py``); ``_submission`` lays
the results out as an MLPerf submission (see ``recipes/mlperf_submission.py``).

Ctrl-C (or SIGTERM, SIGHUP) during a run stops it within a fraction of a
second, whatever its duration: the run's partial logs are removed, no
``results.json`` is written for it or for ``OUTPUT_DIR``, and cmpy exits
with 130 (128 + the signal) after one line saying what was interrupted. The
runs that had finished keep their logs and ``results.json``. A performance
run (a ``_find-performance`` probe and a calibration too) first takes the
machine-wide benchmark lock (``/tmp/cmpy-benchmark.lock``, or
``$CMPY_BENCHMARK_LOCK``): a second benchmark waits, saying once whom it
waits for, or with ``--no_wait`` fails at once.

The packages the bodies import (numpy, onnxruntime, mlperf_loadgen) are asked
of ``get generic-python-lib`` with its python pinned to the interpreter
running cmpy, as ``recipes/ml_common.py`` explains.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from cmpy import Ctx, Dep, Result, ToolNotFound, UsageError, Variation, script

from .ml_common import HOST_PYTHON_ADR, need_packages
from .mlperf_search import MAX_PROBES, find_performance

if TYPE_CHECKING:
    from cmpy.loadgen import Backend, Dataset, LoadgenSettings, ResultRecord

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
# LoadGen's performance sample count for ResNet50 (mlperf.conf); a smaller
# data set must say how many samples it has instead.
PERFORMANCE_SAMPLES = 1024
# Data sets larger than this are memory-mapped rather than read into memory.
MMAP_BYTES = 1 << 30


@script(
    tags="get loadgen mlperf-loadgen mlcommons-loadgen",
    alias="get-loadgen",
    uid="da8f879ffd738fd6",
    reads=["CMPY_HOST_PYTHON"],
    exports=["CMPY_MLPERF_LOADGEN_*"],
)
def get_loadgen(ctx: Ctx) -> Result:
    """Make MLPerf LoadGen's Python module (mlperf_loadgen) importable here; export its version."""
    import importlib

    constraint = {"version": ctx.version_spec} if ctx.version_spec else {}
    got = ctx.run_sync(
        "get generic-python-lib _mlcommons-loadgen", adr=HOST_PYTHON_ADR, **constraint
    )
    host = ctx.env.get("CMPY_HOST_PYTHON") or sys.executable
    try:
        module = importlib.import_module("mlperf_loadgen")
    except ImportError as exc:
        raise ToolNotFound(
            f"the Python module mlperf_loadgen in {host} ({exc})",
            hint="mlcommons-loadgen is installed but does not import: reinstall it "
            "(pip install --force-reinstall mlcommons-loadgen)",
        ) from None
    version = got["CMPY_PYTHON_PACKAGE_VERSION"]
    return Result(
        env={
            "CMPY_MLPERF_LOADGEN_VERSION": version,
            "CMPY_MLPERF_LOADGEN_PYTHON": host,
            "CMPY_MLPERF_LOADGEN_MODULE": str(getattr(module, "__file__", "") or ""),
        },
        version=version,
    )


class Options(NamedTuple):
    """The app's inputs, checked."""

    scenarios: tuple[str, ...]
    modes: str
    official: bool
    target_qps: float | None
    target_latency_ms: float | None
    min_duration_ms: int | None
    first: int | None
    max_batchsize: int
    threads: int | None
    user_conf: str | None
    probes: int
    output_dir: Path
    no_wait: bool


def _number(name: str, text: str, kind: type[int] | type[float]) -> Any:
    """A positive number from an input ("" is None)."""
    text = text.strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if not (value > 0 and math.isfinite(value)):
        word = "whole number" if kind is int else "number"
        raise UsageError(f"--{name}={text!r} is not a positive {word}")
    return value


def _flag(name: str, text: str) -> bool:
    """A yes/no input ("" is no)."""
    word = text.strip().lower()
    if word in ("", "no", "false", "0", "off"):
        return False
    if word in ("yes", "true", "1", "on"):
        return True
    raise UsageError(f"--{name}={text!r} is neither yes nor no", hint=f"write --{name} alone")


def parse_scenarios(text: str) -> tuple[str, ...]:
    """``"all"``, one scenario, or several separated by commas, in MLPerf's order."""
    from cmpy.loadgen import Scenario

    words = [w for w in text.replace(",", " ").split() if w]
    if any(w.lower() == "all" for w in words):
        return SCENARIOS
    chosen = {Scenario.parse(w).value for w in words} or {"Offline"}
    return tuple(s for s in SCENARIOS if s in chosen)


def read_options(ctx: Ctx) -> Options:
    """The inputs of ``app mlperf inference``, validated.

    :raises UsageError: a value out of range, or an unknown scenario or mode.
    """
    from cmpy.loadgen import expand_modes

    env = ctx.env
    submission = "submission" in ctx.variations
    modes = env.get("CMPY_MLPERF_MODE", "").strip() or ("both" if submission else "performance")
    expand_modes(modes)  # refuses an unknown mode now, before anything runs
    user_conf = env.get("CMPY_MLPERF_USER_CONF", "").strip()
    if user_conf and not os.path.isfile(user_conf):
        raise UsageError(f"--user_conf={user_conf!r}: no such file")
    output = env.get("CMPY_MLPERF_OUTPUT_DIR", "").strip()
    count = _number("count", env.get("CMPY_MLPERF_COUNT", ""), int)
    # CM's spelling of --count; both given must agree
    alias = _number("test_query_count", env.get("CMPY_MLPERF_TEST_QUERY_COUNT", ""), int)
    if count is not None and alias is not None and count != alias:
        raise UsageError(
            f"--count={count} and --test_query_count={alias} ask for different counts",
            hint="--test_query_count is CM's name for --count: give one of them",
        )
    return Options(
        scenarios=parse_scenarios(env.get("CMPY_MLPERF_SCENARIO", "")),
        modes=modes,
        official="official" in ctx.variations,
        target_qps=_number("target_qps", env.get("CMPY_MLPERF_TARGET_QPS", ""), float),
        target_latency_ms=_number(
            "target_latency", env.get("CMPY_MLPERF_TARGET_LATENCY", ""), float
        ),
        min_duration_ms=_number("min_duration", env.get("CMPY_MLPERF_MIN_DURATION", ""), int),
        first=count if count is not None else alias,
        max_batchsize=_number("max_batchsize", env.get("CMPY_MLPERF_MAX_BATCHSIZE", ""), int) or 64,
        threads=_number("threads", env.get("CMPY_MLPERF_THREADS", ""), int),
        user_conf=os.path.abspath(user_conf) if user_conf else None,
        probes=_number("probes", env.get("CMPY_MLPERF_PROBES", ""), int) or MAX_PROBES,
        output_dir=Path(os.path.abspath(output) if output else ctx.folder),
        no_wait=_flag("no_wait", env.get("CMPY_MLPERF_NO_WAIT", "")),
    )


def _model_dep(model: str, query: str) -> Variation:
    return Variation(
        group="model",
        default=model == "digits",
        env={"CMPY_MLPERF_MODEL": model},
        deps=[
            # the null backend answers without a model: only the data set is needed
            Dep(query, name="model", skip_env={"CMPY_MLPERF_BACKEND": "null"}),
        ],
    )


_INPUTS = {
    "scenario": ("CMPY_MLPERF_SCENARIO", "SingleStream, MultiStream, Server, Offline or all"),
    "mode": ("CMPY_MLPERF_MODE", "performance, accuracy or both (default performance)"),
    "target_qps": ("CMPY_MLPERF_TARGET_QPS", "Server target QPS / Offline expected QPS"),
    "target_latency": (
        "CMPY_MLPERF_TARGET_LATENCY",
        "ms: Server latency bound, SingleStream/MultiStream expected latency",
    ),
    "min_duration": ("CMPY_MLPERF_MIN_DURATION", "ms each run lasts at least (default 2000)"),
    "count": ("CMPY_MLPERF_COUNT", "use the first COUNT samples of the data set"),
    "max_batchsize": ("CMPY_MLPERF_MAX_BATCHSIZE", "the most samples per inference call (64)"),
    "threads": ("CMPY_MLPERF_THREADS", "worker threads for Server and Offline"),
    "user_conf": ("CMPY_MLPERF_USER_CONF", "an MLPerf user.conf (model.Scenario.key = value)"),
    "output_dir": ("CMPY_MLPERF_OUTPUT_DIR", "where the logs go (default: the run's folder)"),
    "probes": ("CMPY_MLPERF_PROBES", "_find-performance: most Server runs to search with (10)"),
    "no_wait": (
        "CMPY_MLPERF_NO_WAIT",
        "fail at once, not wait, while another benchmark holds the machine's benchmark lock",
    ),
    "submission_dir": ("CMPY_MLPERF_SUBMISSION_DIR", "_submission: the tree's root"),
    "division": ("CMPY_MLPERF_DIVISION", "_submission: open or closed (default open)"),
    "submitter": ("CMPY_MLPERF_SUBMITTER", "_submission: the submitter's name"),
    "system_name": ("CMPY_MLPERF_SYSTEM_NAME", "_submission: the system's name"),
    "submission_round": (
        "CMPY_MLPERF_SUBMISSION_ROUND",
        "_submission: the round's layout, v6.1 ... v5.0 (default: the LoadGen's round)",
    ),
    "checker": (
        "CMPY_MLPERF_CHECKER",
        "_submission: MLPerf's checker, an inference checkout; fetch; no (default: a cached one)",
    ),
    "system_meta": (
        "CMPY_MLPERF_SYSTEM_META",
        "_submission: a JSON file of systems JSON fields (cooling, host_networking, ...)",
    ),
    "test_query_count": ("CMPY_MLPERF_TEST_QUERY_COUNT", "CM's name for --count"),
}


@script(
    tags="app mlperf inference mlperf-inference loadgen benchmark",
    alias="app-mlperf-inference",
    uid="db549fb7d5c46b30",
    deps=[
        Dep("get loadgen", name="loadgen"),
        # the held-out split: the digits model never saw it in training
        Dep(
            "get preprocessed dataset digits _val",
            name="dataset",
            when_env={"CMPY_MLPERF_MODEL": "digits"},
        ),
        Dep(
            "get preprocessed dataset imagenet _NCHW",
            name="dataset",
            when_env={"CMPY_MLPERF_MODEL": "resnet50"},
        ),
    ],
    variations={
        "onnxruntime": Variation(
            group="backend", default=True, env={"CMPY_MLPERF_BACKEND": "onnxruntime"}
        ),
        "null": Variation(
            group="backend",
            env={"CMPY_MLPERF_BACKEND": "null"},
            help="answers every sample at once: measures the harness",
        ),
        "cpu": Variation(group="device", default=True, env={"CMPY_MLPERF_DEVICE": "cpu"}),
        "cuda": Variation(group="device", env={"CMPY_MLPERF_DEVICE": "cuda"}),
        "digits": _model_dep("digits", "get ml-model digits _onnx _fp32"),
        "resnet50": _model_dep("resnet50", "get ml-model resnet50 _onnx _fp32"),
        "official": Variation(help="mlperf.conf's durations (Server and Offline run 10 minutes)"),
        "find-performance": Variation(
            help="search the highest VALID Server QPS and an Offline expected QPS"
        ),
        "submission": Variation(help="lay the results out as an MLPerf submission tree"),
    },
    inputs=_INPUTS,
    env={key: "" for key, _help in _INPUTS.values()},
    reads=["CMPY_HOST_PYTHON"],
)
def app_mlperf_inference(ctx: Ctx) -> Result:
    """Benchmark a model with MLPerf LoadGen (default: digits on onnxruntime, CPU) and report."""
    opts = read_options(ctx)
    if {"find-performance", "submission"} <= set(ctx.variations):
        raise UsageError(
            "_find-performance searches the load; _submission needs the runs made with it",
            hint="run _find-performance first, then _submission --user_conf=<the user.conf "
            "it wrote>",
        )
    kind = ctx.env.get("CMPY_MLPERF_BACKEND", "onnxruntime")
    versions = need_packages(ctx, "numpy", *(["onnxruntime"] if kind == "onnxruntime" else []))
    bench = Bench(ctx, opts, versions)
    opts.output_dir.mkdir(parents=True, exist_ok=True)
    if "find-performance" in ctx.variations:
        return find_performance(bench)
    return bench.run_all()


class Bench:
    """What the app runs: the model, the data set, the backend, and how to report."""

    def __init__(self, ctx: Ctx, opts: Options, versions: dict[str, str]) -> None:
        self.ctx = ctx
        self.opts = opts
        self.kind = ctx.env.get("CMPY_MLPERF_BACKEND", "onnxruntime")
        self.device = ctx.env.get("CMPY_MLPERF_DEVICE", "cpu")
        self.model_name = ctx.env.get("CMPY_MLPERF_MODEL", "digits")
        self.model = ctx.deps.get("model")
        self.versions = versions
        self.loadgen = ctx.deps["loadgen"]["CMPY_MLPERF_LOADGEN_VERSION"]
        # on a terminal, a live line while LoadGen runs; never quiet, never --json
        self.progress = ctx.live
        self.dataset = self._dataset()
        self.printed: list[str] = []

    def _dataset(self) -> Dataset:
        import numpy as np

        from cmpy.loadgen import Dataset

        found = self.ctx.deps["dataset"]
        path = found["CMPY_DATASET_PREPROCESSED_DATA_PATH"]
        big = os.path.getsize(path) > MMAP_BYTES
        data = np.load(path, mmap_mode="r" if big else None)
        labels = np.load(found["CMPY_DATASET_PREPROCESSED_LABELS_PATH"]).astype(np.int64)
        count = self.opts.first
        if count is not None:
            if count > len(data):
                raise UsageError(
                    f"--count={count}: the {found['CMPY_DATASET_PREPROCESSED_NAME']} data set "
                    f"has {len(data)} samples"
                )
            data, labels = data[:count], labels[:count]
        if self.model is not None and self.kind != "null":
            # the model numbers classes from its own first one (1 where 0 is "background")
            labels = labels + int(self.model.get("CMPY_ML_MODEL_LABEL_OFFSET") or 0)
        return Dataset(data, labels, name=found["CMPY_DATASET_PREPROCESSED_NAME"])

    @property
    def workers(self) -> int:
        """Worker threads for Server and Offline (the harness's rule when not given)."""
        return self.opts.threads or max(1, min(4, os.cpu_count() or 1))

    def backend(self, scenario: str) -> Backend:
        """A fresh backend for one scenario (the harness closes it after each run)."""
        from cmpy.loadgen import NullBackend, OnnxRuntimeBackend

        if self.kind == "null" or self.model is None:
            return NullBackend()
        queued = scenario in ("Server", "Offline")
        # several workers each running a batch: share the cores between them
        intra = max(1, (os.cpu_count() or 1) // self.workers) if queued else None
        return OnnxRuntimeBackend(
            self.model["CMPY_ML_MODEL_FILE_WITH_PATH"],
            device=self.device,
            threads=intra,
            input_name=self.model["CMPY_ML_MODEL_INPUT_NAME"],
            # the class index alone keeps accuracy logs small, where the model has it
            output_name=self.model.get("CMPY_ML_MODEL_ARGMAX_OUTPUT_NAME")
            or self.model["CMPY_ML_MODEL_OUTPUT_NAME"],
        )

    def settings(self, scenario: str, **changes: Any) -> LoadgenSettings:
        """The LoadGen settings the inputs ask for in ``scenario``."""
        from cmpy.loadgen import LoadgenSettings

        size = len(self.dataset)
        fields: dict[str, Any] = {
            "scenario": scenario,
            "official": self.opts.official,
            "model": self.model_name,
            "min_duration_ms": self.opts.min_duration_ms,
            "target_qps": self.opts.target_qps,
            "target_latency_ms": self.opts.target_latency_ms,
            "performance_sample_count": size if size < PERFORMANCE_SAMPLES else None,
            "user_conf": self.opts.user_conf,
        }
        fields.update(changes)
        return LoadgenSettings(**fields)

    def stopping(self) -> dict[str, Any]:
        """How the harness stops when asked and shares the machine (its keyword arguments).

        ``cancelled``: the body may run in a worker thread, where Ctrl-C
        reaches the executor rather than LoadGen's wait; ``wait``/``notify``:
        the benchmark lock, and where "waiting for it" is said.
        """
        ctx = self.ctx
        return {
            "cancelled": lambda: ctx.cancelled,
            "wait": not self.opts.no_wait,
            "notify": ctx.log,
        }

    def run(self, settings: LoadgenSettings, out: Path, **options: Any) -> ResultRecord:
        """One LoadGen run into ``out`` (stopped, its logs removed, on Ctrl-C)."""
        from cmpy.loadgen import run_benchmark

        return run_benchmark(
            settings,
            self.backend(settings.scenario.value),
            self.dataset,
            out,
            max_batchsize=self.opts.max_batchsize,
            threads=self.opts.threads,
            quiet=not self.progress,
            **self.stopping(),
            **options,
        )

    def say(self, *lines: str) -> None:
        """Print report lines (unless quiet) and keep them for summary.txt."""
        self.printed += lines
        if not self.ctx.quiet:
            print("\n".join(lines), flush=True)

    def header(self) -> str:
        """What is benchmarked, in one line."""
        backend = "null (no inference)" if self.kind == "null" else f"onnxruntime on {self.device}"
        return (
            f"MLPerf inference: model {self.model_name}, backend {backend}, "
            f"{len(self.dataset)} samples of {self.dataset.name}, LoadGen {self.loadgen}"
        )

    def run_all(self) -> Result:
        """Every scenario and mode asked for; the report, results.json and exports."""
        from cmpy.loadgen import expand_modes

        out = self.opts.output_dir
        # an earlier run's report here would read as this one's until it is replaced
        for stale in ("results.json", "summary.txt"):
            (out / stale).unlink(missing_ok=True)
        self.say(self.header())
        if self.kind == "null" and self.device != "cpu":
            self.say(f"note: the null backend runs nothing on {self.device}")
        records: dict[str, dict[str, ResultRecord]] = {}
        seen_notes: set[str] = set()
        for scenario in self.opts.scenarios:
            records[scenario] = {}
            for mode in expand_modes(self.opts.modes):
                record = self.run(self.settings(scenario, mode=mode), out / scenario / mode.value)
                records[scenario][mode.value] = record
                self.say(*describe(record, seen_notes))
        document = {
            "model": self.model_name,
            "backend": self.kind,
            "device": self.device,
            "dataset": self.dataset.name,
            "samples": len(self.dataset),
            "loadgen": self.loadgen,
            "versions": self.versions,
            "results": {s: {m: r.to_dict() for m, r in by.items()} for s, by in records.items()},
        }
        import json

        results = out / "results.json"
        results.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        self.say(f"results: {results}")
        env = self.exports(records)
        env["CMPY_MLPERF_RESULTS_JSON"] = str(results)
        state: dict[str, Any] = {"mlperf": document}
        if "submission" in self.ctx.variations:
            tree = self.submit()
            env["CMPY_MLPERF_SUBMISSION_DIR"] = tree["CMPY_MLPERF_SUBMISSION_DIR"]
            state["mlperf_submission"] = tree.state.get("mlperf_submission", {})
            self.say(f"submission: {env['CMPY_MLPERF_SUBMISSION_DIR']}")
        (out / "summary.txt").write_text("\n".join(self.printed) + "\n", encoding="utf-8")
        return Result(env=env, state=state)

    def exports(self, records: dict[str, dict[str, ResultRecord]]) -> dict[str, str]:
        """The headline figures as env: unprefixed for one scenario, per scenario for several."""
        env = {
            "CMPY_MLPERF_OUTPUT_DIR": str(self.opts.output_dir),
            "CMPY_MLPERF_MODEL": self.model_name,
            "CMPY_MLPERF_BACKEND": self.kind,
            "CMPY_MLPERF_DEVICE": self.device,
            "CMPY_MLPERF_SCENARIOS": ",".join(records),
            "CMPY_MLPERF_MODES": self.opts.modes,
            "CMPY_MLPERF_LOADGEN_VERSION": self.loadgen,
        }
        verdicts: list[str] = []
        reasons: list[str] = []
        for scenario, by_mode in records.items():
            # one scenario: CMPY_MLPERF_ACCURACY; several: CMPY_MLPERF_OFFLINE_ACCURACY, ...
            prefix = "CMPY_MLPERF_" + (f"{scenario.upper()}_" if len(records) > 1 else "")
            env.update({prefix + key: value for key, value in headline_env(by_mode).items()})
            perf = by_mode.get("performance")
            if perf is not None and perf.validity:
                verdicts.append(perf.validity)
                reasons += [f"{scenario}: {r}" for r in perf.invalid_reasons]
        if verdicts:
            valid = all(v == "VALID" for v in verdicts)
            env["CMPY_MLPERF_RESULT_VALIDITY"] = "VALID" if valid else "INVALID"
            if reasons:
                env["CMPY_MLPERF_INVALID_REASON"] = " ".join(reasons)
        return env

    def submit(self) -> Result:
        """Lay the results out as MLPerf asks (``generate mlperf-inference submission``).

        It also writes ``OUTPUT_DIR/provenance.json``: every recipe below this
        run with its version, and the packages the bodies imported, which the
        tree's ``src/`` keeps. The checker's verdict (or why there was none)
        is said with the report.
        """
        import json

        from .mlperf_sources import provenance_of

        ctx = self.ctx
        framework = "none (null backend)"
        if self.kind == "onnxruntime":
            framework = f"onnxruntime {self.versions.get('onnxruntime', '')}".strip()
        variations = " ".join("_" + v for v in ctx.variations if v != "submission")
        inputs = {
            name: ctx.env.get(key, "")
            for name, (key, _help) in _INPUTS.items()
            # the README adds scenario, mode and the user.conf, which holds the load
            if name in ("max_batchsize", "threads") and ctx.env.get(key, "")
        }
        if self.opts.first is not None:
            inputs["count"] = str(self.opts.first)  # --test_query_count too
        command = f'cmpy run "app mlperf inference {variations}"' + "".join(
            f" --{name}={value}" for name, value in sorted(inputs.items())
        )
        provenance = self.opts.output_dir / "provenance.json"
        document = provenance_of(
            list(ctx.deps.values()),
            app=(ctx.recipe, ctx.variations),
            packages={"mlcommons-loadgen": self.loadgen, **self.versions},
        )
        provenance.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        tree = ctx.run_sync(
            "generate mlperf-inference submission",
            results_dir=str(self.opts.output_dir),
            submission_dir=ctx.env.get("CMPY_MLPERF_SUBMISSION_DIR", ""),
            division=ctx.env.get("CMPY_MLPERF_DIVISION", ""),
            submitter=ctx.env.get("CMPY_MLPERF_SUBMITTER", ""),
            system_name=ctx.env.get("CMPY_MLPERF_SYSTEM_NAME", ""),
            submission_round=ctx.env.get("CMPY_MLPERF_SUBMISSION_ROUND", ""),
            checker=ctx.env.get("CMPY_MLPERF_CHECKER", ""),
            system_meta=ctx.env.get("CMPY_MLPERF_SYSTEM_META", ""),
            provenance=str(provenance),
            framework=framework,
            weights=self.model.get("CMPY_ML_MODEL_FILE", "") if self.model else "",
            precision=self.model.get("CMPY_ML_MODEL_PRECISION", "") if self.model else "",
            reproduce=command,
        )
        check = tree.state.get("mlperf_submission", {}).get("check", {})
        self.say(*(f"checker: {line}" for line in check.get("summary", [])))
        expected = check.get("expected") or {}
        if expected:
            self.say("  failed by construction, as expected: " + ", ".join(expected))
        return tree


def headline_env(by_mode: dict[str, ResultRecord]) -> dict[str, str]:
    """One scenario's figures as env values (without the ``CMPY_MLPERF_`` prefix)."""
    out: dict[str, str] = {}
    perf = by_mode.get("performance")
    if perf is not None:
        if perf.validity:
            out["RESULT_VALIDITY"] = perf.validity
        if perf.samples_per_second is not None:
            out["SAMPLES_PER_SECOND"] = f"{perf.samples_per_second:.3f}"
        if perf.headline is not None:
            # LoadGen's latency headlines are in ns (even early_stopping_latency_ms)
            in_ns = perf.headline_unit == "ns"
            out["HEADLINE"] = f"{perf.headline / 1e6:.6f}" if in_ns else f"{perf.headline:.3f}"
            out["HEADLINE_UNIT"] = "ms" if in_ns else perf.headline_unit or ""
            out["HEADLINE_KEY"] = perf.headline_key or ""
        for name in ("p50", "p90", "p99"):
            if name in perf.latency_ns:
                out[f"LATENCY_{name.upper()}_MS"] = f"{perf.latency_ns[name] / 1e6:.6f}"
    accuracy = by_mode.get("accuracy")
    if accuracy is not None and accuracy.accuracy is not None:
        out["ACCURACY"] = f"{accuracy.accuracy.top1:.6f}"
    return out


def _ms(ns: float) -> str:
    return f"{ns / 1e6:.3f} ms"


# LoadGen measures each Offline sample from the issue of the run's one query.
OFFLINE_LATENCY = (
    "Offline latency is the time from the one query's issue to each sample's completion: "
    "it grows with the run and is not a per-sample latency"
)


def describe(record: ResultRecord, seen_notes: set[str]) -> list[str]:
    """Lines for people about one run: verdict, headline, latencies, notes not yet shown."""
    lines: list[str] = []
    head = f"{record.scenario} {record.mode}"
    if record.mode == "accuracy":
        if record.accuracy is not None:
            acc = record.accuracy
            lines.append(f"{head}: top-1 accuracy {acc.top1:.2%} ({acc.correct}/{acc.count})")
        else:
            lines.append(f"{head}: done (no labels to score against)")
    else:
        lines.append(f"{head}: {record.validity or 'no verdict'}")
        lines += [f"  INVALID because: {reason}" for reason in record.invalid_reasons]
        if record.headline is not None:
            if record.headline_unit == "ns":
                lines.append(f"  {record.headline_key}: {_ms(record.headline)}")
            else:
                lines.append(f"  {record.headline_unit}: {record.headline:,.1f}")
        if record.samples_per_second is not None and record.headline_unit == "ns":
            lines.append(f"  queries/s: {record.samples_per_second:,.1f}")
        latency = record.latency_ns
        if latency:
            shown = [f"{p} {_ms(latency[p])}" for p in ("p50", "p90", "p99", "max") if p in latency]
            lines.append("  latency: " + ", ".join(shown))
            if record.scenario == "Offline" and OFFLINE_LATENCY not in seen_notes:
                seen_notes.add(OFFLINE_LATENCY)
                lines.append(f"  note: {OFFLINE_LATENCY}")
    for note in record.notes:
        # the harness speaks to Python callers; here the switch is a variation
        note = note.replace("use official=True", "add _official")
        if note not in seen_notes:
            seen_notes.add(note)
            lines.append(f"  note: {note}")
    lines.append(f"  logs: {record.log_dir}")
    return lines
