"""Fitting what LoadGen plans for a run into memory (``cmpy.loadgen._plan``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmpy._errors import UsageError
from cmpy.loadgen import LoadgenSettings
from cmpy.loadgen._plan import (
    BYTES_PER_OFFLINE_SAMPLE,
    MEMORY_CEILING,
    MEMORY_FLOOR,
    PACE_SLACK,
    memory_budget,
    plan_run,
)

pytest.importorskip("mlperf_loadgen")

MIB = 1 << 20


def test_a_plan_that_fits_is_left_alone() -> None:
    asked = LoadgenSettings(scenario="Offline", min_duration_ms=2000, target_qps=1000.0)
    run, plan = plan_run(asked, budget=64 * MIB)
    assert run == asked
    assert plan is not None and plan.asked is None and plan.max_rate is None
    assert plan.planned == 2200 and plan.bytes == 2200 * BYTES_PER_OFFLINE_SAMPLE
    assert plan.note() is None


def test_accuracy_runs_plan_nothing() -> None:
    asked = LoadgenSettings(scenario="Offline", mode="accuracy", target_qps=1e12)
    assert plan_run(asked, budget=1) == (asked, None)


def test_an_offline_plan_too_big_is_capped_and_held_to_a_rate_that_lasts() -> None:
    asked = LoadgenSettings(scenario="Offline", min_duration_ms=600_000, target_qps=1.8e6)
    run, plan = plan_run(asked, budget=64 * MIB)
    assert plan is not None and plan.asked == int(1.1 * 600 * 1.8e6)
    fits = 64 * MIB // BYTES_PER_OFFLINE_SAMPLE
    assert plan.planned == fits and plan.bytes <= 64 * MIB
    # LoadGen builds exactly what fits, and the limit makes it last the minimum
    ts = run.to_test_settings()
    assert int(1.1 * 600 * ts.offline_expected_qps) == pytest.approx(fits, abs=1)
    assert plan.max_rate == pytest.approx(fits / (PACE_SLACK * 600))
    held = plan.note(held_back_s=300.0)
    assert held is not None and held.startswith(f"Offline plan capped at {fits:,} samples")
    assert "as asked it planned 1,188,000,000" in held
    assert "which held it back 300.0 s: samples/s is that limit, not the system's peak" in held
    idle = plan.note(held_back_s=0.0)
    assert idle is not None and idle.endswith("which it never reached")


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream"])
def test_a_stream_plan_too_big_is_capped_and_held_back(scenario: str) -> None:
    asked = LoadgenSettings(scenario=scenario, min_duration_ms=600_000, target_latency_ms=0.014)
    run, plan = plan_run(asked, budget=64 * MIB)
    assert plan is not None and plan.asked is not None and plan.asked > plan.planned
    assert plan.bytes <= 64 * MIB and plan.unit == "queries"
    assert run.target_latency_ms == pytest.approx(2 * 600_000 / plan.planned)
    assert plan.max_rate == pytest.approx(plan.planned / (PACE_SLACK * 600))
    note = plan.note(held_back_s=100.0)
    assert note is not None and "queries/s is that limit; the latencies are per query" in note


def test_a_server_plan_too_big_gets_a_lower_target_and_no_limit() -> None:
    asked = LoadgenSettings(scenario="Server", min_duration_ms=600_000, target_qps=50_000.0)
    run, plan = plan_run(asked, budget=64 * MIB)
    assert plan is not None and plan.max_rate is None
    assert run.target_qps is not None and run.target_qps < 50_000
    assert run.target_qps * 600 <= plan.budget / plan.unit_bytes
    note = plan.note()
    assert note is not None and note.endswith("the target QPS was lowered to fit")


def test_an_official_run_is_never_capped_but_says_it_may_not_fit() -> None:
    asked = LoadgenSettings(scenario="Offline", official=True, target_qps=1.2e6)
    run, plan = plan_run(asked, budget=64 * MIB)
    assert run == asked
    assert plan is not None and plan.over_budget and plan.max_rate is None
    note = plan.note()
    assert note is not None and note.startswith("this run plans 792,000,000 samples")
    assert note.endswith("it may run out of memory")


def test_a_min_query_count_too_big_for_memory_is_refused() -> None:
    asked = LoadgenSettings(scenario="SingleStream", min_query_count=10**9, target_latency_ms=1.0)
    with pytest.raises(UsageError, match="min_query_count 1,000,000,000 alone") as raised:
        plan_run(asked, budget=64 * MIB)
    assert raised.value.hint is not None and "at most" in raised.value.hint


def test_the_budget_is_a_bounded_share_of_free_memory() -> None:
    budget, source = memory_budget()
    assert MEMORY_FLOOR <= budget <= MEMORY_CEILING and source
    official, _ = memory_budget(official=True)
    assert official >= budget or official > MEMORY_CEILING


@settings(max_examples=60, deadline=None)
@given(
    scenario=st.sampled_from(["SingleStream", "MultiStream", "Server", "Offline"]),
    duration_ms=st.integers(min_value=100, max_value=600_000),
    rate=st.floats(min_value=1.0, max_value=1e8),
    budget_mib=st.integers(min_value=1, max_value=4096),
)
def test_a_capped_plan_fits_and_lasts(
    scenario: str, duration_ms: int, rate: float, budget_mib: int
) -> None:
    """Whatever was asked, an unofficial plan fits the budget, and a limited one lasts the minimum."""
    figure = (
        {"target_latency_ms": 1e3 / rate}
        if scenario in ("SingleStream", "MultiStream")
        else {"target_qps": rate}
    )
    asked = LoadgenSettings(scenario=scenario, min_duration_ms=duration_ms, **figure)
    run, plan = plan_run(asked, budget=budget_mib * MIB)
    assert plan is not None and plan.bytes <= budget_mib * MIB
    if plan.max_rate is not None:
        assert plan.planned / plan.max_rate >= duration_ms / 1000
    again, replanned = plan_run(run, budget=budget_mib * MIB)
    assert again == run and replanned is not None and replanned.planned <= plan.planned
