"""Run the sorting study from Python: import the project's recipes, then ``run``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import study_recipes  # noqa: F401  (defines the project's recipes)

from cmpy import run


def main() -> int:
    quiet = "--quiet" in sys.argv
    result = run("report sorting-study", quiet=quiet)
    print(Path(result["STUDY_REPORT"]).read_text(), end="")
    print(f"fastest: {result['STUDY_FASTEST']}")
    data = run("get dataset numbers study", quiet=quiet)
    print(f"data set: {data['STUDY_DATA_FILE']} (cached: {data.cached})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
