"""The example research project runs from Python and from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sorting_study"


def test_sorting_study_from_python() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE / "run_study.py"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "| builtin |" in done.stdout and "| merge |" in done.stdout
    assert "(cached: True)" in done.stdout


def test_sorting_study_from_the_cli() -> None:
    env = {**os.environ, "CMPY_RECIPES_PATH": str(EXAMPLE)}

    def cmpy(*args: str) -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-m", "cmpy", *args, "--json", "-q"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        doc: dict[str, object] = json.loads(done.stdout)
        return doc

    report = cmpy("run", "report sorting-study")
    env_out = report["env"]
    assert isinstance(env_out, dict)
    assert Path(env_out["STUDY_REPORT"]).read_text().startswith("# Sorting study")
    one = cmpy("run", "run sort-benchmark study _heap", "--count=3000")
    assert one["variations"] == ["heap"]
    assert one["state"] == {"numbers": 3000}
    data = cmpy("run", "get dataset numbers study", "--count=3000")
    assert data["cached"] is True
