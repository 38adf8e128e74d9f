"""Benchmark: ``cmpy run "get generic-python-lib _package.pyyaml"``, first and cached runs.

Run: ``python benchmarks/bench_python_lib.py [--repeat N]`` (a table on stdout).

pyyaml must be installed in the interpreter that runs this script (it is
installed with pip when missing), and that interpreter's folder is put first
on PATH, as an activated virtual environment does, so ``get python3`` picks
it and the package is found in-process. Figures are whole-process wall times
(medians) with bytecode writing on, as users have it; the first run starts
from an empty CMPY_HOME each time. CM's figures for its own
``cm run script "get generic-python-lib _package.pyyaml"`` are 1.1 s and
0.23 s, and it runs ``detect-os`` 4 times in a first run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

QUERY = "get generic-python-lib _package.pyyaml"


def ensure_pyyaml() -> str:
    """The installed pyyaml's version, installing it with pip first if needed."""
    from importlib import metadata

    try:
        return metadata.version("pyyaml")
    except metadata.PackageNotFoundError:
        subprocess.run([sys.executable, "-m", "pip", "install", "pyyaml"], check=True)
        return metadata.version("pyyaml")


def timed(argv: Sequence[str], env: dict[str, str]) -> tuple[float, str, str]:
    """Wall time (s), stdout and stderr of one run of a command."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
    return wall, done.stdout, done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=11, help="runs per figure")
    args = parser.parse_args()
    version = ensure_pyyaml()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    bin_dir = os.path.dirname(sys.executable)  # not resolved: a venv's bin holds links
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    script = os.path.join(bin_dir, "cmpy")
    cli = [script] if os.path.isfile(script) else [sys.executable, "-m", "cmpy"]
    run = [*cli, "run", QUERY]

    with tempfile.TemporaryDirectory() as tmp:
        # python -c pass, as the floor of any whole-process figure
        timed([sys.executable, "-c", "pass"], env)
        base = [timed([sys.executable, "-c", "pass"], env)[0] for _ in range(args.repeat)]

        first, detect_os_runs, pip_runs = [], 0, 0
        for i in range(args.repeat + 1):
            home_env = {**env, "CMPY_HOME": os.path.join(tmp, f"first{i}")}
            wall, _, err = timed(run, home_env)
            if i:  # the first one warms the OS caches and writes bytecode
                first.append(wall)
                lines = err.splitlines()
                detect_os_runs = max(
                    detect_os_runs, sum(line.startswith("cmpy: run    detect-os") for line in lines)
                )
                pip_runs += sum("] installing " in line for line in lines)
        home_env = {**env, "CMPY_HOME": os.path.join(tmp, "cached")}
        made = json.loads(timed([*run, "--json"], home_env)[1])
        # the python dep is cached now: this says which interpreter the run used
        python = json.loads(timed([*cli, "run", "get python3", "--json"], home_env)[1])["env"]
        timed(run, home_env)
        cached = [timed(run, home_env)[0] for _ in range(args.repeat)]

    print(f"{QUERY!r}: pyyaml {made['version']} (installed: {version})")
    print(
        f"  python: {python['CMPY_PYTHON_BIN_WITH_PATH']}; pip runs in the first runs: {pip_runs}"
    )
    rows = [
        ("python -c pass", base, "(reference)"),
        ("first run (empty CMPY_HOME)", first, "target <= 300 ms; CM ~1.1 s"),
        ("cached run", cached, "target <= 60 ms; CM ~0.23 s"),
    ]
    width = max(len(r[0]) for r in rows)
    print(
        f"{'whole process, ' + str(args.repeat) + ' runs':<{width}}  {'median':>7}  {'best':>7}  note"
    )
    for name, times, note in rows:
        median, best = statistics.median(times) * 1000, min(times) * 1000
        print(f"{name:<{width}}  {median:>4.0f} ms  {best:>4.0f} ms  {note}")
    print(
        f"{'detect-os runs in a first run':<{width}}  {detect_os_runs:>7}  {'':>7}  target <= 1; CM 4"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
