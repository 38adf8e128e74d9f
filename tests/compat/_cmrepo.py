"""A small CM-format repository written for the tests, in either flavour.

``make_repo(folder, "cm")`` writes a CM repository (``cmr.yaml``,
``script/*/_cm.yaml``, ``CM_`` env, ``from cmind import utils``);
``make_repo(folder, "mlc")`` the same scripts as MLCFlow has them
(``meta.yaml``, ``MLC_`` env, ``from mlc import utils`` and MLC's
``from utils import is_true``). Every script's behaviour is visible in what
it exports, so the tests check CM's rules through ``cmpy.run``.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

__all__ = ["SCRIPTS", "make_repo"]

# name -> {file: text}; "{P}" is the env prefix (CM_ / MLC_), "{UTILS}" the utils import
SCRIPTS: dict[str, dict[str, str]] = {
    "t-hello": {
        "meta": """
            alias: t-hello
            uid: 1111111111111111
            automation_alias: script
            automation_uid: 5b4e0237da074764
            tags: [t, hello]
            input_mapping:
              name: {P}NAME_IN
            default_env:
              {P}NAME_IN: world
            new_env_keys: ['{P}HELLO*']
        """,
        "run.sh": """
            #!/bin/bash
            echo "{P}HELLO=hi-${P}NAME_IN" > tmp-run-env.out
            echo "{P}HELLO_NOT_EXPORTED=x" >> tmp-run-env.out
            echo "{P}UNLISTED=x" >> tmp-run-env.out
        """,
    },
    "t-vars": {
        "meta": """
            alias: t-vars
            uid: 2222222222222222
            automation_alias: script
            automation_uid: 5b4e0237da074764
            tags: [t, vars]
            new_env_keys: ['{P}V_*']
            env:
              {P}V_FLAG: true
              {P}V_COUNT: 8
              {P}V_RATIO: 0.5
            variations:
              fp32:
                group: precision
                default: true
                env:
                  {P}V_PRECISION: fp32
              int8:
                group: precision
                env:
                  {P}V_PRECISION: int8
                default_variations:
                  framework: tf
              onnx:
                group: framework
                default: true
                env:
                  {P}V_FRAMEWORK: onnx
              tf:
                group: framework
                env:
                  {P}V_FRAMEWORK: tf
              tensorflow:
                alias: tf
              batch_size.#:
                env:
                  {P}V_BATCH: '#'
              full:
                base: [int8]
                env:
                  {P}V_FULL: 'yes'
              int8,tf:
                env:
                  {P}V_COMBINED: int8-tf
              path.#:
                env:
                  {P}V_PATH: '<<<{P}V_PRECISION>>>/#'
        """,
        "run.sh": """
            #!/bin/bash
            echo "{P}V_SHELL_FLAG=${P}V_FLAG" > tmp-run-env.out
        """,
    },
    "t-leaf": {
        "meta": """
            alias: t-leaf
            uid: 3333333333333333
            automation_alias: script
            automation_uid: 5b4e0237da074764
            tags: [t, leaf]
            new_env_keys: ['{P}LEAF_*']
            variations:
              a:
                env:
                  {P}LEAF_VARIATION: a
        """,
        "run.sh": """
            #!/bin/bash
            echo "{P}LEAF_SAW=${P}LEAF_IN" > tmp-run-env.out
            echo "{P}LEAF_ORDER=${P}ORDER" >> tmp-run-env.out
        """,
    },
    "t-conds": {
        "meta": """
            alias: t-conds
            uid: 4444444444444444
            automation_alias: script
            automation_uid: 5b4e0237da074764
            tags: [t, conds]
            new_env_keys: ['{P}LEAF_*', '{P}CONDS_*']
            input_mapping:
              mode: {P}CONDS_MODE
            default_env:
              {P}CONDS_MODE: 'no'
            deps:
              - tags: t,leaf
                names: [leaf-on]
                enable_if_env:
                  {P}CONDS_MODE: [yes]
                env:
                  {P}LEAF_IN: enabled
              - tags: t,leaf
                names: [leaf-off]
                skip_if_env:
                  {P}CONDS_MODE: 'yes'
                env:
                  {P}LEAF_IN: skipped-unless-yes
              - tags: t,leaf
                enable_if_any_env:
                  {P}CONDS_NOPE: [x]
                  {P}CONDS_MODE: special
                update_tags_from_env_with_prefix:
                  _:
                    - {P}CONDS_VARIATION
                env:
                  {P}LEAF_IN: any-matched
        """,
        "customize.py": """
            {UTILS}

            def preprocess(i):
                env = i['env']
                if env.get('{P}CONDS_MODE') == 'special':
                    env['{P}CONDS_VARIATION'] = 'a'
                return {'return': 0}

            def postprocess(i):
                i['env']['{P}CONDS_SEEN'] = i['env'].get('{P}LEAF_SAW', '')
                return {'return': 0}
        """,
    },
    "t-order": {
        "meta": """
            alias: t-order
            uid: 5555555555555555
            automation_alias: script
            automation_uid: 5b4e0237da074764
            tags: [t, order]
            new_env_keys: ['{P}LEAF_*', '{P}STEP*']
            deps:
              - tags: t,hello
            prehook_deps:
              - tags: t,leaf
                env:
                  {P}LEAF_IN: <<<{P}HELLO>>>
        """,
        "customize.py": """
            {UTILS}

            def preprocess(i):
                env = i['env']
                # the dep ran first, and its export is here
                env['{P}ORDER'] = 'pre:' + env.get('{P}HELLO', 'missing')
                env['{P}HELLO'] = env.get('{P}HELLO', '') + '+pre'
                return {'return': 0}

            def postprocess(i):
                i['env']['{P}STEPS'] = i['env']['{P}ORDER'] + ',post'
                return {'return': 0}
        """,
    },
    "t-custom": {
        "meta": """
            alias: t-custom
            uid: 6666666666666666
            automation_alias: script
            automation_uid: 5b4e0237da074764
            tags: [t, custom]
            new_env_keys: ['{P}FAKETOOL_*', '+PATH']
        """,
        "customize.py": """
            import os
            {UTILS}

            def preprocess(i):
                env = i['env']
                r = i['automation'].find_artifact({'file_name': 'faketool', 'env': env,
                    'os_info': i['os_info'], 'default_path_env_key': 'PATH',
                    'detect_version': True, 'env_path_key': '{P}FAKETOOL_BIN_WITH_PATH',
                    'run_script_input': i['run_script_input'], 'recursion_spaces': ''})
                if r['return'] > 0:
                    return r
                return {'return': 0}

            def detect_version(i):
                r = i['automation'].parse_version({'match_text': r'faketool\\s+([\\d.]+)',
                    'group_number': 1, 'env_key': '{P}FAKETOOL_VERSION', 'which_env': i['env']})
                if r['return'] > 0:
                    return r
                return {'return': 0, 'version': r['version']}

            def postprocess(i):
                env = i['env']
                r = detect_version(i)
                if r['return'] > 0:
                    return r
                return {'return': 0, 'version': r['version']}
        """,
        "run.sh": """
            #!/bin/bash
            ${P}FAKETOOL_BIN_WITH_PATH --version > tmp-ver.out
        """,
    },
    "t-cached": {
        "meta": """
            alias: t-cached
            uid: 7777777777777777
            automation_alias: script
            automation_uid: 5b4e0237da074764
            tags: [t, cached]
            cache: true
            new_env_keys: ['{P}CACHED_*', '+PATH']
            input_mapping:
              value: {P}CACHED_IN
        """,
        "run.sh": """
            #!/bin/bash
            echo ran >> "${P}CACHED_COUNTER"
            mkdir -p bin
            echo "{P}CACHED_OUT=${P}CACHED_IN" > tmp-run-env.out
            echo "+PATH=$PWD/bin" >> tmp-run-env.out
        """,
    },
    "t-hostile": {
        "meta": """
            alias: t-hostile
            uid: 8888888888888888
            automation_alias: script
            automation_uid: 5b4e0237da074764
            tags: [t, hostile]
            new_env_keys: ['{P}HOSTILE_*']
            input_mapping:
              value: {P}HOSTILE_IN
        """,
        "run.sh": """
            #!/bin/bash
            printf '{P}HOSTILE_SAW=%s\\n' "${P}HOSTILE_IN" > tmp-run-env.out
        """,
    },
    "t-asks": {
        "meta": """
            alias: t-asks
            uid: 9999999999999999
            automation_alias: script
            automation_uid: 5b4e0237da074764
            tags: [t, asks]
        """,
        "customize.py": """
            def preprocess(i):
                answer = input('Your password? ')
                return {'return': 0}
        """,
    },
    "t-fail": {
        "meta": """
            alias: t-fail
            uid: aaaaaaaaaaaaaaaa
            automation_alias: script
            automation_uid: 5b4e0237da074764
            tags: [t, fail]
        """,
        "run.sh": """
            #!/bin/bash
            echo "something broke" >&2
            exit 3
        """,
    },
    "t-uses-python": {
        "meta": """
            alias: t-uses-python
            uid: bbbbbbbbbbbbbbbb
            automation_alias: script
            automation_uid: 5b4e0237da074764
            tags: [t, uses-python]
            new_env_keys: ['{P}SAW_OS']
            deps:
              - tags: detect,os
        """,
        "run.sh": """
            #!/bin/bash
            echo "{P}SAW_OS=$CMPY_HOST_OS_TYPE" > tmp-run-env.out
        """,
    },
    "t-error": {
        "meta": """
            alias: t-error
            uid: cccccccccccccccc
            automation_alias: script
            automation_uid: 5b4e0237da074764
            tags: [t, error]
        """,
        "customize.py": """
            def preprocess(i):
                return {'return': 1, 'error': 'please set --model_path'}
        """,
    },
}


def make_repo(folder: Path, flavour: str, scripts: list[str] | None = None) -> Path:
    """Write the repository (or only ``scripts``) into ``folder``; returns the repository's root."""
    prefix = "CM_" if flavour == "cm" else "MLC_"
    utils = (
        "from cmind import utils"
        if flavour == "cm"
        else "from mlc import utils\nfrom utils import is_true"
    )
    root = folder / f"{flavour}-repo"
    (root / "script").mkdir(parents=True, exist_ok=True)
    if flavour == "cm":
        (root / "cmr.yaml").write_text("alias: test@cm-repo\nuid: 0123456789abcdef\ngit: false\n")
    else:
        (root / "meta.yaml").write_text("alias: test@mlc-repo\nuid: fedcba9876543210\ngit: false\n")
    meta_name = "_cm.yaml" if flavour == "cm" else "meta.yaml"
    for name in scripts or list(SCRIPTS):
        target = root / "script" / name
        target.mkdir(exist_ok=True)
        for file, text in SCRIPTS[name].items():
            body = textwrap.dedent(text).strip("\n") + "\n"
            body = body.replace("{P}", prefix).replace("{UTILS}", utils)
            path = target / (meta_name if file == "meta" else file)
            path.write_text(body)
            if file.endswith(".sh"):
                os.chmod(path, 0o755)
    return root


def write_json_meta(folder: Path, meta: dict[str, object]) -> None:
    """A script folder whose meta is ``_cm.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_cm.json").write_text(json.dumps(meta))
