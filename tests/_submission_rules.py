"""MLPerf's submission checker's rules, written out again for the tests to hold a tree to.

Read from mlcommons/inference ``tools/submission/submission_checker/`` (the
checks in ``checks/``, the tables in ``constants.py``) and kept apart from
``recipes/mlperf_rules.py`` on purpose: a mistake there must not pass here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

SEEDS = {
    "v5.0": (6023615788873153749, 15036839855038426416, 9933818062894767841),
    "v5.1": (1780908523862526354, 14771362308971278857, 18209322760996052031),
    "v6.0": (2465351861681999779, 14276810075590677512, 3936089224930324775),
    "v6.1": (2085463073848966840, 2747215439041700203, 16159082839903944936),
}
ACC_PATTERN = r"^(?:\{\"accuracy|accuracy)[\": ]*=?\s*([\d\.]+).*"
HASH_PATTERN = r"^hash=([\w\d]+)$"
MAX_ACCURACY_LOG_SIZE = 10 * 1024
MEASUREMENTS_KEYS = [
    "input_data_types",
    "retraining",
    "starting_weights_filename",
    "weight_data_types",
    "weight_transformations",
]
SYSTEM_REQUIRED = [
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
]
SYSTEM_MEANINGFUL = [
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
]


def detail(path: Path) -> dict[str, object]:
    """The first value of each key of a LoadGen detail log (as the checker's parser keeps it)."""
    out: dict[str, object] = {}
    for line in path.read_text().splitlines():
        if line.startswith(":::MLLOG"):
            record = json.loads(line[len(":::MLLOG") :])
            out.setdefault(record["key"], record["value"])
    return out


def check_tree(
    top: Path,
    *,
    division: str,
    submitter: str,
    system: str,
    benchmark: str,
    scenarios: list[str],
    round_name: str,
    output_dir: Path,
    own_seeds: bool = True,
) -> dict[str, object]:
    """Assert every rule the checker applies to the files; returns the system JSON.

    ``own_seeds``: the runs logged the round's own seeds (the round was not
    forced onto a LoadGen of another).
    """
    assert len(SYSTEM_REQUIRED) == 35 and len(SYSTEM_MEANINGFUL) == 26
    root = top / division / submitter
    v6 = round_name.startswith("v6")
    # systems/<system>.json: every field there, the meaningful ones true, the folders agreeing
    described = json.loads((root / "systems" / f"{system}.json").read_text())
    missing = [k for k in SYSTEM_REQUIRED if k not in described]
    assert not missing, missing
    empty = [k for k in SYSTEM_MEANINGFUL if not described[k]]
    assert not empty, empty
    assert (
        described["division"].lower() == division
        and described["submitter"].lower() == submitter.lower()
    )
    assert described["status"].lower() in ("available", "preview", "rdi")
    assert described["system_type"] in ("datacenter", "edge", "datacenter,edge", "edge,datacenter")
    int(described["number_of_nodes"]) * int(described["accelerators_per_node"])  # results.py does
    assert "is_network" not in described or str(described["is_network"]).lower() == "false"
    # src/ (code/ before v6.0) holds something
    sources = root / ("src" if v6 else "code")
    assert sources.is_dir() and any(sources.rglob("*")), sources
    # no empty folder anywhere (the older checker refuses them)
    for folder, dirs, files in os.walk(root):
        assert dirs or files, f"empty folder {folder}"
    if benchmark not in ("resnet",):
        mapping = json.loads((root / "model_mapping.json").read_text())
        assert division == "open" and mapping[benchmark] == "resnet"
    for scenario in scenarios:
        res = root / "results" / system / benchmark / scenario
        meas = res if v6 else root / "measurements" / system / benchmark / scenario
        for name in ("mlperf_log_detail.txt", "mlperf_log_summary.txt"):
            assert (res / "performance" / "run_1" / name).stat().st_size > 0
            assert (res / "accuracy" / name).stat().st_size > 0
        perf = detail(res / "performance" / "run_1" / "mlperf_log_detail.txt")
        assert perf["effective_scenario"] == scenario
        seeds = tuple(perf[f"effective_{n}_rng_seed"] for n in ("qsl", "sample_index", "schedule"))
        assert (seeds == SEEDS[round_name]) is own_seeds, (seeds, round_name)
        assert not any(k == "error" for k in perf), "LoadGen logged an error"
        # accuracy/: the metric line, the hash of the whole log, the log cut to 10 KiB
        lines = (res / "accuracy" / "accuracy.txt").read_text().splitlines()
        assert any(re.match(ACC_PATTERN, line) for line in lines), lines
        hashes = [m.group(1) for line in lines if (m := re.match(HASH_PATTERN, line))]
        original = output_dir / scenario / "accuracy" / "mlperf_log_accuracy.json"
        assert hashes == [hashlib.sha256(original.read_bytes()).hexdigest()]
        cut = res / "accuracy" / "mlperf_log_accuracy.json"
        assert 0 < cut.stat().st_size <= MAX_ACCURACY_LOG_SIZE
        if original.stat().st_size > MAX_ACCURACY_LOG_SIZE:
            whole, kept = original.read_bytes(), cut.read_bytes()
            assert kept.startswith(whole[:4096]) and kept.endswith(whole[-4096:])
        # the measurements: user.conf, README.md and the JSON with its five keys
        for name in ("user.conf", "README.md"):
            assert (meas / name).stat().st_size > 0, meas / name
        if v6:
            details = json.loads((meas / "measurements.json").read_text())
        else:
            [found] = [p for p in meas.glob(f"{system}*_{scenario}.json")]
            details = json.loads(found.read_text())
            assert not (res / "measurements.json").exists()
        assert all(details.get(k) for k in MEASUREMENTS_KEYS), details
    return described
