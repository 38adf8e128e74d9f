"""The detail-log parser, on logs recorded from real LoadGen runs (data/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmpy._errors import CmpyError, UsageError
from cmpy.loadgen import ResultRecord, parse_detail_log
from cmpy.loadgen._logparse import read_detail_records

PERCENTILES = {"min", "max", "mean", "p50", "p90", "p95", "p97", "p99", "p99.9"}


def test_offline_valid(recorded: Path) -> None:
    record = parse_detail_log(recorded / "offline_valid")
    assert (record.scenario, record.mode) == ("Offline", "performance")
    assert record.validity == "VALID" and record.valid is True
    assert record.invalid_reasons == ()
    assert record.min_duration_met and record.min_queries_met and record.early_stopping_met
    assert record.perf_constraints_met is None  # LoadGen states it for Server only
    assert record.headline_key == "result_samples_per_second"
    assert record.headline_unit == "samples/s"
    assert record.headline is not None and record.headline > 0
    assert record.samples_per_second == record.headline
    assert set(record.latency_ns) == PERCENTILES
    assert record.latency_ns["min"] <= record.latency_ns["p50"] <= record.latency_ns["max"]
    assert record.requested["scenario"] == "Offline"
    assert record.requested["offline_expected_qps"] == 2_000_000
    assert record.effective["min_duration_ms"] == 300
    assert record.effective["samples_per_query"] >= 1
    assert record.loadgen_version and record.loadgen_version.startswith("6.")
    assert record.errors == ()


def test_offline_invalid_says_why(recorded: Path) -> None:
    record = parse_detail_log(recorded / "offline_invalid" / "mlperf_log_detail.txt")
    assert record.validity == "INVALID" and record.valid is False
    assert record.min_duration_met is False
    assert record.invalid_reasons == (
        "Increase expected QPS so the loadgen pre-generates a larger (coalesced) query.",
    )
    assert "INVALID" in record.summary() and "Increase expected QPS" in record.summary()


def test_server_valid_and_invalid(recorded: Path) -> None:
    valid = parse_detail_log(recorded / "server_valid")
    assert valid.validity == "VALID" and valid.perf_constraints_met is True
    assert valid.headline_key == "result_completed_samples_per_sec"
    assert valid.effective["target_latency_ns"] == 50_000_000
    invalid = parse_detail_log(recorded / "server_invalid")
    assert invalid.validity == "INVALID"
    assert invalid.perf_constraints_met is False
    assert invalid.early_stopping_met is False
    assert invalid.invalid_reasons[0] == "Reduce target QPS to improve latency."
    assert invalid.invalid_reasons[1].startswith("early stopping not met: * Run unsuccessful.")


def test_single_stream_headline_is_the_early_stopping_latency(recorded: Path) -> None:
    record = parse_detail_log(recorded / "singlestream_valid")
    assert record.validity == "VALID"
    assert record.headline_key == "early_stopping_latency_ss"
    assert record.headline_unit == "ns"
    assert record.samples_per_second is not None and record.samples_per_second > 0
    assert record.effective["samples_per_query"] == 1


def test_multi_stream_has_per_query_latencies(recorded: Path) -> None:
    record = parse_detail_log(recorded / "multistream_valid")
    assert record.validity == "VALID"
    assert record.headline_key == "early_stopping_latency_ms"
    assert set(record.query_latency_ns) == PERCENTILES
    assert record.effective["samples_per_query"] == 8


def test_multi_stream_invalid_collects_errors_and_early_stopping(recorded: Path) -> None:
    record = parse_detail_log(recorded / "multistream_invalid")
    assert record.validity == "INVALID"
    assert record.min_duration_met is False and record.early_stopping_met is False
    assert (
        "Decrease the expected latency so the loadgen pre-generates more queries."
        in record.invalid_reasons
    )
    assert any("Need to process at least 662 queries" in r for r in record.invalid_reasons)
    assert any(e.startswith("error_runtime: Ending early") for e in record.errors)


def test_accuracy_runs_are_not_judged(recorded: Path) -> None:
    record = parse_detail_log(recorded / "offline_accuracy")
    assert (record.scenario, record.mode) == ("Offline", "accuracy")
    assert record.validity is None and record.valid is None
    assert record.headline is None and record.latency_ns == {}
    assert record.summary() == "Offline accuracy:"


def test_to_dict_round_trips_through_json(recorded: Path) -> None:
    record = parse_detail_log(recorded / "server_invalid")
    data = json.loads(json.dumps(record.to_dict()))
    assert data["validity"] == "INVALID" and data["valid"] is False
    assert data["invalid_reasons"] == list(record.invalid_reasons)
    assert data["latency_ns"]["p99"] == record.latency_ns["p99"]
    assert data["accuracy"] is None
    assert set(data) >= {"scenario", "mode", "headline", "requested", "effective", "notes"}


def test_a_cut_off_last_line_is_skipped(recorded: Path, tmp_path: Path) -> None:
    text = (recorded / "offline_valid" / "mlperf_log_detail.txt").read_text()
    (tmp_path / "mlperf_log_detail.txt").write_text(text + ':::MLLOG {"key": "result_')
    assert parse_detail_log(tmp_path).validity == "VALID"
    assert len(read_detail_records(tmp_path)) == text.count(":::MLLOG")


def test_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the LoadGen detail log"):
        parse_detail_log(tmp_path)
    (tmp_path / "mlperf_log_detail.txt").write_text("hello\n")
    with pytest.raises(CmpyError, match="not a LoadGen detail log"):
        parse_detail_log(tmp_path)


def test_record_replace_keeps_the_rest(recorded: Path) -> None:
    record = parse_detail_log(recorded / "offline_valid")
    changed = record.replace(notes=("x",))
    assert isinstance(changed, ResultRecord)
    assert changed.notes == ("x",) and changed.headline == record.headline
