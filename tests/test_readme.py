"""The README's tour works as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_tour(tmp_path: Path) -> None:
    [recipe] = [b for b in _blocks("python") if b.startswith("# my_recipes/hello.py")]
    folder = tmp_path / "my_recipes"
    folder.mkdir()
    (folder / "hello.py").write_text(recipe)
    env = {**os.environ, "CMPY_RECIPES_PATH": str(folder)}

    def cmpy(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cmpy", *args], capture_output=True, text=True, env=env, timeout=60
        )

    first = cmpy("run", "say hello _loud _times.2", "--name=ada", "--json")
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    text = Path(doc["env"]["HELLO_FILE"]).read_text()
    assert text.startswith("hello ada from ") and text.endswith("!")
    assert first.stderr.count(text) == 2  # the command's output streamed to the terminal
    second = json.loads(cmpy("run", "say hello _loud _times.2", "--name=ada", "--json").stdout)
    assert second["cached"] is True
    assert "say-hello _quiet  [run]" in cmpy("run", "say hello", "--dry-run").stdout
    assert "--name  (env HELLO_NAME)  who to greet" in cmpy("show", "say-hello").stdout

    [usage] = [b for b in _blocks("python") if b.startswith("from cmpy import run\nr = run(\"say hello\"")]
    script = folder.parent / "use.py"
    script.write_text(usage)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[1:] == ["True", "1.0"]
