"""Core benchmarks: start-up, cached runs, lookup over many recipes, planning, concurrency.

Run: ``python benchmarks/bench_core.py`` (a table on stdout; a few minutes at most).
Whole-process figures run with bytecode writing on, as users have it, and are
shown beside ``python -c pass`` measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def whole_process(argv: Sequence[str], env: dict[str, str], repeat: int) -> float:
    """Median wall time of a command, in ms (after two warm-up runs)."""
    times = []
    for i in range(repeat + 2):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        if i >= 2:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def write_recipes(folder: Path, count: int, per_module: int = 100) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for m in range(0, count, per_module):
        lines = ["from cmpy import Variation, script", ""]
        for i in range(m, min(m + per_module, count)):
            lines += [
                f"@script(tags='gen recipe r{i} family{i % 37}', alias='gen-r{i}',",
                "        variations={'a': Variation(group='g', default=True), 'b': Variation(group='g')})",
                f"def gen_r{i}(ctx):",
                f"    return {{'R{i}': '1'}}",
                "",
            ]
        (folder / f"gen_{m // per_module:04d}.py").write_text("\n".join(lines))


GRAPH = textwrap.dedent(
    """
    from cmpy import Dep, script

    @script(tags="g leaf", cache=True)
    def g_leaf(ctx):
        return {"LEAF": "1"}

    @script(tags="g detector")
    def g_detector(ctx):
        return {"DETECTED": "same"}
    """
) + "".join(
    textwrap.dedent(
        f"""
        @script(tags="g mid{i}", alias="g-mid{i}", cache=True, deps=[Dep("g leaf"), Dep("g detector")])
        def g_mid{i}(ctx):
            return {{"MID{i}": ctx.env["LEAF"]}}
        """
    )
    for i in range(7)
) + textwrap.dedent(
    """
    @script(tags="g top", cache=True, deps=[Dep(f"g mid{i}") for i in range(7)])
    def g_top(ctx):
        return {"TOP": "1"}
    """
)

SLEEPERS = textwrap.dedent(
    """
    import time
    from cmpy import Dep, script

    for i in range(8):
        @script(tags=f"sleep s{i}", alias=f"sleep-s{i}")
        def sleeper(ctx, i=i):
            time.sleep(0.2)
            return {}

    @script(tags="sleep all", deps=[Dep(f"sleep s{i}") for i in range(8)])
    def sleep_all(ctx):
        return {}
    """
)

NOOP = textwrap.dedent(
    """
    from cmpy import script

    @script(tags="noop uncached")
    def noop_uncached(ctx):
        return {}

    @script(tags="noop cached", cache=True)
    def noop_cached(ctx):
        return {"X": "1"}
    """
)


def planning_graph(n: int) -> tuple[object, object]:
    """A registry-free selector and request for a layered graph of n recipes."""
    from cmpy._model import Dep, Recipe
    from cmpy._plan import Request
    from cmpy._query import Query

    width = 20
    recipes: dict[str, Recipe] = {}
    for i in range(n):
        layer = i // width
        deps = ()
        if layer > 0:
            base = (layer - 1) * width
            deps = tuple(Dep(f"p{base + (i + k) % width}") for k in range(3))
        recipes[f"p{i}"] = Recipe(alias=f"p{i}", uid=f"{i:016x}", tags=(f"p{i}",), deps=deps, fingerprint=f"f{i}")
    top = Recipe(
        alias="top", uid="f" * 16, tags=("top",),
        deps=tuple(Dep(f"p{i}") for i in range(n - width, n)), fingerprint="top",
    )

    class Selector:
        def select(self, query: Query) -> Recipe:
            return recipes[query.tags[0]]

    return Selector(), Request(recipe=top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15, help="runs per whole-process figure")
    args = parser.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        py = sys.executable
        cli = [py, "-m", "cmpy"]

        base = whole_process([py, "-c", "pass"], env, args.repeat)
        rows.append(("python -c pass", f"{base:.1f} ms", "(reference)"))

        home_env = {**env, "CMPY_HOME": str(tmp / "home")}
        detect = whole_process([*cli, "run", "detect os", "-q"], home_env, args.repeat)
        rows.append(("cmpy run 'detect os' (second run on)", f"{detect:.1f} ms", "target <= 60 ms; CM ~140 ms"))

        noop_dir = tmp / "noop"
        noop_dir.mkdir()
        (noop_dir / "noop.py").write_text(NOOP)
        noop_env = {**home_env, "CMPY_RECIPES_PATH": str(noop_dir)}
        cached = whole_process([*cli, "run", "noop cached", "-q"], noop_env, args.repeat)
        rows.append(("cmpy run, a cached recipe", f"{cached:.1f} ms", "target <= 0.6x CM's ~80 ms = 48 ms"))
        uncached = whole_process([*cli, "run", "noop uncached", "-q"], noop_env, args.repeat)
        rows.append(("cmpy run, a do-nothing uncached recipe", f"{uncached:.1f} ms", "target <= 0.75x CM's ~100 ms = 75 ms"))

        for count in (300, 10_000):
            folder = tmp / f"gen{count}"
            write_recipes(folder, count)
            gen_env = {**env, "CMPY_HOME": str(tmp / f"home{count}"), "CMPY_RECIPES_PATH": str(folder)}
            subprocess.run([*cli, "find", "gen"], env=gen_env, stdout=subprocess.DEVNULL, check=True)
            found = whole_process([*cli, "find", "gen recipe family3"], gen_env, args.repeat)
            rows.append((f"cmpy find over {count} recipes", f"{found:.1f} ms", "target <= 100 ms; CM lists 295 in ~1.2 s"))

        graph_dir = tmp / "graph"
        graph_dir.mkdir()
        (graph_dir / "graph.py").write_text(GRAPH)
        (graph_dir / "sleepers.py").write_text(SLEEPERS)
        os.environ["CMPY_HOME"] = str(tmp / "inproc")
        os.environ["CMPY_RECIPES_PATH"] = str(graph_dir)
        import cmpy

        cmpy.run("g top", quiet=True)
        hit = median_ms(lambda: cmpy.run("g top", quiet=True), 200)
        rows.append(("in-process cached run() of a 10-recipe graph", f"{hit:.3f} ms", "target <= 1 ms (median)"))

        from cmpy._plan import plan

        selector, request = planning_graph(1000)
        planned = median_ms(lambda: plan(selector, request), 10)  # type: ignore[arg-type]
        nodes = len(plan(selector, request).nodes)  # type: ignore[arg-type]
        rows.append((f"planning a {nodes}-node graph", f"{planned:.1f} ms", "target <= 50 ms"))

        start = time.perf_counter()
        cmpy.run("sleep all", jobs=8, quiet=True)
        wall = time.perf_counter() - start
        rows.append(("8 independent 0.2 s recipes, jobs=8", f"{wall:.2f} s", f"sum 1.60 s; {1.6 / wall:.1f}x"))

    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'figure':>12}  note")
    for name, figure, note in rows:
        print(f"{name:<{width}}  {figure:>12}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
