"""LoadgenSettings: parsing, validation, notes, and the TestSettings it builds."""

from __future__ import annotations

import pytest

from cmpy._errors import UsageError
from cmpy.loadgen import (
    UNOFFICIAL_MIN_DURATION_MS,
    LoadgenSettings,
    Mode,
    Scenario,
    expand_modes,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Offline", Scenario.OFFLINE),
        ("offline", Scenario.OFFLINE),
        ("single-stream", Scenario.SINGLE_STREAM),
        ("SINGLE_STREAM", Scenario.SINGLE_STREAM),
        ("multistream", Scenario.MULTI_STREAM),
        ("Server", Scenario.SERVER),
    ],
)
def test_scenario_names_are_forgiving(text: str, expected: Scenario) -> None:
    assert Scenario.parse(text) is expected
    assert LoadgenSettings(scenario=text).scenario is expected


def test_unknown_scenario_lists_the_valid_ones_and_the_closest() -> None:
    with pytest.raises(UsageError) as caught:
        LoadgenSettings(scenario="ofline")
    text = str(caught.value)
    assert "unknown LoadGen scenario 'ofline'" in text
    assert "did you mean 'Offline'?" in text
    for name in ("SingleStream", "MultiStream", "Server", "Offline"):
        assert name in text


def test_unknown_scenario_without_a_close_match_still_lists_them() -> None:
    with pytest.raises(UsageError, match="valid scenarios: SingleStream, MultiStream"):
        Scenario.parse("batch")


def test_modes_and_both() -> None:
    assert Mode.parse("perf") is Mode.PERFORMANCE
    assert Mode.parse("AccuracyOnly") is Mode.ACCURACY
    assert expand_modes("both") == (Mode.PERFORMANCE, Mode.ACCURACY)
    assert expand_modes("accuracy") == (Mode.ACCURACY,)
    with pytest.raises(UsageError, match="two runs"):
        LoadgenSettings(mode="both")
    with pytest.raises(UsageError, match="did you mean 'accuracy'"):
        Mode.parse("acuracy")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_duration_ms", -1, "min_duration_ms must be an integer >= 0"),
        ("min_duration_ms", 1.5, "min_duration_ms must be an integer"),
        ("min_query_count", True, "min_query_count must be an integer"),
        ("target_qps", 0, "target_qps must be a positive number"),
        ("target_qps", float("inf"), "target_qps must be a positive number"),
        ("target_latency_ms", -2.0, "target_latency_ms must be a positive number"),
        ("samples_per_query", 0, "samples_per_query must be an integer >= 1"),
        ("performance_sample_count", 0, "performance_sample_count must be an integer >= 1"),
        ("model", "res net", "must be one word"),
        ("model", "a.b", "must be one word"),
    ],
)
def test_bad_values_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        LoadgenSettings(**{field: value})  # type: ignore[arg-type]


def test_max_below_min_duration_is_refused() -> None:
    with pytest.raises(UsageError, match="every run would end INVALID"):
        LoadgenSettings(min_duration_ms=2000, max_duration_ms=1000)
    assert LoadgenSettings(min_duration_ms=2000, max_duration_ms=0).max_duration_ms == 0


def test_replace_validates_again() -> None:
    settings = LoadgenSettings()
    assert settings.replace(scenario="server").scenario is Scenario.SERVER
    with pytest.raises(UsageError):
        settings.replace(target_qps=-1)


def test_unofficial_runs_say_so() -> None:
    settings = LoadgenSettings(scenario="SingleStream", target_qps=5.0)
    assert any("NOT an official MLPerf run" in note for note in settings.notes)
    assert any("target_qps is not used by SingleStream" in note for note in settings.notes)
    text = settings.describe()
    assert "NOT an official" in text and f"{UNOFFICIAL_MIN_DURATION_MS} ms" in text


def test_official_runs_say_where_durations_come_from() -> None:
    notes = LoadgenSettings(official=True).notes
    assert any("mlperf.conf" in note for note in notes)
    assert not any("NOT an official" in note for note in notes)
    overridden = LoadgenSettings(official=True, min_duration_ms=1000).notes
    assert any("not a compliant run" in note for note in overridden)


def test_to_dict_is_plain_json() -> None:
    data = LoadgenSettings(scenario="Server", target_qps=10.0).to_dict()
    assert data["scenario"] == "Server" and data["mode"] == "performance"
    assert data["target_qps"] == 10.0


def test_unofficial_test_settings_are_short() -> None:
    lg = pytest.importorskip("mlperf_loadgen")
    ts = LoadgenSettings(scenario="Offline", target_qps=5000).to_test_settings()
    assert ts.scenario == lg.TestScenario.Offline
    assert ts.mode == lg.TestMode.PerformanceOnly
    assert ts.min_duration_ms == UNOFFICIAL_MIN_DURATION_MS
    assert ts.offline_expected_qps == 5000


def test_official_test_settings_come_from_mlperf_conf() -> None:
    pytest.importorskip("mlperf_loadgen")
    for _ in range(2):  # LoadGen loads mlperf.conf differently on later calls
        ts = LoadgenSettings(scenario="Server", official=True, model="resnet50").to_test_settings()
        assert ts.min_duration_ms == 600_000
        assert ts.server_target_latency_ns == 15_000_000  # resnet50's bound in mlperf.conf


def test_typed_fields_land_on_the_scenario_attributes() -> None:
    lg = pytest.importorskip("mlperf_loadgen")
    server = LoadgenSettings(
        scenario="Server", target_qps=123.0, target_latency_ms=7.5, mode="accuracy"
    ).to_test_settings()
    assert server.server_target_qps == 123.0
    assert server.server_target_latency_ns == 7_500_000
    assert server.mode == lg.TestMode.AccuracyOnly
    single = LoadgenSettings(scenario="SingleStream", target_latency_ms=0.25).to_test_settings()
    assert single.single_stream_expected_latency_ns == 250_000
    multi = LoadgenSettings(
        scenario="MultiStream",
        samples_per_query=4,
        target_latency_ms=2,
        performance_sample_count=100,
        sample_index_rng_seed=7,
        min_query_count=10,
        max_duration_ms=9000,
    ).to_test_settings()
    assert multi.multi_stream_samples_per_query == 4
    assert multi.multi_stream_expected_latency_ns == 2_000_000
    assert multi.performance_sample_count_override == 100
    assert multi.sample_index_rng_seed == 7
    assert (multi.min_query_count, multi.max_duration_ms) == (10, 9000)


def test_log_settings_turn_the_trace_off(tmp_path: object) -> None:
    pytest.importorskip("mlperf_loadgen")
    log = LoadgenSettings().log_settings(str(tmp_path))
    assert log.enable_trace is False
    assert log.log_output.copy_summary_to_stdout is False
    assert log.log_output.outdir == str(tmp_path)
    assert LoadgenSettings(enable_trace=True).log_settings(".").enable_trace is True
