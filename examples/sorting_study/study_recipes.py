"""Recipes of a small research project: how fast are three ways to sort numbers?

The project defines its own recipes here and builds on cmpy's built-in ones
(``detect cpu`` describes the machine the figures come from). Run it from
the command line with this folder on ``CMPY_RECIPES_PATH``::

    CMPY_RECIPES_PATH=examples/sorting_study cmpy run "report sorting-study"

or from Python with ``python examples/sorting_study/run_study.py``.
"""

from __future__ import annotations

import heapq
import random
import time
from pathlib import Path

from cmpy import Ctx, Dep, Result, Variation, script


@script(
    tags="get dataset numbers study",
    alias="study-numbers",
    cache=True,
    inputs={
        "count": ("STUDY_COUNT", "how many numbers to generate"),
        "seed": ("STUDY_SEED", "random seed, so the data set is the same everywhere"),
    },
    env={"STUDY_COUNT": "20000", "STUDY_SEED": "42"},
    exports=["STUDY_DATA_*"],
)
def study_numbers(ctx: Ctx) -> dict[str, str]:
    """Generate the data set: random integers, one per line, from a fixed seed."""
    count = int(ctx.env["STUDY_COUNT"])
    rng = random.Random(int(ctx.env["STUDY_SEED"]))
    path = ctx.path / "numbers.txt"
    path.write_text("\n".join(str(rng.randrange(10**9)) for _ in range(count)) + "\n")
    return {"STUDY_DATA_FILE": str(path), "STUDY_DATA_COUNT": str(count)}


def _merge_sort(items: list[int]) -> list[int]:
    if len(items) <= 1:
        return items
    mid = len(items) // 2
    left, right = _merge_sort(items[:mid]), _merge_sort(items[mid:])
    out: list[int] = []
    i = j = 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]


def _heap_sort(items: list[int]) -> list[int]:
    heap = list(items)
    heapq.heapify(heap)
    return [heapq.heappop(heap) for _ in range(len(heap))]


_ALGORITHMS = {"builtin": sorted, "heap": _heap_sort, "merge": _merge_sort}


@script(
    tags="run sort-benchmark study",
    alias="study-sort-benchmark",
    deps=[Dep("detect cpu", name="cpu"), Dep("get dataset numbers study", name="data")],
    variations={
        "builtin": Variation(group="algorithm", default=True, env={"STUDY_ALGORITHM": "builtin"}),
        "heap": Variation(group="algorithm", env={"STUDY_ALGORITHM": "heap"}),
        "merge": Variation(group="algorithm", env={"STUDY_ALGORITHM": "merge"}),
    },
    inputs={
        "repeat": ("STUDY_REPEAT", "how many times to time the sort (the best counts)"),
        # handed down to the data set recipe, which reads STUDY_COUNT
        "count": ("STUDY_COUNT", "how many numbers to sort"),
    },
    env={"STUDY_REPEAT": "3"},
)
def study_sort_benchmark(ctx: Ctx) -> Result:
    """Time one sorting algorithm on the data set; check that it really sorts."""
    numbers = [int(x) for x in Path(ctx.env["STUDY_DATA_FILE"]).read_text().split()]
    algorithm = _ALGORITHMS[ctx.env["STUDY_ALGORITHM"]]
    best = float("inf")
    for _ in range(int(ctx.env["STUDY_REPEAT"])):
        start = time.perf_counter()
        ordered = algorithm(numbers)
        best = min(best, time.perf_counter() - start)
    if ordered != sorted(numbers):
        raise RuntimeError(f"{ctx.env['STUDY_ALGORITHM']} did not sort the numbers")
    return Result(
        env={
            "STUDY_ALGORITHM": ctx.env["STUDY_ALGORITHM"],
            "STUDY_SECONDS": f"{best:.6f}",
            "STUDY_CPU": ctx.env["CMPY_HOST_CPU_MODEL"],
        },
        state={"numbers": len(numbers)},
    )


@script(tags="report sorting-study", alias="study-report", deps=[Dep("detect os", name="os")])
async def study_report(ctx: Ctx) -> dict[str, str]:
    """Run every algorithm and write a Markdown table of the results."""
    rows = []
    for name in _ALGORITHMS:
        result = await ctx.run("run sort-benchmark study", **{name: True})
        rows.append((name, float(result["STUDY_SECONDS"]), result["STUDY_CPU"]))
    rows.sort(key=lambda row: row[1])
    fastest = rows[0][1]
    lines = [
        f"# Sorting study on {ctx.env.get('CMPY_HOST_OS_DISTRO_NAME', ctx.env['CMPY_HOST_OS_NAME'])}",
        "",
        "| algorithm | best time (ms) | relative |",
        "|---|---|---|",
    ]
    lines += [f"| {n} | {s * 1000:.2f} | {s / fastest:.1f}x |" for n, s, _ in rows]
    lines += ["", f"CPU: {rows[0][2]}"]
    report = ctx.path / "report.md"
    report.write_text("\n".join(lines) + "\n")
    ctx.log(f"report written to {report}")
    return {"STUDY_REPORT": str(report), "STUDY_FASTEST": rows[0][0]}
