"""Typed LoadGen test settings: which scenario, which mode, how long, what load."""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from cmpy._errors import CmpyError, UsageError
from cmpy.loadgen._optional import import_loadgen
from cmpy.loadgen._userconf import read_user_conf

__all__ = ["LoadgenSettings", "Mode", "Scenario", "expand_modes", "UNOFFICIAL_MIN_DURATION_MS"]

# Short enough for a quick look, long enough for LoadGen's early-stopping
# statistics to settle on a fast model; mlperf.conf asks for 600 000 ms.
UNOFFICIAL_MIN_DURATION_MS = 2000


class Scenario(StrEnum):
    """The four MLPerf inference scenarios."""

    SINGLE_STREAM = "SingleStream"
    MULTI_STREAM = "MultiStream"
    SERVER = "Server"
    OFFLINE = "Offline"

    @classmethod
    def parse(cls, value: str | Scenario) -> Scenario:
        """Read a scenario name, ignoring case, ``-``, ``_`` and spaces.

        :raises UsageError: not one of the four, with the closest one named.
        """
        if isinstance(value, Scenario):
            return value
        by_key = {_squash(s.value): s for s in cls}
        found = by_key.get(_squash(str(value)))
        if found is None:
            raise UsageError(
                f"unknown LoadGen scenario {value!r}",
                hint=_did_you_mean(str(value), by_key, [s.value for s in cls], "scenarios"),
            )
        return found


class Mode(StrEnum):
    """What a LoadGen run measures: speed, or the answers for the accuracy log."""

    PERFORMANCE = "performance"
    ACCURACY = "accuracy"

    @classmethod
    def parse(cls, value: str | Mode) -> Mode:
        """Read a mode name (``performance``/``perf``, ``accuracy``/``acc``).

        :raises UsageError: an unknown mode, or ``both`` (see :func:`expand_modes`).
        """
        if isinstance(value, Mode):
            return value
        key = _squash(str(value))
        aliases = {
            "performance": cls.PERFORMANCE,
            "perf": cls.PERFORMANCE,
            "performanceonly": cls.PERFORMANCE,
            "accuracy": cls.ACCURACY,
            "acc": cls.ACCURACY,
            "accuracyonly": cls.ACCURACY,
        }
        if key in aliases:
            return aliases[key]
        if key == "both":
            raise UsageError(
                "mode 'both' is two runs, not one",
                hint="use run_modes(...) or expand_modes('both') to run performance then accuracy",
            )
        raise UsageError(
            f"unknown LoadGen mode {value!r}",
            hint=_did_you_mean(str(value), aliases, ["performance", "accuracy", "both"], "modes"),
        )


def expand_modes(value: str | Mode) -> tuple[Mode, ...]:
    """The runs a mode asks for: ``"both"`` is performance then accuracy.

    :raises UsageError: an unknown mode.
    """
    if not isinstance(value, Mode) and _squash(str(value)) == "both":
        return (Mode.PERFORMANCE, Mode.ACCURACY)
    return (Mode.parse(value),)


# the whole-number settings that go to TestSettings under the same names
_COUNTS = (
    "min_duration_ms",
    "max_duration_ms",
    "min_query_count",
    "max_query_count",
    "qsl_rng_seed",
    "sample_index_rng_seed",
    "schedule_rng_seed",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadgenSettings:
    """What LoadGen is asked to do; ``None`` means "the default" (see :meth:`describe`).

    ``official=False`` (the default) keeps runs short: ``min_duration_ms``
    defaults to 2000 ms instead of mlperf.conf's 600 000 ms, so results are
    indicative and NOT valid for an MLPerf submission. ``official=True``
    takes durations and counts from LoadGen's built-in mlperf.conf.

    ``target_qps`` is the Server target or the Offline expected throughput
    (user.conf's ``target_qps``); ``target_latency_ms`` is the Server latency
    bound or the SingleStream/MultiStream expected latency (user.conf's
    ``target_latency``). Scenario and mode may be given as strings.

    :raises UsageError: an unknown scenario or mode, or a value out of range.
    """

    scenario: Scenario = Scenario.OFFLINE
    mode: Mode = Mode.PERFORMANCE
    official: bool = False
    model: str = "cmpy"
    min_duration_ms: int | None = None
    max_duration_ms: int | None = None
    min_query_count: int | None = None
    max_query_count: int | None = None
    target_qps: float | None = None
    target_latency_ms: float | None = None
    samples_per_query: int | None = None
    performance_sample_count: int | None = None
    qsl_rng_seed: int | None = None
    sample_index_rng_seed: int | None = None
    schedule_rng_seed: int | None = None
    user_conf: str | None = None
    enable_trace: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "scenario", Scenario.parse(self.scenario))
        object.__setattr__(self, "mode", Mode.parse(self.mode))
        if not self.model or any(c.isspace() or c == "." for c in self.model):
            raise UsageError(
                f"model name {self.model!r} must be one word without dots",
                hint="it is matched against user.conf lines 'model.Scenario.key'",
            )
        for name in _COUNTS:
            _check_int(name, getattr(self, name), minimum=0)
        _check_int("samples_per_query", self.samples_per_query, minimum=1)
        _check_int("performance_sample_count", self.performance_sample_count, minimum=1)
        for name in ("target_qps", "target_latency_ms"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, (int, float)) and math.isfinite(value) and value > 0
            ):
                raise UsageError(f"{name} must be a positive number, not {value!r}")
        if (
            self.max_duration_ms
            and self.min_duration_ms
            and self.max_duration_ms < self.min_duration_ms
        ):
            raise UsageError(
                f"max_duration_ms ({self.max_duration_ms}) is below min_duration_ms "
                f"({self.min_duration_ms}): every run would end INVALID",
                hint="raise max_duration_ms, or set it to 0 for no limit",
            )
        if self.user_conf is not None:
            object.__setattr__(self, "user_conf", str(self.user_conf))

    def replace(self, **changes: Any) -> LoadgenSettings:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def with_user_conf(self, path: str | Path) -> LoadgenSettings:
        """A copy that reads ``path`` for this model and scenario.

        Fields already set keep their values (explicit beats file); unset
        ones take the file's. The file is also handed to LoadGen, so keys
        this object does not model (percentiles, seeds...) apply too. A
        ``mode`` line is ignored: the mode is chosen per run.

        :raises UsageError: the file cannot be read or parsed.
        """
        values = read_user_conf(path).lookup(self.model, self.scenario.value)
        changes: dict[str, Any] = {"user_conf": str(path)}
        for key, field_name, kind in _CONF_FIELDS:
            if key in values and getattr(self, field_name) is None:
                changes[field_name] = kind(_number(values[key]))
        return dataclasses.replace(self, **changes)

    @property
    def notes(self) -> tuple[str, ...]:
        """What a reader of the results must know about these settings."""
        out: list[str] = []
        if self.official:
            out.append("official: durations and query counts from LoadGen's built-in mlperf.conf")
            if self.min_duration_ms is not None or self.min_query_count is not None:
                out.append("min_duration_ms/min_query_count overridden: not a compliant run")
        else:
            duration = self.min_duration_ms or UNOFFICIAL_MIN_DURATION_MS
            out.append(
                f"NOT an official MLPerf run: min_duration {duration} ms "
                "(mlperf.conf asks for 600000 ms); figures are indicative only; "
                "use official=True for compliant durations"
            )
        unused = {
            "target_qps": self.scenario in (Scenario.SINGLE_STREAM, Scenario.MULTI_STREAM),
            "target_latency_ms": self.scenario is Scenario.OFFLINE,
            "samples_per_query": self.scenario is not Scenario.MULTI_STREAM,
        }
        out.extend(
            f"{name} is not used by {self.scenario.value}"
            for name, idle in unused.items()
            if idle and getattr(self, name) is not None
        )
        return tuple(out)

    def describe(self) -> str:
        """A few lines for people: scenario, mode, durations, targets, notes."""
        lines = [
            f"LoadGen {self.scenario.value}, {self.mode.value} mode, model name {self.model!r}"
        ]
        for name in (
            "min_duration_ms",
            "max_duration_ms",
            "min_query_count",
            "max_query_count",
            "target_qps",
            "target_latency_ms",
            "samples_per_query",
            "performance_sample_count",
            "user_conf",
        ):
            value = getattr(self, name)
            if value is not None:
                lines.append(f"  {name} = {value}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["scenario"] = self.scenario.value
        out["mode"] = self.mode.value
        return out

    def to_test_settings(self) -> Any:
        """Build the ``mlperf_loadgen.TestSettings`` for this run.

        Starts from LoadGen's built-in mlperf.conf (seeds, percentiles, the
        model's latency bounds), then the user.conf if any, then these
        fields; unofficial runs get short durations unless set.

        :raises ToolNotFound: mlperf_loadgen is not installed.
        :raises UsageError: LoadGen refuses the user.conf.
        """
        lg = import_loadgen()
        ts = lg.TestSettings()
        scenario = self.scenario.value
        # conf_type 0 loads the built-in mlperf.conf on every call; a
        # user.conf (conf_type 1) loads it only on the first call of a
        # process, which would make runs depend on what ran before.
        if ts.FromConfig("", self.model, scenario, 0) != 0:
            raise CmpyError("LoadGen could not read its built-in mlperf.conf")
        in_file: dict[str, str] = {}
        if self.user_conf:
            in_file = read_user_conf(self.user_conf).lookup(self.model, scenario)
            if ts.FromConfig(self.user_conf, self.model, scenario, 1) != 0:
                raise UsageError(
                    f"LoadGen refused the user.conf {self.user_conf!r}",
                    hint="see mlperf_log_detail.txt for the line it rejects",
                )
        ts.scenario = getattr(lg.TestScenario, scenario)
        ts.mode = (
            lg.TestMode.AccuracyOnly if self.mode is Mode.ACCURACY else lg.TestMode.PerformanceOnly
        )
        if not self.official and "min_duration" not in in_file:
            ts.min_duration_ms = UNOFFICIAL_MIN_DURATION_MS
        for name in _COUNTS:
            if (value := getattr(self, name)) is not None:
                setattr(ts, name, int(value))
        if self.performance_sample_count is not None:
            ts.performance_sample_count_override = int(self.performance_sample_count)
        if self.samples_per_query is not None and self.scenario is Scenario.MULTI_STREAM:
            ts.multi_stream_samples_per_query = int(self.samples_per_query)
        if self.target_qps is not None:
            if self.scenario is Scenario.SERVER:
                ts.server_target_qps = float(self.target_qps)
            elif self.scenario is Scenario.OFFLINE:
                ts.offline_expected_qps = float(self.target_qps)
        if self.target_latency_ms is not None:
            latency_ns = max(1, round(self.target_latency_ms * 1e6))
            attribute = {
                Scenario.SERVER: "server_target_latency_ns",
                Scenario.SINGLE_STREAM: "single_stream_expected_latency_ns",
                Scenario.MULTI_STREAM: "multi_stream_expected_latency_ns",
            }.get(self.scenario)
            if attribute:
                setattr(ts, attribute, latency_ns)
        return ts

    def log_settings(self, outdir: str | Path) -> Any:
        """Build the ``mlperf_loadgen.LogSettings`` writing into ``outdir``.

        The trace is off unless ``enable_trace``; nothing is copied to stdout.
        """
        lg = import_loadgen()
        log = lg.LogSettings()
        log.log_output.outdir = str(outdir)
        log.log_output.copy_summary_to_stdout = False
        log.log_output.copy_detail_to_stdout = False
        log.enable_trace = bool(self.enable_trace)
        return log


# user.conf key -> field, and how to read its value.
_CONF_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("min_duration", "min_duration_ms", int),
    ("max_duration", "max_duration_ms", int),
    ("min_query_count", "min_query_count", int),
    ("max_query_count", "max_query_count", int),
    ("target_qps", "target_qps", float),
    ("target_latency", "target_latency_ms", float),
    ("samples_per_query", "samples_per_query", int),
    ("performance_sample_count_override", "performance_sample_count", int),
    ("qsl_rng_seed", "qsl_rng_seed", int),
    ("sample_index_rng_seed", "sample_index_rng_seed", int),
    ("schedule_rng_seed", "schedule_rng_seed", int),
)


def _number(text: str) -> float | int:
    try:
        return int(text, 0)
    except ValueError:
        return float(text)


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, not {value!r}")


def _squash(text: str) -> str:
    return "".join(c for c in text.lower() if c not in "-_ ")


def _did_you_mean(value: str, keys: dict[str, Any], names: list[str], what: str) -> str:
    close = difflib.get_close_matches(_squash(value), list(keys), n=1, cutoff=0.5)
    prefix = ""
    if close:
        found = keys[close[0]]
        prefix = f"did you mean {found.value if isinstance(found, Enum) else found!r}? "
    return f"{prefix}valid {what}: {', '.join(names)}"
