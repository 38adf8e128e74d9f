"""CM, MLCFlow and cmpy side by side on the same script folders: whole-process wall times.

Run: ``python benchmarks/bench_cm.py [--repeat N] [--json FILE]`` (a table on stdout;
several minutes, MLCFlow takes seconds per call).

Setup, all under the work dir (``--workdir``, by default ``$TMPDIR/cmpy-bench-cm``):

- ``venvs/cmind`` and ``venvs/mlcflow``: virtual environments made with this
  interpreter, ``pip install cmind`` / ``pip install mlcflow`` (kept between
  runs and reused; ``--fresh-venvs`` makes them again);
- a run folder (removed at the end unless ``--keep``) holding the corpora
  unpacked from ``../shared/cm-corpus/*.tgz`` (or ``$CMPY_CM_CORPUS``, a folder
  of the two archives), a do-nothing script folder in a tiny repository of
  each flavour, a repository of 300 script folders of each flavour for the
  listing, and one HOME-like folder per tool and home, so the user's
  ``~/CM``, ``~/MLC`` and ``CMPY_HOME`` are never touched.

How each tool is pointed at a local repository folder (no network):

- CM (cmind): ``CM_REPOS=<home>/CM`` (cmind's default is ``$HOME/CM``) and
  ``cm add repo --path=FOLDER``: cmind's repo automation finds the folder's
  ``cmr.yaml``, only registers it (appends the path to ``$CM_REPOS/repos.json``)
  and reindexes (``$CM_REPOS/index.json``).
- MLCFlow: ``MLC_REPOS=<home>/MLC/repos`` (its default is ``$HOME/MLC/repos``)
  and ``mlc add repo FOLDER``: an existing folder with a root ``meta.yaml`` is
  registered in ``$MLC_REPOS/repos.json`` and added to its index files.
- cmpy: ``CMPY_HOME=<home>/cmpy`` and ``cmpy repo add FOLDER``, then one
  ``cmpy find`` (untimed) so its index is warm like the other two's.

Columns: CM runs cm4mlops (the CM flavour), MLCFlow runs mlperf-automations
(the MLC flavour), and cmpy runs each of the two in its own home; each ratio
compares cmpy with the tool running the same folders. Every figure is the
median of ``--repeat`` runs after one untimed run (bytecode, OS caches; for a
"second run on" row it is the run that fills the cache). All tools get the
same PATH (this process's) and a clean environment (no inherited ``CM_*``,
``MLC_*``, ``CMPY_*``), bytecode writing on. Whether a script is cached is
read from each tool's own cache folder after the runs and printed under the
table: "cached" means "the second run on", which for CM's detect-os is a run
like the first. A tool that cannot be installed or set up is skipped with a
message; a row that fails shows "failed" and its error text is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DEFAULT = ROOT.parent / "shared" / "cm-corpus"
SCRIPT_AUTOMATION_UID = "5b4e0237da074764"
LIST_SIZE = 300
LIST_TAG = "bench-list"

# targets: how many times faster cmpy should be than (CM, MLCFlow)
TARGET = {"cm": 2.0, "mlc": 20.0}
TARGET_LIST_WARM = {"cm": 10.0, "mlc": 20.0}


class SetupError(Exception):
    """A tool or one of its homes could not be set up."""


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def call(argv: Sequence[str], env: dict[str, str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a setup command; SetupError with its output when it fails."""
    try:
        done = subprocess.run(
            list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"{' '.join(argv)}: {exc}") from exc
    if done.returncode != 0:
        raise SetupError(f"{' '.join(argv)} exited with {done.returncode}:\n{tail(done.stderr + done.stdout)}")
    return done


# ---------------------------------------------------------------- the tools


class Tool:
    key = ""  # cm, mlc, cmpy-cm, cmpy-mlc
    label = ""
    flavour = ""  # cm or mlc: which repositories it runs

    def __init__(self, base_env: dict[str, str], timeout: float) -> None:
        self.base_env = base_env
        self.timeout = timeout
        self.version = ""
        self.why_not = ""  # set when the tool is skipped

    def env(self, home: Path) -> dict[str, str]:
        return {**self.base_env, "HOME": str(home)}

    def register(self, home: Path, repo: Path, cwd: Path) -> None:
        raise NotImplementedError

    def warm(self, home: Path, cwd: Path) -> None:
        """Anything after registration that makes the index warm."""

    def run_argv(self, tags: Sequence[str]) -> list[str]:
        raise NotImplementedError

    def find_argv(self, tag: str) -> list[str]:
        raise NotImplementedError

    def cache_entries(self, home: Path, alias: str, cwd: Path) -> int | None:
        raise NotImplementedError

    def make_home(self, home: Path, repos: Sequence[Path], cwd: Path) -> Path:
        home.mkdir(parents=True)
        for repo in repos:
            self.register(home, repo, cwd)
        self.warm(home, cwd)
        return home


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / "python"


def ensure_venv(venv: Path, package: str, module: str, fresh: bool, timeout: float) -> str:
    """A virtual environment with ``package`` installed; returns the installed version."""
    py = venv_python(venv)
    probe = [str(py), "-c", f"import {module}, importlib.metadata as m; print(m.version({package.split('=')[0].split('<')[0].split('>')[0]!r}))"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    if fresh and venv.exists():
        shutil.rmtree(venv)
    if py.exists():
        # in the venv's folder: importing mlc writes .mlc-log.txt into the current one
        done = subprocess.run(probe, env=env, capture_output=True, text=True, cwd=venv.parent)
        if done.returncode == 0:
            return done.stdout.strip()
        shutil.rmtree(venv)
    print(f"  making {venv} and installing {package} ...", file=sys.stderr, flush=True)
    call([sys.executable, "-m", "venv", str(venv)], env, venv.parent, timeout)
    call([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", package], env, venv.parent, timeout)
    return call(probe, env, venv.parent, timeout).stdout.strip()


class CM(Tool):
    key, label, flavour = "cm", "CM", "cm"

    def __init__(self, base_env: dict[str, str], timeout: float, venv: Path) -> None:
        super().__init__(base_env, timeout)
        self.bin = venv_python(venv).parent / "cm"

    def env(self, home: Path) -> dict[str, str]:
        return {**super().env(home), "CM_REPOS": str(home / "CM")}

    def register(self, home: Path, repo: Path, cwd: Path) -> None:
        call([str(self.bin), "add", "repo", f"--path={repo}"], self.env(home), cwd, self.timeout)

    def run_argv(self, tags: Sequence[str]) -> list[str]:
        return [str(self.bin), "run", "script", f"--tags={','.join(tags)}", "--quiet"]

    def find_argv(self, tag: str) -> list[str]:
        return [str(self.bin), "find", "script", f"--tags={tag}"]

    def cache_entries(self, home: Path, alias: str, cwd: Path) -> int | None:
        return count_cache_metas(home / "CM" / "repos" / "local" / "cache", "_cm.json", "associated_script_artifact", alias)


class MLC(Tool):
    key, label, flavour = "mlc", "MLCFlow", "mlc"

    def __init__(self, base_env: dict[str, str], timeout: float, venv: Path) -> None:
        super().__init__(base_env, timeout)
        self.bin = venv_python(venv).parent / "mlc"

    def env(self, home: Path) -> dict[str, str]:
        return {**super().env(home), "MLC_REPOS": str(home / "MLC" / "repos")}

    def register(self, home: Path, repo: Path, cwd: Path) -> None:
        call([str(self.bin), "add", "repo", str(repo)], self.env(home), cwd, self.timeout)

    def run_argv(self, tags: Sequence[str]) -> list[str]:
        return [str(self.bin), "run", "script", f"--tags={','.join(tags)}", "--quiet"]

    def find_argv(self, tag: str) -> list[str]:
        return [str(self.bin), "find", "script", f"--tags={tag}"]

    def cache_entries(self, home: Path, alias: str, cwd: Path) -> int | None:
        folder = home / "MLC" / "repos" / "local" / "cache"
        return count_cache_metas(folder, "meta.json", "associated_script_item", alias)


class Cmpy(Tool):
    def __init__(self, base_env: dict[str, str], timeout: float, flavour: str) -> None:
        super().__init__(base_env, timeout)
        self.flavour = flavour
        self.key = f"cmpy-{flavour}"
        self.label = f"cmpy ({flavour.upper()})"
        bin_dir = os.path.dirname(sys.executable)  # not resolved: a venv's bin holds links
        script = os.path.join(bin_dir, "cmpy")
        self.cli = [script] if os.path.isfile(script) else [sys.executable, "-m", "cmpy"]

    def env(self, home: Path) -> dict[str, str]:
        return {**super().env(home), "CMPY_HOME": str(home / "cmpy")}

    def register(self, home: Path, repo: Path, cwd: Path) -> None:
        call([*self.cli, "repo", "add", str(repo)], self.env(home), cwd, self.timeout)

    def warm(self, home: Path, cwd: Path) -> None:
        call([*self.cli, "find"], self.env(home), cwd, self.timeout)

    def run_argv(self, tags: Sequence[str]) -> list[str]:
        return [*self.cli, "run", " ".join(tags), "-q"]

    def find_argv(self, tag: str) -> list[str]:
        return [*self.cli, "find", tag]

    def make_cold(self, home: Path) -> None:
        (home / "cmpy" / "recipe-index.marshal").unlink(missing_ok=True)

    def cache_entries(self, home: Path, alias: str, cwd: Path) -> int | None:
        try:
            done = call([*self.cli, "cache", "ls", alias, "--json"], self.env(home), cwd, self.timeout)
            return sum(1 for entry in json.loads(done.stdout) if entry.get("recipe") == alias)
        except (SetupError, ValueError, AttributeError):
            return None


def count_cache_metas(folder: Path, meta_name: str, key: str, alias: str) -> int | None:
    if not folder.is_dir():
        return 0
    count = 0
    for meta in folder.glob(f"*/{meta_name}"):
        try:
            owner = json.loads(meta.read_text()).get(key, "")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(owner, str) and owner.split(",")[0].strip() == alias:
            count += 1
    return count


# ---------------------------------------------------------------- the repositories


NOOP_RUN_SH = "#!/bin/bash\n# a do-nothing script for bench_cm.py\n"


def write_noop_repo(folder: Path, flavour: str) -> Path:
    """A repository holding one script folder, bench-noop: a meta and an empty run.sh."""
    meta_name = "_cm.yaml" if flavour == "cm" else "meta.yaml"
    repo_meta = "cmr.yaml" if flavour == "cm" else "meta.yaml"
    script = folder / "script" / "bench-noop"
    script.mkdir(parents=True)
    (folder / repo_meta).write_text(f"alias: bench-noop-{flavour}\nuid: {'b0' if flavour == 'cm' else 'b1'}e4c4a1f00d0001\ngit: false\n")
    (script / meta_name).write_text(
        "alias: bench-noop\n"
        "uid: 4e1c0ffee0b0a7ed\n"
        "automation_alias: script\n"
        f"automation_uid: {SCRIPT_AUTOMATION_UID}\n"
        "tags:\n- bench\n- noop\n"
        "cache: false\n"
    )
    run_sh = script / "run.sh"
    run_sh.write_text(NOOP_RUN_SH)
    run_sh.chmod(0o755)
    return folder


def write_list_repo(folder: Path, corpus_repo: Path, flavour: str, count: int) -> Path:
    """A repository of ``count`` script folders: the metas of the corpus (only the meta files),
    each with the tag LIST_TAG added; copies with a new alias and uid fill it up to ``count``.
    The corpus's ``automation/`` comes along: CM's script automation is defined there."""
    import yaml  # PyYAML: cmpy's cm extra needs it anyway

    meta_name = "_cm.yaml" if flavour == "cm" else "meta.yaml"
    sources = sorted(p.parent for p in (corpus_repo / "script").glob(f"*/{meta_name}"))
    if not sources:
        raise SetupError(f"no script folders in {corpus_repo / 'script'}")
    (folder / "script").mkdir(parents=True)
    if (corpus_repo / "automation").is_dir():  # CM's script automation lives in the repository
        shutil.copytree(corpus_repo / "automation", folder / "automation", symlinks=True)
    repo_meta = "cmr.yaml" if flavour == "cm" else "meta.yaml"
    (folder / repo_meta).write_text(f"alias: bench-list-{flavour}\nuid: {'b2' if flavour == 'cm' else 'b3'}e4c4a1f00d0002\ngit: false\n")
    for i in range(count):
        src = sources[i % len(sources)]
        meta = yaml.safe_load((src / meta_name).read_text(encoding="utf-8")) or {}
        name = src.name
        if i >= len(sources):
            name = f"{src.name}-copy{i // len(sources) + 1}"
            meta["alias"] = name
            meta["uid"] = f"{0xbe4c0000000000 + i:016x}"
        tags = meta.get("tags") or []
        if isinstance(tags, str):
            tags = [t.strip() for t in tags.split(",") if t.strip()]
        if i >= len(sources):
            tags = [t for t in tags if t != src.name] + [name]
        meta["tags"] = [*tags, LIST_TAG]
        target = folder / "script" / name
        target.mkdir()
        (target / meta_name).write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return folder


def find_archives() -> tuple[Path, Path]:
    where = Path(os.environ.get("CMPY_CM_CORPUS") or CORPUS_DEFAULT)
    cm, mlc = where / "cm4mlops.tgz", where / "mlperf-automations.tgz"
    missing = [str(p) for p in (cm, mlc) if not p.is_file()]
    if missing:
        raise SystemExit(f"corpus archives not found: {', '.join(missing)} (set CMPY_CM_CORPUS to their folder)")
    return cm, mlc


def unpack(archive: Path, into: Path, name: str) -> Path:
    with tarfile.open(archive) as tar:
        if sys.version_info >= (3, 12):
            tar.extractall(into, filter="data")
        else:
            tar.extractall(into)  # a known test archive
    repo = into / name
    if not (repo / "script").is_dir():
        raise SystemExit(f"{archive} did not unpack into {repo}/script")
    return repo


# ---------------------------------------------------------------- measuring


@dataclass
class Cell:
    times: list[float] = field(default_factory=list)
    error: str = ""
    found: int | None = None  # lines a listing printed
    cache: int | None = None  # cache entries of the script after the runs
    borrowed: str = ""  # a figure shown from another row

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times and not self.error else None


def timed(argv: Sequence[str], env: dict[str, str], cwd: Path, timeout: float) -> tuple[float, str, str]:
    """Wall time (s) of one run; RuntimeError with its output when it fails."""
    start = time.perf_counter()
    try:
        done = subprocess.run(
            list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"timed out after {timeout:.0f} s: {' '.join(argv)}") from exc
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited with {done.returncode}:\n{tail(done.stderr + chr(10) + done.stdout)}"
        )
    return wall, done.stdout, done.stderr


def measure(
    argv: Sequence[str], env: dict[str, str], cwd: Path, repeat: int, timeout: float,
    before: Callable[[int], tuple[list[str], dict[str, str]] | None] | None = None,
) -> tuple[Cell, tuple[str, str]]:
    """Median of ``repeat`` runs after one untimed run; ``before(i)`` may set up each run
    and return the argv and env to use. Returns the cell and the first run's output
    (stdout and stderr: MLCFlow logs its findings on stderr)."""
    cell, first_out = Cell(), ("", "")
    for i in range(repeat + 1):
        run_argv, run_env = list(argv), env
        try:
            if before is not None:
                got = before(i)
                if got is not None:
                    run_argv, run_env = got
            wall, out, err = timed(run_argv, run_env, cwd, timeout)
        except (RuntimeError, SetupError) as exc:
            cell.error = str(exc)
            return cell, first_out
        if i == 0:
            first_out = (out, err)
        else:
            cell.times.append(wall)
    return cell, first_out


def listed(output: tuple[str, str], tool: Tool) -> int:
    """How many script folders a listing printed: cmpy one per line on stdout, CM one path
    per line on stdout, MLCFlow one "Item path: ..." log line per folder on stderr."""
    out, err = output
    if isinstance(tool, Cmpy):
        return sum(1 for line in out.splitlines() if line.strip())
    return sum(1 for line in (out + "\n" + err).splitlines() if os.sep + "script" + os.sep in line)


# ---------------------------------------------------------------- output


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


@dataclass
class Row:
    key: str
    title: str
    cells: dict[str, Cell] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=lambda: dict(TARGET))
    note: str = ""

    def ratio(self, other: str) -> float | None:
        mine, theirs = self.cells.get(f"cmpy-{other}"), self.cells.get(other)
        if mine is None or theirs is None or mine.median is None or theirs.median is None:
            return None
        return theirs.median / mine.median


def cell_text(cell: Cell | None, available: bool) -> str:
    if not available:
        return "skipped"
    if cell is None:
        return "n/a"
    if cell.error:
        return "failed"
    return fmt(cell.median) + ("*" if cell.borrowed else "")


def ratio_text(row: Row, other: str) -> str:
    value = row.ratio(other)
    if value is None:
        return "-"
    target = row.targets[other]
    return f"{value:.1f}x {'ok' if value >= target else 'MISS'} (>={target:g}x)"


def print_table(rows: Sequence[Row], tools: dict[str, Tool], repeat: int) -> None:
    order = ["cm", "cmpy-cm", "mlc", "cmpy-mlc"]
    head = ["row", "CM", "cmpy (CM)", "CM/cmpy", "MLCFlow", "cmpy (MLC)", "MLCFlow/cmpy"]
    table = []
    for row in rows:
        cells = [cell_text(row.cells.get(k), not tools[k].why_not) for k in order]
        table.append([row.title, cells[0], cells[1], ratio_text(row, "cm"), cells[2], cells[3], ratio_text(row, "mlc")])
    widths = [max(len(r[i]) for r in [head, *table]) for i in range(len(head))]
    print(f"whole process, median of {repeat} runs (after one untimed run)")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in table:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (default 5)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures and ratios to FILE")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "cmpy-bench-cm",
                        help="the benchmark's own folder: virtual environments, and a run folder")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (homes, corpora)")
    parser.add_argument("--fresh-venvs", action="store_true", help="make the virtual environments again")
    parser.add_argument("--skip", default="", help="tools to leave out, comma separated: cm, mlc, cmpy")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one command may take")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    cm_archive, mlc_archive = find_archives()

    base_env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("CM_", "MLC_", "CMPY_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    args.workdir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=args.workdir))
    try:
        return bench(args, skip, base_env, run_dir, cm_archive, mlc_archive)
    finally:
        if args.keep:
            print(f"run folder kept: {run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


def bench(args: argparse.Namespace, skip: set[str], base_env: dict[str, str], run_dir: Path,
          cm_archive: Path, mlc_archive: Path) -> int:
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    cwd = run_dir / "cwd"  # every command runs here (MLCFlow writes .mlc-log.txt into it)
    cwd.mkdir()
    say(f"unpacking the corpora into {run_dir} ...")
    corpus = {"cm": unpack(cm_archive, run_dir / "corpus", "cm4mlops"),
              "mlc": unpack(mlc_archive, run_dir / "corpus", "mlperf-automations")}
    noop = {f: write_noop_repo(run_dir / f"noop-{f}", f) for f in ("cm", "mlc")}
    listing: dict[str, Path | None] = {}
    list_error = ""
    for f in ("cm", "mlc"):
        try:
            listing[f] = write_list_repo(run_dir / f"list-{f}", corpus[f], f, LIST_SIZE)
        except (ImportError, SetupError, OSError) as exc:
            listing[f], list_error = None, f"listing repositories not written: {exc}"

    tools: dict[str, Tool] = {}
    venvs = args.workdir / "venvs"
    venvs.mkdir(exist_ok=True)
    for cls, package, module in ((CM, "cmind", "cmind"), (MLC, "mlcflow", "mlc")):
        tool = cls(base_env, args.timeout, venvs / package)
        tools[tool.key] = tool
        if tool.key in skip:
            tool.why_not = "left out (--skip)"
            continue
        try:
            tool.version = f"{package} {ensure_venv(venvs / package, package, module, args.fresh_venvs, args.timeout)}"
        except SetupError as exc:
            tool.why_not = f"could not install {package}: {exc}"
    for flavour in ("cm", "mlc"):
        tool = Cmpy(base_env, args.timeout, flavour)
        tools[tool.key] = tool
        if "cmpy" in skip:
            tool.why_not = "left out (--skip)"
        else:
            try:
                import cmpy

                tool.version = f"cmpy {cmpy.__version__}"
            except ImportError as exc:
                tool.why_not = f"cmpy cannot be imported here: {exc}"

    homes: dict[str, Path] = {}
    list_homes: dict[str, Path] = {}
    for key, tool in tools.items():
        if tool.why_not:
            continue
        say(f"setting up {tool.label} ({tool.version}) ...")
        try:
            homes[key] = tool.make_home(run_dir / "homes" / key, [corpus[tool.flavour], noop[tool.flavour]], cwd)
        except SetupError as exc:
            tool.why_not = f"could not register the repositories: {exc}"
            continue
        repo = listing[tool.flavour]
        if repo is not None:
            try:
                list_homes[key] = tool.make_home(run_dir / "homes" / f"{key}-list", [repo], cwd)
            except SetupError as exc:
                say(f"  {tool.label}: no listing home: {exc}")
    live = [k for k, t in tools.items() if not t.why_not]

    rows: list[Row] = []
    cache_notes: list[str] = []

    def run_row(key: str, title: str, tags: list[str], alias: str | None, keys: Sequence[str], note: str = "") -> Row:
        row = Row(key, title, note=note)
        for k in keys:
            if k not in live:
                continue
            tool = tools[k]
            say(f"  {title}: {tool.label} ...")
            row.cells[k], _ = measure(tool.run_argv(tags), tool.env(homes[k]), cwd, args.repeat, args.timeout)
            if alias is not None:
                row.cells[k].cache = tool.cache_entries(homes[k], alias, cwd)
        rows.append(row)
        return row

    say("measuring ...")
    floor, _ = measure([sys.executable, "-c", "pass"], base_env, cwd, args.repeat, args.timeout)
    all_keys = ["cm", "cmpy-cm", "mlc", "cmpy-mlc"]
    run_row("noop", "do-nothing script (bench-noop: meta + empty run.sh)", ["bench", "noop"], None, all_keys)
    run_row("hello", "print-hello-world (CM flavour only)", ["print", "hello-world", "native"], None, ["cm", "cmpy-cm"],
            note="mlperf-automations has no print-hello-world")
    detect = run_row("detect-os", "detect-os, second run on", ["detect", "os"], "detect-os", all_keys)

    first = Row("py-first", "get-python3, first run (fresh home)")
    for k in all_keys:
        if k not in live:
            continue
        tool = tools[k]
        say(f"  {first.title}: {tool.label} ...")

        def fresh(i: int, tool: Tool = tool, k: str = k) -> tuple[list[str], dict[str, str]]:
            home = tool.make_home(run_dir / "homes" / f"{k}-first{i}", [corpus[tool.flavour]], cwd)
            return tool.run_argv(["get", "python3"]), tool.env(home)

        first.cells[k], _ = measure([], {}, cwd, args.repeat, args.timeout, before=fresh)
        last_home = run_dir / "homes" / f"{k}-first{args.repeat}"
        if not first.cells[k].error:
            first.cells[k].cache = tool.cache_entries(last_home, "get-python3", cwd)
        for i in range(args.repeat + 1):  # they are big (the index of each home)
            shutil.rmtree(run_dir / "homes" / f"{k}-first{i}", ignore_errors=True)
    rows.append(first)
    cached = run_row("py-cached", "get-python3, second run on", ["get", "python3"], "get-python3", all_keys)

    warm = Row("list-warm", f"find over {LIST_SIZE} script folders, warm index", targets=dict(TARGET_LIST_WARM))
    cold = Row("list-cold", f"find over {LIST_SIZE} script folders, cmpy's index cold")
    for k in all_keys:
        if k not in live:
            continue
        tool = tools[k]
        if k not in list_homes:
            warm.cells[k] = Cell(error=list_error or "no listing home (see the setup messages)")
            continue
        say(f"  {warm.title}: {tool.label} ...")
        env = tool.env(list_homes[k])
        warm.cells[k], out = measure(tool.find_argv(LIST_TAG), env, cwd, args.repeat, args.timeout)
        warm.cells[k].found = listed(out, tool)
        if isinstance(tool, Cmpy):
            say(f"  {cold.title}: {tool.label} ...")

            def make_cold(i: int, tool: Cmpy = tool, k: str = k) -> None:
                tool.make_cold(list_homes[k])

            cold.cells[k], out = measure(tool.find_argv(LIST_TAG), env, cwd, args.repeat, args.timeout, before=make_cold)
            cold.cells[k].found = listed(out, tool)
        else:
            cold.cells[k] = Cell(times=warm.cells[k].times, error=warm.cells[k].error, borrowed="warm")
    rows += [warm, cold]

    # ------------------------------------------------------------ report
    print()
    print("bench_cm: CM, MLCFlow and cmpy on the same script folders")
    print(f"  command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    for key in all_keys:
        tool = tools[key]
        print(f"  {tool.label:<11} {tool.version or '-':<16} {'skipped: ' + tool.why_not if tool.why_not else ''}")
    print(f"  corpora: {cm_archive.parent}; CM runs cm4mlops, MLCFlow mlperf-automations, cmpy each in its own home")
    print(f"  python -c pass: {fmt(floor.median)} (the floor of any figure; all four tools run on this interpreter)")
    print()
    print_table(rows, tools, args.repeat)
    print("  * the same figure as the warm row: only cmpy's index is made cold")
    print("  targets: cmpy >= 2x faster than CM (10x on the warm listing) and >= 20x faster than MLCFlow")

    print()
    print("what each tool did:")
    for row in (detect, first, cached):
        parts = []
        for k in all_keys:
            cell = row.cells.get(k)
            if cell is None or cell.error:
                continue
            if cell.cache is None:
                parts.append(f"{tools[k].label}: cache not readable")
            elif cell.cache == 0:
                parts.append(f"{tools[k].label}: not cached (runs every time)")
            else:
                parts.append(f"{tools[k].label}: cached ({cell.cache} entr{'y' if cell.cache == 1 else 'ies'})")
        if parts:
            cache_notes.append(f"  {row.title}: " + "; ".join(parts))
    print("\n".join(cache_notes))
    counts = [f"{tools[k].label} {c.found}" for k, c in warm.cells.items() if c.found is not None and not c.error]
    if counts:
        print(f"  listing (find {LIST_TAG}): script folders printed: {', '.join(counts)} (of {LIST_SIZE})")
    for row in rows:
        if row.note:
            print(f"  {row.title}: {row.note}")

    errors = [(row, tools[k], c) for row in rows for k, c in row.cells.items() if c.error and not c.borrowed]
    if errors:
        print()
        print("failures:")
        for row, tool, cell in errors:
            print(f"- {row.title}, {tool.label}:")
            print("    " + cell.error.replace("\n", "\n    "))
    for tool in tools.values():
        if tool.why_not and "--skip" not in tool.why_not:
            print(f"skipped {tool.label}: {tool.why_not}")

    if args.json:
        doc = {
            "command": [Path(sys.executable).name, *sys.argv],
            "repeat": args.repeat,
            "python_c_pass_ms": None if floor.median is None else round(floor.median * 1000, 1),
            "tools": {k: {"label": t.label, "version": t.version, "skipped": t.why_not or None}
                      for k, t in tools.items()},
            "targets": {"default": TARGET, "list-warm": TARGET_LIST_WARM},
            "rows": [
                {
                    "key": row.key,
                    "title": row.title,
                    "note": row.note or None,
                    "cells": {
                        k: {
                            "median_ms": None if c.median is None else round(c.median * 1000, 1),
                            "best_ms": None if not c.times or c.error else round(min(c.times) * 1000, 1),
                            "runs_ms": [round(t * 1000, 1) for t in c.times] if not c.error else [],
                            "error": c.error or None,
                            "cache_entries": c.cache,
                            "found": c.found,
                            "same_as": c.borrowed or None,
                        }
                        for k, c in row.cells.items()
                    },
                    "ratios": {
                        other: {
                            "value": None if row.ratio(other) is None else round(row.ratio(other) or 0, 2),
                            "target": row.targets[other],
                            "met": None if row.ratio(other) is None else (row.ratio(other) or 0) >= row.targets[other],
                        }
                        for other in ("cm", "mlc")
                    },
                }
                for row in rows
            ],
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
