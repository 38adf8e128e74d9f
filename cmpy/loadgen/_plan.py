"""What LoadGen builds in memory before a performance run, and fitting a run into memory.

LoadGen makes every query of a performance run before it issues the first
and keeps a record of each until the end: Offline's one query of
``max(min_query_count, 1.1 x expected_qps x min_duration)`` samples,
SingleStream/MultiStream's ``max(min_query_count, 2 x min_duration /
expected_latency)`` queries, Server's ``target_qps x min_duration``. Measured
with mlcommons-loadgen 6.0.17 and this harness (peak resident memory over
runs of 1 M to 8 M), that costs about 150 bytes per Offline sample (LoadGen's
records plus the two Python lists its binding hands over) and about
280 + 48 x samples_per_query bytes per query in the other scenarios.

On a fast model that is a lot: the embedded digits benchmark runs about
1.2 M samples/s Offline, so a 600 s run would need a query of some 800 M
samples, about 120 GB. An unofficial run therefore plans at most a share of
the memory available (:func:`memory_budget`); where that cuts the plan short
of what the minimum duration needs, the harness holds the run to the rate
that makes the plan last it (:attr:`Plan.max_rate`), so the run is VALID,
and says so in one note, including how long the limit held the run back.
Official runs are never capped or held back (a submission may not be): one
that does not fit runs as asked, with a note, and LoadGen's own allocation
failure is reported as running out of memory.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

from cmpy._errors import UsageError
from cmpy.loadgen._settings import LoadgenSettings, Mode, Scenario

__all__ = ["Plan", "effective_duration_s", "memory_budget", "plan_run"]

# Bytes LoadGen (and its Python binding) holds per planned unit, rounded up
# from the measurements in the module's docstring.
BYTES_PER_OFFLINE_SAMPLE = 160
BYTES_PER_QUERY = 280
BYTES_PER_QUERY_SAMPLE = 48
# An unofficial run plans at most this share of the available memory, within
# these bounds (2 GiB where the available memory cannot be read). An official
# run may take more: the user asked for its durations on purpose.
MEMORY_SHARE = 0.25
OFFICIAL_MEMORY_SHARE = 0.75
MEMORY_CEILING = 8 << 30
MEMORY_FLOOR = 256 << 20
MEMORY_UNKNOWN = 2 << 30
# A run whose plan was capped is held to the rate that makes it last this
# much longer than the minimum duration (LoadGen ends it there).
PACE_SLACK = 1.05


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (Linux's MemAvailable), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def memory_budget(*, official: bool = False) -> tuple[int, str]:
    """Bytes LoadGen's plan may take on this machine now, and a few words on why."""
    available = available_memory()
    if available is None:
        return MEMORY_UNKNOWN, f"{_size(MEMORY_UNKNOWN)}: the available memory is unknown"
    share = OFFICIAL_MEMORY_SHARE if official else MEMORY_SHARE
    budget = int(available * share)
    if official:
        return budget, f"{share:.0%} of the {_size(available)} available"
    bounded = min(max(budget, MEMORY_FLOOR), MEMORY_CEILING)
    if bounded == MEMORY_CEILING and budget > MEMORY_CEILING:
        return bounded, f"{_size(bounded)}, the most an unofficial run plans"
    return bounded, f"{share:.0%} of the {_size(available)} available"


@dataclass(frozen=True, slots=True)
class Plan:
    """What LoadGen will build for one performance run, and the harness's speed limit.

    ``planned`` counts samples (Offline, in its one query) or queries (the
    other scenarios). ``max_rate`` is ``None`` or the most samples/s
    (Offline) or queries/s (SingleStream, MultiStream) the harness lets the
    run go, so that a plan capped to ``budget`` lasts the minimum duration.
    """

    scenario: str
    duration_s: float
    planned: int
    unit_bytes: int
    budget: int
    budget_source: str = ""
    asked: int | None = None
    max_rate: float | None = None
    over_budget: bool = False

    @property
    def bytes(self) -> int:
        """About how much memory LoadGen will hold for the plan."""
        return self.planned * self.unit_bytes

    @property
    def unit(self) -> str:
        """What ``planned`` counts."""
        return "samples" if self.scenario == Scenario.OFFLINE.value else "queries"

    def note(self, held_back_s: float = 0.0) -> str | None:
        """The one line a reader must see about the cap, once the run was held back ``held_back_s``."""
        if self.over_budget:
            return (
                f"this run plans {self.planned:,} {self.unit}, about {_size(self.bytes)} of "
                f"LoadGen memory, more than this machine can give it ({_size(self.budget)}, "
                f"{self.budget_source}): it may run out of memory"
            )
        if self.asked is None:
            return None
        capped = (
            f"{self.scenario} plan capped at {self.planned:,} {self.unit} "
            f"(~{_size(self.bytes)}, {self.budget_source}); as asked it planned "
            f"{self.asked:,} (~{_size(self.asked * self.unit_bytes)})"
        )
        if self.max_rate is None:
            return f"{capped}: the target QPS was lowered to fit"
        offline = self.scenario == Scenario.OFFLINE.value
        limit = f"{self.max_rate:,.0f} {'samples' if offline else 'queries'}/s"
        if held_back_s <= 0.01 * self.duration_s:
            return (
                f"{capped}; held to at most {limit} to last the {self.duration_s:g} s "
                "minimum, which it never reached"
            )
        effect = (
            "samples/s is that limit, not the system's peak (a shorter min_duration measures it)"
            if offline
            else "queries/s is that limit; the latencies are per query as ever"
        )
        return (
            f"{capped}; held to at most {limit} to last the {self.duration_s:g} s minimum, "
            f"which held it back {held_back_s:,.1f} s: {effect}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {
            "scenario": self.scenario,
            "duration_s": self.duration_s,
            "planned": self.planned,
            "unit": self.unit,
            "bytes": self.bytes,
            "budget": self.budget,
            "budget_source": self.budget_source,
            "asked": self.asked,
            "max_rate": self.max_rate,
            "over_budget": self.over_budget,
        }


def effective_duration_s(settings: LoadgenSettings) -> float:
    """The minimum duration LoadGen will run ``settings`` for, in seconds.

    It reads what LoadGen itself will use (mlperf.conf, the user.conf, the
    fields set), so it needs mlperf_loadgen.

    :raises ToolNotFound: mlperf_loadgen is not installed.
    """
    return float(settings.to_test_settings().min_duration_ms) / 1000.0


def plan_run(
    settings: LoadgenSettings, *, budget: int | None = None
) -> tuple[LoadgenSettings, Plan | None]:
    """Fit a performance run's plan into memory; the settings to run, and the plan.

    Accuracy runs plan one pass over the data set and are returned as they
    are, with no plan; so are official runs, with a plan that says whether
    it fits. An unofficial run that plans more than ``budget``
    bytes (default: :func:`memory_budget`) gets a smaller expected QPS (Offline),
    a longer expected latency (SingleStream/MultiStream) or a lower target
    QPS (Server), and, except for Server (whose schedule LoadGen keeps
    itself), a :attr:`Plan.max_rate` that makes the smaller plan last the
    minimum duration.

    :raises UsageError: an unofficial run whose ``min_query_count`` alone plans
        more than the budget.
    :raises ToolNotFound: mlperf_loadgen is not installed.
    """
    if settings.mode is not Mode.PERFORMANCE:
        return settings, None
    if budget is None:
        budget, source = memory_budget(official=settings.official)
    else:
        source = f"a budget of {_size(budget)}"
    ts = settings.to_test_settings()
    duration = max(float(ts.min_duration_ms) / 1000.0, 1e-3)
    min_queries = int(ts.min_query_count)
    scenario = settings.scenario
    if scenario is Scenario.OFFLINE:
        per_unit = BYTES_PER_OFFLINE_SAMPLE
        planned = max(min_queries, int(1.1 * duration * float(ts.offline_expected_qps)))
    elif scenario is Scenario.SERVER:
        per_unit = BYTES_PER_QUERY + BYTES_PER_QUERY_SAMPLE
        planned = max(min_queries, math.ceil(duration * float(ts.server_target_qps)))
    else:
        samples = int(ts.multi_stream_samples_per_query) if scenario is Scenario.MULTI_STREAM else 1
        per_unit = BYTES_PER_QUERY + BYTES_PER_QUERY_SAMPLE * samples
        latency_ns = float(
            ts.multi_stream_expected_latency_ns
            if scenario is Scenario.MULTI_STREAM
            else ts.single_stream_expected_latency_ns
        )
        planned = max(min_queries, math.ceil(2 * duration * 1e9 / max(latency_ns, 1.0)))
    plan = Plan(
        scenario=scenario.value,
        duration_s=duration,
        planned=planned,
        unit_bytes=per_unit,
        budget=budget,
        budget_source=source,
    )
    if plan.bytes <= budget:
        return settings, plan
    if settings.official:
        return settings, dataclasses.replace(plan, over_budget=True)
    fits = budget // per_unit
    if min_queries > fits:
        raise UsageError(
            f"min_query_count {min_queries:,} alone plans {min_queries:,} {plan.unit}, about "
            f"{_size(min_queries * per_unit)} of LoadGen memory; {_size(budget)} is the most "
            f"a run may take here ({source})",
            hint=f"a min_query_count of at most {fits:,}",
        )
    if scenario is Scenario.OFFLINE:
        changes: dict[str, Any] = {"target_qps": fits / (1.1 * duration)}
        rate: float | None = fits / (PACE_SLACK * duration)
    elif scenario is Scenario.SERVER:
        changes = {"target_qps": fits / (PACE_SLACK * duration)}
        rate = None
    else:
        # whole nanoseconds, as LoadGen takes them, rounded up: never more than fits
        changes = {"target_latency_ms": math.ceil(2 * duration * 1e9 / fits) / 1e6}
        rate = fits / (PACE_SLACK * duration)
    capped = settings.replace(**changes)
    return capped, Plan(
        scenario=scenario.value,
        duration_s=duration,
        # LoadGen schedules Server queries over the minimum duration at the target
        planned=math.ceil(duration * changes["target_qps"]) if rate is None else fits,
        unit_bytes=per_unit,
        budget=budget,
        budget_source=source,
        asked=planned,
        max_rate=rate,
    )


def _size(count: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count / 1024:,.0f} KiB"
