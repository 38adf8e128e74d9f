"""Running one CM / MLCFlow script, CM's way, as the body of its recipe.

The order is CM's: predeps, deps, ``preprocess``, prehook deps, the run
script, posthook deps, ``postprocess``, post deps. The env is CM's
sequential one: each dep is asked for with ``ctx.run`` in turn and sees
what the ones before it exported; the script's local keys (``CM_VERSION*``,
``CM_TMP_*``, ``CM_GIT_*``, its ``local_env_keys``) are not handed down. A
dep is resolved among the script's own repository first (``REPO:ALIAS``),
then anywhere; of several matches the lowest ``sort`` is taken, as CM does,
never by asking. Only what ``new_env_keys`` / ``new_state_keys`` name is
handed back.

The run script (``run.sh``, the variation's ``script_name``, or the most
specific ``run-<os>-<version>.sh`` present) runs under bash in the result's
folder, with the env written to a file as quoted ``export`` lines, so that a
value holding ``$(...)`` or backquotes reaches the script literally.
``tmp-run-env.out``, ``tmp-run-state.json`` and ``tmp-ver.out`` are read
back. ``customize.py`` is imported by path (never as a recipe module) with
``cmind`` / ``mlc`` / ``utils`` shims importable, and gets CM's ``i`` dict;
``input()`` in it gets end of file, and the error says which script asked.
"""

from __future__ import annotations

import fnmatch
import os
import sys

from .._errors import CmpyError
from .._result import Result
from . import _env
from ._customize import Asked, Host, NoInput, ScriptFailed, import_customize, make_i
from ._deps import DepRunner
from ._meta import find_meta, read_meta
from ._scriptio import (
    TMP_FILES,
    flavoured,
    has_commands,
    plus_list,
    quote,
    read_back,
    shell_exports,
)
from ._scriptplan import ScriptPlan

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

    from .._ctx import Ctx

__all__ = ["body_for"]

_BODIES: dict[str, Any] = {}
_SCRIPTS: dict[str, tuple[Any, Script]] = {}  # folder -> (meta and customize stamps, script)
_LOCAL = (
    "VERSION",
    "VERSION_MIN",
    "VERSION_MAX",
    "VERSION_MAX_USABLE",
    "DETECTED_VERSION",
    "INPUT",
    "OUTPUT",
    "OUTBASENAME",
    "OUTDIRNAME",
    "NAME",
    "EXTRA_CACHE_TAGS",
    "TMP_*",
    "GIT_*",
    "RENEW_CACHE_ENTRY",
)


def body_for(folder: str, loader: Any = None) -> Any:
    """The body that runs the script in ``folder`` (one per folder and process)."""
    body = _BODIES.get(folder)
    if body is None:

        def body(ctx: Ctx) -> Result:
            return Script.of(folder, loader).run(ctx)

        body.__qualname__ = f"cm_script[{os.path.basename(folder)}]"
        _BODIES[folder] = body
    return body


class Script:
    """One run of one script folder (see the module's documentation)."""

    @classmethod
    def of(cls, folder: str, loader: Any) -> Script:
        """The script of ``folder``, made once per process while its meta and customize.py stay."""
        found = find_meta(folder)
        stamp = (_stamp(found[0]), _stamp(os.path.join(folder, "customize.py"))) if found else None
        known = _SCRIPTS.get(folder)
        if known is None or known[0] != stamp or stamp is None or stamp[0] is None:
            known = _SCRIPTS[folder] = (stamp, cls(folder, loader))
        return known[1]

    def __init__(self, folder: str, loader: Any) -> None:
        found = find_meta(folder)
        if found is None:
            raise CmpyError(
                f"{folder} is no longer a CM script folder", hint="run the command again"
            )
        self.folder = folder
        self.meta_path, self.flavour = found
        self.meta = read_meta(self.meta_path)
        self.prefix = "CM_" if self.flavour == "cm" else "MLC_"
        self.alias = str(self.meta.get("alias") or os.path.basename(folder))
        self.loader = loader
        self.repo_path = _repo_of(folder)
        self.origin = os.path.basename(self.repo_path) if self.repo_path else ""
        self._customize: ModuleType | bool | None = False
        self.script_name = "run"

    # -- the run ------------------------------------------------------------------

    def prepare(
        self, requested: list[str], inherited: dict[str, Any], given: dict[str, str], spec: str
    ) -> tuple[dict[str, Any], dict[str, Any], ScriptPlan, list[str], dict[str, Any]]:
        """The env, state, plan, variations and adr of a run, before its deps (CM's steps 600-1100)."""
        meta = self.meta
        p = self.prefix
        variations = meta.get("variations") or {}
        chosen = _env.resolve_variations(self.alias, variations, requested)
        inputs = {}
        mapping = meta.get("input_mapping") or {}
        for name, value in given.items():
            key = mapping.get(name)
            if isinstance(key, str) and value != "":
                inputs[key] = value
        env: dict[str, Any] = {k: v for k, v in inherited.items() if k not in inputs}
        for key, value in list(env.items()):
            if key.startswith("+"):
                env[key] = plus_list(key, value)
        adr = _json(env.pop("CMPY_ADR", ""))
        # where the script is, as CM tells its scripts (local keys: not handed down)
        env[p + "TMP_CURRENT_PATH"] = os.getcwd()
        env[p + "TMP_CURRENT_SCRIPT_PATH"] = self.folder
        env[p + "TMP_CURRENT_SCRIPT_REPO_PATH"] = self.repo_path or os.path.dirname(self.folder)
        state: dict[str, Any] = {}
        for key, value in (meta.get("default_env") or {}).items():
            env.setdefault(str(key), value)
        env.update({str(k): v for k, v in (meta.get("env") or {}).items()})
        _env.merge_dicts(state, meta.get("state") or {})
        env.update(inputs)
        plan = ScriptPlan(meta)
        for name in chosen:
            vmeta = _env.variation_meta(variations, name) or {}
            plan.apply(vmeta, env, state, inputs, adr)
        versions = _env.split_spec(spec) if spec else {}
        for key, suffix in (
            ("version", "VERSION"),
            ("version_min", "VERSION_MIN"),
            ("version_max", "VERSION_MAX"),
            ("version_max_usable", "VERSION_MAX_USABLE"),
        ):
            value = versions.get(key) or env.get(p + suffix) or meta.get(key) or ""
            if key == "version" and not value and plan.default_version and not versions:
                value = plan.default_version
            if value:
                env[p + suffix] = value
        version = str(env.get(p + "VERSION") or "")
        if version and version in (meta.get("versions") or {}):
            plan.apply(meta["versions"][version] or {}, env, state, inputs, adr)
        _env.substitute(env)
        return env, state, plan, chosen, adr

    def run(self, ctx: Ctx) -> Result:
        if ctx.dry_run:
            from ._preview import preview

            return preview(self, ctx)
        p = self.prefix
        env, state, plan, chosen, adr = self.prepare(
            list(ctx.variations), ctx.env, ctx.inputs, ctx.version_spec
        )
        self.script_name = plan.script_name or "run"
        work = self._work_folder(ctx)
        env[p + "TMP_CURRENT_SCRIPT_WORK_PATH"] = work
        deps = DepRunner(self, ctx, chosen, adr)
        deps.run_all(plan.lists["predeps"], env, state)
        deps.run_all(plan.lists["deps"], env, state)
        _env.substitute(env)
        found_version = ""
        got = self._hook("preprocess", ctx, env, state, chosen, work, deps)
        if got.get("skip"):
            return self._handed_back(env, state, plan, found_version)
        found_version = str(got.get("version") or "")
        deps.run_all(plan.lists["prehook_deps"], env, state)
        run_cmd = got.get("run_cmd")
        self._run_script(ctx, env, state, plan, work, run_cmd, got.get("run_dir"))
        deps.run_all(plan.lists["posthook_deps"], env, state)
        got = self._hook("postprocess", ctx, env, state, chosen, work, deps)
        found_version = str(
            got.get("version") or found_version or env.get(p + "DETECTED_VERSION") or ""
        )
        deps.run_all(plan.lists["post_deps"], env, state)
        for name in (*TMP_FILES, *(str(f) for f in self.meta.get("clean_files") or [])):
            if os.path.basename(name) == name:  # a file of the folder, never a path elsewhere
                try:
                    os.unlink(os.path.join(work, name))
                except OSError:
                    pass
        result = self._handed_back(env, state, plan, found_version)
        shown = self.meta.get("print_env_at_the_end") or {}
        if isinstance(shown, dict):
            for key in sorted(shown):
                ctx.log(f"{shown[key] or 'ENV[' + key + ']'}: {result.env.get(key)}")
        return result

    def _handed_back(
        self, env: dict[str, Any], state: dict[str, Any], plan: ScriptPlan, version: str
    ) -> Result:
        out = _env.new_env(env, plan.new_env_keys)
        exported: dict[str, str] = {}
        for key, value in out.items():
            if key.startswith("+"):
                _name, sep = _env.plus_separator(key)
                items = value if isinstance(value, list) else [value]
                exported[key] = sep.join(_env.render(v) for v in items if _env.render(v))
            else:
                exported[key] = _env.render(value)
        kept = {
            k: v
            for k, v in state.items()
            if any(fnmatch.fnmatchcase(k, p) for p in plan.new_state_keys)
        }
        return Result(env=exported, state=kept, version=version or None)

    def _work_folder(self, ctx: Ctx) -> str:
        return ctx.folder

    # -- customize.py -------------------------------------------------------------

    def customize(self, env: dict[str, Any] | None = None) -> ModuleType | None:
        """The script's customize.py, imported on first use (after its deps: ``+PYTHONPATH`` counts)."""
        if self._customize is False:
            path = os.path.join(self.folder, "customize.py")
            extra = plus_list("+PYTHONPATH", (env or {}).get("+PYTHONPATH", []))
            self._customize = import_customize(path, self, extra) if os.path.isfile(path) else None
        return self._customize  # type: ignore[return-value]

    def make_i(
        self,
        ctx: Ctx,
        env: dict[str, Any],
        state: dict[str, Any],
        chosen: list[str],
        work: str,
        deps: DepRunner,
    ) -> dict[str, Any]:
        """CM's ``i`` for a hook (see :func:`._customize.make_i`)."""
        return make_i(self, ctx, env, state, chosen, Host(self, ctx, deps, work))

    def _hook(
        self,
        hook: str,
        ctx: Ctx,
        env: dict[str, Any],
        state: dict[str, Any],
        chosen: list[str],
        work: str,
        deps: DepRunner,
    ) -> dict[str, Any]:
        module = self.customize(env)
        function = getattr(module, hook, None) if module is not None else None
        if function is None:
            return {}
        i = self.make_i(ctx, env, state, chosen, work, deps)
        got = self.call(function, i, hook, work, quiet=ctx.quiet)
        # update_deps and the like may have changed the deps of the script
        return got

    def call(
        self, function: Any, i: dict[str, Any], hook: str, work: str, *, quiet: bool = False
    ) -> dict[str, Any]:
        import contextlib
        import io

        from ._utils import shim_imports

        before = os.getcwd()
        stdin = sys.stdin
        path = list(sys.path)
        env: dict[str, Any] = i["env"] if isinstance(i.get("env"), dict) else {}
        sys.path[:0] = [
            self.folder,
            *map(str, plus_list("+PYTHONPATH", env.get("+PYTHONPATH", []))),
        ]
        # what a hook prints is talk, never the command's output (--json owns stdout)
        talk = io.StringIO() if quiet else sys.stderr
        try:
            sys.stdin = NoInput(self.alias)
            os.chdir(work)
            automation = i.get("automation")
            shims = (
                shim_imports(access=automation.action_object.access, logger=automation.logger)
                if automation is not None
                else shim_imports()
            )
            with shims, contextlib.redirect_stdout(talk):
                got = function(i)
        except Asked as exc:
            raise ScriptFailed(
                f"CM script {self.alias}: its customize.py {hook}() asked for input ({exc})",
                hint="give the value as an input or --env.KEY=VALUE; cmpy never prompts",
            ) from None
        except CmpyError:
            raise
        except Exception as exc:
            raise ScriptFailed(
                f"CM script {self.alias}: {hook}() in {self.folder}/customize.py raised "
                f"{type(exc).__name__}: {exc}",
                hint="the script's own code failed: see its customize.py",
            ) from exc
        finally:
            sys.stdin = stdin
            sys.path[:] = path
            os.chdir(before)
        if not isinstance(got, dict):
            return {}
        code = got.get("return", 0)
        if code:
            raise ScriptFailed(
                f"CM script {self.alias}: {hook}() failed: {got.get('error') or 'return ' + str(code)}",
                hint="see the script's meta and customize.py for what it needs",
            )
        return got

    # -- the run script ---------------------------------------------------------

    def run_native(
        self, ctx: Ctx, name: str, env: dict[str, Any], cwd: str, *, check: bool = True
    ) -> int:
        script = name if os.path.isabs(name) else os.path.join(self.folder, name)
        if not script.endswith((".sh", ".bat")):
            script = flavoured(script)
        if not os.path.isfile(script):
            if check:
                raise ScriptFailed(f"CM script {self.alias}: {script} does not exist")
            return 0
        return self._bash(ctx, f"bash {quote(script)}", env, cwd, check=check)

    def _bash(
        self, ctx: Ctx, command: str, env: dict[str, Any], cwd: str, *, check: bool = True
    ) -> int:
        env_file = os.path.join(cwd, "tmp-run-env.sh")
        with open(env_file, "w", encoding="utf-8") as fh:
            fh.write("\n".join(["#!/bin/bash", *shell_exports(env, os.environ)]) + "\n")
        wrapper = f". {quote(env_file)} && {command}"
        done = ctx.sh_sync(["bash", "-c", wrapper], cwd=cwd, check=False)
        code = done.returncode
        if code and check:
            tail = done.output[-2000:]
            raise ScriptFailed(
                f"CM script {self.alias}: its run script exited with status {code}"
                + (f"\n{tail.rstrip()}" if tail.strip() else ""),
                hint=f"see {os.path.join(ctx.folder, 'cmpy-run.log')} for its output",
            )
        return code

    def _run_script(
        self,
        ctx: Ctx,
        env: dict[str, Any],
        state: dict[str, Any],
        plan: ScriptPlan,
        work: str,
        run_cmd: Any,
        run_dir: Any,
    ) -> None:
        for name in ("tmp-run-env.out", "tmp-run-state.json"):
            try:
                os.unlink(os.path.join(work, name))
            except OSError:
                pass
        if run_cmd:
            self._bash(ctx, str(run_cmd), env, str(run_dir or work))
        else:
            name = plan.script_name or "run"
            script = flavoured(os.path.join(self.folder, name))
            if not os.path.isfile(script) or not has_commands(script):
                return  # nothing to run: no shell is started for a script of comments
            self._bash(ctx, f"bash {quote(script)}", env, work)
        read_back(work, env, state)


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _repo_of(folder: str) -> str:
    parent = os.path.dirname(folder)
    if os.path.basename(parent) == "script":
        return os.path.dirname(parent)
    return ""


def _json(text: str) -> dict[str, Any]:
    if not text:
        return {}
    import json

    try:
        got = json.loads(text)
    except ValueError:
        return {}
    return got if isinstance(got, dict) else {}


def local_keys(prefix: str, meta: dict[str, Any]) -> list[str]:
    """The env keys a script keeps to itself (not handed to its deps)."""
    return [prefix + k for k in _LOCAL] + [str(k) for k in meta.get("local_env_keys") or []]
