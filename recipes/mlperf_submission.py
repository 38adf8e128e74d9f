"""``generate mlperf-inference submission``: benchmark results laid out as an MLPerf submission.

It reads what ``app mlperf inference`` left in its output folder
(``<Scenario>/<mode>/`` with LoadGen's logs and ``results.json``) and writes
the tree MLPerf's submission checker walks, in the layout of the round the
runs belong to (``recipes/mlperf_rules.py`` says how the round is chosen:
``--submission_round``, else the LoadGen version, else the logged seeds).
For v6.0 / v6.1::

    <division>/<submitter>/
      systems/<system>.json                      every field the checker asks for
      src/README.md, src/<benchmark>/<system>/   how to rerun it, the versions, the recipes
      [model_mapping.json]                       a stand-in model -> its benchmark (open)
      results/<system>/<benchmark>/<Scenario>/
        measurements.json  user.conf  README.md
        performance/run_1/mlperf_log_{summary,detail}.txt
        accuracy/mlperf_log_{summary,detail}.txt, accuracy.txt, mlperf_log_accuracy.json

v5.0 / v5.1 put ``user.conf``, ``README.md`` and
``<system>_<implementation>_<Scenario>.json`` in
``measurements/<system>/<benchmark>/<Scenario>/`` and the sources in
``code/``. Both need a performance and an accuracy run of each scenario.

Who writes what: ``mlperf_system`` the systems JSON, ``mlperf_layout`` each
scenario's folders (the accuracy log cut to 10 KiB with its hash in
``accuracy.txt``; the whole log stays where LoadGen wrote it, in the run's
output folder, ``<output_dir>/<Scenario>/accuracy/``, outside the tree),
``mlperf_sources`` ``src/``. Then it runs ``run mlperf inference
submission-checker`` on the tree (``--checker``; ``recipes/mlperf_checker.py``),
telling it which checks this tree fails by construction (a stand-in model's
small data set, short runs).

It is not cached: it writes into a folder the user owns, from results that
are not cached either. ``app mlperf inference _submission`` runs it after
its runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cmpy import Ctx, Dep, Result, ToolNotFound, UsageError, script

from .mlperf_layout import slug, write_model_mapping, write_scenario
from .mlperf_rules import (
    BENCHMARK_MINIMA,
    MIN_DURATION_MS,
    benchmark_of,
    choose_round,
    folder_name,
)
from .mlperf_sources import entry, write_sources
from .mlperf_system import (
    describe_system,
    detected_fields,
    env_overrides,
    read_system_meta,
    write_system,
)

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")

_INPUTS = {
    "results_dir": ("CMPY_SUBMISSION_RESULTS_DIR", "the output folder of app mlperf inference"),
    "submission_dir": (
        "CMPY_SUBMISSION_DIR",
        "where the tree goes (default RESULTS_DIR/submission)",
    ),
    "division": ("CMPY_SUBMISSION_DIVISION", "open or closed (default open)"),
    "submitter": ("CMPY_SUBMISSION_SUBMITTER", "the submitter's name, a folder name (cmpy)"),
    "system_name": ("CMPY_SUBMISSION_SYSTEM_NAME", "the system's name (default: CPU and backend)"),
    "framework": ("CMPY_SUBMISSION_FRAMEWORK", "the inference framework and its version"),
    "weights": ("CMPY_SUBMISSION_WEIGHTS", "the model file the runs used"),
    "precision": ("CMPY_SUBMISSION_PRECISION", "its data type (default fp32)"),
    "reproduce": ("CMPY_SUBMISSION_REPRODUCE", "the command that made the results"),
    "submission_round": (
        "CMPY_SUBMISSION_ROUND",
        "the round's layout: v6.1, v6.0, v5.1, v5.0 (default: the LoadGen's)",
    ),
    "system_meta": ("CMPY_SUBMISSION_SYSTEM_META", "a JSON file of systems JSON fields to set"),
    "checker": (
        "CMPY_SUBMISSION_CHECKER",
        "MLPerf's checker: an inference checkout, fetch, or no (default: a cached one)",
    ),
    "provenance": (
        "CMPY_SUBMISSION_PROVENANCE",
        "a JSON file of what ran (app mlperf inference writes it)",
    ),
}


def read_results(folder: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``{scenario: {mode: record}}`` of the runs in ``folder``.

    The app's ``results.json`` lists exactly the runs it made (an output
    folder used twice may hold older ones); without it, every
    ``<Scenario>/<mode>/results.json`` is taken.
    """
    combined = folder / "results.json"
    if combined.is_file():
        document = json.loads(combined.read_text(encoding="utf-8"))
        if isinstance(document, dict) and isinstance(document.get("results"), dict):
            return {s: dict(by_mode) for s, by_mode in document["results"].items() if by_mode}
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for scenario in SCENARIOS:
        for mode in ("performance", "accuracy"):
            path = folder / scenario / mode / "results.json"
            if path.is_file():
                found.setdefault(scenario, {})[mode] = json.loads(path.read_text(encoding="utf-8"))
    return found


def _seeds(record: dict[str, Any]) -> tuple[int, int, int] | None:
    eff = record.get("effective", {})
    names = ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed")
    if all(isinstance(eff.get(n), int) for n in names):
        return (eff[names[0]], eff[names[1]], eff[names[2]])
    return None


def expected_failures(runs: dict[str, dict[str, dict[str, Any]]], benchmark: str) -> dict[str, str]:
    """The checks these runs fail by construction, and why (never a real run's shortcoming)."""
    minima = BENCHMARK_MINIMA.get(benchmark, {})
    why: dict[str, str] = {}
    for scenario, by_mode in runs.items():
        perf = by_mode["performance"].get("effective", {})
        acc = by_mode["accuracy"].get("effective", {})
        count = perf.get("performance_sample_count")
        least = minima.get("performance_sample_count")
        if isinstance(count, int) and least and count < least:
            why["performance_sample_count"] = (
                f"the data set has {count} samples; {benchmark} asks for {least} in LoadGen's memory"
            )
        total = acc.get("accuracy_sample_count")
        size = minima.get("dataset_size")
        if isinstance(total, int) and size and total != size:
            why["dataset_size"] = (
                f"the accuracy run scores {total} samples; {benchmark}'s data set has {size}"
            )
        duration = perf.get("min_duration_ms")
        if isinstance(duration, int) and duration < MIN_DURATION_MS:
            why["min_duration"] = (
                f"{scenario} ran at least {duration} ms, not {MIN_DURATION_MS} "
                "(add _official for mlperf.conf's durations)"
            )
    return why


def _gpu(ctx: Ctx, backend: str) -> dict[str, str] | None:
    if not backend.endswith("-cuda"):
        return None
    try:
        return dict(ctx.run_sync("get nvidia-smi").env)
    except ToolNotFound:
        return {}


@script(
    tags="generate mlperf-inference submission mlperf submission-tree",
    alias="generate-mlperf-inference-submission",
    uid="670ed7299ffb8d03",
    deps=[
        Dep("detect os", name="os"),
        Dep("detect cpu", name="cpu"),
        Dep("detect memory", name="memory"),
        Dep("detect network", name="network"),
    ],
    inputs=_INPUTS,
    env={key: "" for key, _help in _INPUTS.values()},
    reads=["CMPY_SYSTEM_META_*"],
)
def generate_mlperf_inference_submission(ctx: Ctx) -> Result:
    """Lay app mlperf inference's results out as an MLPerf submission tree and check it."""
    env = ctx.env
    given = env["CMPY_SUBMISSION_RESULTS_DIR"].strip()
    if not given:
        raise UsageError(
            "generate mlperf-inference submission needs the results to lay out",
            hint="--results_dir=OUTPUT_DIR of app mlperf inference (or run it with _submission)",
        )
    results = Path(os.path.abspath(given))
    runs = read_results(results)
    if not runs:
        raise UsageError(
            f"no results under {results}",
            hint="expected <Scenario>/<mode>/results.json as app mlperf inference writes them",
        )
    for scenario, by_mode in runs.items():
        missing = [m for m in ("performance", "accuracy") if m not in by_mode]
        if missing:
            raise UsageError(
                f"{scenario} has no {missing[0]} run in {results}: MLPerf's checker needs a "
                "performance and an accuracy run of each scenario",
                hint="run app mlperf inference with --mode=both",
            )
    try:
        return _generate(ctx, results, runs)
    except UsageError as exc:
        again = f'cmpy run "generate mlperf-inference submission" --results_dir={results}'
        kept = f"the runs are kept: lay them out again with {again} and the options corrected"
        exc.hint = f"{exc.hint}; {kept}" if exc.hint else kept
        raise


def _generate(ctx: Ctx, results: Path, runs: dict[str, dict[str, dict[str, Any]]]) -> Result:
    """The tree, from runs known to hold both modes of each scenario."""
    env = ctx.env
    first = runs[next(iter(runs))]["performance"]
    model = str(first.get("settings", {}).get("model") or "model")
    backend = str(first.get("harness", {}).get("backend") or "backend")
    loadgen = str(first.get("loadgen_version", "")).split(" ")[0]
    seeds = {s for by in runs.values() for r in by.values() if (s := _seeds(r)) is not None}
    chosen, why = choose_round(env["CMPY_SUBMISSION_ROUND"], loadgen, seeds)
    division = env["CMPY_SUBMISSION_DIVISION"].strip().lower() or "open"
    if division not in ("open", "closed"):
        raise UsageError(f"--division={division!r} is not open or closed")
    benchmark, stands_for = benchmark_of(model, division)
    submitter = folder_name(
        "submitter", env["CMPY_SUBMISSION_SUBMITTER"] or "cmpy", hint="the submitter's folder"
    )
    shown_name = env["CMPY_SUBMISSION_SYSTEM_NAME"].strip()
    system = folder_name(
        "system_name",
        slug(shown_name or f"{env.get('CMPY_HOST_CPU_MODEL', 'cpu')}-{backend}"),
        hint="the system's folder",
    )
    where = env["CMPY_SUBMISSION_DIR"].strip()
    top = Path(os.path.abspath(where)) if where else results / "submission"
    root = top / division / submitter
    ctx.log(f"MLPerf inference {why}")

    storage = ctx.run_sync("detect storage", path=str(top)).env
    record = {**first, "loadgen_version": loadgen}
    software = _software(record, env)
    framework = env["CMPY_SUBMISSION_FRAMEWORK"].strip() or backend
    meta_file = env["CMPY_SUBMISSION_SYSTEM_META"].strip()
    description = describe_system(
        detected_fields(
            {**env, **storage},
            system_name=shown_name or f"{env.get('CMPY_HOST_CPU_MODEL', 'CPU')} ({backend})",
            scenarios=list(runs),
            framework=framework,
            software=software,
            gpu=_gpu(ctx, backend),
            official=all(
                by["performance"].get("settings", {}).get("official") for by in runs.values()
            ),
        ),
        division=division,
        submitter=submitter,
        meta=read_system_meta(meta_file) if meta_file else {},
        overrides=env_overrides(env),
    )
    systems = root / "systems" / f"{system}.json"
    systems.parent.mkdir(parents=True, exist_ok=True)
    write_system(systems, description)
    files = [str(systems)]
    if stands_for is not None:
        files.append(write_model_mapping(root, model, stands_for))

    expected = expected_failures(runs, stands_for or benchmark)
    reproduce = env["CMPY_SUBMISSION_REPRODUCE"].strip() or (
        f'cmpy run "app mlperf inference _{model}"'
    )
    context = {
        "model": model,
        "benchmark": benchmark,
        "stands_for": stands_for,
        "system": system,
        "round": chosen.name,
        "sources": chosen.sources,
        "command": reproduce,
        "loadgen": loadgen,
        "expected": expected,
    }
    for scenario, by_mode in runs.items():
        files += write_scenario(root, chosen, scenario, by_mode, context, env, backend)
    provenance: dict[str, Any] = {}
    given = env["CMPY_SUBMISSION_PROVENANCE"].strip()
    if given and os.path.isfile(given):
        provenance = json.loads(Path(given).read_text(encoding="utf-8"))
    itself = {"recipe": ctx.recipe, "variations": list(ctx.variations), "version": None}
    files += write_sources(
        root / chosen.sources,
        context,
        list(runs),
        provenance,
        [*(entry(r) for r in ctx.deps.values()), itself],
    )
    ctx.log(f"submission tree for {model} on {system} ({chosen.name} layout): {root}")
    check = ctx.run_sync(
        "run mlperf inference submission-checker",
        submission_dir=str(top),
        submission_round=chosen.name,
        submitter=submitter,
        checker=env["CMPY_SUBMISSION_CHECKER"].strip(),
        expect_failing=",".join(expected),
    )
    checked = check.state.get("mlperf_check", {})
    return Result(
        env={
            "CMPY_MLPERF_SUBMISSION_DIR": str(top),
            "CMPY_MLPERF_SUBMISSION_ROOT": str(root),
            "CMPY_MLPERF_SUBMISSION_SYSTEM": system,
            "CMPY_MLPERF_SUBMISSION_SYSTEM_JSON": str(systems),
            "CMPY_MLPERF_SUBMISSION_ROUND": chosen.name,
            "CMPY_MLPERF_SUBMISSION_BENCHMARK": benchmark,
            **{k: v for k, v in check.env.items() if k.startswith("CMPY_MLPERF_CHECK_")},
        },
        state={
            "mlperf_submission": {
                "root": str(root),
                "round": chosen.name,
                "round_reason": why,
                "benchmark": benchmark,
                "system": description,
                "files": files,
                "expected_failures": expected,
                "check": checked,
            }
        },
    )


def _software(record: dict[str, Any], env: dict[str, str]) -> str:
    from cmpy import __version__

    harness = record.get("harness", {})
    parts = [f"Python {harness.get('python', '')}".strip()]
    parts.append(f"MLPerf LoadGen {record.get('loadgen_version', '')}".strip())
    versions = {}
    provenance = env["CMPY_SUBMISSION_PROVENANCE"].strip()
    if provenance and os.path.isfile(provenance):
        versions = json.loads(Path(provenance).read_text(encoding="utf-8")).get("packages", {})
    parts += [
        f"{name} {version}"
        for name, version in sorted(versions.items())
        if version and name != "mlcommons-loadgen"  # said as MLPerf LoadGen
    ]
    parts.append(f"cmpy {__version__}")
    return ", ".join(p for p in parts if p)
