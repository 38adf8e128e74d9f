"""user.conf: the grammar, LoadGen's lookup order, and refusals of what it ignores."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmpy._errors import UsageError
from cmpy.loadgen import LoadgenSettings, Mode, read_user_conf

CONF = """\
# a comment line
*.*.min_duration = 1500
  # an indented comment
*.Offline.target_qps = 1234.5
digits.Offline.target_qps = 999
digits.*.min_query_count = 50
*.SingleStream.target_latency = 3
*.Server.target_qps = 40
*.Server.target_latency = 12
digits.MultiStream.samples_per_query = 4
*.*.sample_index_rng_seed = 0x10
*.*.min_duration = 1600
"""


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "user.conf"
    path.write_text(CONF)
    return path


def test_lookup_follows_loadgen_precedence(conf: Path) -> None:
    parsed = read_user_conf(conf)
    assert len(parsed.entries) == 10
    offline = parsed.lookup("digits", "Offline")
    assert offline["target_qps"] == "999"  # model.scenario beats *.scenario
    assert offline["min_duration"] == "1600"  # the later line wins
    assert offline["min_query_count"] == "50"
    assert parsed.lookup("other", "Offline")["target_qps"] == "1234.5"
    assert "min_query_count" not in parsed.lookup("other", "Offline")
    assert parsed.lookup("digits", "Server")["target_latency"] == "12"
    assert parsed.unknown_keys == ()


def test_with_user_conf_fills_unset_fields_only(conf: Path) -> None:
    settings = LoadgenSettings(scenario="Server", model="digits", target_qps=7.0)
    filled = settings.with_user_conf(conf)
    assert filled.target_qps == 7.0  # explicit beats the file
    assert filled.target_latency_ms == 12.0
    assert filled.min_duration_ms == 1600
    assert filled.min_query_count == 50
    assert filled.sample_index_rng_seed == 16
    assert filled.user_conf == str(conf)
    multi = LoadgenSettings(scenario="MultiStream", model="digits").with_user_conf(conf)
    assert multi.samples_per_query == 4
    assert multi.with_user_conf(conf) == multi  # idempotent


def test_loadgen_reads_the_same_values(conf: Path) -> None:
    pytest.importorskip("mlperf_loadgen")
    settings = LoadgenSettings(scenario="SingleStream", model="digits").with_user_conf(conf)
    ts = settings.to_test_settings()
    assert ts.min_duration_ms == 1600
    assert ts.min_query_count == 50
    assert ts.single_stream_expected_latency_ns == 3_000_000
    assert ts.sample_index_rng_seed == 16


def test_unofficial_run_keeps_a_duration_the_file_sets(conf: Path) -> None:
    pytest.importorskip("mlperf_loadgen")
    # Even when only the path is given, the file's duration beats the short default.
    ts = LoadgenSettings(scenario="Offline", user_conf=str(conf)).to_test_settings()
    assert ts.min_duration_ms == 1600


def test_mode_lines_do_not_override_the_run(tmp_path: Path) -> None:
    path = tmp_path / "user.conf"
    path.write_text("*.*.mode = 1\n")
    settings = LoadgenSettings().with_user_conf(path)
    assert settings.mode is Mode.PERFORMANCE
    lg = pytest.importorskip("mlperf_loadgen")
    assert settings.to_test_settings().mode == lg.TestMode.PerformanceOnly


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("*.Offline.target_qps=10", "'=' must stand alone"),
        ("*.Offline.target_qps 10", "expected 'model.Scenario.key = value'"),
        ("Offline.target_qps = 10", "is not model.Scenario.key"),
        ("*.offline.target_qps = 10", "did you mean 'Offline'"),
        ("*.Offline.target_qps = fast", "value 'fast' is not a number"),
        ("*.Offline.target_qps = 10 20", "expected 'model.Scenario.key = value'"),
        ("*.Offline.target_qps = 10 # fast", "a comment must be on a line of its own"),
    ],
)
def test_lines_loadgen_would_ignore_are_refused(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "user.conf"
    path.write_text("# ok\n" + line + "\n")
    with pytest.raises(UsageError, match=message) as caught:
        read_user_conf(path)
    assert "line 2" in str(caught.value)


def test_unknown_keys_are_reported_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "user.conf"
    path.write_text("*.Offline.min_duraton = 10\n")
    assert read_user_conf(path).unknown_keys == ("min_duraton",)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot read the user\.conf"):
        read_user_conf(tmp_path / "nope.conf")
