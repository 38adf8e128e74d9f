"""One scenario's folders in an MLPerf submission tree: logs, accuracy.txt, measurements.

This module defines no recipe; ``generate mlperf-inference submission``
(``recipes/mlperf_submission.py``) calls it for each scenario. The rules it
follows are the checker's (``recipes/mlperf_rules.py``): the performance
logs in ``performance/run_1/``; ``accuracy/`` with LoadGen's logs, the
accuracy log cut to 10 KiB as ``truncate_accuracy_log.py`` cuts it, and an
``accuracy.txt`` whose first line the checker's resnet pattern reads and
whose ``hash=`` line is the sha256 of the whole log; ``user.conf``,
``README.md`` and the measurements JSON beside the results (v6.x) or under
``measurements/`` (v5.x).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from cmpy import UsageError

from .mlperf_rules import ACCURACY_LOG_KEEP, MAX_ACCURACY_LOG, Round

PERFORMANCE_LOGS = ("mlperf_log_summary.txt", "mlperf_log_detail.txt")
ACCURACY_LOGS = ("mlperf_log_summary.txt", "mlperf_log_detail.txt")


def slug(text: str) -> str:
    """A name safe in a path: ``Intel(R) Xeon(R) 8375C`` -> ``intel-xeon-8375c``."""
    text = re.sub(r"\((r|tm|c)\)", "", text, flags=re.IGNORECASE)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "system"


def truncate_accuracy_log(source: Path, target: Path) -> str:
    """Copy LoadGen's accuracy log, cut to MLPerf's size if larger; the sha256 of the whole log.

    A log over 10 KiB keeps its first and last 4 KiB with ``...`` between
    them, as MLPerf's ``truncate_accuracy_log.py`` leaves it.
    """
    digest = hashlib.sha256()
    with open(source, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    size = source.stat().st_size
    if size <= MAX_ACCURACY_LOG:
        shutil.copyfile(source, target)
    else:
        with open(source, "rb") as src, open(target, "wb") as dst:
            dst.write(src.read(ACCURACY_LOG_KEEP))
            dst.write(b"\n\n...\n\n")
            src.seek(size - ACCURACY_LOG_KEEP)
            dst.write(src.read(ACCURACY_LOG_KEEP))
    return digest.hexdigest()


def accuracy_text(score: dict[str, Any] | None, sha256: str) -> str:
    """``accuracy.txt``: the line the checker's pattern reads (``accuracy=X``), then ``hash=``."""
    if score:
        line = (
            f"accuracy={100 * score['top1']:.3f}%, good={score['correct']}, total={score['count']}"
        )
    else:
        line = "no accuracy: the run had no labels to score against"
    return f"{line}\nhash={sha256}\n"


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


def write_model_mapping(root: Path, model: str, benchmark: str) -> str:
    """model_mapping.json: the stand-in model's folder name -> the benchmark whose rules apply."""
    path = root / "model_mapping.json"
    mapping: dict[str, str] = {}
    if path.is_file():
        try:
            mapping = dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError):
            mapping = {}
    mapping[model] = benchmark
    path.write_text(json.dumps(mapping, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return str(path)


def write_scenario(
    root: Path,
    chosen: Round,
    scenario: str,
    by_mode: dict[str, dict[str, Any]],
    context: dict[str, Any],
    env: dict[str, str],
    backend: str,
) -> list[str]:
    """One scenario's folders: the logs, accuracy.txt, the measurements; the files written."""
    system, benchmark = context["system"], context["benchmark"]
    perf, acc = by_mode["performance"], by_mode["accuracy"]
    res = root / "results" / system / benchmark / scenario
    meas = (
        res
        if chosen.measurements_beside_results
        else (root / "measurements" / system / benchmark / scenario)
    )
    for folder in {res, meas}:
        if folder.exists():
            shutil.rmtree(folder)  # an older tree's files would be taken for this run's
    files = _copy(Path(perf["log_dir"]), PERFORMANCE_LOGS, res / "performance" / "run_1")
    files += _copy(Path(acc["log_dir"]), ACCURACY_LOGS, res / "accuracy")
    original = Path(acc["log_dir"]) / "mlperf_log_accuracy.json"
    if not original.is_file():
        raise UsageError(
            f"{original} is missing: the accuracy run's log is needed for the tree",
            hint="run app mlperf inference again with --mode=both",
        )
    sha256 = truncate_accuracy_log(original, res / "accuracy" / "mlperf_log_accuracy.json")
    (res / "accuracy" / "accuracy.txt").write_text(
        accuracy_text(acc.get("accuracy"), sha256), encoding="utf-8"
    )
    files += [str(res / "accuracy" / n) for n in ("mlperf_log_accuracy.json", "accuracy.txt")]
    meas.mkdir(parents=True, exist_ok=True)
    source = perf.get("settings", {}).get("user_conf")
    if source and os.path.isfile(source):
        shutil.copy2(source, meas / "user.conf")
    else:
        (meas / "user.conf").write_text(
            user_conf(context["model"], scenario, perf), encoding="utf-8"
        )
    readme = _readme(scenario, perf, context, original, sha256)
    (meas / "README.md").write_text(readme, encoding="utf-8")
    precision = env["CMPY_SUBMISSION_PRECISION"].strip() or "fp32"
    weights = env["CMPY_SUBMISSION_WEIGHTS"].strip()
    details = {
        "input_data_types": precision,
        "retraining": "no",
        "starting_weights_filename": weights or "N/A (the null backend runs no model)",
        "weight_data_types": precision if weights else "N/A",
        "weight_transformations": "none" if weights else "N/A",
    }
    name = (
        "measurements.json"
        if chosen.measurements_beside_results
        else f"{system}_cmpy-{slug(backend)}_{scenario}.json"
    )
    (meas / name).write_text(json.dumps(details, indent=2) + "\n", encoding="utf-8")
    return files + [str(meas / n) for n in ("user.conf", "README.md", name)]


def _readme(
    scenario: str,
    record: dict[str, Any],
    context: dict[str, Any],
    original: Path,
    sha256: str,
) -> str:
    from cmpy import __version__

    official = record.get("settings", {}).get("official")
    sources = context["sources"]
    lines = [
        f"# {context['model']}, {scenario}, on {context['system']}",
        "",
        f"Measured with cmpy {__version__}'s MLPerf LoadGen harness (cmpy.loadgen), "
        f"LoadGen {context['loadgen']}; laid out for MLPerf inference {context['round']}.",
        "To reproduce:",
        "",
        "    pip install 'cmpy-automation[mlperf]'",
        f"    {context['command']} --scenario={scenario} --mode=both --user_conf=user.conf",
        "",
        "The user.conf beside this file holds the load figures the run used;",
        f"`{sources}/{context['benchmark']}/{context['system']}/` holds the versions of",
        "everything that ran and the recipe sources.",
        "",
        "accuracy/mlperf_log_accuracy.json is truncated as MLPerf asks (its first and",
        f"last {ACCURACY_LOG_KEEP} bytes); the whole log, sha256 {sha256} (the hash= line",
        f"of accuracy/accuracy.txt), was written to {original}.",
    ]
    if context["stands_for"]:
        lines += [
            "",
            f"{context['model']} is not an MLPerf benchmark: model_mapping.json maps it to",
            f"{context['stands_for']}, whose rules the checker applies (open division).",
        ]
    if context["expected"]:
        lines += ["", "Checks this result fails by construction:", ""]
        lines += [f"- {name}: {why}" for name, why in context["expected"].items()]
    if not official:
        lines += [
            "",
            "These were short runs, not an official MLPerf result: add _official to the",
            "command for mlperf.conf's durations (Server and Offline then run 10 minutes).",
        ]
    return "\n".join(lines) + "\n"
