"""The systems JSON of an MLPerf submission: every field its checker asks for, and where it came from.

This module defines no recipe; ``generate mlperf-inference submission``
(``recipes/mlperf_submission.py``) calls it. A field is, in order of
precedence, low to high:

1. detected: ``detect cpu`` (model, sockets, cores, caches, top clock),
   ``detect memory`` (capacity; the modules where SMBIOS is readable),
   ``detect storage`` (the disk holding the tree: capacity, type),
   ``detect network`` (card count), ``detect os``, the benchmark's record
   (framework, LoadGen, Python), ``get nvidia-smi`` for a CUDA run;
2. ``"N/A"`` where the machine cannot tell (cooling, interconnects, the
   memory modules without SMBIOS access) or where nothing of the kind is
   there (accelerators on a CPU run: ``accelerators_per_node`` is ``"0"``,
   since the checker counts a 0 as empty); ``hw_notes`` names them;
3. ``--system_meta FILE``: a JSON object of fields;
4. ``--env.CMPY_SYSTEM_META_<FIELD>=VALUE`` (the field's name upper-cased,
   ``-`` as ``_``: ``CMPY_SYSTEM_META_COOLING=air``).

Every value is text, as MLPerf's own files have them; ``division`` and
``submitter`` are the folder names and are set by ``--division`` and
``--submitter`` only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from cmpy import UsageError

from .hardware import human_bytes
from .mlperf_rules import STATUSES, SYSTEM_FIELDS, SYSTEM_NON_EMPTY, SYSTEM_TYPES

NA = "N/A"
ENV_PREFIX = "CMPY_SYSTEM_META_"
# counts that MLPerf's tools turn into numbers (submission_checker/results.py)
_COUNTS = ("number_of_nodes", "host_processors_per_node", "accelerators_per_node")
_NOTES = ("hw_notes", "sw_notes")


def _caches(env: Mapping[str, str]) -> str:
    return ", ".join(
        f"{level}: {env[f'CMPY_HOST_CPU_{level}_CACHE_SIZE']}"
        for level in ("L1D", "L1I", "L2", "L3")
        if env.get(f"CMPY_HOST_CPU_{level}_CACHE_SIZE")
    )


def _bytes(text: str | None) -> str:
    return human_bytes(int(text)) if text and text.isdigit() and int(text) else ""


def _system_type(scenarios: list[str]) -> str:
    edge = any(s in scenarios for s in ("SingleStream", "MultiStream"))
    datacenter = "Server" in scenarios
    # Offline alone belongs to both categories
    return {(True, False): "edge", (False, True): "datacenter"}.get(
        (edge, datacenter), "datacenter,edge"
    )


def detected_fields(
    env: Mapping[str, str],
    *,
    system_name: str,
    scenarios: list[str],
    framework: str,
    software: str,
    gpu: Mapping[str, str] | None,
    official: bool,
) -> dict[str, str]:
    """What the detectors' env says, field by field ("" where it says nothing)."""
    sockets = int(env.get("CMPY_HOST_CPU_SOCKETS") or 1)
    cores = int(env.get("CMPY_HOST_CPU_PHYSICAL_CORES") or 0)
    mhz = env.get("CMPY_HOST_CPU_MAX_FREQUENCY_MHZ", "")
    storage = env.get("CMPY_HOST_STORAGE_TYPE", "")
    if storage and env.get("CMPY_HOST_STORAGE_MODEL"):
        storage += f" ({env['CMPY_HOST_STORAGE_MODEL']})"
    distro = env.get("CMPY_HOST_OS_DISTRO_NAME") or env.get("CMPY_HOST_OS_NAME", "")
    kernel = env.get("CMPY_HOST_OS_KERNEL", "")
    flags = env.get("CMPY_HOST_CPU_FLAGS", "").split()
    fields = {
        "status": "available",
        "system_name": system_name,
        "system_type": _system_type(scenarios),
        "system_type_detail": "virtual machine" if "hypervisor" in flags else "",
        "number_of_nodes": "1",
        "host_processor_model_name": env.get("CMPY_HOST_CPU_MODEL", ""),
        "host_processors_per_node": str(sockets),
        # MLPerf counts the cores of one processor
        "host_processor_core_count": str(cores // sockets) if cores >= sockets else "",
        "host_processor_vcpu_count": env.get("CMPY_HOST_CPU_LOGICAL_CORES", ""),
        "host_processor_frequency": f"{mhz} MHz" if mhz else "",
        "host_processor_caches": _caches(env),
        "host_processor_interconnect": "",
        "host_memory_capacity": _bytes(
            env.get("CMPY_HOST_MEMORY_INSTALLED_BYTES") or env.get("CMPY_HOST_MEMORY_TOTAL_BYTES")
        ),
        "host_memory_configuration": env.get("CMPY_HOST_MEMORY_CONFIGURATION", ""),
        "host_storage_capacity": _bytes(env.get("CMPY_HOST_STORAGE_CAPACITY_BYTES")),
        "host_storage_type": storage,
        "host_networking": "",
        "host_networking_topology": "",
        "host_network_card_count": env.get("CMPY_HOST_NETWORK_CARD_COUNT", ""),
        "accelerators_per_node": "0",
        "accelerator_model_name": NA,
        "accelerator_memory_capacity": NA,
        "accelerator_memory_configuration": NA,
        "accelerator_frequency": NA,
        "accelerator_host_interconnect": NA,
        "accelerator_interconnect": NA,
        "accelerator_interconnect_topology": NA,
        "accelerator_on-chip_memories": NA,
        "cooling": "",
        "framework": framework,
        "operating_system": f"{distro} (kernel {kernel})" if kernel else distro,
        "other_software_stack": software,
        "hw_notes": "",
        "sw_notes": ""
        if official
        else "short, unofficial run durations (not _official): not a valid MLPerf result",
    }
    if gpu is not None:
        # the run used CUDA: at least the one GPU, even when nvidia-smi could not say more
        mib = gpu.get("CMPY_GPU_MEMORY", "").strip()  # nvidia-smi's MiB
        fields.update(
            accelerators_per_node=gpu.get("CMPY_GPU_COUNT") or "1",
            accelerator_model_name=gpu.get("CMPY_GPU_NAME") or "",
            accelerator_memory_capacity=_bytes(str(int(mib) << 20) if mib.isdigit() else ""),
            accelerator_memory_configuration="",
            accelerator_frequency="",
            accelerator_host_interconnect="",
            accelerator_interconnect="",
            accelerator_interconnect_topology="",
            **{"accelerator_on-chip_memories": ""},
        )
    return fields


def read_system_meta(path: str) -> dict[str, str]:
    """The fields of a ``--system_meta`` JSON file, as text.

    :raises UsageError: no such file, not JSON, not an object of plain values.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            document = json.load(fh)
    except OSError as exc:
        raise UsageError(f"--system_meta={path!r}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(
            f"--system_meta={path!r} is not JSON: {exc}",
            hint='write an object of fields: {"cooling": "air", "host_networking": "10 GbE"}',
        ) from None
    if not isinstance(document, dict):
        raise UsageError(
            f"--system_meta={path!r} holds a JSON {type(document).__name__}, not an object",
            hint='write an object of fields: {"cooling": "air"}',
        )
    out = {}
    for key, value in document.items():
        if isinstance(value, (dict, list)) or value is None:
            raise UsageError(
                f"--system_meta={path!r}: {key!r} is {json.dumps(value)[:60]}, not text or a number"
            )
        out[str(key)] = value if isinstance(value, str) else json.dumps(value)
    return out


def env_overrides(env: Mapping[str, str]) -> dict[str, str]:
    """``CMPY_SYSTEM_META_<FIELD>`` values by field name (``accelerator_on-chip_memories`` too)."""
    by_key = {f.upper().replace("-", "_"): f for f in SYSTEM_FIELDS}
    return {
        by_key.get(key[len(ENV_PREFIX) :], key[len(ENV_PREFIX) :].lower()): value
        for key, value in sorted(env.items())
        if key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX)
    }


def describe_system(
    detected: Mapping[str, str],
    *,
    division: str,
    submitter: str,
    meta: Mapping[str, str],
    overrides: Mapping[str, str],
) -> dict[str, str]:
    """The systems JSON: detected < N/A < ``meta`` < ``overrides``; every field set, checked.

    :raises UsageError: an override of division or submitter that disagrees
        with the folders, an empty required field, an unknown status or
        system type, a count that is not a whole number.
    """
    given = {**meta, **overrides}
    for name, folder in (("division", division), ("submitter", submitter)):
        if name in given and given[name].strip().lower() != folder.lower():
            raise UsageError(
                f"the system description sets {name} {given[name]!r}, but the tree's folder "
                f"is {folder!r}: the checker needs them to agree",
                hint=f"set it with --{name}={given[name]} instead",
            )
    unknown = sorted(
        k for k, v in detected.items() if not v and k not in _NOTES and not given.get(k)
    )
    out: dict[str, str] = {"division": division, "submitter": submitter}
    for name in [*SYSTEM_FIELDS, *detected]:
        if name not in out:
            value = str(detected.get(name, "")).strip()
            out[name] = value if value or name in _NOTES else NA
    out.update({k: v.strip() for k, v in given.items() if k not in ("division", "submitter")})
    if unknown:
        said = "not detected on this machine, set with --system_meta: " + ", ".join(unknown)
        out["hw_notes"] = f"{out['hw_notes']}; {said}" if out["hw_notes"] else said
    _check(out)
    return out


def _check(fields: dict[str, str]) -> None:
    empty = [k for k in SYSTEM_NON_EMPTY if not fields.get(k)]
    if empty:
        raise UsageError(
            "the system description leaves empty what MLPerf's checker needs: " + ", ".join(empty),
            hint='give each a value (or "N/A") in --system_meta',
        )
    if fields["status"].lower() not in STATUSES:
        raise UsageError(
            f"status {fields['status']!r} is not one MLPerf takes", hint=" or ".join(STATUSES)
        )
    if fields["system_type"] not in SYSTEM_TYPES:
        raise UsageError(
            f"system_type {fields['system_type']!r} is not one MLPerf takes",
            hint=" or ".join(SYSTEM_TYPES),
        )
    for name in _COUNTS:
        if not fields[name].isdigit():
            raise UsageError(
                f"{name} {fields[name]!r} is not a whole number: MLPerf's tools count with it",
                hint=f'write it as digits, such as "{1 if name == "number_of_nodes" else 0}"',
            )


def write_system(path: os.PathLike[str] | str, fields: Mapping[str, Any]) -> None:
    """Write the systems JSON (its required fields first, in the checker's order)."""
    order = {name: i for i, name in enumerate(SYSTEM_FIELDS)}
    ordered = dict(sorted(fields.items(), key=lambda kv: order.get(kv[0], len(order))))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(ordered, indent=2) + "\n")
