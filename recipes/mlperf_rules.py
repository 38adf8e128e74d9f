"""What MLPerf inference's submission checker asks of a tree, per round; which LoadGen makes which.

This module defines no recipe. Its facts were read from mlcommons/inference
(``tools/submission/submission_checker/``: ``constants.py``'s ``MODEL_CONFIG``
seeds and ``*_PATH`` tables, the checks in ``checks/``) and from
``loadgen/mlperf.conf`` and ``loadgen/VERSION.txt`` in the same repository.

Which round a LoadGen belongs to
--------------------------------
The checker rejects a run whose three RNG seeds are not its round's, and a
LoadGen carries the seeds of its built-in ``mlperf.conf``. A released wheel
is built at its "Increment version to X" commit (it logs that commit:
``6.0.17 @ d6147c7eb7``), and ``mlperf.conf`` at those commits carries:

=====================  =====================  =========
LoadGen                qsl_rng_seed           round
=====================  =====================  =========
5.0.9 .. 5.0.21        6023615788873153749    v5.0
5.0.22 .. 6.0.4        1780908523862526354    v5.1
6.0.5 .. 6.0.15        2465351861681999779    v6.0
6.0.16 .. 6.0.x        2085463073848966840    v6.1
=====================  =====================  =========

(the seeds changed on 2025-06-17, 2026-01-13 and 2026-07-02; 5.0.8 and older
carry seeds of rounds this checker no longer knows). For a LoadGen outside
the table the seeds its runs logged decide, when they are one of these
rounds'; otherwise ``--submission_round`` must say.

Layouts
-------
v6.0 and v6.1 keep everything of a run beside its logs::

    <division>/<submitter>/systems/<system>.json, src/
    <division>/<submitter>/results/<system>/<benchmark>/<Scenario>/
        measurements.json  user.conf  README.md
        performance/run_1/  accuracy/  [TEST01/ TEST04/ ...]

v5.0 and v5.1 put the measurements in a tree of their own and call the
sources ``code/``::

    <division>/<submitter>/measurements/<system>/<benchmark>/<Scenario>/
        <system>_<implementation>_<Scenario>.json  user.conf  README.md
    <division>/<submitter>/compliance/<system>/<benchmark>/<Scenario>/TEST0X/
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cmpy import UsageError


@dataclass(frozen=True, slots=True)
class Round:
    """One MLPerf inference round as its checker sees a tree."""

    name: str
    """The checker's ``--version``: ``v6.1``."""
    seeds: tuple[int, int, int]
    """qsl, sample_index and schedule RNG seeds, as LoadGen logs them."""
    measurements_beside_results: bool
    """v6.x: ``results/.../<Scenario>/measurements.json``; v5.x: ``measurements/...``."""
    sources: str
    """The folder the implementation goes in: ``src`` (v6.x) or ``code`` (v5.x)."""


ROUNDS = {
    r.name: r
    for r in (
        Round(
            "v5.0", (6023615788873153749, 15036839855038426416, 9933818062894767841), False, "code"
        ),
        Round(
            "v5.1", (1780908523862526354, 14771362308971278857, 18209322760996052031), False, "code"
        ),
        Round(
            "v6.0", (2465351861681999779, 14276810075590677512, 3936089224930324775), True, "src"
        ),
        Round(
            "v6.1", (2085463073848966840, 2747215439041700203, 16159082839903944936), True, "src"
        ),
    )
}

# [first, next) LoadGen versions whose built-in mlperf.conf carries a round's seeds
LOADGEN_ROUNDS: tuple[tuple[tuple[int, int, int], tuple[int, int, int], str], ...] = (
    ((5, 0, 9), (5, 0, 22), "v5.0"),
    ((5, 0, 22), (6, 0, 5), "v5.1"),
    ((6, 0, 5), (6, 0, 16), "v6.0"),
    ((6, 0, 16), (6, 1, 0), "v6.1"),
)

# what LoadGen calls the model -> the benchmark's folder name in a submission
BENCHMARKS = {"resnet50": "resnet"}
# models that are no MLPerf benchmark -> the benchmark whose rules they stand in for
# (open division only, through model_mapping.json): digits is an image
# classifier scored by top-1 accuracy, as ResNet50 is
STAND_INS = {"digits": "resnet"}
# accuracy.txt, as the checker reads it (ACC_PATTERN["acc"] for resnet)
ACCURACY_PATTERN = re.compile(r"^(?:\{\"accuracy|accuracy)[\": ]*=?\s*([\d\.]+).*")
HASH_PATTERN = re.compile(r"^hash=([\w\d]+)$")
# the accuracy log a tree may hold (MAX_ACCURACY_LOG_SIZE), and how
# truncate_accuracy_log.py cuts a longer one: its head and tail kept
MAX_ACCURACY_LOG = 10 * 1024
ACCURACY_LOG_KEEP = 4096
# what the checker's resnet rules ask of a full run
BENCHMARK_MINIMA = {"resnet": {"performance_sample_count": 1024, "dataset_size": 50000}}
MIN_DURATION_MS = 600_000

MEASUREMENTS_KEYS = (
    "input_data_types",
    "retraining",
    "starting_weights_filename",
    "weight_data_types",
    "weight_transformations",
)
# every one must be present (SYSTEM_DESC_REQUIRED_FIELDS)
SYSTEM_FIELDS = (
    "division",
    "submitter",
    "status",
    "system_name",
    "number_of_nodes",
    "host_processor_model_name",
    "host_processors_per_node",
    "host_processor_core_count",
    "host_memory_capacity",
    "host_storage_capacity",
    "host_storage_type",
    "accelerators_per_node",
    "accelerator_model_name",
    "accelerator_memory_capacity",
    "framework",
    "operating_system",
    "system_type",
    "other_software_stack",
    "host_processor_frequency",
    "host_processor_caches",
    "host_memory_configuration",
    "host_processor_interconnect",
    "host_networking",
    "host_networking_topology",
    "accelerator_frequency",
    "accelerator_host_interconnect",
    "accelerator_interconnect",
    "accelerator_interconnect_topology",
    "accelerator_memory_configuration",
    "accelerator_on-chip_memories",
    "cooling",
    "hw_notes",
    "sw_notes",
    "host_network_card_count",
    "system_type_detail",
)
# and these must hold something true in Python's sense (0 counts as empty: write "0")
SYSTEM_NON_EMPTY = (
    "division",
    "submitter",
    "system_type",
    "status",
    "system_name",
    "number_of_nodes",
    "host_processor_model_name",
    "host_processors_per_node",
    "host_processor_core_count",
    "host_memory_capacity",
    "host_memory_configuration",
    "host_storage_capacity",
    "host_storage_type",
    "host_networking",
    "host_network_card_count",
    "host_networking_topology",
    "accelerators_per_node",
    "accelerator_model_name",
    "accelerator_memory_capacity",
    "accelerator_host_interconnect",
    "accelerator_memory_configuration",
    "accelerator_interconnect",
    "cooling",
    "framework",
    "operating_system",
    "other_software_stack",
)
STATUSES = ("available", "preview", "rdi")
SYSTEM_TYPES = ("datacenter", "edge", "datacenter,edge", "edge,datacenter")
DIVISIONS = ("open", "closed")
# a submitter or system folder: what the checker's paths and MLPerf's tables take
_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")


def folder_name(what: str, value: str, *, hint: str) -> str:
    """A submitter or system name used as a folder as it is (the checker compares it).

    :raises UsageError: not a plain name (a slash, a space, a leading dot or dash).
    """
    text = value.strip()
    if not _FOLDER_NAME.fullmatch(text):
        raise UsageError(
            f"--{what}={value!r} cannot name a folder of an MLPerf submission",
            hint=f"{hint}: letters, digits and _ . + - (at most 64), starting with a letter or digit",
        )
    return text


def parse_round(text: str) -> Round:
    """``v6.1``, ``6.1`` or ``V6.1``: a round the checker knows.

    :raises UsageError: another round.
    """
    name = "v" + text.strip().lower().removeprefix("v")
    if name not in ROUNDS:
        raise UsageError(
            f"--submission_round={text!r} is not a round cmpy can lay out",
            hint="one of " + ", ".join(ROUNDS),
        )
    return ROUNDS[name]


def loadgen_round(version: str) -> Round | None:
    """The round whose seeds LoadGen ``version`` (``6.0.17`` or ``6.0.17 @ d6147c7eb7``) logs."""
    found = re.match(r"\s*(\d+)\.(\d+)\.(\d+)", version)
    if not found:
        return None
    number = (int(found.group(1)), int(found.group(2)), int(found.group(3)))
    for first, after, name in LOADGEN_ROUNDS:
        if first <= number < after:
            return ROUNDS[name]
    return None


def seeds_round(seeds: tuple[int, int, int]) -> Round | None:
    """The round whose RNG seeds these are."""
    return next((r for r in ROUNDS.values() if r.seeds == seeds), None)


def choose_round(asked: str, loadgen: str, seeds: set[tuple[int, int, int]]) -> tuple[Round, str]:
    """The round to lay a tree out for, and why: asked, else LoadGen's version, else its seeds.

    ``seeds`` are the ones the runs logged (effective qsl, sample_index, schedule).

    :raises UsageError: an unknown round asked for, or a LoadGen outside the
        table whose seeds are no known round's.
    """
    if asked.strip():
        chosen = parse_round(asked)
        why = f"{chosen.name}, as asked"
        if seeds and seeds != {chosen.seeds}:
            why += f" (the runs' seeds are not {chosen.name}'s: its checker will reject them)"
        return chosen, why
    by_version = loadgen_round(loadgen)
    logged = seeds_round(next(iter(seeds))) if len(seeds) == 1 else None
    if by_version is not None and (logged is None or logged == by_version):
        return by_version, f"{by_version.name}, the round of LoadGen {loadgen}"
    if logged is not None:
        return logged, f"{logged.name}, whose seeds LoadGen {loadgen}'s runs logged"
    if by_version is not None:
        return by_version, (
            f"{by_version.name}, the round of LoadGen {loadgen} (its runs logged other seeds: "
            "its checker will reject them)"
        )
    raise UsageError(
        f"LoadGen {loadgen or '(version unknown)'} belongs to no round cmpy knows, "
        "and the seeds its runs logged are no known round's",
        hint="say which round's checker the tree is for: --submission_round=" + "|".join(ROUNDS),
    )


def benchmark_of(model: str, division: str) -> tuple[str, str | None]:
    """The benchmark folder for ``model`` and, for a stand-in, the benchmark it maps to.

    :raises UsageError: a stand-in in the closed division, or a model that is neither.
    """
    if model in BENCHMARKS:
        return BENCHMARKS[model], None
    if model in STAND_INS:
        if division != "open":
            raise UsageError(
                f"{model} is not an MLPerf benchmark: its results can only go to the open "
                "division (mapped to one in model_mapping.json)",
                hint="drop --division, or benchmark an MLPerf model (_resnet50)",
            )
        return model, STAND_INS[model]
    raise UsageError(
        f"model {model!r} is neither an MLPerf inference benchmark nor mapped to one",
        hint="benchmarks cmpy lays out: " + ", ".join([*BENCHMARKS, *STAND_INS]),
    )
