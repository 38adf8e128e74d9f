"""A longer run is not a worse one: VALID at 2 s, 4 s and 8 s (Offline), and capped (all).

The digits model runs about a million samples/s Offline, so a 20 s run at
full speed plans a query of some 30 M samples (about 5 GiB of LoadGen
memory); an 8 s one, 11 M (1.6 GiB). These runs get a budget of 512 MiB
instead, which the 2 s run fits and the longer ones do not: they are capped and held to the rate that makes
the capped query last the minimum duration. (Before, a cap alone ended the
8 s and 20 s runs INVALID, "Increase expected QPS", in a few seconds.) The other
scenarios get a budget short of a 4 s run, so that their cap and speed limit
are what is tested.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cmpy.loadgen import Dataset, LoadgenSettings, OnnxRuntimeBackend, run_benchmark

pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("mlperf_loadgen")

BUDGET = 512 << 20


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("duration_s", [2, 4, 8])
def test_offline_is_valid_whatever_the_duration(
    digits: Any, tmp_path: Path, duration_s: int
) -> None:
    record = run_benchmark(
        LoadgenSettings(scenario="Offline", min_duration_ms=duration_s * 1000),
        OnnxRuntimeBackend(digits.model_path),
        Dataset(digits.inputs, digits.labels),
        tmp_path,
        quiet=True,
        plan_memory=BUDGET,
    )
    assert record.validity == "VALID", record.invalid_reasons
    assert record.min_duration_met is True
    assert record.latency_ns["max"] >= duration_s * 1e9
    plan = record.harness["plan"]
    assert plan["bytes"] <= BUDGET
    notes = "\n".join(record.notes)
    assert "pilot ran" in notes and "(LoadGen's figure)" in notes
    if plan["asked"] is None:  # it fitted: a full-speed run, held to nothing
        assert plan["max_rate"] is None and "plan capped" not in notes
        assert record.harness["held_back_s"] == 0
    else:
        assert plan["max_rate"] * plan["duration_s"] < plan["planned"]
        assert f"held to at most {plan['max_rate']:,.0f} samples/s" in notes
    # the run lasts about what was asked, not several times that
    assert record.harness["wall_s"] < 2 * duration_s + 10


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream", "Server"])
def test_the_other_scenarios_are_valid_when_their_plan_is_capped(
    digits: Any, tmp_path: Path, scenario: str
) -> None:
    """A 16 MiB budget is short of a 4 s run in each: capped, and VALID all the same."""
    record = run_benchmark(
        LoadgenSettings(scenario=scenario, min_duration_ms=4000),
        OnnxRuntimeBackend(digits.model_path),
        Dataset(digits.inputs, digits.labels),
        tmp_path,
        quiet=True,
        plan_memory=16 << 20,
    )
    assert record.validity == "VALID", record.invalid_reasons
    assert record.min_duration_met is True
    plan = record.harness["plan"]
    assert plan["asked"] is not None and plan["asked"] > plan["planned"]
    assert plan["bytes"] <= 16 << 20
    notes = "\n".join(record.notes)
    assert f"{scenario} plan capped at {plan['planned']:,} queries" in notes
    if scenario == "Server":  # LoadGen keeps the schedule: a lower target, no limit
        assert plan["max_rate"] is None and "target QPS was lowered" in notes
    else:
        assert plan["max_rate"] * plan["duration_s"] < plan["planned"]
        assert "queries/s" in notes
    assert record.harness["wall_s"] < 4 * 2 + 10
