"""``generate mlperf-inference submission``: benchmark results laid out as an MLPerf submission.

It reads what ``app mlperf inference`` left in its output folder
(``<Scenario>/<mode>/`` with LoadGen's logs and ``results.json``) and writes
the tree MLPerf's submission checker walks::

    <division>/<submitter>/
      systems/<system>.json
      measurements/<system>/<model>/<Scenario>/user.conf, README.md, <system>_<impl>_<Scenario>.json
      results/<system>/<model>/<Scenario>/performance/run_1/mlperf_log_{summary,detail}.txt
      results/<system>/<model>/<Scenario>/accuracy/mlperf_log_accuracy.json, accuracy.txt, ...

The system description comes from ``detect os`` and ``detect cpu``. It is not
cached: it writes into a folder the user owns, from results that are not
cached either. ``app mlperf inference _submission`` runs it after its runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from cmpy import Ctx, Dep, Result, UsageError, script

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
PERFORMANCE_LOGS = ("mlperf_log_summary.txt", "mlperf_log_detail.txt")
ACCURACY_LOGS = ("mlperf_log_accuracy.json", "mlperf_log_summary.txt", "mlperf_log_detail.txt")

_INPUTS = {
    "results_dir": ("CMPY_SUBMISSION_RESULTS_DIR", "the output folder of app mlperf inference"),
    "submission_dir": (
        "CMPY_SUBMISSION_DIR",
        "where the tree goes (default RESULTS_DIR/submission)",
    ),
    "division": ("CMPY_SUBMISSION_DIVISION", "open or closed (default open)"),
    "submitter": ("CMPY_SUBMISSION_SUBMITTER", "the submitter's name (default cmpy)"),
    "system_name": ("CMPY_SUBMISSION_SYSTEM_NAME", "the system's name (default: CPU and backend)"),
    "framework": ("CMPY_SUBMISSION_FRAMEWORK", "the inference framework and its version"),
    "weights": ("CMPY_SUBMISSION_WEIGHTS", "the model file the runs used"),
    "precision": ("CMPY_SUBMISSION_PRECISION", "its data type (default fp32)"),
    "reproduce": ("CMPY_SUBMISSION_REPRODUCE", "the command that made the results"),
}


def slug(text: str) -> str:
    """A name safe in a path: ``Intel(R) Xeon(R) 8375C`` -> ``intel-xeon-8375c``."""
    text = re.sub(r"\((r|tm|c)\)", "", text, flags=re.IGNORECASE)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "system"


def _memory() -> str:
    try:
        size = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return ""
    return f"{size / 2**30:.0f} GB"


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


def system_description(
    ctx: Ctx, record: dict[str, Any], name: str, scenarios: list[str]
) -> dict[str, Any]:
    """The systems/<system>.json fields MLPerf asks for, from detect os / detect cpu."""
    env = ctx.env
    caches = ", ".join(
        f"{level}: {env[f'CMPY_HOST_CPU_{level}_CACHE_SIZE']}"
        for level in ("L1D", "L1I", "L2", "L3")
        if env.get(f"CMPY_HOST_CPU_{level}_CACHE_SIZE")
    )
    backend = str(record.get("harness", {}).get("backend", ""))
    gpu = backend.endswith("-cuda")
    edge = any(s in scenarios for s in ("SingleStream", "MultiStream"))
    datacenter = "Server" in scenarios
    kind = ",".join(k for k, used in (("datacenter", datacenter), ("edge", edge)) if used)
    distro = env.get("CMPY_HOST_OS_DISTRO_NAME") or env.get("CMPY_HOST_OS_NAME", "")
    import cmpy

    official = record.get("settings", {}).get("official")
    return {
        "division": env.get("CMPY_SUBMISSION_DIVISION") or "open",
        "submitter": env.get("CMPY_SUBMISSION_SUBMITTER") or "cmpy",
        "status": "available",
        "system_name": name,
        "system_type": kind or "datacenter,edge",
        "number_of_nodes": 1,
        "host_processor_model_name": env.get("CMPY_HOST_CPU_MODEL", ""),
        "host_processors_per_node": int(env.get("CMPY_HOST_CPU_SOCKETS") or 1),
        "host_processor_core_count": int(env.get("CMPY_HOST_CPU_PHYSICAL_CORES") or 0),
        "host_processor_vcpu_count": int(env.get("CMPY_HOST_CPU_LOGICAL_CORES") or 0),
        "host_processor_caches": caches,
        "host_memory_capacity": _memory(),
        "host_storage_capacity": "",
        "host_storage_type": "",
        "accelerators_per_node": 1 if gpu else 0,
        "accelerator_model_name": "CUDA GPU" if gpu else "N/A",
        "framework": env.get("CMPY_SUBMISSION_FRAMEWORK") or backend,
        "operating_system": f"{distro} (kernel {env.get('CMPY_HOST_OS_KERNEL', '')})".strip(),
        "other_software_stack": (
            f"Python {record.get('harness', {}).get('python', '')}, "
            f"MLPerf LoadGen {str(record.get('loadgen_version', '')).split(' ')[0]}, "
            f"cmpy {cmpy.__version__}"
        ),
        "sw_notes": "" if official else "short, unofficial run durations: not a valid submission",
        "hw_notes": "",
    }


def user_conf(model: str, scenario: str, record: dict[str, Any]) -> str:
    """The load figures a performance run used, as user.conf lines."""
    settings = record.get("settings", {})
    effective = record.get("effective", {})
    values: dict[str, Any] = {}
    if scenario in ("Server", "Offline") and settings.get("target_qps"):
        values["target_qps"] = f"{settings['target_qps']:.1f}"
    if scenario != "Offline" and settings.get("target_latency_ms"):
        values["target_latency"] = f"{settings['target_latency_ms']:.6g}"
    if scenario == "MultiStream" and settings.get("samples_per_query"):
        values["samples_per_query"] = settings["samples_per_query"]
    if settings.get("performance_sample_count"):
        values["performance_sample_count_override"] = settings["performance_sample_count"]
    if not settings.get("official") and effective.get("min_duration_ms"):
        values["min_duration"] = effective["min_duration_ms"]
    kind = "official" if settings.get("official") else "short, unofficial"
    lines = [f"# the load cmpy's harness used for this run ({kind})"]
    lines += [f"{model}.{scenario}.{key} = {value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _copy(source: Path, names: tuple[str, ...], target: Path) -> list[str]:
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in names:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)
            copied.append(str(target / name))
    return copied


@script(
    tags="generate mlperf-inference submission mlperf submission-tree",
    alias="generate-mlperf-inference-submission",
    uid="670ed7299ffb8d03",
    deps=[Dep("detect os", name="os"), Dep("detect cpu", name="cpu")],
    inputs=_INPUTS,
    env={key: "" for key, _help in _INPUTS.values()},
)
def generate_mlperf_inference_submission(ctx: Ctx) -> Result:
    """Lay app mlperf inference's results out as an MLPerf submission tree, with a systems JSON."""
    given = ctx.env.get("CMPY_SUBMISSION_RESULTS_DIR", "").strip()
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
    first = next(iter(next(iter(runs.values())).values()))
    model = str(first.get("settings", {}).get("model") or "model")
    backend = str(first.get("harness", {}).get("backend") or "backend")
    system = slug(
        ctx.env.get("CMPY_SUBMISSION_SYSTEM_NAME", "").strip()
        or f"{ctx.env.get('CMPY_HOST_CPU_MODEL', 'cpu')}-{backend}"
    )
    division = slug(ctx.env.get("CMPY_SUBMISSION_DIVISION", "").strip() or "open")
    submitter = ctx.env.get("CMPY_SUBMISSION_SUBMITTER", "").strip() or "cmpy"
    where = ctx.env.get("CMPY_SUBMISSION_DIR", "").strip()
    top = Path(os.path.abspath(where)) if where else results / "submission"
    root = top / division / slug(submitter)
    files: list[str] = []

    description = system_description(ctx, first, system, list(runs))
    systems = root / "systems" / f"{system}.json"
    systems.parent.mkdir(parents=True, exist_ok=True)
    systems.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    files.append(str(systems))

    implementation = f"cmpy-{slug(backend)}"
    reproduce = ctx.env.get("CMPY_SUBMISSION_REPRODUCE", "").strip() or (
        f'cmpy run "app mlperf inference _{model}"'
    )
    for scenario, by_mode in runs.items():
        res = root / "results" / system / model / scenario
        perf, acc = by_mode.get("performance"), by_mode.get("accuracy")
        if perf is not None:
            files += _copy(Path(perf["log_dir"]), PERFORMANCE_LOGS, res / "performance" / "run_1")
        if acc is not None:
            files += _copy(Path(acc["log_dir"]), ACCURACY_LOGS, res / "accuracy")
            score = acc.get("accuracy") or {}
            if score:
                text = (
                    f"accuracy={100 * score['top1']:.3f}%, "
                    f"good={score['correct']}, total={score['count']}\n"
                )
                (res / "accuracy" / "accuracy.txt").write_text(text, encoding="utf-8")
                files.append(str(res / "accuracy" / "accuracy.txt"))
        meas = root / "measurements" / system / model / scenario
        meas.mkdir(parents=True, exist_ok=True)
        source = (perf or acc or {}).get("settings", {}).get("user_conf")
        if source and os.path.isfile(source):
            shutil.copy2(source, meas / "user.conf")
        else:
            (meas / "user.conf").write_text(
                user_conf(model, scenario, perf or acc or {}), encoding="utf-8"
            )
        (meas / "README.md").write_text(
            _readme(model, scenario, system, reproduce, perf or acc or {}), encoding="utf-8"
        )
        details = {
            "input_data_types": ctx.env.get("CMPY_SUBMISSION_PRECISION") or "fp32",
            "retraining": "no",
            "starting_weights_filename": ctx.env.get("CMPY_SUBMISSION_WEIGHTS", ""),
            "weight_data_types": ctx.env.get("CMPY_SUBMISSION_PRECISION") or "fp32",
            "weight_transformations": "none",
        }
        (meas / f"{system}_{implementation}_{scenario}.json").write_text(
            json.dumps(details, indent=2) + "\n", encoding="utf-8"
        )
        files += [str(meas / n) for n in sorted(os.listdir(meas))]
    ctx.log(f"submission tree for {model} on {system}: {root}")
    return Result(
        env={
            "CMPY_MLPERF_SUBMISSION_DIR": str(top),
            "CMPY_MLPERF_SUBMISSION_ROOT": str(root),
            "CMPY_MLPERF_SUBMISSION_SYSTEM": system,
            "CMPY_MLPERF_SUBMISSION_SYSTEM_JSON": str(systems),
        },
        state={"mlperf_submission": {"root": str(root), "system": description, "files": files}},
    )


def _readme(model: str, scenario: str, system: str, command: str, record: dict[str, Any]) -> str:
    official = record.get("settings", {}).get("official")
    lines = [
        f"# {model}, {scenario}, on {system}",
        "",
        "Measured with cmpy's MLPerf LoadGen harness (cmpy.loadgen). To reproduce:",
        "",
        "    pip install 'cmpy-automation[mlperf]'",
        f"    {command} --scenario={scenario} --mode=both --user_conf=user.conf",
        "",
        "The user.conf beside this file holds the load figures the run used.",
    ]
    if not official:
        lines += [
            "",
            "These were short runs, not an official MLPerf result: add _official to the",
            "command for mlperf.conf's durations (Server and Offline then run 10 minutes).",
        ]
    return "\n".join(lines) + "\n"
