"""MLPerf's own submission checker: ``get mlperf inference src`` and ``run mlperf inference submission-checker``.

``get mlperf inference src`` clones mlcommons/inference (through ``get
git-repo``: shallow, cached) at the commit this module pins, the one whose
checker ``recipes/mlperf_rules.py`` was read from; ``--url``, ``--branch`` or
``--sha`` choose another (a URL of your own is taken at its default branch
unless a branch or commit is given).

``run mlperf inference submission-checker`` runs that checker
(``python -m submission_checker.main``, or the single-file
``submission_checker.py`` of older checkouts) on a tree, in the interpreter
running cmpy, given PyYAML (which the checker imports) through ``get
generic-python-lib _pyyaml``. Where the checker comes from (``--checker``):

- ``PATH``: an inference checkout, or its ``tools/submission`` folder;
- ``fetch``: ``get mlperf inference src`` (network, the first time);
- nothing: the sources ``get mlperf inference src`` left in the cache, if
  any; else the run says in one line that the tree was not checked, and how;
- ``no``: not checked.

It prints the checker's summary and fails with the checker's error lines,
except the ones ``--expect_failing`` names: checks the tree cannot pass by
construction (a stand-in model's data set, a short run), which are reported
as such. It is not cached: it judges a tree that may have changed.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cmpy import CmpyError, Ctx, Result, UsageError, script

from .ml_common import HOST_PYTHON_ADR
from .mlperf_rules import folder_name, parse_round

INFERENCE_URL = "https://github.com/mlcommons/inference"
# master on 2026-08-20 ("Require only one of server or interactive (#2654)"):
# the checker recipes/mlperf_rules.py was read from, knowing rounds v5.0 to v6.1
INFERENCE_COMMIT = "b66003e10e2db4b8c36a448b0545ec90fcc6e9e9"

# checks a tree may fail by construction -> the checker's words for each failure
EXPECTABLE = {
    "performance_sample_count": "performance_sample_count, found",
    "dataset_size": "does not cover all dataset",
    "min_duration": "Test duration less than 600s",
}
# lines that only repeat a failure already said
_CONSEQUENCES = (
    "Checks failed for:",
    "NoResults ",
    "SUMMARY: submission has errors",
    " contains errors:",
    "has loadgen errors",
)
_LOG_LINE = re.compile(r"^\[[^\]]*\s(?P<level>ERROR|WARNING|INFO|CRITICAL)\]\s(?P<text>.*)$")
_PLAIN_LINE = re.compile(r"^(?P<level>ERROR|WARNING|INFO|CRITICAL):[\w.]*:(?P<text>.*)$")


@script(
    tags="get mlperf inference src mlperf-inference-src inference-src source",
    alias="get-mlperf-inference-src",
    uid="3c6f0a9d2e41b857",
    cache=True,
    inputs={
        "url": ("CMPY_MLPERF_INFERENCE_SRC_URL", f"the repository (default {INFERENCE_URL})"),
        "branch": ("CMPY_MLPERF_INFERENCE_SRC_BRANCH", "a branch or tag instead of the pin"),
        "sha": (
            "CMPY_MLPERF_INFERENCE_SRC_SHA",
            f"a commit (default for the default URL: {INFERENCE_COMMIT[:12]})",
        ),
    },
    env={
        "CMPY_MLPERF_INFERENCE_SRC_URL": "",
        "CMPY_MLPERF_INFERENCE_SRC_BRANCH": "",
        "CMPY_MLPERF_INFERENCE_SRC_SHA": "",
    },
    exports=["CMPY_MLPERF_INFERENCE_*"],
)
def get_mlperf_inference_src(ctx: Ctx) -> Result:
    """Clone MLCommons' inference repository (LoadGen, reference code, the submission checker)."""
    env = ctx.env
    url = env["CMPY_MLPERF_INFERENCE_SRC_URL"].strip() or INFERENCE_URL
    branch = env["CMPY_MLPERF_INFERENCE_SRC_BRANCH"].strip()
    sha = env["CMPY_MLPERF_INFERENCE_SRC_SHA"].strip()
    if not branch and not sha and url.rstrip("/").removesuffix(".git") == INFERENCE_URL:
        sha = INFERENCE_COMMIT
    got = ctx.run_sync("get git-repo", url=url, branch=branch, sha=sha)
    root = Path(got["CMPY_GIT_REPO_PATH"])
    tools = root / "tools" / "submission"
    if checker_command(tools) is None:
        raise UsageError(
            f"{url} (commit {got['CMPY_GIT_REPO_COMMIT'][:12]}) has no MLPerf submission "
            "checker in tools/submission/",
            hint="point --url at mlcommons/inference or a clone of it",
        )
    version_file = root / "loadgen" / "VERSION.txt"
    version = version_file.read_text().strip() if version_file.is_file() else None
    return Result(
        env={
            "CMPY_MLPERF_INFERENCE_SOURCE": str(root),
            "CMPY_MLPERF_INFERENCE_SUBMISSION_TOOLS": str(tools),
            "CMPY_MLPERF_INFERENCE_COMMIT": got["CMPY_GIT_REPO_COMMIT"],
            "CMPY_MLPERF_INFERENCE_URL": got["CMPY_GIT_REPO_URL"],
        },
        version=version or None,
    )


def checker_command(tools: Path) -> list[str] | None:
    """How to start the checker in ``tools`` (a ``tools/submission`` folder), if it holds one."""
    if (tools / "submission_checker" / "main.py").is_file():
        return ["-m", "submission_checker.main"]
    if (tools / "submission_checker.py").is_file():
        return [str(tools / "submission_checker.py")]
    return None


def find_tools(given: str) -> Path:
    """The ``tools/submission`` folder of ``--checker=PATH`` (a checkout or that folder).

    :raises UsageError: no checker there.
    """
    root = Path(os.path.abspath(os.path.expanduser(given)))
    for tools in (root / "tools" / "submission", root):
        if checker_command(tools) is not None:
            return tools
    raise UsageError(
        f"--checker={given!r}: no MLPerf submission checker there",
        hint="give an mlcommons/inference checkout or its tools/submission folder "
        "(which holds submission_checker/main.py), or --checker=fetch to clone it",
    )


@dataclass
class Verdict:
    """What the checker said, sorted."""

    returncode: int
    summary: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    expected: dict[str, list[str]] = field(default_factory=dict)

    @property
    def headline(self) -> list[str]:
        """The summary's first and last words: how many results, and the verdict."""
        return [line for line in self.summary if line.startswith(("Results=", "SUMMARY:"))]

    @property
    def passed(self) -> bool:
        return self.returncode == 0 or (bool(self.expected) and not self.errors)


def read_output(output: str, returncode: int, expect: list[str]) -> Verdict:
    """Sort the checker's log: its summary, the failures expected, the other errors."""
    verdict = Verdict(returncode)
    for line in output.splitlines():
        found = _LOG_LINE.match(line) or _PLAIN_LINE.match(line)
        if found is None:
            continue
        level, text = found.group("level"), found.group("text").strip()
        if re.match(r"(\w+ )?(Power )?(Results|Systems)=|SUMMARY:", text):
            verdict.summary.append(text)
        if level not in ("ERROR", "CRITICAL") or any(c in text for c in _CONSEQUENCES):
            continue
        kind = next((k for k in expect if EXPECTABLE[k] in text), None)
        if kind is not None:
            verdict.expected.setdefault(kind, []).append(text)
        elif text not in verdict.errors:
            verdict.errors.append(text)
    return verdict


class SubmissionCheckFailed(CmpyError):
    """MLPerf's submission checker rejected a tree; ``errors`` holds its error lines."""

    def __init__(self, message: str, *, errors: list[str], hint: str) -> None:
        super().__init__(message, hint=hint)
        self.errors = errors


def _sources(ctx: Ctx, given: str) -> tuple[Path, str] | None:
    """The checker's tools folder and where it came from; None when there is none to use."""
    if given not in ("", "fetch"):
        return find_tools(given), given
    from cmpy import run

    # the inputs a user may have set for it (--env.CMPY_MLPERF_INFERENCE_SRC_URL=...)
    settings = {k: v for k, v in ctx.env.items() if k.startswith("CMPY_MLPERF_INFERENCE_SRC_")}
    if (
        given != "fetch"
        and not run("get mlperf inference src", env=settings, dry_run=True, quiet=True).cached
    ):
        return None  # never the network unless asked
    got = ctx.run_sync("get mlperf inference src", env=settings)
    commit = got["CMPY_MLPERF_INFERENCE_COMMIT"][:12]
    return Path(got["CMPY_MLPERF_INFERENCE_SUBMISSION_TOOLS"]), f"mlcommons/inference {commit}"


@script(
    tags="run mlperf inference submission-checker mlperf-inference-submission-checker check",
    alias="run-mlperf-inference-submission-checker",
    uid="9a2d7e5b03c8f164",
    inputs={
        "submission_dir": ("CMPY_MLPERF_CHECK_DIR", "the tree: the folder holding open/, closed/"),
        "submission_round": ("CMPY_MLPERF_CHECK_ROUND", "the round's rules (default v6.1)"),
        "submitter": ("CMPY_MLPERF_CHECK_SUBMITTER", "check only this submitter's folder"),
        "checker": (
            "CMPY_MLPERF_CHECK_WITH",
            "an inference checkout or its tools/submission; fetch; no (default: a cached one)",
        ),
        "expect_failing": (
            "CMPY_MLPERF_CHECK_EXPECT_FAILING",
            "checks the tree fails by construction, reported but not fatal: "
            + ", ".join(EXPECTABLE),
        ),
    },
    env={
        "CMPY_MLPERF_CHECK_DIR": "",
        "CMPY_MLPERF_CHECK_ROUND": "",
        "CMPY_MLPERF_CHECK_SUBMITTER": "",
        "CMPY_MLPERF_CHECK_WITH": "",
        "CMPY_MLPERF_CHECK_EXPECT_FAILING": "",
    },
    reads=["CMPY_HOST_PYTHON", "CMPY_MLPERF_INFERENCE_SRC_*"],
    exports=["CMPY_MLPERF_CHECK_*"],
)
def run_mlperf_inference_submission_checker(ctx: Ctx) -> Result:
    """Run MLPerf's submission checker on a tree; fail with its errors (all but the expected)."""
    env = ctx.env
    given = env["CMPY_MLPERF_CHECK_DIR"].strip()
    if not given:
        raise UsageError(
            "run mlperf inference submission-checker needs the tree",
            hint="--submission_dir=DIR (the folder holding open/ or closed/)",
        )
    tree = Path(os.path.abspath(given))
    if not tree.is_dir():
        raise UsageError(f"--submission_dir={given!r}: no such folder")
    chosen = parse_round(env["CMPY_MLPERF_CHECK_ROUND"] or "v6.1")
    submitter = env["CMPY_MLPERF_CHECK_SUBMITTER"].strip()
    if submitter:
        folder_name("submitter", submitter, hint="the submitter's folder")
    expect = [w for w in re.split(r"[\s,]+", env["CMPY_MLPERF_CHECK_EXPECT_FAILING"]) if w]
    unknown = sorted(set(expect) - set(EXPECTABLE))
    if unknown:
        raise UsageError(
            f"--expect_failing: {', '.join(unknown)} is no check cmpy knows",
            hint="some of " + ", ".join(EXPECTABLE),
        )
    asked = env["CMPY_MLPERF_CHECK_WITH"].strip()
    how = "check it with --checker=PATH (an mlcommons/inference checkout) or --checker=fetch"
    if asked.lower() == "no":
        return _unchecked(tree, "not checked (--checker=no); " + how)
    found = _sources(ctx, asked)
    if found is None:
        return _unchecked(tree, f"not checked: no MLPerf submission checker here; {how}")
    tools, origin = found
    ctx.run_sync("get generic-python-lib _pyyaml", adr=HOST_PYTHON_ADR)
    python = env.get("CMPY_HOST_PYTHON") or sys.executable
    start = checker_command(tools)
    assert start is not None
    cmd = [python, *start, f"--input={tree}", f"--version={chosen.name}"]
    cmd += [f"--submitter={submitter}"] if submitter else []
    cmd += [f"--csv={ctx.path / 'summary.csv'}"]
    ctx.log(f"checking {tree} with MLPerf's submission checker ({origin}), {chosen.name} rules")
    # the checker writes nothing into its checkout (which may be a cache entry)
    done = ctx.sh_sync(
        cmd, cwd=tools, check=False, quiet=True, timeout=1800, env={"PYTHONDONTWRITEBYTECODE": "1"}
    )
    log = ctx.path / "checker.log"
    log.write_text(done.output, encoding="utf-8")
    verdict = read_output(done.output, done.returncode, expect)
    ctx.log("; ".join(verdict.headline) or f"the checker exited with {done.returncode}")
    if not verdict.passed:
        raise _failure(tree, chosen.name, origin, done.output, verdict, log)
    outcome = "passed" if verdict.returncode == 0 else "passed-but-expected"
    state = {
        "verdict": outcome,
        "summary": verdict.summary,
        "expected": verdict.expected,
        "checker": str(tools),
        "log": str(log),
    }
    if verdict.expected:
        ctx.log("failed by construction, as expected: " + ", ".join(verdict.expected))
    return Result(
        env={
            "CMPY_MLPERF_CHECK_VERDICT": outcome,
            "CMPY_MLPERF_CHECK_SUMMARY": "; ".join(verdict.summary),
            "CMPY_MLPERF_CHECK_EXPECTED": ",".join(verdict.expected),
            "CMPY_MLPERF_CHECK_LOG": str(log),
        },
        state={"mlperf_check": state},
    )


def _unchecked(tree: Path, line: str) -> Result:
    return Result(
        env={"CMPY_MLPERF_CHECK_VERDICT": "not-checked", "CMPY_MLPERF_CHECK_SUMMARY": line},
        state={"mlperf_check": {"verdict": "not-checked", "summary": [line], "tree": str(tree)}},
    )


def _failure(
    tree: Path, round_name: str, origin: str, output: str, verdict: Verdict, log: Path
) -> SubmissionCheckFailed:
    errors = verdict.errors
    if "No module named 'yaml'" in output:
        errors = ["the checker cannot import yaml (PyYAML)", *errors]
    if not errors:
        # it stopped without saying why in its log format: a traceback, a usage error
        errors = output.rstrip().splitlines()[-12:] or [f"exit code {verdict.returncode}"]
    shown = errors[:25]
    text = (
        f"MLPerf's submission checker ({origin}, {round_name} rules) rejects {tree}:\n"
        + "\n".join(f"  | {line}" for line in shown)
    )
    if len(errors) > len(shown):
        text += f"\n  ... and {len(errors) - len(shown)} more"
    if verdict.headline:
        text += "\n  " + "; ".join(verdict.headline)
    expected = (
        f"; expected and not counted: {', '.join(verdict.expected)}" if verdict.expected else ""
    )
    return SubmissionCheckFailed(
        text,
        errors=errors,
        hint=f"the checker's whole output is in {log}{expected}; fix what it names and "
        "generate the tree again, or --checker=no to skip the check",
    )
