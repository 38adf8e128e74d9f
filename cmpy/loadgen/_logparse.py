"""Reading ``mlperf_log_detail.txt`` (``:::MLLOG {json}`` lines) into a result record."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmpy._errors import CmpyError, UsageError
from cmpy.loadgen._accuracy import AccuracyReport

__all__ = ["HEADLINES", "ResultRecord", "parse_detail_log", "read_detail_records"]

DETAIL_LOG = "mlperf_log_detail.txt"
_PREFIX = ":::MLLOG "

# The figure the MLPerf submission checker takes from each scenario, and its unit.
HEADLINES: dict[str, tuple[str, str]] = {
    "Offline": ("result_samples_per_second", "samples/s"),
    "Server": ("result_completed_samples_per_sec", "samples/s"),
    "SingleStream": ("early_stopping_latency_ss", "ns"),
    "MultiStream": ("early_stopping_latency_ms", "ns"),
}

_MODES = {
    "PerformanceOnly": "performance",
    "AccuracyOnly": "accuracy",
    "SubmissionRun": "submission",
    "FindPeakPerformance": "find-peak",
}
_PERCENTILE = re.compile(r"^result_(\d+\.\d+)_percentile_(per_query_)?latency_ns$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultRecord:
    """One LoadGen run, as its detail log tells it (plus what the harness adds).

    ``validity`` is ``"VALID"``/``"INVALID"`` for performance runs and
    ``None`` for accuracy runs, which LoadGen does not judge. Latencies are
    in nanoseconds, keyed ``min``, ``max``, ``mean``, ``p50`` ... ``p99.9``;
    ``query_latency_ns`` holds MultiStream's per-query figures.
    ``requested``/``effective`` are LoadGen's ``requested_*``/``effective_*``
    settings with the prefix removed.
    """

    scenario: str
    mode: str
    validity: str | None = None
    invalid_reasons: tuple[str, ...] = ()
    min_duration_met: bool | None = None
    min_queries_met: bool | None = None
    perf_constraints_met: bool | None = None
    early_stopping_met: bool | None = None
    headline_key: str | None = None
    headline: float | None = None
    headline_unit: str | None = None
    samples_per_second: float | None = None
    query_count: int | None = None
    latency_ns: dict[str, int] = field(default_factory=dict)
    query_latency_ns: dict[str, int] = field(default_factory=dict)
    requested: dict[str, Any] = field(default_factory=dict)
    effective: dict[str, Any] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    loadgen_version: str | None = None
    log_dir: str | None = None
    accuracy: AccuracyReport | None = None
    notes: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    harness: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool | None:
        """``True``/``False`` for a judged run, ``None`` for an accuracy run."""
        return None if self.validity is None else self.validity == "VALID"

    def replace(self, **changes: Any) -> ResultRecord:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def summary(self) -> str:
        """One line for people, e.g. ``Offline performance: VALID, 1.23e+06 samples/s``."""
        parts = [f"{self.scenario} {self.mode}:"]
        if self.validity is not None:
            parts.append(self.validity + ("," if self.headline is not None else ""))
        if self.headline is not None:
            if self.headline_unit == "ns":
                parts.append(f"{self.headline_key} {self.headline / 1e6:.3f} ms")
            else:
                parts.append(f"{self.headline:,.1f} {self.headline_unit}")
        if self.accuracy is not None:
            parts.append(
                f"top-1 {self.accuracy.top1:.4f} ({self.accuracy.correct}/{self.accuracy.count})"
            )
        if self.invalid_reasons:
            parts.append("- " + "; ".join(self.invalid_reasons))
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the content of ``results.json``)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, AccuracyReport):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        out["valid"] = self.valid
        return out


def read_detail_records(path: str | Path) -> list[dict[str, Any]]:
    """The ``:::MLLOG`` records of a detail log (a file, or the folder holding it).

    A cut-off last line (a run that was killed) is skipped, not fatal.

    :raises UsageError: the file does not exist.
    :raises CmpyError: the file holds no ``:::MLLOG`` record at all.
    """
    source = Path(path)
    if source.is_dir():
        source = source / DETAIL_LOG
    try:
        text = source.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(
            f"cannot read the LoadGen detail log {str(source)!r}: {exc.strerror or exc}",
            hint=f"pass the folder of a LoadGen run, which holds {DETAIL_LOG}",
        ) from None
    records = []
    for line in text.splitlines():
        if not line.startswith(_PREFIX):
            continue
        try:
            record = json.loads(line[len(_PREFIX) :])
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "key" in record:
            records.append(record)
    if not records:
        raise CmpyError(f"{str(source)!r} is not a LoadGen detail log (no ':::MLLOG' records)")
    return records


def parse_detail_log(path: str | Path) -> ResultRecord:
    """Parse a LoadGen detail log into a :class:`ResultRecord`.

    :param path: ``mlperf_log_detail.txt`` or the folder holding it.
    :raises UsageError: the file does not exist.
    :raises CmpyError: it is not a LoadGen detail log.
    """
    records = read_detail_records(path)
    values: dict[str, Any] = {}
    reasons: list[str] = []
    errors: list[str] = []
    warnings: list[str] = []
    latency: dict[str, int] = {}
    query_latency: dict[str, int] = {}
    requested: dict[str, Any] = {}
    effective: dict[str, Any] = {}
    for record in records:
        key: str = record["key"]
        value: Any = record.get("value")
        meta = record.get("metadata") or {}
        if meta.get("is_error"):
            errors.append(f"{key}: {value}")
        elif meta.get("is_warning"):
            warnings.append(f"{key}: {value}")
        if key == "result_invalid_reason":
            # One record; LoadGen joins its recommendations with spaces.
            reasons.extend(
                r.strip().rstrip(".") + "." for r in str(value).split(". ") if r.strip(" .")
            )
        elif key.startswith("requested_"):
            requested[key[len("requested_") :]] = value
        elif key.startswith("effective_"):
            effective[key[len("effective_") :]] = value
        elif (match := _PERCENTILE.match(key)) is not None:
            target = query_latency if match.group(2) else latency
            target[f"p{float(match.group(1)):g}"] = int(value)
        elif (stat := re.match(r"^result_(min|max|mean)_(query_)?latency_ns$", key)) is not None:
            (query_latency if stat.group(2) else latency)[stat.group(1)] = int(value)
        values[key] = value

    scenario = str(effective.get("scenario") or requested.get("scenario") or "")
    raw_mode = str(effective.get("test_mode") or requested.get("test_mode") or "")
    headline_key, unit = HEADLINES.get(scenario, (None, None))
    headline = values.get(headline_key) if headline_key else None
    rate_key = {
        "Offline": "result_samples_per_second",
        "Server": "result_completed_samples_per_sec",
        "SingleStream": "result_qps_with_loadgen_overhead",
    }.get(scenario)
    rate = values.get(rate_key) if rate_key else None
    early_stopping_met = _flag(values.get("early_stopping_met"))
    if early_stopping_met is False:
        # LoadGen states no invalid reason for this one; its advice is here.
        advice = " ".join(str(values.get("early_stopping_result", "")).split())
        reasons.append(f"early stopping not met: {advice}" if advice else "early stopping not met")
    if values.get("result_validity") == "INVALID" and not any(reasons):
        reasons.append("INVALID with no reason stated; see mlperf_log_summary.txt")
    return ResultRecord(
        scenario=scenario,
        mode=_MODES.get(raw_mode, raw_mode),
        validity=values.get("result_validity"),
        invalid_reasons=tuple(r for r in reasons if r),
        min_duration_met=_flag(values.get("result_min_duration_met")),
        min_queries_met=_flag(values.get("result_min_queries_met")),
        perf_constraints_met=_flag(values.get("result_perf_constraints_met")),
        early_stopping_met=early_stopping_met,
        headline_key=headline_key if headline is not None else None,
        headline=float(headline) if headline is not None else None,
        headline_unit=unit if headline is not None else None,
        samples_per_second=float(rate) if rate is not None else None,
        query_count=int(values["result_query_count"]) if "result_query_count" in values else None,
        latency_ns=latency,
        query_latency_ns=query_latency,
        requested=requested,
        effective=effective,
        errors=tuple(errors),
        warnings=tuple(warnings),
        loadgen_version=values.get("loadgen_version"),
        log_dir=str(Path(path) if Path(path).is_dir() else Path(path).parent),
    )


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)
