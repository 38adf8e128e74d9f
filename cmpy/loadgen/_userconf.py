"""Reading an MLPerf ``user.conf``: ``model.Scenario.key = value`` lines.

LoadGen's own reader (``TestSettings.FromConfig``) silently ignores lines it
cannot match (``key=value`` without spaces, a misspelt scenario), so a typo
becomes a setting that quietly does not apply. This reader follows the same
grammar and lookup order but refuses what LoadGen would ignore, with the line
number, so the typed settings and LoadGen always agree on what the file says.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from cmpy._errors import UsageError

__all__ = ["UserConf", "UserConfEntry", "read_user_conf"]

SCENARIO_NAMES = ("SingleStream", "MultiStream", "Server", "Offline")

# Keys LoadGen 6.x reads from a config file. Others are kept (LoadGen may
# learn new ones) but reported, since a misspelt key is silently ignored.
KNOWN_KEYS = frozenset(
    {
        "mode",
        "min_duration",
        "max_duration",
        "min_query_count",
        "max_query_count",
        "qsl_rng_seed",
        "sample_index_rng_seed",
        "schedule_rng_seed",
        "accuracy_log_rng_seed",
        "accuracy_log_probability",
        "accuracy_log_sampling_target",
        "accuracy_sample_count_override",
        "print_timestamps",
        "performance_issue_unique",
        "performance_issue_same",
        "performance_issue_same_index",
        "performance_sample_count_override",
        "target_latency_percentile",
        "target_latency",
        "target_qps",
        "target_duration",
        "samples_per_query",
        "max_async_queries",
        "coalesce_queries",
        "sample_concatenate_permutation",
        "test05",
        "test05_qsl_rng_seed",
        "test05_sample_index_rng_seed",
        "test05_schedule_rng_seed",
        "use_token_latencies",
        "infer_token_latencies",
        "token_latency_scaling_factor",
        "ttft_latency",
        "tpot_latency",
    }
)


@dataclass(frozen=True, slots=True)
class UserConfEntry:
    """One ``model.scenario.key = value`` line (``*`` is a wildcard)."""

    model: str
    scenario: str
    key: str
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class UserConf:
    """A parsed user.conf: its entries in file order, the last one winning."""

    path: str
    entries: tuple[UserConfEntry, ...]

    def lookup(self, model: str, scenario: str) -> dict[str, str]:
        """The values that apply to ``model`` in ``scenario``, keyed by LoadGen key.

        Precedence is LoadGen's: ``model.scenario`` beats ``*.scenario``,
        which beats ``model.*``, which beats ``*.*``; within one pattern the
        last line wins.
        """
        ranks = {(model, scenario): 0, ("*", scenario): 1, (model, "*"): 2, ("*", "*"): 3}
        best: dict[str, tuple[int, str]] = {}
        for entry in self.entries:
            rank = ranks.get((entry.model, entry.scenario))
            if rank is None:
                continue
            held = best.get(entry.key)
            if held is None or rank <= held[0]:
                best[entry.key] = (rank, entry.value)
        return {key: value for key, (_, value) in sorted(best.items())}

    @property
    def unknown_keys(self) -> tuple[str, ...]:
        """Keys that LoadGen 6.x does not read (probably misspelt), sorted."""
        return tuple(sorted({e.key for e in self.entries if e.key not in KNOWN_KEYS}))


def read_user_conf(path: str | Path) -> UserConf:
    """Parse a user.conf (or mlperf.conf) file.

    :param path: the file to read.
    :raises UsageError: the file cannot be read, or a line is not
        ``model.Scenario.key = value`` with a numeric value.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot read the user.conf {str(source)!r}: {exc.strerror or exc}",
            hint="check the path; a user.conf holds lines like '*.Offline.target_qps = 1000'",
        ) from None
    entries = [
        entry
        for number, line in enumerate(text.splitlines(), start=1)
        if (entry := _parse_line(str(source), number, line)) is not None
    ]
    return UserConf(path=str(source), entries=tuple(entries))


def _parse_line(path: str, number: int, line: str) -> UserConfEntry | None:
    tokens = line.split()
    if not tokens or tokens[0].startswith("#"):
        return None

    def refuse(problem: str, hint: str) -> UsageError:
        return UsageError(f"{path}, line {number}: {problem}\n    {line.strip()}", hint=hint)

    shape = "write 'model.Scenario.key = value' with spaces around '='"
    if any(t.startswith("#") for t in tokens):
        # LoadGen 6 rejects the whole file for a comment after a value.
        raise refuse("a comment must be on a line of its own", "move the '# ...' to its own line")
    if len(tokens) != 3 or tokens[1] != "=":
        if any("=" in t and t != "=" for t in tokens):
            raise refuse("'=' must stand alone (LoadGen ignores 'key=value')", shape)
        raise refuse("expected 'model.Scenario.key = value'", shape)
    name, _, value = tokens
    parts = name.split(".")
    if len(parts) != 3 or not all(parts):
        raise refuse(f"{name!r} is not model.Scenario.key", shape)
    model, scenario, key = parts
    if scenario != "*" and scenario not in SCENARIO_NAMES:
        close = difflib.get_close_matches(scenario, SCENARIO_NAMES, n=1, cutoff=0.5)
        suggestion = f"did you mean {close[0]!r}? " if close else ""
        raise refuse(
            f"unknown scenario {scenario!r} (LoadGen would ignore this line)",
            f"{suggestion}scenarios are {', '.join(SCENARIO_NAMES)} or *",
        )
    if not _is_number(value):
        raise refuse(f"value {value!r} is not a number", "LoadGen reads integers and decimals only")
    return UserConfEntry(model=model, scenario=scenario, key=key, value=value, line=number)


def _is_number(text: str) -> bool:
    # LoadGen accepts what strtoul (base 0: 0x.., 0..) or strtod reads whole.
    try:
        int(text, 0)
        return True
    except ValueError:
        pass
    try:
        float(text)
    except ValueError:
        return False
    return True
